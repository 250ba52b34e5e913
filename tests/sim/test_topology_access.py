"""Zones, zonal provisioning, scheduling gates and access modes in the simulator, with the
faults that break each (on the in-memory runtime)."""

from __future__ import annotations

from typing import Any

from conformance.sim import topology
from conformance.sim.api.store import Obj
from tests.sim.test_scheduler_kubelet import ALL, node_of, running
from tests.sim.test_volumes import NODE, POD, PV, PVC, SC, Sim, _pod, claim, run, storage_class

EBS = "ebs.csi.sim.conformance.io"
ZONE_A = [{"matchLabelExpressions": [{"key": topology.ZONE_KEY, "values": ["zone-a"]}]}]


def zonal_class(**fields: Any) -> Obj:
    return storage_class(
        "zonal",
        EBS,
        volumeBindingMode="WaitForFirstConsumer",
        allowedTopologies=ZONE_A,
        **fields,
    )


def affinity_zone(pv: Obj) -> list[str]:
    terms = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    return [
        value
        for e in terms[0]["matchExpressions"]
        if e["key"] == topology.ZONE_KEY
        for value in e["values"]
    ]


def _cordon(node: Obj) -> None:
    node["spec"]["unschedulable"] = True


def pod_scheduled(sim: Sim, name: str) -> dict[str, Any]:
    pod = sim.get(POD, name) or {}
    conditions = (pod.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "PodScheduled"), {})


def volume_of(sim: Sim, claim_name: str) -> Obj:
    pvc = sim.get(PVC, claim_name)
    assert pvc is not None
    pv = sim.get(PV, pvc["spec"]["volumeName"])
    assert pv is not None
    return pv


def test_nodes_carry_zone_region_and_the_zonal_drivers_key() -> None:
    async def main() -> None:
        async with Sim(nodes=3, controllers=()) as sim:
            zones = {}
            for name in ("node-1", "node-2", "node-3"):
                labels = (sim.get(NODE, name) or {})["metadata"]["labels"]
                assert labels[topology.REGION_KEY] == "sim-region-1"
                assert labels[f"topology.{EBS}/zone"] == labels[topology.ZONE_KEY]
                zones[name] = labels[topology.ZONE_KEY]
            assert zones == {"node-1": "zone-a", "node-2": "zone-b", "node-3": "zone-a"}

    run(main())


def test_a_zonal_volume_is_made_in_an_allowed_zone_and_its_pod_follows() -> None:
    async def main() -> None:
        async with Sim(nodes=3, controllers=ALL) as sim:
            sim.store.create(SC, zonal_class())
            sim.store.create(PVC, claim("data", cls="zonal"))
            sim.store.create(POD, _pod("user", "data"))
            await sim.wait_for(lambda: running(sim, "user"), what="Running")
            assert node_of(sim, "user") in ("node-1", "node-3")
            pv = volume_of(sim, "data")
            assert affinity_zone(pv) == ["zone-a"]
            terms = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
            assert {e["key"] for e in terms[0]["matchExpressions"]} == {
                topology.ZONE_KEY,
                f"topology.{EBS}/zone",
            }

    run(main())


def test_a_node_outside_the_allowed_topologies_gets_no_delayed_claims() -> None:
    async def main() -> None:
        async with Sim(nodes=3, controllers=ALL) as sim:
            sim.store.create(SC, zonal_class())
            sim.store.create(PVC, claim("data", cls="zonal"))
            pinned = {"kubernetes.io/hostname": "node-2"}
            sim.store.create(POD, _pod("user", "data", nodeSelector=pinned))
            await sim.wait_for(lambda: pod_scheduled(sim, "user").get("reason") == "Unschedulable")
            assert pod_scheduled(sim, "user")["message"].startswith(
                "0/3 nodes are available: 1 node(s) didn't find available persistent volumes "
                "to bind, 2 node(s) didn't match Pod's node affinity/selector."
            )
            assert sim.phase(PVC, "data") == "Pending"

    run(main())


