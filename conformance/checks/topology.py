"""Judgements on WaitForFirstConsumer and topology: claims wait for their pod, volumes
stay in the class's allowed topology, pods land where their volumes reach, and a pod
its volume cannot follow stays Pending with the scheduler's reason."""

from __future__ import annotations

from collections.abc import Sequence

from conformance.topology import (
    Json,
    NodeFacts,
    describe_selector,
    describe_topologies,
    node_selector_matches,
    node_topology,
    reachable,
    selector_keys,
    topology_matches,
    volume_terms,
)

WAITING_FOR_CONSUMER = "waiting for first consumer to be created before binding"
NODE_AFFINITY_CONFLICT = "volume node affinity conflict"
PROVISIONING_REASONS = ("Provisioning", "ProvisioningSucceeded")


def waited_for_consumer(
    claim: str,
    pod: str,
    *,
    phase: str | None,
    volume: str | None,
    events: Sequence[tuple[str, str]],
) -> list[str]:
    """A WaitForFirstConsumer claim whose pod is not scheduled yet is Pending, with the
    binder's event saying so, and nothing is provisioned for it. ``events`` are the
    claim's (reason, message)."""
    if volume or phase == "Bound":
        return [
            f"claim {claim} is {phase or 'bound'} to volume {volume or '?'} while its pod {pod} "
            "is not scheduled yet: WaitForFirstConsumer should keep it Pending until then"
        ]
    provisioned = [message for reason, message in events if reason in PROVISIONING_REASONS]
    if provisioned:
        return [
            f"claim {claim} is being provisioned ({provisioned[-1]}) while its pod {pod} is "
            "not scheduled yet: WaitForFirstConsumer should wait for the pod"
        ]
    if not any(WAITING_FOR_CONSUMER in message for _, message in events):
        seen = "; ".join(f"{reason}: {message}" for reason, message in events) or "none"
        return [
            f"claim {claim} is {phase or 'without a phase'} but no event says "
            f"'{WAITING_FOR_CONSUMER}' (its events: {seen})"
        ]
    return []


def volume_reaches_node(pod: str, node: NodeFacts, pv_name: str, pv: Json) -> list[str]:
    """The node a pod runs on is one its volume's nodeAffinity admits."""
    terms = volume_terms(pv)
    if node_selector_matches(terms, node):
        return []
    return [
        f"{pod} runs on {node_topology(node, selector_keys(terms))}, which the nodeAffinity of "
        f"its volume {pv_name} ({describe_selector(terms)}) does not admit"
    ]


def within_allowed_topologies(
    pv_name: str,
    claim: str,
    pv: Json,
    allowed: Sequence[Json],
    nodes: Sequence[NodeFacts],
) -> list[str]:
    """A volume of a class with allowedTopologies reaches only nodes those admit."""
    if not allowed:
        return []
    outside = [n for n in reachable(pv, nodes) if not topology_matches(allowed, n)]
    if not outside:
        return []
    terms = volume_terms(pv)
    keys = selector_keys([*terms, *allowed])
    where = ", ".join(node_topology(n, keys) for n in outside)
    affinity = describe_selector(terms) if terms else "no nodeAffinity: every node"
    return [
        f"PV {pv_name} of claim {claim} has topology {affinity}, so it reaches {where}, "
        f"outside the class's allowedTopologies {describe_topologies(allowed)}"
    ]


def kept_from_its_volume(
    pod: str,
    *,
    node: str | None,
    pv_name: str,
    pv: Json,
    reached: Sequence[str],
    reason: str | None,
    message: str | None,
    expect: str = NODE_AFFINITY_CONFLICT,
) -> list[str]:
    """A pod whose volume reaches only cordoned nodes stays unscheduled, and the scheduler
    says why (its PodScheduled condition, the FailedScheduling message) naming ``expect``."""
    terms = describe_selector(volume_terms(pv))
    if node is not None:
        if node in reached:
            return [f"{pod} was scheduled on {node} although it is cordoned"]
        return [
            f"{pod} was scheduled on {node}, which its volume {pv_name} ({terms}) does not "
            f"reach, while the nodes it reaches ({', '.join(reached)}) are cordoned"
        ]
    if reason != "Unschedulable" or not message:
        return [
            f"{pod} is not scheduled but the scheduler gives no reason "
            f"(PodScheduled reason {reason or 'unset'})"
        ]
    if expect not in message:
        return [
            f"{pod} is Pending, but the scheduler's reason does not name its volume's "
            f"topology ('{expect}'): {message}"
        ]
    return []


__all__ = [
    "kept_from_its_volume",
    "volume_reaches_node",
    "waited_for_consumer",
    "within_allowed_topologies",
]
