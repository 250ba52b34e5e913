"""Scale-up creates ordinals in order with Bound claims; scale-down removes the highest first
and keeps the claims; the removed pods' kubelet mounts are gone from their nodes."""

from __future__ import annotations

import pytest

from conformance import checks, evidence, observe, probes
from conformance.checks import fail_on
from conformance.deployments import Deployment
from conformance.plugin import NodeAccess
from conformance.reporting import timeline

EXTRA = 2
PAYLOAD = "scaling.bin"

pytestmark = [pytest.mark.disruptive, pytest.mark.filesystem]  # payloads are files


@pytest.fixture(scope="module")
def before(deployed: Deployment) -> dict[str, probes.Payload]:
    """A payload in every original pod, to prove scaling leaves their data alone."""
    payloads = {pod.metadata.name: probes.Payload.random() for pod in deployed.pods()}
    problems: list[str] = []
    for pod, payload in payloads.items():
        problems += checks.written(observe.write_payload(deployed, pod, payload, PAYLOAD))
    fail_on(problems)
    return payloads


def test_scale_up_creates_the_new_ordinals_in_order(
    deployed: Deployment, before: dict[str, probes.Payload]
) -> None:
    evidence.label_suite("scaling", "scale up")
    original = deployed.case.replicas
    target = original + EXTRA
    since = deployed.cluster.resource_version(deployed.namespace)
    deployed.cluster.scale(deployed.namespace, deployed.set_name, target)
    seen = deployed.cluster.wait_ready(
        deployed.namespace, target, selector=deployed.selector, since=since
    )
    evidence.attach_svg("scale-up timeline", timeline.svg(seen.timeline, f"scale up to {target}"))
    problems = checks.claims_bound(deployed.claims(), deployed.claim_names(target))
    new = [deployed.pod_name(i) for i in range(original, target)]
    problems += checks.created_in_order(seen.order("ADDED"), new, deployed.case.policy)
    for pod, payload in before.items():
        problems += checks.payload_intact(observe.read_back(deployed, pod, PAYLOAD), payload)
    fail_on(problems)


def test_scale_down_removes_the_highest_ordinals_first_and_keeps_claims(
    deployed: Deployment, node_access: NodeAccess
) -> None:
    evidence.label_suite("scaling", "scale down")
    original = deployed.case.replicas
    # from the scaled-up set the scale-up test leaves (run alone, this test scales up itself)
    deployed.cluster.scale(deployed.namespace, deployed.set_name, original + EXTRA)
    deployed.cluster.wait_ready(deployed.namespace, original + EXTRA, selector=deployed.selector)
    pods = {p.metadata.name: p for p in deployed.pods()}
    doomed = [deployed.pod_name(i) for i in range(len(pods) - 1, original - 1, -1)]
    since = deployed.cluster.resource_version(deployed.namespace)
    deployed.cluster.scale(deployed.namespace, deployed.set_name, original)
    seen = deployed.cluster.wait_pods(
        deployed.namespace,
        lambda s: all(name not in s.objects for name in doomed),
        what=f"{', '.join(doomed)} to be deleted",
        selector=deployed.selector,
        since=since,
    )
    evidence.attach_svg(
        "scale-down timeline", timeline.svg(seen.timeline, f"scale down to {original}")
    )
    deleted = [name for name in seen.order("DELETED") if name in pods]
    problems = checks.deleted_highest_first(deleted, doomed, deployed.case.policy)
    kept = {
        deployed.claim_name(n): f"with its pod {deployed.pod_name(n)} on scale-down"
        for n in range(original, len(pods))
    }
    problems += checks.claims_kept(deployed.claims(), kept, rule="whenScaled is Retain")
    if node_access.shells is not None:
        for name in doomed:
            node = pods[name].spec.node_name
            problems += checks.kubelet_mounts_gone(
                observe.node_mounts(node_access.shells, node),
                pod=name,
                pod_uid=pods[name].metadata.uid,
                node=node,
            )
    fail_on(problems)
