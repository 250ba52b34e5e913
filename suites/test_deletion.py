"""Deleting the StatefulSet keeps its claims under Retain and deletes them under Delete;
a re-created set re-attaches the same volumes with the data intact.

Deletion ends a set's life, so this module takes over the read-only suites' set after
them (``after_readers``) instead of deploying its own: the Retain test deletes and
re-creates it, the Delete test switches its policy to Delete and deletes it. Upstream's
controller re-owns the claims when the policy changes (UpdatePodClaimForRetentionPolicy),
so the claims must go as if the set had been created with that policy."""

from __future__ import annotations

import pytest

from conformance import checks, evidence, observe, probes
from conformance.checks import fail_on
from conformance.deployments import Deployment

pytestmark = [
    pytest.mark.disruptive,
    pytest.mark.after_readers,
    pytest.mark.persistence,
    pytest.mark.filesystem,
]

PAYLOAD = "deletion.bin"
DELETE = {"whenDeleted": "Delete", "whenScaled": "Retain"}


def _delete_set_and_wait(dep: Deployment) -> None:
    dep.cluster.delete_statefulset(dep.namespace, dep.set_name)
    dep.cluster.wait_pods(
        dep.namespace,
        lambda s: not s.objects,
        what="the set's pods to be deleted",
        selector=dep.selector,
    )


def test_claims_survive_set_deletion_and_reattach_with_data(deployed: Deployment) -> None:
    evidence.label_suite("deletion", "Retain: claims kept, data re-attached")
    payloads = {pod.metadata.name: probes.Payload.random() for pod in deployed.pods()}
    for pod, payload in payloads.items():
        fail_on(checks.written(observe.write_payload(deployed, pod, payload, PAYLOAD)))
    volumes = {name: c.spec.volume_name for name, c in deployed.claims().items()}

    _delete_set_and_wait(deployed)
    kept = dict.fromkeys(deployed.claim_names(), "with the StatefulSet")
    fail_on(checks.claims_kept(deployed.claims(), kept, rule="whenDeleted is Retain"))

    deployed.deploy()
    after = {name: c.spec.volume_name for name, c in deployed.claims().items()}
    problems = checks.claims_rebound(volumes, after, when="in the re-created set")
    for pod, payload in payloads.items():
        problems += checks.payload_intact(observe.read_back(deployed, pod, PAYLOAD), payload)
    fail_on(problems)


def test_claims_go_with_the_set_under_the_delete_policy(deployed: Deployment) -> None:
    evidence.label_suite("deletion", "Delete: claims removed")
    deployed.switch_retention(DELETE)  # the set the Retain test re-created
    _delete_set_and_wait(deployed)
    left = deployed.cluster.wait_claims_gone(deployed.namespace, deployed.claim_names())
    deleted = dict.fromkeys(deployed.claim_names(), "after the StatefulSet was deleted")
    fail_on(checks.claims_deleted(left, deleted, rule="whenDeleted is Delete"))
