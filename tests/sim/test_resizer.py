"""Volume expansion on the in-memory store: the resize admission, the resize controller
(volume_expand + external-resizer) and the kubelet's NodeExpandVolume."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.sim.api import errors
from conformance.sim.controllers.resizer import (
    NOT_RESIZABLE,
    ExpandController,
    NodeExpander,
    pvc_resize,
)
from conformance.sim.runtimes.memory import InMemoryRuntime
from tests.sim.test_volumes import POD, PV, PVC, SC, Sim, _pod, claim, run, storage_class

ALL = ("binder", "provisioner", "scheduler", "kubelet")


def expanding_sim(**settings: Any) -> Sim:
    sim = Sim(nodes=2, controllers=ALL, **settings)
    sim.store.validate.append(pvc_resize(sim.store))
    sim.controllers += [
        ExpandController(sim.store, sim.runtime, sim.timing, sim.faults),
        NodeExpander(sim.store, sim.runtime, sim.timing, sim.faults),
    ]
    return sim


def grow(sim: Sim, name: str, size: str) -> None:
    def change(obj: dict[str, Any]) -> None:
        obj["spec"]["resources"]["requests"]["storage"] = size

    sim.store.mutate(PVC, "default", name, change)


def conditions(sim: Sim, name: str) -> list[str]:
    claim_obj = sim.get(PVC, name) or {}
    return [c["type"] for c in (claim_obj.get("status") or {}).get("conditions") or []]


def capacity(sim: Sim, kind: Any, name: str) -> str:
    obj = sim.get(kind, name) or {}
    where = obj.get("status") if kind == PVC else obj.get("spec")
    return str(((where or {}).get("capacity") or {}).get("storage"))


def test_a_class_without_allow_volume_expansion_refuses_the_resize() -> None:
    async def main() -> None:
        async with expanding_sim() as sim:
            sim.store.create(SC, storage_class("fixed"))
            sim.store.create(PVC, claim("data", cls="fixed"))
            await sim.wait_for(lambda: sim.phase(PVC, "data") == "Bound")
            with pytest.raises(errors.ApiError) as refused:
                grow(sim, "data", "2Gi")
            assert refused.value.code == 403
            assert NOT_RESIZABLE in refused.value.message
            assert capacity(sim, PVC, "data") == "1Gi"

    run(main())


def test_a_claim_grows_pv_first_then_filesystem_once_a_pod_runs() -> None:
    async def main() -> None:
        async with expanding_sim() as sim:
            sim.store.create(SC, storage_class("grows", allowVolumeExpansion=True))
            sim.store.create(PVC, claim("data", cls="grows"))
            await sim.wait_for(lambda: sim.phase(PVC, "data") == "Bound")
            pv_name = sim.get(PVC, "data")["spec"]["volumeName"]  # type: ignore[index]
            grow(sim, "data", "2Gi")
            # no pod: the PV grows, the claim waits for the node (offline expansion)
            await sim.wait_for(
                lambda: conditions(sim, "data") == ["FileSystemResizePending"],
                what="FileSystemResizePending",
            )
            assert capacity(sim, PV, pv_name) == "2Gi"
            assert capacity(sim, PVC, "data") == "1Gi"
            runtime = sim.runtime
            assert isinstance(runtime, InMemoryRuntime)
            assert runtime.sizes[pv_name] == 2 * 2**30
            sim.store.create(POD, _pod("web-0", "data"))
            await sim.wait_for(lambda: capacity(sim, PVC, "data") == "2Gi", what="2Gi")
            assert conditions(sim, "data") == []
            reasons = [reason for reason, _ in sim.events("data")]
            assert reasons[-4:] == [
                "ExternalExpanding",
                "Resizing",
                "FileSystemResizeRequired",
                "FileSystemResizeSuccessful",
            ]
            node = sim.get(POD, "web-0")["spec"]["nodeName"]  # type: ignore[index]
            assert sim.events("web-0")[-1] == (
                "FileSystemResizeSuccessful",
                f'MountVolume.NodeExpandVolume succeeded for volume "{pv_name}" {node}',
            )
            # a PV larger than the claim's capacity is no longer overwritten by the binder
            assert capacity(sim, PVC, "data") == "2Gi"

    run(main())
