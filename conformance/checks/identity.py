"""A StatefulSet pod's identity: its hostname, its DNS record, its claim and volume."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # observe imports deployments, which phrases its failures with checks
    from conformance.observe import Hostname, Lookup


def hostname_is(seen: Hostname) -> list[str]:
    if seen.hostname is None:
        return [f"{seen.pod}: cannot read its hostname: {seen.error}"]
    if seen.hostname != seen.pod:
        return [f"{seen.pod}: hostname is {seen.hostname!r}, expected {seen.pod!r}"]
    return []


def resolves(lookup: Lookup) -> list[str]:
    if lookup.exit_code != 0 or not lookup.entries:
        target = lookup.name.split(".", 1)[0]
        return [f"{lookup.from_pod}: the DNS record {lookup.name} of {target} does not resolve"]
    return []


def kept_claim_and_volume(
    pod: str, mounted_claim: str | None, claim_before: Any, claim_after: Any
) -> list[str]:
    """A re-created pod mounts the same claim object, bound to the same volume."""
    name = claim_before.metadata.name
    problems = []
    if mounted_claim != name:
        problems.append(f"{pod} came back mounting claim {mounted_claim}, expected {name}")
    if claim_after is None:
        problems.append(f"claim {name} of {pod} is gone")
        return problems
    if claim_after.metadata.uid != claim_before.metadata.uid:
        problems.append(f"claim {name} was replaced by a new claim")
    if claim_after.spec.volume_name != claim_before.spec.volume_name:
        problems.append(
            f"claim {name} moved from volume {claim_before.spec.volume_name} to "
            f"{claim_after.spec.volume_name}"
        )
    return problems
