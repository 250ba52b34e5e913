"""The topology and access-mode checks, the placement helpers under them, and the
inventory and workload pieces they need (allowedTopologies, a second pod of a claim)."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import checks
from conformance import workloads as wl
from conformance.inventory import InventoryError, Storage, Workload, parse
from conformance.topology import (
    NodeFacts,
    describe_selector,
    node_selector_matches,
    reachable,
    topology_matches,
)

ZONE = "topology.kubernetes.io/zone"
EBS_ZONE = "topology.ebs.csi.aws.com/zone"
NODES = [
    NodeFacts("node-1", {ZONE: "zone-a", EBS_ZONE: "zone-a"}),
    NodeFacts("node-2", {ZONE: "zone-b", EBS_ZONE: "zone-b"}),
    NodeFacts("node-3", {ZONE: "zone-a", EBS_ZONE: "zone-a"}, unschedulable=True),
]
ALLOWED_A = [{"matchLabelExpressions": [{"key": ZONE, "values": ["zone-a"]}]}]


def pv_in(zone: str, key: str = EBS_ZONE) -> dict[str, Any]:
    """A PV as aws-ebs-csi-driver's provisioner writes it (JSON, camelCase)."""
    term = {"matchExpressions": [{"key": key, "operator": "In", "values": [zone]}]}
    return {"spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [term]}}}}


# --- placement ---------------------------------------------------------------------------


def test_node_selector_terms_are_read_as_the_scheduler_reads_them() -> None:
    node = NODES[0]
    assert node_selector_matches(None, node)
    assert node_selector_matches(
        [{"matchExpressions": [{"key": ZONE, "operator": "Exists"}]}], node
    )
    assert not node_selector_matches([{}], node)  # an empty term matches nothing
    by_name = [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-1"]}]}]
    assert node_selector_matches(by_name, node)
    assert not node_selector_matches(by_name, NODES[1])
    not_in = [{"matchExpressions": [{"key": ZONE, "operator": "NotIn", "values": ["zone-a"]}]}]
    assert not node_selector_matches(not_in, node)
    assert [n.name for n in reachable(pv_in("zone-a"), NODES)] == ["node-1", "node-3"]
    assert [n.name for n in reachable({"spec": {}}, NODES)] == ["node-1", "node-2", "node-3"]


def test_allowed_topologies_need_every_expression_of_a_term() -> None:
    assert topology_matches([], NODES[1])
    assert topology_matches(ALLOWED_A, NODES[0])
    assert not topology_matches(ALLOWED_A, NODES[1])
    both = [{"matchLabelExpressions": [{"key": ZONE, "values": ["zone-a"]}, {"key": "x"}]}]
    assert not topology_matches(both, NODES[0])
    assert (
        describe_selector(pv_in("zone-b")["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"])
        == f"{EBS_ZONE} in [zone-b]"
    )


# --- topology checks ---------------------------------------------------------------------

WAITING = ("WaitForFirstConsumer", "waiting for first consumer to be created before binding")


def test_a_claim_waiting_for_its_consumer_passes() -> None:
    assert (
        checks.waited_for_consumer(
            "data-web-0", "web-0", phase="Pending", volume=None, events=[WAITING]
        )
        == []
    )


def test_a_claim_bound_or_provisioned_before_its_pod_is_named() -> None:
    assert checks.waited_for_consumer(
        "data-web-0", "web-0", phase="Bound", volume="pvc-1", events=[]
    ) == [
        "claim data-web-0 is Bound to volume pvc-1 while its pod web-0 is not scheduled yet: "
        "WaitForFirstConsumer should keep it Pending until then"
    ]
    provisioning = ("Provisioning", 'External provisioner is provisioning volume for claim "x"')
    assert (
        "is being provisioned (External provisioner"
        in checks.waited_for_consumer(
            "data-web-0", "web-0", phase="Pending", volume=None, events=[provisioning]
        )[0]
    )
    assert checks.waited_for_consumer(
        "data-web-0", "web-0", phase="Pending", volume=None, events=[]
    ) == [
        "claim data-web-0 is Pending but no event says 'waiting for first consumer to be "
        "created before binding' (its events: none)"
    ]


def test_a_pod_on_a_node_its_volume_does_not_reach_is_named() -> None:
    assert checks.volume_reaches_node("web-0", NODES[0], "pvc-1", pv_in("zone-a")) == []
    assert checks.volume_reaches_node("web-0", NODES[1], "pvc-1", pv_in("zone-a")) == [
        f"web-0 runs on node-2 ({EBS_ZONE}=zone-b), which the nodeAffinity of its volume pvc-1 "
        f"({EBS_ZONE} in [zone-a]) does not admit"
    ]


def test_a_volume_outside_the_allowed_topologies_is_named_with_both() -> None:
    assert (
        checks.within_allowed_topologies("pvc-1", "data-web-0", pv_in("zone-a"), ALLOWED_A, NODES)
        == []
    )
    assert checks.within_allowed_topologies("pvc-1", "data-web-0", pv_in("zone-b"), [], NODES) == []
    assert checks.within_allowed_topologies(
        "pvc-1", "data-web-0", pv_in("zone-b"), ALLOWED_A, NODES
    ) == [
        f"PV pvc-1 of claim data-web-0 has topology {EBS_ZONE} in [zone-b], so it reaches "
        f"node-2 ({EBS_ZONE}=zone-b, {ZONE}=zone-b), outside the class's allowedTopologies "
        f"{ZONE} in [zone-a]"
    ]
    everywhere = checks.within_allowed_topologies(
        "pvc-1", "data-web-0", {"spec": {}}, ALLOWED_A, NODES
    )
    assert "has topology no nodeAffinity: every node" in everywhere[0]


def test_a_pod_kept_from_its_volume_must_say_why() -> None:
    conflict = (
        "0/3 nodes are available: 1 node(s) had volume node affinity conflict, 2 node(s) were "
        "unschedulable. preemption: 0/3 nodes are available: 3 Preemption is not helpful for "
        "scheduling."
    )
    common: dict[str, Any] = {"pv_name": "pvc-1", "pv": pv_in("zone-a"), "reached": ["node-1"]}
    ok = checks.kept_from_its_volume(
        "web-0", node=None, reason="Unschedulable", message=conflict, **common
    )
    assert ok == []
    assert checks.kept_from_its_volume(
        "web-0", node="node-2", reason=None, message=None, **common
    ) == [
        f"web-0 was scheduled on node-2, which its volume pvc-1 ({EBS_ZONE} in [zone-a]) does "
        "not reach, while the nodes it reaches (node-1) are cordoned"
    ]
    assert (
        "although it is cordoned"
        in checks.kept_from_its_volume("web-0", node="node-1", reason=None, message=None, **common)[
            0
        ]
    )
    assert checks.kept_from_its_volume(
        "web-0",
        node=None,
        reason="Unschedulable",
        message="0/3 nodes: 3 Insufficient cpu",
        **common,
    ) == [
        "web-0 is Pending, but the scheduler's reason does not name its volume's topology "
        "('volume node affinity conflict'): 0/3 nodes: 3 Insufficient cpu"
    ]
    assert (
        "gives no reason"
        in checks.kept_from_its_volume("web-0", node=None, reason=None, message=None, **common)[0]
    )


# --- access-mode checks --------------------------------------------------------------------

MULTI = (
    "FailedAttachVolume",
    'Multi-Attach error for volume "pvc-1" Volume is already used by pod(s) web-0',
)


def _twice(**given: Any) -> list[str]:
    facts: dict[str, Any] = {
        "node": "node-2",
        "holder": "web-0",
        "holder_node": "node-1",
        "claim": "data-web-0",
        "running": False,
        "wrote": None,
        "events": [("Scheduled", "Successfully assigned"), MULTI],
    }
    facts.update(given)
    return checks.not_attached_twice("web-second", **facts)


def test_a_second_node_refused_by_a_multi_attach_error_passes() -> None:
    assert _twice() == []
    zonal = (
        "FailedScheduling",
        "0/3 nodes are available: 2 node(s) had volume node affinity conflict",
    )
    assert _twice(node=None, events=[zonal]) == []


def test_a_rwo_volume_running_on_two_nodes_is_named() -> None:
    assert _twice(running=True, wrote=True, events=[("Started", "Started container")]) == [
        "web-second runs on node-2 with ReadWriteOnce claim data-web-0, which web-0 uses on "
        "node-1: the volume is mounted on two nodes and wrote to it"
    ]
    silent = _twice(events=[("Scheduled", "Successfully assigned")])
    assert "but no FailedAttachVolume 'Multi-Attach error' event" in silent[0]
    unrelated = _twice(node=None, events=[("FailedScheduling", "0/3 nodes: 3 Insufficient cpu")])
    assert unrelated
    assert "does not run" in unrelated[0]


RWOP_MESSAGE = (
    "0/3 nodes are available: 1 node has pod using PersistentVolumeClaim with the same name and "
    "ReadWriteOncePod access mode, 2 node(s) didn't match Pod's node affinity/selector."
)


def test_a_second_rwop_pod_must_be_refused_by_the_scheduler() -> None:
    common: dict[str, Any] = {"holder": "web-rwop-0", "holder_node": "node-1", "claim": "data-0"}
    assert (
        checks.one_pod_only(
            "web-rwop-second", node=None, reason="Unschedulable", message=RWOP_MESSAGE, **common
        )
        == []
    )
    assert checks.one_pod_only(
        "web-rwop-second", node="node-1", reason=None, message=None, **common
    ) == [
        "web-rwop-second was scheduled on node-1 with ReadWriteOncePod claim data-0, which "
        "web-rwop-0 on node-1 already uses: ReadWriteOncePod admits one pod only"
    ]
    other = checks.one_pod_only(
        "web-rwop-second",
        node=None,
        reason="Unschedulable",
        message="0/3: Insufficient cpu",
        **common,
    )
    assert "does not name the 'ReadWriteOncePod access mode' conflict" in other[0]


# --- inventory and workloads ---------------------------------------------------------------


def test_allowed_topologies_become_the_class_term() -> None:
    entry = Storage.model_validate(
        {
            "name": "ebs",
            "provisioner": "ebs.csi.aws.com",
            "volume_binding_mode": "WaitForFirstConsumer",
            "allowed_topologies": {ZONE: ["us-east-1a", "us-east-1b"]},
        }
    )
    sc = wl.storage_class(entry, run_id="r1", worker="w0")
    assert sc is not None
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer"
    assert sc["allowedTopologies"] == [
        {"matchLabelExpressions": [{"key": ZONE, "values": ["us-east-1a", "us-east-1b"]}]}
    ]
    plain = wl.storage_class(
        Storage.model_validate({"name": "x", "provisioner": "x.csi"}), run_id="r1", worker="w0"
    )
    assert plain is not None
    assert "allowedTopologies" not in plain


def test_allowed_topologies_need_a_class_we_create_and_values() -> None:
    base = "cluster: {sim: {}}\nstorage:\n  - name: gold\n"
    with pytest.raises(InventoryError) as existing:
        parse(base + "    storage_class: gold\n    allowed_topologies: {zone: [a]}\n")
    assert "storage[0].allowed_topologies" in existing.value.render()
    with pytest.raises(InventoryError) as empty:
        parse(base + "    provisioner: x.csi\n    allowed_topologies: {zone: []}\n")
    assert "each key needs at least one value" in empty.value.render()


def test_a_second_pod_of_a_claim_is_pinned_through_the_scheduler() -> None:
    pod = wl.claim_pod("web-second", "data-web-0", workload=Workload(), labels={}, node="node-1")
    assert "nodeName" not in pod["spec"]
    terms = pod["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    assert terms == [
        {"matchExpressions": [{"key": wl.HOSTNAME_LABEL, "operator": "In", "values": ["node-1"]}]}
    ]
    block = wl.claim_pod(
        "web-second", "data-web-0", workload=Workload(), labels={}, device_path="/dev/xvda"
    )
    container = block["spec"]["containers"][0]
    assert container["volumeDevices"] == [{"name": "claim", "devicePath": "/dev/xvda"}]
    assert "volumeMounts" not in container
    assert "affinity" not in block["spec"]