def test_a_cordoned_zone_keeps_the_pod_pending_with_the_affinity_conflict() -> None:
    async def main() -> None:
        async with Sim(nodes=3, controllers=ALL) as sim:
            sim.store.create(SC, zonal_class())
            sim.store.create(PVC, claim("data", cls="zonal"))
            sim.store.create(POD, _pod("first", "data"))
            await sim.wait_for(lambda: running(sim, "first"))
            for name in ("node-1", "node-3"):
                sim.store.mutate(NODE, None, name, _cordon)
            sim.store.delete(POD, "default", "first")
            await sim.wait_for(lambda: sim.get(POD, "first") is None)
            sim.store.create(POD, _pod("again", "data"))
            await sim.wait_for(lambda: pod_scheduled(sim, "again").get("reason") == "Unschedulable")
            message = pod_scheduled(sim, "again")["message"]
            assert "1 node(s) had volume node affinity conflict" in message
            assert "2 node(s) were unschedulable" in message

    run(main())


def test_fault_topology_ignored_makes_the_volume_outside_the_allowed_zones() -> None:
    async def main() -> None:
        async with Sim(nodes=3, controllers=ALL, faults={"topology-ignored": None}) as sim:
            sim.store.create(SC, zonal_class())
            sim.store.create(PVC, claim("data", cls="zonal"))
            sim.store.create(POD, _pod("user", "data"))
            await sim.wait_for(lambda: running(sim, "user"), what="Running")
            assert affinity_zone(volume_of(sim, "data")) == ["zone-b"]
            assert node_of(sim, "user") == "node-2"  # the scheduler follows the volume

    run(main())


def test_fault_wffc_ignored_binds_before_any_pod() -> None:
    async def main() -> None:
        async with Sim(nodes=3, controllers=ALL, faults={"wffc-ignored": None}) as sim:
            sim.store.create(SC, zonal_class())
            sim.store.create(PVC, claim("data", cls="zonal"))
            await sim.wait_for(lambda: sim.phase(PVC, "data") == "Bound", what="Bound")
            assert affinity_zone(volume_of(sim, "data")) == ["zone-a"]

    run(main())


def test_fault_volume_affinity_ignored_places_pods_away_from_their_volume() -> None:
    async def main() -> None:
        faults = {"volume-affinity-ignored": None}
        async with Sim(nodes=3, controllers=ALL, faults=faults) as sim:
            sim.store.create(SC, zonal_class())
            sim.store.create(PVC, claim("data", cls="zonal"))
            sim.store.create(POD, _pod("first", "data"))
            await sim.wait_for(lambda: running(sim, "first"))
            sim.store.delete(POD, "default", "first")
            await sim.wait_for(lambda: sim.get(POD, "first") is None)
            pinned = {"kubernetes.io/hostname": "node-2"}
            sim.store.create(POD, _pod("away", "data", nodeSelector=pinned))
            await sim.wait_for(lambda: node_of(sim, "away") == "node-2")

    run(main())


def test_a_gated_pod_waits_until_its_gates_are_removed() -> None:
    async def main() -> None:
        async with Sim(nodes=2, controllers=ALL) as sim:
            sim.store.create(SC, storage_class("late", volumeBindingMode="WaitForFirstConsumer"))
            sim.store.create(PVC, claim("data", cls="late"))
            sim.store.create(POD, _pod("user", "data", schedulingGates=[{"name": "hold"}]))
            await sim.wait_for(
                lambda: pod_scheduled(sim, "user").get("reason") == "SchedulingGated"
            )
            assert pod_scheduled(sim, "user")["message"] == (
                "Scheduling is blocked due to non-empty scheduling gates"
            )
            await sim.wait_for(lambda: sim.events("data"))
            assert sim.events("data") == [
                ("WaitForFirstConsumer", "waiting for first consumer to be created before binding")
            ]
            assert node_of(sim, "user") is None

            def ungate(pod: Obj) -> None:
                del pod["spec"]["schedulingGates"]

            sim.store.mutate(POD, "default", "user", ungate)
            await sim.wait_for(lambda: running(sim, "user"), what="Running")
            assert sim.phase(PVC, "data") == "Bound"

    run(main())


