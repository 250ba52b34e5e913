"""Every claim `<template>-<set>-<ordinal>` is Bound to a volume as the entry declares it."""

from __future__ import annotations

from conformance import checks, evidence
from conformance.deployments import Deployment


def test_claims_exist_and_are_bound(deployed: Deployment) -> None:
    evidence.label_suite("provisioning", "claims are Bound")
    checks.fail_on(checks.claims_bound(deployed))


def test_volumes_have_the_declared_class_capacity_access_and_fs_type(deployed: Deployment) -> None:
    evidence.label_suite("provisioning", "volumes as declared")
    checks.fail_on(checks.volumes_as_declared(deployed))


def test_each_pod_mounts_its_own_claim(deployed: Deployment) -> None:
    evidence.label_suite("provisioning", "pod n mounts claim n")
    problems = []
    for ordinal, pod in enumerate(deployed.pods()):
        claim = deployed.claim_of_pod(pod)
        if claim != deployed.claim_name(ordinal):
            problems.append(
                f"{pod.metadata.name} mounts claim {claim}, expected {deployed.claim_name(ordinal)}"
            )
    checks.fail_on(problems)
