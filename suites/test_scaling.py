"""Scale-up creates ordinals in order with Bound claims; scale-down removes the highest first
and keeps the claims; the removed pods' kubelet mounts are gone from their nodes."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import checks, evidence, probes
from conformance.deployments import Deployment, ordinal
from conformance.inventory import Access, PodManagementPolicy
from conformance.waits import Seen

EXTRA = 2
PAYLOAD = "scaling.bin"

pytestmark = pytest.mark.disruptive


def _order(seen: Seen[Any], event: str) -> list[str]:
    names: list[str] = []
    for kind, name in seen.events:
        if kind == event and name not in names:
            names.append(name)
    return names


@pytest.fixture(scope="module")
def before(deployed: Deployment) -> dict[str, probes.Payload]:
    """A payload in every original pod, to prove scaling leaves their data alone."""
    payloads = {}
    problems: list[str] = []
    for pod in deployed.pods():
        payload = probes.Payload.random()
        problems += checks.write_payload(deployed, pod.metadata.name, payload, PAYLOAD)
        payloads[pod.metadata.name] = payload
    checks.fail_on(problems)
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
    problems = checks.claims_bound(deployed, target)
    created = _order(seen, "ADDED")
    new = [deployed.pod_name(i) for i in range(original, target)]
    if deployed.case.policy is PodManagementPolicy.ORDERED_READY and created != new:
        problems.append(
            f"OrderedReady scale-up created {', '.join(created)}; expected {', '.join(new)} in "
            "that order"
        )
    for pod, payload in before.items():
        problems += checks.payload_intact(deployed, pod, payload, PAYLOAD)
    checks.fail_on(problems)


def test_scale_down_removes_the_highest_ordinals_first_and_keeps_claims(
    request: pytest.FixtureRequest, deployed: Deployment
) -> None:
    evidence.label_suite("scaling", "scale down")
    original = deployed.case.replicas
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
    problems: list[str] = []
    deleted = [n for n in _order(seen, "DELETED") if n in pods]
    if (
        deployed.case.policy is PodManagementPolicy.ORDERED_READY
        and deleted[: len(doomed)] != doomed
    ):
        problems.append(
            f"OrderedReady scale-down deleted {', '.join(deleted)}; expected {', '.join(doomed)} "
            "(highest ordinal first)"
        )
    claims = deployed.claims()
    for name in doomed:
        claim = deployed.claim_name(ordinal(name))
        if claim not in claims or claims[claim].metadata.deletion_timestamp:
            problems.append(
                f"claim {claim} of removed pod {name} was deleted, but whenScaled is Retain"
            )
    if deployed.inventory.nodes.access is not Access.NONE:
        shells = request.getfixturevalue("node_shells")
        for name in doomed:
            pod = pods[name]
            problems += checks.kubelet_mounts_gone(
                deployed, shells, pod.spec.node_name, pod.metadata.uid, name
            )
    checks.fail_on(problems)
