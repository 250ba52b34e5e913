"""The PV binder, the external provisioner and their admission hooks, on the in-memory store.

Also home of :class:`Sim`, the small in-process cluster the controller tests share.
Nothing here opens a socket or touches the kernel.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from conformance.sim.api.store import Event, Obj, Store, kind_named
from conformance.sim.controllers.base import Controller
from conformance.sim.controllers.endpoints import EndpointsController
from conformance.sim.controllers.kubelet import Kubelet, register_nodes
from conformance.sim.controllers.scheduler import Scheduler
from conformance.sim.controllers.volumes import (
    PersistentVolumeController,
    Provisioner,
    default_storage_class,
    storage_protection,
)
from conformance.sim.faults import ActiveFaults
from conformance.sim.profiles import timing
from conformance.sim.runtimes.memory import InMemoryRuntime

NAMESPACE = kind_named("Namespace")
POD = kind_named("Pod")
PV = kind_named("PersistentVolume")
PVC = kind_named("PersistentVolumeClaim")
SC = kind_named("StorageClass")
EVENT = kind_named("Event")
NODE = kind_named("Node")
SERVICE = kind_named("Service")
ENDPOINTS = kind_named("Endpoints")

T = TypeVar("T")


class Sim:
    """Store + admission hooks + chosen controllers + in-memory nodes, in this event loop."""

    def __init__(
        self,
        *,
        nodes: int = 0,
        controllers: tuple[str, ...] = ("binder", "provisioner"),
        faults: dict[str, float | bool | None] | None = None,
    ) -> None:
        self.store = Store()
        self.store.create(NAMESPACE, {"metadata": {"name": "default"}})
        self.store.admit.append(default_storage_class(self.store))
        self.store.admit.append(storage_protection())
        self.runtime = InMemoryRuntime()
        self.timing = timing("fast")
        self.faults = ActiveFaults(faults)
        self.node_names = [f"node-{n}" for n in range(1, nodes + 1)]
        makers: dict[str, Callable[[], Controller]] = {
            "binder": lambda: PersistentVolumeController(self.store, faults=self.faults),
            "provisioner": lambda: Provisioner(self.store, self.runtime, self.timing, self.faults),
            "scheduler": lambda: Scheduler(self.store, self.timing, self.faults),
            "kubelet": lambda: Kubelet(self.store, self.runtime, self.timing, self.faults),
            "endpoints": lambda: EndpointsController(self.store),
        }
        self.controllers = [makers[name]() for name in controllers]
        self.seen: list[Event] = []
        self._changed: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.store.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        self.seen.append(event)
        if self._changed is not None:
            self._changed.set()

    async def __aenter__(self) -> Sim:
        self._changed = asyncio.Event()
        register_nodes(self.store, self.node_names, self.runtime)
        self._tasks = [asyncio.create_task(c.run()) for c in self.controllers]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0, what: str = "") -> T:
        """Re-check ``predicate`` on every store change until it is truthy; fail on timeout."""
        assert self._changed is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            self._changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    # --- shortcuts ---------------------------------------------------------------

    def get(self, kind: Any, name: str, namespace: str | None = "default") -> Obj | None:
        return self.store.find(kind, namespace if kind.namespaced else None, name)

    def events(self, name: str) -> list[tuple[str, str]]:
        found = [e for e in self.store.list(EVENT) if e["involvedObject"]["name"] == name]
        found.sort(key=lambda e: int(e["metadata"]["resourceVersion"]))
        return [(e["reason"], e["message"]) for e in found]

    def phase(self, kind: Any, name: str) -> str | None:
        obj = self.get(kind, name)
        return None if obj is None else (obj.get("status") or {}).get("phase")


def storage_class(name: str, provisioner: str = "csi.sim.conformance.io", **fields: Any) -> Obj:
    body: Obj = {
        "metadata": {"name": name},
        "provisioner": provisioner,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
    }
    body.update(fields)
    return body


def claim(name: str, size: str = "1Gi", cls: str | None = None, **spec: Any) -> Obj:
    body: Obj = {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
    }
    if cls is not None:
        body["spec"]["storageClassName"] = cls
    body["spec"].update(spec)
    return body


def static_pv(name: str, size: str, cls: str = "manual", **spec: Any) -> Obj:
    body: Obj = {
        "metadata": {"name": name},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": cls,
            "hostPath": {"path": f"/tmp/{name}"},
        },
    }
    body["spec"].update(spec)
    return body


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# --- admission ---------------------------------------------------------------------------


def test_default_class_and_protection_finalizers_are_admitted() -> None:
    store = Store()
    store.create(NAMESPACE, {"metadata": {"name": "default"}})
    store.admit.append(default_storage_class(store))
    store.admit.append(storage_protection())
    store.create(SC, storage_class("slow"))
    no_default = store.create(PVC, claim("before-default"))
    assert "storageClassName" not in no_default["spec"]
    store.create(
        SC,
        storage_class(
            "fast",
            metadata={
                "name": "fast",
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
        ),
    )

    defaulted = store.create(PVC, claim("a"))
    explicit = store.create(PVC, claim("b", cls="slow"))
    empty = store.create(PVC, claim("c", cls=""))
    assert defaulted["spec"]["storageClassName"] == "fast"
    assert explicit["spec"]["storageClassName"] == "slow"
    assert empty["spec"]["storageClassName"] == ""
    for obj in (defaulted, explicit, empty):
        assert obj["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    # an update of a class-less claim is not defaulted: only creation is admitted so
    updated = store.mutate(PVC, "default", "before-default", lambda c: None)
    assert "storageClassName" not in updated["spec"]
    pv = store.create(PV, static_pv("pv-1", "1Gi"))
    assert pv["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]


# --- dynamic provisioning --------------------------------------------------------------


def test_immediate_csi_provisioning_binds_both_ways() -> None:
    async def main() -> None:
        async with Sim() as sim:
            parameters = {"vendor": "DATERA", "model": "IBLOCK", "rev": "4.0", "fsType": "xfs"}
            sim.store.create(
                SC, storage_class("fast", parameters=parameters, reclaimPolicy="Retain")
            )
            created = sim.store.create(PVC, claim("data", "10Gi", "fast"))
            uid = created["metadata"]["uid"]
            bound = await sim.wait_for(
                lambda: sim.phase(PVC, "data") == "Bound" and sim.get(PVC, "data"), what="Bound"
            )
            pv = sim.get(PV, f"pvc-{uid}")
            assert pv is not None
            assert pv["spec"]["csi"] == {
                "driver": "csi.sim.conformance.io",
                "volumeHandle": f"sim-{uid}",
                "fsType": "xfs",
                "volumeAttributes": {"vendor": "DATERA", "model": "IBLOCK", "rev": "4.0"},
            }
            assert pv["spec"]["capacity"] == {"storage": "10Gi"}
            assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
            assert pv["spec"]["storageClassName"] == "fast"
            assert pv["spec"]["claimRef"]["uid"] == uid
            assert pv["spec"]["claimRef"]["name"] == "data"
            assert "nodeAffinity" not in pv["spec"]
            assert pv["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == (
                "csi.sim.conformance.io"
            )
            assert "kubernetes.io/pv-protection" in pv["metadata"]["finalizers"]
            await sim.wait_for(lambda: sim.phase(PV, f"pvc-{uid}") == "Bound", what="PV Bound")
            assert bound["spec"]["volumeName"] == f"pvc-{uid}"
            assert bound["status"]["capacity"] == {"storage": "10Gi"}
            assert bound["status"]["accessModes"] == ["ReadWriteOnce"]
            annotations = bound["metadata"]["annotations"]
            assert annotations["pv.kubernetes.io/bind-completed"] == "yes"
            assert annotations["pv.kubernetes.io/bound-by-controller"] == "yes"
            assert annotations["volume.kubernetes.io/storage-provisioner"] == (
                "csi.sim.conformance.io"
            )
            assert f"pvc-{uid}" in sim.runtime.volumes
            reasons = [reason for reason, _ in sim.events("data")]
            assert reasons == ["ExternalProvisioning", "Provisioning", "ProvisioningSucceeded"]
            assert sim.events("data")[-1][1] == f"Successfully provisioned volume pvc-{uid}"
            assert sim.events("data")[0][1].startswith(
                "Waiting for a volume to be created either by the external provisioner "
                "'csi.sim.conformance.io' or manually by the system administrator."
            )

    run(main())


def test_flex_style_class_gives_a_flexvolume_pv() -> None:
    async def main() -> None:
        async with Sim() as sim:
            parameters = {
                "vendor": "DATERA",
                "model": "IBLOCK",
                "rev": "4.0",
                "fsType": "xfs",
                "pluginDir": "datera~iscsi",
            }
            sim.store.create(
                SC, storage_class("datera", "sim.conformance.io/flex", parameters=parameters)
            )
            uid = sim.store.create(PVC, claim("pv-claim", "100Gi", "datera"))["metadata"]["uid"]
            await sim.wait_for(lambda: sim.phase(PVC, "pv-claim") == "Bound", what="Bound")
            pv = sim.get(PV, f"pvc-{uid}")
            assert pv is not None
            assert "csi" not in pv["spec"]
            flex = pv["spec"]["flexVolume"]
            assert flex["driver"] == "datera/iscsi"
            assert flex["fsType"] == "xfs"
            assert flex["options"] == {
                "vendor": "DATERA",
                "model": "IBLOCK",
                "rev": "4.0",
                "pluginDir": "datera~iscsi",
            }

    run(main())


def test_a_share_class_gives_a_csi_share_and_refuses_block_claims() -> None:
    """As csi-driver-nfs: no fsType, the share (and its server) in the volume context."""

    async def main() -> None:
        async with Sim() as sim:
            parameters = {"csi.storage.k8s.io/fstype": "fuse.sshfs"}
            sim.store.create(
                SC, storage_class("share", "sshfs.sim.conformance.io", parameters=parameters)
            )
            rwx = claim("files", "1Gi", "share", accessModes=["ReadWriteMany"])
            uid = sim.store.create(PVC, rwx)["metadata"]["uid"]
            await sim.wait_for(lambda: sim.phase(PVC, "files") == "Bound", what="Bound")
            pv = sim.get(PV, f"pvc-{uid}")
            assert pv is not None
            assert pv["spec"]["accessModes"] == ["ReadWriteMany"]
            assert pv["spec"]["csi"] == {
                "driver": "sshfs.sim.conformance.io",
                "volumeHandle": f"sim-{uid}",
                "volumeAttributes": {"share": f"/exports/pvc-{uid}", "server": "10.251.0.250"},
            }
            sim.store.create(PVC, claim("raw", "1Gi", "share", volumeMode="Block"))
            await sim.wait_for(
                lambda: any(reason == "ProvisioningFailed" for reason, _ in sim.events("raw")),
                what="ProvisioningFailed",
            )
            assert sim.phase(PVC, "raw") == "Pending"

    run(main())


def test_a_block_claim_gets_a_block_volume_of_a_disk_class() -> None:
    async def main() -> None:
        async with Sim() as sim:
            sim.store.create(SC, storage_class("disk", parameters={"fsType": "ext4"}))
            uid = sim.store.create(PVC, claim("raw", "1Gi", "disk", volumeMode="Block"))[
                "metadata"
            ]["uid"]
            await sim.wait_for(lambda: sim.phase(PVC, "raw") == "Bound", what="Bound")
            pv = sim.get(PV, f"pvc-{uid}")
            assert pv is not None
            assert pv["spec"]["volumeMode"] == "Block"

    run(main())


def test_wait_for_first_consumer_provisions_after_a_node_is_selected() -> None:
    async def main() -> None:
        async with Sim() as sim:
            sim.store.create(SC, storage_class("late", volumeBindingMode="WaitForFirstConsumer"))
            sim.store.create(SC, storage_class("marker"))
            sim.store.create(PVC, claim("data", cls="late"))
            await sim.wait_for(lambda: "WaitForFirstConsumer" in dict(sim.events("data")))
            assert dict(sim.events("data"))["WaitForFirstConsumer"] == (
                "waiting for first consumer to be created before binding"
            )
            # an Immediate claim created later binds while the delayed one still waits
            sim.store.create(PVC, claim("marker", cls="marker"))
            await sim.wait_for(lambda: sim.phase(PVC, "marker") == "Bound")
            assert sim.phase(PVC, "data") == "Pending"
            assert len(sim.store.list(PV)) == 1

            def select(obj: Obj) -> None:
                obj["metadata"].setdefault("annotations", {})[
                    "volume.kubernetes.io/selected-node"
                ] = "node-1"

            sim.store.mutate(PVC, "default", "data", select)
            await sim.wait_for(lambda: sim.phase(PVC, "data") == "Bound", what="Bound")
            reasons = [reason for reason, _ in sim.events("data")]
            assert reasons == [
                "WaitForFirstConsumer",
                "ExternalProvisioning",
                "Provisioning",
                "ProvisioningSucceeded",
            ]

    run(main())


def test_slow_provisioning_fault_delays_binding() -> None:
    async def bind_time(faults: dict[str, float | bool | None] | None) -> float:
        async with Sim(faults=faults) as sim:
            sim.store.create(SC, storage_class("fast"))
            loop = asyncio.get_running_loop()
            start = loop.time()
            sim.store.create(PVC, claim("data", cls="fast"))
            await sim.wait_for(lambda: sim.phase(PVC, "data") == "Bound", what="Bound")
            return loop.time() - start

    assert run(bind_time(None)) < 0.3
    assert run(bind_time({"slow-provisioning": 0.4})) >= 0.4


def test_missing_or_foreign_class_is_reported_and_not_provisioned() -> None:
    async def main() -> None:
        async with Sim() as sim:
            sim.store.create(SC, storage_class("other", "example.com/nas"))
            sim.store.create(PVC, claim("nowhere", cls="missing"))
            sim.store.create(PVC, claim("foreign", cls="other"))
            await sim.wait_for(lambda: sim.events("nowhere") and sim.events("foreign"))
            assert sim.events("nowhere") == [
                ("ProvisioningFailed", 'storageclass.storage.k8s.io "missing" not found')
            ]
            assert sim.events("foreign")[0][0] == "ExternalProvisioning"
            assert "'example.com/nas'" in sim.events("foreign")[0][1]
            # the sim's provisioner does not serve example.com/nas: a marker claim of a
            # served class binds, and still no PV exists for the foreign one
            sim.store.create(SC, storage_class("fast"))
            sim.store.create(PVC, claim("marker", cls="fast"))
            await sim.wait_for(lambda: sim.phase(PVC, "marker") == "Bound")
            assert sim.phase(PVC, "foreign") == "Pending"
            assert len(sim.store.list(PV)) == 1

    run(main())


# --- static volumes ---------------------------------------------------------------------


def test_static_volumes_match_by_class_size_mode_access_and_claim_ref() -> None:
    async def main() -> None:
        async with Sim() as sim:
            sim.store.create(PV, static_pv("pv-small", "1Gi"))
            sim.store.create(PV, static_pv("pv-medium", "5Gi"))
            sim.store.create(PV, static_pv("pv-large", "10Gi"))
            sim.store.create(PV, static_pv("pv-other-class", "5Gi", cls="gold"))
            sim.store.create(PV, static_pv("pv-block", "5Gi", volumeMode="Block"))
            sim.store.create(PV, static_pv("pv-rwx", "20Gi", accessModes=["ReadWriteMany"]))
            reserved = {"namespace": "default", "name": "reserved"}
            sim.store.create(PV, static_pv("pv-reserved", "3Gi", claimRef=reserved))

            sim.store.create(PVC, claim("fits", "3Gi", "manual"))
            await sim.wait_for(lambda: sim.phase(PVC, "fits") == "Bound")
            assert sim.get(PVC, "fits")["spec"]["volumeName"] == "pv-medium"  # type: ignore[index]

            sim.store.create(PVC, claim("block", "2Gi", "manual", volumeMode="Block"))
            sim.store.create(PVC, claim("shared", "1Gi", "manual", accessModes=["ReadWriteMany"]))
            sim.store.create(PVC, claim("reserved", "2Gi", "manual"))
            await sim.wait_for(
                lambda: all(sim.phase(PVC, n) == "Bound" for n in ("block", "shared", "reserved"))
            )
            assert sim.get(PVC, "block")["spec"]["volumeName"] == "pv-block"  # type: ignore[index]
            assert sim.get(PVC, "shared")["spec"]["volumeName"] == "pv-rwx"  # type: ignore[index]
            reserved_claim = sim.get(PVC, "reserved")
            assert reserved_claim is not None
            assert reserved_claim["spec"]["volumeName"] == "pv-reserved"
            pv = sim.get(PV, "pv-reserved")
            assert pv is not None
            assert pv["spec"]["claimRef"]["uid"] == reserved_claim["metadata"]["uid"]
            # the admin pre-bound it, so the controller did not bind the PV side
            assert "pv.kubernetes.io/bound-by-controller" not in (
                pv["metadata"].get("annotations") or {}
            )
            medium = sim.get(PV, "pv-medium")
            assert medium is not None
            assert medium["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] == (
                "yes"
            )

            # nothing left fits 4Gi in "manual": only pv-large remains, and it is 10Gi
            sim.store.create(PVC, claim("big", "11Gi", "manual"))
            sim.store.create(PVC, claim("last", "4Gi", "manual"))
            await sim.wait_for(lambda: sim.phase(PVC, "last") == "Bound")
            assert sim.get(PVC, "last")["spec"]["volumeName"] == "pv-large"  # type: ignore[index]
            assert sim.phase(PVC, "big") == "Pending"
            assert sim.phase(PV, "pv-small") == "Available"
            assert sim.phase(PV, "pv-other-class") == "Available"

    run(main())


def test_fault_static_pv_misbound_binds_another_claims_pre_bound_volume() -> None:
    async def main() -> None:
        async with Sim(faults={"static-pv-misbound": None}) as sim:
            for n in (0, 1):
                ref = {"namespace": "default", "name": f"data-{n}"}
                sim.store.create(PV, static_pv(f"pv-{n}", "1Gi", claimRef=ref))
            await sim.wait_for(lambda: sim.phase(PV, "pv-1") == "Available")
            sim.store.create(PVC, claim("data-0", "1Gi", "manual"))
            await sim.wait_for(lambda: sim.phase(PVC, "data-0") == "Bound")
            sim.store.create(PVC, claim("data-1", "1Gi", "manual"))
            await sim.wait_for(lambda: sim.phase(PVC, "data-1") == "Bound")
            assert sim.get(PVC, "data-0")["spec"]["volumeName"] == "pv-1"  # type: ignore[index]
            assert sim.get(PVC, "data-1")["spec"]["volumeName"] == "pv-0"  # type: ignore[index]

    run(main())


def test_static_volume_created_after_the_claim_binds_it() -> None:
    async def main() -> None:
        async with Sim() as sim:
            sim.store.create(PVC, claim("early", "1Gi", "manual"))
            await sim.wait_for(lambda: sim.phase(PVC, "early") == "Pending")
            sim.store.create(PV, static_pv("pv-late", "2Gi"))
            await sim.wait_for(lambda: sim.phase(PVC, "early") == "Bound")
            assert sim.phase(PV, "pv-late") == "Bound"

    run(main())


# --- reclaim ------------------------------------------------------------------------------


def test_retain_releases_and_delete_removes_the_volume() -> None:
    async def main() -> None:
        async with Sim() as sim:
            sim.store.create(SC, storage_class("keep", reclaimPolicy="Retain"))
            sim.store.create(SC, storage_class("drop", reclaimPolicy="Delete"))
            kept = sim.store.create(PVC, claim("kept", cls="keep"))["metadata"]["uid"]
            dropped = sim.store.create(PVC, claim("dropped", cls="drop"))["metadata"]["uid"]
            await sim.wait_for(
                lambda: sim.phase(PVC, "kept") == "Bound" and sim.phase(PVC, "dropped") == "Bound"
            )
            assert {f"pvc-{kept}", f"pvc-{dropped}"} <= set(sim.runtime.volumes)
            sim.store.delete(PVC, "default", "kept")
            sim.store.delete(PVC, "default", "dropped")
            await sim.wait_for(lambda: sim.get(PV, f"pvc-{dropped}") is None, what="PV deleted")
            await sim.wait_for(lambda: sim.phase(PV, f"pvc-{kept}") == "Released")
            assert sim.get(PVC, "kept") is None
            assert f"pvc-{dropped}" not in sim.runtime.volumes
            assert f"pvc-{kept}" in sim.runtime.volumes
            released = sim.get(PV, f"pvc-{kept}")
            assert released is not None
            assert released["spec"]["claimRef"]["uid"] == kept
            # a new claim of the same name does not get the released volume back
            sim.store.create(PVC, claim("kept", cls="keep"))
            await sim.wait_for(lambda: sim.phase(PVC, "kept") == "Bound")
            assert sim.get(PVC, "kept")["spec"]["volumeName"] != f"pvc-{kept}"  # type: ignore[index]

    run(main())


# --- protection ---------------------------------------------------------------------------


def _pod(name: str, claim_name: str, **spec: Any) -> Obj:
    body: Obj = {
        "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "image": "nginx:1.27",
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                }
            ],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}],
        },
    }
    body["spec"].update(spec)
    return body


def test_pvc_protection_keeps_a_claim_while_a_pod_uses_it() -> None:
    async def main() -> None:
        async with Sim() as sim:
            sim.store.create(SC, storage_class("fast"))
            sim.store.create(PVC, claim("used", cls="fast"))
            sim.store.create(PVC, claim("unused", cls="fast"))
            await sim.wait_for(
                lambda: sim.phase(PVC, "used") == "Bound" and sim.phase(PVC, "unused") == "Bound"
            )
            sim.store.create(POD, _pod("user", "used"))
            sim.store.delete(PVC, "default", "used")
            sim.store.delete(PVC, "default", "unused")
            # keys are processed in order: once "unused" is gone, "used" was looked at too
            await sim.wait_for(lambda: sim.get(PVC, "unused") is None)
            held = sim.get(PVC, "used")
            assert held is not None
            assert held["metadata"]["deletionTimestamp"]
            assert held["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
            sim.store.delete(POD, "default", "user")
            await sim.wait_for(lambda: sim.get(PVC, "used") is None, what="claim removed")

    run(main())


def test_pv_protection_keeps_a_bound_volume_until_it_is_released() -> None:
    async def main() -> None:
        async with Sim() as sim:
            sim.store.create(PV, static_pv("pv-held", "1Gi"))
            sim.store.create(PV, static_pv("pv-free", "1Gi", cls="spare"))
            sim.store.create(PVC, claim("data", cls="manual"))
            await sim.wait_for(lambda: sim.phase(PV, "pv-held") == "Bound")
            await sim.wait_for(lambda: sim.phase(PV, "pv-free") == "Available")
            sim.store.delete(PV, None, "pv-held")
            sim.store.delete(PV, None, "pv-free")
            await sim.wait_for(lambda: sim.get(PV, "pv-free") is None)
            held = sim.get(PV, "pv-held")
            assert held is not None
            assert held["metadata"]["deletionTimestamp"]
            assert held["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]
            sim.store.delete(PVC, "default", "data")
            await sim.wait_for(lambda: sim.get(PV, "pv-held") is None, what="PV removed")

    run(main())
