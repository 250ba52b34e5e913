"""persistentVolumeClaimRetentionPolicy, whenDeleted x whenScaled, each Retain or Delete:
scale-down keeps or deletes the removed ordinals' claims as whenScaled says, scale-up
re-attaches the kept ones with their data (and makes fresh ones for the deleted), and
deleting the set keeps or deletes the claims as whenDeleted says.

The four combinations are four sets in one namespace, acted on together: the module's
own set (no policy given: Retain/Retain, the API server's default) and three variants.
The acts happen in module fixtures, one phase after the other, so each test, even run
alone, finds the phase before it done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from conformance import checks, evidence, observe, probes
from conformance.checks import fail_on
from conformance.deployments import Deployment

PAYLOAD = "retention.bin"
RETAIN, DELETE = "Retain", "Delete"

pytestmark = [
    pytest.mark.disruptive,
    pytest.mark.per_entry,  # the controller's and garbage collector's work, whatever the policy
    pytest.mark.persistence,
    pytest.mark.filesystem,  # payloads are files
]

VARIANTS = {  # set name suffix -> (whenDeleted, whenScaled)
    "del": (DELETE, RETAIN),
    "scl": (RETAIN, DELETE),
    "both": (DELETE, DELETE),
}


@dataclass
class Member:
    """One set of the matrix, and what was recorded of it before each phase."""

    dep: Deployment
    when_deleted: str
    when_scaled: str
    payload: probes.Payload = field(default_factory=probes.Payload.random)
    claims: dict[str, Any] = field(default_factory=dict)  # the removed ordinal's, before

    @property
    def kept_replicas(self) -> int:
        return self.dep.case.replicas - 1

    @property
    def removed(self) -> str:
        """The pod scale-down removes (the highest ordinal)."""
        return self.dep.pod_name(self.kept_replicas)

    @property
    def removed_claim(self) -> str:
        return self.dep.claim_name(self.kept_replicas)


@pytest.fixture(scope="module")
def matrix(statefulset: Deployment) -> list[Member]:
    """The four sets, up (the variants deployed together), a payload on each set's highest
    ordinal, and its claim as it was."""
    members = [Member(statefulset, RETAIN, RETAIN)]
    for suffix, (when_deleted, when_scaled) in VARIANTS.items():
        dep = statefulset.variant(suffix)
        dep.build(retention={"whenDeleted": when_deleted, "whenScaled": when_scaled})
        for manifest in dep.manifests:
            dep.apply_manifest(manifest)
        members.append(Member(dep, when_deleted, when_scaled))
    problems: list[str] = []
    for member in members:
        member.dep.wait_up()
        problems += checks.written(
            observe.write_payload(member.dep, member.removed, member.payload, PAYLOAD)
        )
    fail_on(problems)
    claims = statefulset.claims()
    for member in members:
        member.claims = {member.removed_claim: claims[member.removed_claim]}
    return members


def _wait_pods_gone(dep: Deployment, pods: list[str], what: str) -> None:
    dep.cluster.wait_pods(
        dep.namespace, lambda seen: not any(name in seen.objects for name in pods), what=what
    )


@pytest.fixture(scope="module")
def scaled_down(matrix: list[Member]) -> dict[str, Any]:
    """Every set scaled down by one; the claims after, with those whenScaled=Delete must
    remove given time to go."""
    dep = matrix[0].dep
    for member in matrix:
        dep.cluster.scale(dep.namespace, member.dep.set_name, member.kept_replicas)
    _wait_pods_gone(dep, [m.removed for m in matrix], "the highest ordinal of each set to go")
    doomed = [m.removed_claim for m in matrix if m.when_scaled == DELETE]
    dep.cluster.wait_claims_gone(dep.namespace, doomed)
    return dep.claims()


@pytest.fixture(scope="module")
def scaled_up(matrix: list[Member], scaled_down: dict[str, Any]) -> dict[str, Any]:
    """Every set back at its replicas, all Ready; the claims then."""
    for member in matrix:
        member.dep.cluster.scale(
            member.dep.namespace, member.dep.set_name, member.dep.case.replicas
        )
    for member in matrix:
        member.dep.wait_up()
    return matrix[0].dep.claims()


@pytest.fixture(scope="module")
def set_deleted(matrix: list[Member], scaled_up: dict[str, Any]) -> dict[str, Any]:
    """Every set deleted (in the background, as kubectl does) and its pods gone; the claims
    after, with those whenDeleted=Delete must remove given time to go."""
    dep = matrix[0].dep
    for member in matrix:
        dep.cluster.delete_statefulset(dep.namespace, member.dep.set_name)
    pods = [m.dep.pod_name(i) for m in matrix for i in range(m.dep.case.replicas)]
    _wait_pods_gone(dep, pods, "the sets' pods to be deleted")
    doomed = [c for m in matrix if m.when_deleted == DELETE for c in m.dep.claim_names()]
    dep.cluster.wait_claims_gone(dep.namespace, doomed)
    return dep.claims()


def test_scale_down_keeps_or_deletes_the_removed_claims_as_when_scaled_says(
    matrix: list[Member], scaled_down: dict[str, Any]
) -> None:
    evidence.label_suite("retention", "whenScaled on scale-down")
    problems: list[str] = []
    for member in matrix:
        claim, pod = member.removed_claim, member.removed
        if member.when_scaled == RETAIN:
            problems += checks.claims_kept(
                scaled_down,
                {claim: f"with its pod {pod} on scale-down"},
                rule="whenScaled is Retain",
            )
        else:
            problems += checks.claims_deleted(
                scaled_down,
                {claim: f"after scale-down removed its pod {pod}"},
                rule="whenScaled is Delete",
            )
    fail_on(problems)


def test_scale_up_reattaches_kept_claims_with_their_data_and_recreates_deleted_ones(
    matrix: list[Member], scaled_up: dict[str, Any]
) -> None:
    evidence.label_suite("retention", "scale-up after scale-down")
    problems: list[str] = []
    for member in matrix:
        if member.when_scaled == RETAIN:
            volumes = {name: c.spec.volume_name for name, c in member.claims.items()}
            after = {
                name: scaled_up[name].spec.volume_name for name in volumes if name in scaled_up
            }
            problems += checks.claims_rebound(
                volumes, after, when=f"after scale-up of {member.dep.set_name}"
            )
            read = observe.read_back(member.dep, member.removed, PAYLOAD)
            problems += checks.payload_intact(read, member.payload)
        else:
            problems += checks.claims_recreated(
                member.claims,
                scaled_up,
                when=f"after scale-up of {member.dep.set_name}",
                rule="whenScaled is Delete",
            )
    fail_on(problems)


def test_deleting_the_set_keeps_or_deletes_its_claims_as_when_deleted_says(
    matrix: list[Member], set_deleted: dict[str, Any]
) -> None:
    evidence.label_suite("retention", "whenDeleted on set deletion")
    problems: list[str] = []
    for member in matrix:
        claims = member.dep.claim_names()
        if member.when_deleted == RETAIN:
            problems += checks.claims_kept(
                set_deleted,
                dict.fromkeys(claims, "with the StatefulSet"),
                rule="whenDeleted is Retain",
            )
        else:
            problems += checks.claims_deleted(
                set_deleted,
                dict.fromkeys(claims, "after the StatefulSet was deleted"),
                rule="whenDeleted is Delete",
            )
    fail_on(problems)
