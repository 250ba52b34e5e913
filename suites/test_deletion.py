"""Deleting the StatefulSet keeps its claims under Retain and deletes them under Delete;
a re-created set re-attaches the same volumes with the data intact."""

from __future__ import annotations

import pytest

from conformance import checks, evidence, probes
from conformance.deployments import Deployment

pytestmark = [pytest.mark.disruptive, pytest.mark.persistence]

PAYLOAD = "deletion.bin"


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
    payloads = {}
    for pod in deployed.pods():
        payloads[pod.metadata.name] = probes.Payload.random()
        checks.fail_on(
            checks.write_payload(deployed, pod.metadata.name, payloads[pod.metadata.name], PAYLOAD)
        )
    volumes = {name: c.spec.volume_name for name, c in deployed.claims().items()}
    _delete_set_and_wait(deployed)
    claims = deployed.claims()
    problems = [
        f"claim {name} was deleted with the StatefulSet, but whenDeleted is Retain"
        for name in deployed.claim_names()
        if name not in claims or claims[name].metadata.deletion_timestamp
    ]
    checks.fail_on(problems)
    deployed.deploy()
    for name, claim in deployed.claims().items():
        if name in volumes and claim.spec.volume_name != volumes[name]:
            problems.append(
                f"re-created set: claim {name} is bound to {claim.spec.volume_name}, "
                f"was {volumes[name]}"
            )
    for pod, payload in payloads.items():
        problems += checks.payload_intact(deployed, pod, payload, PAYLOAD)
    checks.fail_on(problems)


def test_claims_go_with_the_set_under_the_delete_policy(statefulset: Deployment) -> None:
    evidence.label_suite("deletion", "Delete: claims removed")
    dep = Deployment(
        cluster=statefulset.cluster,
        inventory=statefulset.inventory,
        case=statefulset.case,
        namespace=statefulset.namespace,
        class_name=statefulset.class_name,
        labels=statefulset.labels,
        set_name=f"{statefulset.set_name}-del",
    )
    dep.deploy(retention={"whenDeleted": "Delete", "whenScaled": "Retain"})
    _delete_set_and_wait(dep)

    dep.cluster.wait_claims_gone(dep.namespace, dep.claim_names())
