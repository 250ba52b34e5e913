"""Assemble the simulated cluster: store, API server, controllers, nodes, credentials.

``SimCluster`` is what the daemon runs and what tests start in-process. It writes a
kubeconfig and an inventory for itself into its state directory, so any client
(kubectl, the official Python client, the suites) can use it like a real cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Literal

import yaml
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from conformance.sim import faults as fault_catalog
from conformance.sim import ownership, profiles, tls
from conformance.sim.api import server as api_server
from conformance.sim.api.store import Store, kind_named
from conformance.sim.controllers.base import Controller
from conformance.sim.controllers.endpoints import EndpointsController
from conformance.sim.controllers.gc import GarbageCollector, NamespaceController
from conformance.sim.controllers.kubelet import Kubelet, register_nodes
from conformance.sim.controllers.resizer import ExpandController, NodeExpander, pvc_resize
from conformance.sim.controllers.scheduler import Scheduler
from conformance.sim.controllers.statefulset import StatefulSetController
from conformance.sim.controllers.volumes import (
    DEFAULT_CLASS_ANNOTATION,
    PersistentVolumeController,
    Provisioner,
    default_storage_class,
    pvc_protection,
)
from conformance.sim.runtimes.base import NodeRuntime
from conformance.sim.runtimes.memory import InMemoryRuntime

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 3.0  # seconds for open requests when the API server stops
# kube-apiserver's limit on a request's line and headers (Go's http.Server MaxHeaderBytes,
# 1 MiB): an exec's command travels in the query string (a raw payload is tens of KiB)
MAX_REQUEST_HEAD = 1 << 20
STATE_FILE = "state.json"
KUBECONFIG_FILE = "kubeconfig"
INVENTORY_FILE = "inventory.yaml"
CONTEXT = "conformance-sim"
DEFAULT_CLASS = "standard"
SIM_PROVISIONER = "csi.sim.conformance.io"

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class SimConfig(BaseModel):
    """How to start the simulator (also passed to the daemon as JSON)."""

    model_config = ConfigDict(extra="forbid")

    nodes: int = Field(default=3, ge=1, le=16)
    runtime: Literal["kernel", "memory"] = "kernel"  # memory: API only, no root needed
    profile: str = "fast"
    seed: int = 0
    faults: dict[str, float | bool | None] = Field(default_factory=dict)
    state_dir: str = "reports/sim"
    host: str = "127.0.0.1"
    port: int = 0
    base_inventory: dict[str, Any] | None = None  # nodes/storage/workload/timeouts to hand on


def node_names(count: int) -> list[str]:
    return [f"sim-node-{index}" for index in range(1, count + 1)]


class SimCluster:
    def __init__(
        self,
        config: SimConfig,
        runtime: NodeRuntime | None = None,
        *,
        owner: ownership.Owner | None = None,
    ) -> None:
        self.config = config
        self.owner = owner  # the process whose exit stops this cluster (recorded in state)
        self.state_dir = Path(config.state_dir).resolve()
        self.timing = profiles.timing(config.profile, config.seed)
        self.faults = fault_catalog.ActiveFaults(config.faults)
        self.store = Store()
        self.runtime: NodeRuntime = runtime or self._make_runtime()
        self.controllers: list[Controller] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.creds: tls.Credentials | None = None
        self.api: api_server.ApiServer | None = None

    def _make_runtime(self) -> NodeRuntime:
        if self.config.runtime == "memory":
            return InMemoryRuntime()
        from conformance.sim.runtimes.kernel import KernelRuntime

        return KernelRuntime(self.state_dir, self.faults, seed=self.config.seed)

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / KUBECONFIG_FILE

    @property
    def inventory(self) -> Path:
        return self.state_dir / INVENTORY_FILE

    async def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.creds = tls.load_credentials(self.state_dir, hosts=(self.config.host, "localhost"))
        store = self.store
        api_server.install_admission(store)
        store.admit.append(default_storage_class(store, self.faults))
        store.admit.append(pvc_protection)
        store.validate.append(pvc_resize(store))  # a validating admission plugin
        self._bootstrap()
        names = node_names(self.config.nodes)
        prepare = getattr(self.runtime, "prepare", None)
        if prepare is not None:
            subnet: str = await prepare(names)
            register_nodes(store, names, self.runtime, subnet)
        else:
            register_nodes(store, names, self.runtime)
        kubelet = Kubelet(store, self.runtime, self.timing, self.faults)
        serve_units = getattr(self.runtime, "serve_units", None)
        if serve_units is not None:  # `systemctl restart kubelet` on a node (kernel/units.py)
            from conformance.sim.kernel.units import Unit

            serve_units({"kubelet": Unit("kubelet: The Kubernetes Node Agent", kubelet)})
        self.controllers = [
            StatefulSetController(store, self.faults),
            PersistentVolumeController(store, self.runtime, self.timing, self.faults),
            Provisioner(store, self.runtime, self.timing, self.faults),
            Scheduler(store, self.timing, self.faults),
            kubelet,
            ExpandController(store, self.runtime, self.timing, self.faults),
            NodeExpander(store, self.runtime, self.timing, self.faults),
            EndpointsController(store),
            GarbageCollector(store),
            NamespaceController(store),
        ]
        self._tasks = [asyncio.create_task(c.run(), name=c.name) for c in self.controllers]
        self.api = api_server.ApiServer(store, self.creds.token, self.faults)
        self._admin_routes(self.api.app)
        self._runtime_routes(self.api)
        # Requests still open at stop (an exec of a client that died) get a few seconds,
        # not aiohttp's default minute: a dead run's simulator must go within 30 s.
        self._runner = web.AppRunner(
            self.api.app,
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=SHUTDOWN_GRACE,
            max_line_size=MAX_REQUEST_HEAD,
            max_field_size=MAX_REQUEST_HEAD,
        )
        await self._runner.setup()
        site = web.TCPSite(
            self._runner,
            self.config.host,
            self.config.port,
            ssl_context=tls.server_ssl_context(self.creds),
        )
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"https://{self.config.host}:{port}"
        tls.write_kubeconfig(
            self.kubeconfig, server_url=self.url, creds=self.creds, cluster_name=CONTEXT
        )
        self._write_inventory()
        self._write_state()
        log.info("simulated cluster serving at %s with %d nodes", self.url, len(names))

    def _bootstrap(self) -> None:
        namespace = kind_named("Namespace")
        for name in SYSTEM_NAMESPACES:
            self.store.create(namespace, {"metadata": {"name": name}})
        # The class is the cluster's default unless no-default-class is on at start; switched
        # on later, the fault stops the DefaultStorageClass admission but leaves the annotation.
        class_meta: dict[str, Any] = {"name": DEFAULT_CLASS}
        if not self.faults.on("no-default-class"):
            class_meta["annotations"] = {DEFAULT_CLASS_ANNOTATION: "true"}
        self.store.create(
            kind_named("StorageClass"),
            {
                "metadata": class_meta,
                "provisioner": SIM_PROVISIONER,
                "parameters": {"vendor": "SIM", "model": "CSI-DISK", "fsType": "ext4"},
                "reclaimPolicy": "Delete",
                "volumeBindingMode": "Immediate",
                "allowVolumeExpansion": True,
            },
        )
        self.store.create(
            kind_named("Service"),
            {
                "metadata": {
                    "name": "kubernetes",
                    "namespace": "default",
                    "labels": {"component": "apiserver", "provider": "kubernetes"},
                },
                "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 6443}]},
            },
        )

    def _admin_routes(self, app: web.Application) -> None:
        """/sim/v1/faults: switch faults at run time (same bearer token as the API)."""

        async def get_faults(request: web.Request) -> web.Response:
            return web.json_response({"faults": self.faults.as_dict()})

        async def put_faults(request: web.Request) -> web.Response:
            try:
                body = await request.json()
                for name, value in dict(body).items():
                    self.faults.set(name, value)
            except (ValueError, TypeError) as exc:
                return web.json_response({"error": str(exc)}, status=400)
            self._write_state()
            return web.json_response({"faults": self.faults.as_dict()})

        async def delete_fault(request: web.Request) -> web.Response:
            name = request.match_info.get("name")
            self.faults.clear(name or None)
            self._write_state()
            return web.json_response({"faults": self.faults.as_dict()})

        app.router.add_get("/sim/v1/faults", get_faults)
        app.router.add_put("/sim/v1/faults", put_faults)
        app.router.add_delete("/sim/v1/faults", delete_fault)
        app.router.add_delete("/sim/v1/faults/{name}", delete_fault)

    def _runtime_routes(self, api: api_server.ApiServer) -> None:
        from conformance.sim.api import eviction
        from conformance.sim.api import exec as exec_api

        exec_api.install(api, self.runtime)
        eviction.install(api)

    def describe(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "url": self.url,
            "kubeconfig": str(self.kubeconfig),
            "inventory": str(self.inventory),
            "context": CONTEXT,
            "nodes": node_names(self.config.nodes),
            "profile": self.config.profile,
            "faults": self.faults.as_dict(),
            "owner": None if self.owner is None else self.owner.as_json(),
        }

    def _write_state(self) -> None:
        path = self.state_dir / STATE_FILE
        path.write_text(json.dumps(self.describe(), indent=2) + "\n")

    def _write_inventory(self) -> None:
        base = dict(self.config.base_inventory or {})
        ssh_settings = getattr(self.runtime, "ssh_settings", None)
        nodes: dict[str, Any] = {"access": "none"}
        if ssh_settings is not None:
            nodes = {"access": "ssh", "address": "InternalIP", "ssh": ssh_settings()}
        given = base.get("nodes") or {}
        if given.get("access") in ("pod", "none"):  # no SSH wanted: reach nodes as asked
            nodes = given
        inventory: dict[str, Any] = {
            "cluster": {"kubeconfig": str(self.kubeconfig), "context": CONTEXT},
            "nodes": nodes,
        }
        for section in ("storage", "workload", "timeouts"):
            if section in base:
                inventory[section] = base[section]
        inventory.setdefault(
            "storage",
            [
                {
                    "name": DEFAULT_CLASS,
                    "storage_class": DEFAULT_CLASS,
                    "fs_type": "ext4",
                    "kubelet_plugin_dir": "kubernetes.io~csi",
                }
            ],
        )
        header = (
            "# Written by `conformance sim up`: this simulated cluster as an inventory.\n"
            "# It is removed by `conformance sim down`.\n"
        )
        self.inventory.write_text(header + yaml.safe_dump(inventory, sort_keys=False))

    async def stop(self) -> None:
        started = time.monotonic()
        if self.api is not None:
            await self.api.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        log.info("controllers stopped (%.1fs)", time.monotonic() - started)
        if self._runner is not None:
            await self._runner.cleanup()
        log.info("API server stopped (%.1fs)", time.monotonic() - started)
        close = getattr(self.runtime, "close", None)
        if close is not None:
            await close()
        log.info("simulated cluster stopped (%.1fs)", time.monotonic() - started)
