"""Every claim `<template>-<set>-<ordinal>` is Bound to a volume as the entry declares it."""

from __future__ import annotations

from conformance import checks, evidence
from conformance.checks import fail_on
from conformance.deployments import Deployment


def test_claims_exist_and_are_bound(deployed: Deployment) -> None:
    evidence.label_suite("provisioning", "claims are Bound")
    fail_on(checks.claims_bound(deployed.claims(), deployed.claim_names()))


def test_volumes_have_the_declared_class_capacity_access_and_fs_type(deployed: Deployment) -> None:
    evidence.label_suite("provisioning", "volumes as declared")
    claims = deployed.claims()
    fail_on(
        checks.volumes_as_declared(
            deployed.case.storage,
            deployed.class_name,
            claims,
            deployed.volumes_of(claims),
            deployed.claim_names(),
        )
    )


def test_each_pod_mounts_its_own_claim(deployed: Deployment) -> None:
    evidence.label_suite("provisioning", "pod n mounts claim n")
    expected = {deployed.pod_name(n): deployed.claim_name(n) for n in range(deployed.case.replicas)}
    fail_on(checks.pods_mount_their_claims(deployed.claims_mounted(), expected))
