"""A resized claim: its PV and its status grew to the size asked for, and so did what
its pod's container sees (the filesystem at the mount path, or a Block volume's device)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubernetes.utils import parse_quantity

if TYPE_CHECKING:  # observe imports deployments, which phrases its failures with checks
    from conformance.observe import Expansion

# What a filesystem keeps for itself (journal, inode tables, log, allocation groups): its
# statfs size is this much below its device's. ext4 on a few GiB keeps ~5%, xfs ~2%.
FS_OVERHEAD = 0.10
_GIB = 1024**3


def _bytes(quantity: str | None) -> float | None:
    try:
        return float(parse_quantity(quantity)) if quantity is not None else None
    except ValueError:
        return None


def _human(size: float) -> str:
    return f"{size / _GIB:.2f} GiB" if size >= _GIB else f"{size / 1024**2:.0f} MiB"


def expanded(facts: Expansion, *, online: bool, overhead: float = FS_OVERHEAD) -> list[str]:
    """The claim's PV capacity and status.capacity reach the request, and the container
    sees a filesystem of at least the request less ``overhead`` (a device: the request
    itself). ``online``: the pod was not re-created to get there."""
    label = f"claim {facts.claim}"
    wanted = _bytes(facts.requested) or 0.0
    problems = []
    pv_capacity = _bytes(facts.pv_capacity)
    if pv_capacity is None or pv_capacity < wanted:
        problems.append(
            f"{label}: its PV {facts.pv} has capacity {facts.pv_capacity}, "
            f"expected at least {facts.requested} after the resize"
        )
    capacity = _bytes(facts.claim_capacity)
    if capacity is None or capacity < wanted:
        pending = f" (conditions: {', '.join(facts.conditions)})" if facts.conditions else ""
        problems.append(
            f"{label}: status.capacity is {facts.claim_capacity}, expected at least "
            f"{facts.requested} after the resize{pending}"
        )
    seen = facts.seen
    where = f"{seen.what} at {seen.path} in {seen.pod}"
    if seen.size_bytes is None:
        problems.append(f"{label}: the size of {where} cannot be read: {seen.error}")
    else:
        device = seen.what == "the device"
        least = wanted if device else wanted * (1 - overhead)
        if seen.size_bytes < least:
            before = (
                f", {_human(seen.size_bytes - facts.size_before):s} more than before"
                if facts.size_before is not None and seen.size_bytes > facts.size_before
                else " (as before the resize)"
                if facts.size_before == seen.size_bytes
                else ""
            )
            slack = "" if device else f", at least {_human(least)} expected after fs overhead"
            problems.append(
                f"{label}: {where} is {_human(seen.size_bytes)} ({seen.size_bytes} bytes){before}"
                f", but {facts.requested} was requested{slack}"
            )
    if online and facts.recreated:
        problems.append(
            f"{label}: the pod {seen.pod} was re-created during an online expansion "
            "(the entry declares online_expansion)"
        )
    return problems


__all__ = ["FS_OVERHEAD", "expanded"]
