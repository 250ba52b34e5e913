"""Claims and their volumes: created, Bound, as declared, mounted by the right pod, and
kept or deleted as the retention policy says."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubernetes.utils import parse_quantity

from conformance.cluster import pod_ready
from conformance.inventory import Storage


def pods_ready(pods: Mapping[str, Any], names: Sequence[str]) -> list[str]:
    """Every pod in ``names`` exists and is Running and Ready (what a deployed set is)."""
    problems = []
    for name in names:
        pod = pods.get(name)
        if pod is None:
            problems.append(f"pod {name} does not exist")
            continue
        if pod_ready(pod):
            continue
        waiting = [
            f"{s.name} {s.state.waiting.reason}"
            + (f": {s.state.waiting.message}" if s.state.waiting.message else "")
            for s in (pod.status.container_statuses or [])
            if s.state and s.state.waiting
        ]
        conditions = [
            f"{c.type}: {c.reason}: {c.message}"
            for c in (pod.status.conditions or [])
            if c.status != "True" and c.message
        ]
        why = "; ".join(waiting + conditions)
        problems.append(
            f"pod {name} is {pod.status.phase}, not Ready" + (f" ({why})" if why else "")
        )
    return problems


def claims_bound(claims: Mapping[str, Any], names: Sequence[str]) -> list[str]:
    """Every claim in ``names`` exists and is Bound to a volume."""
    problems = []
    for name in names:
        claim = claims.get(name)
        if claim is None:
            problems.append(f"claim {name} does not exist")
        elif claim.status.phase != "Bound":
            problems.append(f"claim {name} is {claim.status.phase}, not Bound")
        elif not claim.spec.volume_name:
            problems.append(f"claim {name} is Bound but names no volume")
    return problems


def _pv_fs_type(pv: Any) -> str | None:
    spec = pv.spec
    for source in (spec.csi, spec.flex_volume, spec.iscsi, spec.fc, spec.rbd):
        if source is not None and getattr(source, "fs_type", None):
            return str(source.fs_type)
    return None


def volumes_as_declared(
    entry: Storage,
    class_name: str | None,
    claims: Mapping[str, Any],
    volumes: Mapping[str, Any],
    names: Sequence[str],
) -> list[str]:
    """Each claim's PV has the entry's class, at least its size, its access modes, its fs."""
    wanted = parse_quantity(entry.size)
    problems = []
    for name in names:
        claim = claims.get(name)
        pv = volumes.get(claim.spec.volume_name or "") if claim is not None else None
        if pv is None:
            problems.append(f"claim {name} has no volume")
            continue
        label = f"{name} -> {pv.metadata.name}"
        if class_name and pv.spec.storage_class_name != class_name:
            problems.append(
                f"{label}: storage class {pv.spec.storage_class_name!r}, expected {class_name!r}"
            )
        capacity = (pv.spec.capacity or {}).get("storage")
        if capacity is None or parse_quantity(str(capacity)) < wanted:
            problems.append(f"{label}: capacity {capacity}, expected at least {entry.size}")
        modes = set(pv.spec.access_modes or [])
        missing = {m.value for m in entry.access_modes} - modes
        if missing:
            problems.append(f"{label}: access modes {sorted(modes)} lack {sorted(missing)}")
        fs_type = _pv_fs_type(pv)
        if fs_type is not None and fs_type != entry.fs_type:
            problems.append(f"{label}: fs type {fs_type}, expected {entry.fs_type}")
    return problems


def pods_mount_their_claims(
    mounted: Mapping[str, str | None], expected: Mapping[str, str]
) -> list[str]:
    """Pod n mounts claim n: ``mounted`` is pod -> the claim its spec names."""
    return [
        f"{pod} mounts claim {mounted.get(pod)}, expected {claim}"
        for pod, claim in expected.items()
        if mounted.get(pod) != claim
    ]


def _gone(claim: Any) -> bool:
    return claim is None or bool(claim.metadata.deletion_timestamp)


def claims_kept(claims: Mapping[str, Any], names: Mapping[str, str], *, rule: str) -> list[str]:
    """The claims survived; ``names`` maps each claim to the event that must not delete it."""
    return [
        f"claim {name} was deleted {when}, but {rule}"
        for name, when in names.items()
        if _gone(claims.get(name))
    ]


def claims_deleted(claims: Mapping[str, Any], names: Mapping[str, str], *, rule: str) -> list[str]:
    """The claims are gone; ``names`` maps each claim to the event that must delete it."""
    return [
        f"claim {name} still exists {when}, but {rule}"
        for name, when in names.items()
        if not _gone(claims.get(name))
    ]


def claims_rebound(
    before: Mapping[str, str | None], after: Mapping[str, str | None], *, when: str
) -> list[str]:
    """Each claim is bound to the volume it had before (claim name -> PV name)."""
    return [
        f"{when}: claim {name} is bound to {after.get(name)}, was {volume}"
        for name, volume in before.items()
        if after.get(name) != volume
    ]


def claims_recreated(
    before: Mapping[str, Any], after: Mapping[str, Any], *, when: str, rule: str
) -> list[str]:
    """Each claim of ``before`` exists again as a new claim (another UID) on another volume:
    what the set makes when it finds a deleted claim missing."""
    problems = []
    for name, old in before.items():
        new = after.get(name)
        if new is None:
            problems.append(f"claim {name} does not exist {when}")
        elif new.metadata.uid == old.metadata.uid:
            problems.append(
                f"claim {name} is still the claim it was (uid {old.metadata.uid}) {when}, "
                f"but {rule}"
            )
        elif new.spec.volume_name and new.spec.volume_name == old.spec.volume_name:
            problems.append(
                f"claim {name} is bound to its old volume {old.spec.volume_name} {when}, "
                f"but {rule}: expected a fresh volume"
            )
    return problems
