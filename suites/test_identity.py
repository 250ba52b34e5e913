"""A deleted pod comes back with the same name, hostname, DNS record, claim, volume and data."""

from __future__ import annotations

import pytest

from conformance import checks, evidence, probes
from conformance.cluster import pod_ready
from conformance.deployments import Deployment

pytestmark = [pytest.mark.disruptive, pytest.mark.persistence]

PAYLOAD = "identity.bin"


def test_a_deleted_pod_returns_with_its_identity_and_data(deployed: Deployment) -> None:
    evidence.label_suite("identity", "pod deletion")
    ordinal = deployed.case.replicas - 1
    name = deployed.pod_name(ordinal)
    old = deployed.pod(ordinal)
    claim_before = deployed.claim(ordinal)
    payload = probes.Payload.random()
    checks.fail_on(checks.write_payload(deployed, name, payload, PAYLOAD))

    deployed.cluster.delete_pod(deployed.namespace, name)

    def returned(seen) -> bool:  # type: ignore[no-untyped-def]
        pod = seen.objects.get(name)
        return bool(pod is not None and pod.metadata.uid != old.metadata.uid and pod_ready(pod))

    deployed.cluster.wait_pods(
        deployed.namespace, returned, what=f"{name} to come back", selector=deployed.selector
    )
    new = deployed.pod(ordinal)
    problems: list[str] = []
    if deployed.claim_of_pod(new) != claim_before.metadata.name:
        problems.append(
            f"{name} came back mounting claim {deployed.claim_of_pod(new)}, "
            f"expected {claim_before.metadata.name}"
        )
    claim_after = deployed.claim(ordinal)
    if claim_after.metadata.uid != claim_before.metadata.uid:
        problems.append(f"claim {claim_before.metadata.name} was replaced by a new claim")
    if claim_after.spec.volume_name != claim_before.spec.volume_name:
        problems.append(
            f"claim {claim_before.metadata.name} moved from volume "
            f"{claim_before.spec.volume_name} to {claim_after.spec.volume_name}"
        )
    problems += checks.hostname_is(deployed, name)
    sibling = deployed.pod_name(0) if ordinal else name
    problems += checks.resolves(deployed, sibling, name)
    problems += checks.payload_intact(deployed, name, payload, PAYLOAD)
    problems += checks.container_mount(deployed, None, ordinal)
    checks.fail_on(problems)
