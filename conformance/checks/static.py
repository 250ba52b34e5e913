"""Pre-provisioned volumes go to the claims they were made for (as the seed's
pv-datera-0..n went to pv-claim-test-petset-0..n), and nowhere else."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _bound_to(claims: Mapping[str, Any], name: str) -> tuple[str | None, str]:
    """(the PV claim ``name`` is bound to, or None; why not)."""
    claim = claims.get(name)
    if claim is None:
        return None, f"claim {name} does not exist"
    phase = claim.status.phase if claim.status is not None else None
    if phase != "Bound" or not claim.spec.volume_name:
        return None, f"claim {name} is {phase or 'without a phase'}, not Bound"
    return str(claim.spec.volume_name), ""


def bound_as_pre_bound(claims: Mapping[str, Any], expected: Mapping[str, str]) -> list[str]:
    """Each claim is bound to the static PV pre-bound to it by claimRef (claim -> PV)."""
    problems = []
    for name, pv in expected.items():
        found, why = _bound_to(claims, name)
        if found is None:
            problems.append(f"{why}; the static PV {pv} was pre-bound to it by claimRef")
        elif found != pv:
            problems.append(
                f"claim {name} is bound to {found}, expected {pv} (pre-bound to it by claimRef)"
            )
    return problems


def bound_in_pool(
    claims: Mapping[str, Any], names: list[str], pool: set[str], label: str
) -> list[str]:
    """Each claim is bound to a PV of the pool its selector (``label``) selects, no two to
    the same PV."""
    problems = []
    holders: dict[str, list[str]] = {}
    for name in names:
        found, why = _bound_to(claims, name)
        if found is None:
            problems.append(why)
            continue
        holders.setdefault(found, []).append(name)
        if found not in pool:
            problems.append(
                f"claim {name} is bound to {found}, which its selector {label} does not select "
                f"(the pool is {', '.join(sorted(pool))})"
            )
    problems += [
        f"claims {', '.join(shared)} are all bound to {pv}"
        for pv, shared in holders.items()
        if len(shared) > 1
    ]
    return problems
