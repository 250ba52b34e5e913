"""Fixtures that start the simulated cluster the way users do, and clients for it."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client, config

from conformance.sim import lifecycle
from conformance.sim.control_plane import SimConfig
from conformance.waits import wait_for
from tests.sim import manifests

KUBECTL = shutil.which("kubectl")


@dataclass
class Sim:
    running: lifecycle.Running
    api: client.ApiClient

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    @property
    def storage(self) -> client.StorageV1Api:
        return client.StorageV1Api(self.api)


# kernel-backed nodes: namespaces, loop devices, a real sshd
needs_kernel_nodes = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("sshd", path="/usr/sbin:/usr/bin") is None,
    reason="kernel-backed nodes need root and openssh-server (CI runs as root)",
)

# the seed's flexvolume class (Datera iSCSI on xfs), the kernel-node tests' default class
FLEX_CLASS = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "StorageClass",
    "metadata": {"name": "datera-gold"},
    "provisioner": "sim.conformance.io/flex",
    "parameters": {
        "vendor": "DATERA",
        "model": "IBLOCK",
        "rev": "4.0",
        "pluginDir": "datera~iscsi",
        "fsType": "xfs",
    },
}


def kernel_sim_with_classes(
    factory: pytest.TempPathFactory,
    name: str,
    nodes: int = 2,
    classes: tuple[dict[str, object], ...] = (FLEX_CLASS,),
) -> Iterator[Sim]:
    """A module's kernel-backed simulator with ``classes`` (the flex class by default),
    taken down afterwards."""
    state_dir = factory.mktemp(name)
    started = start_sim(state_dir, nodes=nodes, runtime="kernel")
    try:
        for storage_class in classes:
            started.storage.create_storage_class(storage_class)
        yield started
    finally:
        started.api.close()
        lifecycle.down(state_dir)


def new_namespace(sim: Sim, prefix: str) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    sim.core.create_namespace({"metadata": {"name": name}})
    yield name
    sim.core.delete_namespace(name)


def start_sim(state_dir: Path, **settings: object) -> Sim:
    running = lifecycle.up(SimConfig(state_dir=str(state_dir), **settings))  # type: ignore[arg-type]
    api = config.new_client_from_config(config_file=str(running.kubeconfig))
    return Sim(running, api)


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    """One simulated cluster per test session (per xdist worker), fast profile, no faults."""
    state_dir = tmp_path_factory.mktemp("sim")
    started = start_sim(state_dir, nodes=3, runtime="memory")
    yield started
    started.api.close()
    lifecycle.down(state_dir)


@pytest.fixture
def namespace(sim: Sim) -> Iterator[str]:
    """A fresh namespace, deleted after the test."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    sim.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    sim.core.delete_namespace(name)


@dataclass
class Kubectl:
    kubeconfig: Path
    home: Path

    def __call__(
        self, *args: str, timeout: float = 60, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        if KUBECTL is None:
            pytest.skip("kubectl is not on the PATH")
        env = {**os.environ, "HOME": str(self.home), "KUBECONFIG": str(self.kubeconfig)}
        return subprocess.run(
            [KUBECTL, "--cache-dir", str(self.home / "cache"), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            input=stdin,
            check=False,
        )


@pytest.fixture
def kubectl(sim: Sim, tmp_path: Path) -> Kubectl:
    """The real kubectl against the sim, with its own HOME and cache (no cached discovery)."""
    return Kubectl(sim.running.kubeconfig, tmp_path)


def run_a_pod(kubeconfig: Path) -> None:
    """A claim on a loop device, its kubelet mount and a pod's namespaces."""
    api = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        core.create_namespaced_service("default", manifests.service())
        apps.create_namespaced_stateful_set("default", manifests.statefulset(replicas=1))
        wait_for(
            core.list_namespaced_pod,
            lambda seen: any(p.status.phase == "Running" for p in seen.items()),
            timeout=60,
            what="web-0 running",
            namespace="default",
        )
    finally:
        api.close()
