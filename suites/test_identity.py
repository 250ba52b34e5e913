"""A deleted pod comes back with the same name, hostname, DNS record, claim, volume and data."""

from __future__ import annotations

import pytest

from conformance import checks, evidence, observe, probes
from conformance.checks import fail_on
from conformance.deployments import Deployment

pytestmark = [pytest.mark.disruptive, pytest.mark.persistence, pytest.mark.filesystem]

PAYLOAD = "identity.bin"


def test_a_deleted_pod_returns_with_its_identity_and_data(deployed: Deployment) -> None:
    evidence.label_suite("identity", "pod deletion")
    ordinal = deployed.case.replicas - 1
    name = deployed.pod_name(ordinal)
    claim_before = deployed.claim(ordinal)
    payload = probes.Payload.random()
    fail_on(checks.written(observe.write_payload(deployed, name, payload, PAYLOAD)))

    new = deployed.recreate_pod(ordinal)
    claim_after = deployed.claims().get(claim_before.metadata.name)
    problems = checks.kept_claim_and_volume(
        name, deployed.claim_of_pod(new), claim_before, claim_after
    )
    problems += checks.hostname_is(observe.hostname(deployed, name))
    sibling = deployed.pod_name(0) if ordinal else name
    problems += checks.resolves(observe.resolve(deployed, sibling, name))
    problems += checks.payload_intact(observe.read_back(deployed, name, PAYLOAD), payload)
    views = observe.volume_views(deployed, None, ordinal, container=True)
    problems += checks.container_mount(views, fs_type=deployed.case.storage.fs_type, writable=True)
    fail_on(problems)