def _rwop_claim() -> Obj:
    return claim("solo", cls="fast", accessModes=["ReadWriteOncePod"])


def test_a_rwop_claim_admits_one_pod_even_on_the_same_node() -> None:
    async def main() -> None:
        async with Sim(nodes=2, controllers=ALL) as sim:
            sim.store.create(SC, storage_class("fast"))
            sim.store.create(PVC, _rwop_claim())
            pinned = {"kubernetes.io/hostname": "node-1"}
            sim.store.create(POD, _pod("first", "solo", nodeSelector=pinned))
            await sim.wait_for(lambda: running(sim, "first"))
            sim.store.create(POD, _pod("second", "solo", nodeSelector=pinned))
            await sim.wait_for(
                lambda: pod_scheduled(sim, "second").get("reason") == "Unschedulable"
            )
            assert pod_scheduled(sim, "second")["message"].startswith(
                "0/2 nodes are available: 1 node has pod using PersistentVolumeClaim with the "
                "same name and ReadWriteOncePod access mode, 1 node(s) didn't match Pod's node "
                "affinity/selector."
            )
            sim.store.delete(POD, "default", "first")
            await sim.wait_for(lambda: running(sim, "second"), what="second Running")

    run(main())


def test_fault_rwop_not_enforced_admits_a_second_pod() -> None:
    async def main() -> None:
        async with Sim(nodes=2, controllers=ALL, faults={"rwop-not-enforced": None}) as sim:
            sim.store.create(SC, storage_class("fast"))
            sim.store.create(PVC, _rwop_claim())
            pinned = {"kubernetes.io/hostname": "node-1"}
            sim.store.create(POD, _pod("first", "solo", nodeSelector=pinned))
            await sim.wait_for(lambda: running(sim, "first"))
            sim.store.create(POD, _pod("second", "solo", nodeSelector=pinned))
            await sim.wait_for(lambda: running(sim, "second"), what="second Running")

    run(main())


def test_fault_rwo_multi_attach_attaches_on_a_second_node() -> None:
    async def main() -> None:
        async with Sim(nodes=2, controllers=ALL, faults={"rwo-multi-attach": None}) as sim:
            sim.store.create(SC, storage_class("fast"))
            sim.store.create(PVC, claim("data", cls="fast"))
            sim.store.create(POD, _pod("first", "data", nodeName="node-1"))
            await sim.wait_for(lambda: running(sim, "first"))
            sim.store.create(POD, _pod("second", "data", nodeName="node-2"))
            await sim.wait_for(lambda: running(sim, "second"), what="second Running")
            pv_name = volume_of(sim, "data")["metadata"]["name"]
            assert sim.runtime.attachments[pv_name] == {"node-1", "node-2"}

    run(main())


def test_pick_zone_prefers_the_selected_node_within_the_allowed_zones() -> None:
    nodes = [
        {"metadata": {"name": f"node-{n}", "labels": topology.node_labels(n)}} for n in (1, 2, 3)
    ]
    sc = zonal_class()
    assert topology.pick_zone(sc, nodes[2], nodes) == "zone-a"
    assert topology.pick_zone(sc, nodes[1], nodes) == "zone-a"  # not allowed: first allowed
    assert topology.pick_zone(sc, None, nodes, ignore_allowed=True) == "zone-b"
    free = storage_class("free", EBS)
    assert topology.pick_zone(free, nodes[1], nodes) == "zone-b"
    assert topology.pick_zone(free, None, nodes) == "zone-a"
    assert topology.allowed_zones(free) is None
