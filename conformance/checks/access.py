"""Judgements on access modes across pods: a ReadWriteOnce volume in use on one node is
not attached read-write on another, and a ReadWriteOncePod claim admits one pod only."""

from __future__ import annotations

from collections.abc import Sequence

MULTI_ATTACH = "Multi-Attach error"
RWOP_CONFLICT = "ReadWriteOncePod access mode"


def not_attached_twice(
    second: str,
    *,
    node: str | None,
    holder: str,
    holder_node: str,
    claim: str,
    running: bool,
    wrote: bool | None,
    events: Sequence[tuple[str, str]],
) -> list[str]:
    """The second pod, on another node, does not run with the volume: it waits with a
    FailedAttachVolume Multi-Attach error, or the scheduler keeps it Pending for its
    volume (a FailedScheduling naming the volume, e.g. a node affinity conflict).
    ``events`` are the second pod's (reason, message)."""
    if running:
        written = (
            " and wrote to it" if wrote else (" (a write to it failed)" if wrote is False else "")
        )
        return [
            f"{second} runs on {node} with ReadWriteOnce claim {claim}, which {holder} uses on "
            f"{holder_node}: the volume is mounted on two nodes{written}"
        ]
    said = [
        message
        for reason, message in events
        if (reason == "FailedAttachVolume" and MULTI_ATTACH in message)
        or (reason == "FailedScheduling" and "volume" in message)  # e.g. a zonal volume
    ]
    if said:
        return []
    seen = "; ".join(f"{reason}: {message}" for reason, message in events) or "none"
    return [
        f"{second} on {node or '(unscheduled)'} does not run, but no FailedAttachVolume "
        f"'{MULTI_ATTACH}' event (nor a FailedScheduling naming the volume) says why "
        f"(its events: {seen})"
    ]


def one_pod_only(
    second: str,
    *,
    node: str | None,
    holder: str,
    holder_node: str,
    claim: str,
    reason: str | None,
    message: str | None,
) -> list[str]:
    """A second pod using a ReadWriteOncePod claim, even on the holder's node, is not
    scheduled, and the scheduler names the ReadWriteOncePod conflict."""
    if node is not None:
        return [
            f"{second} was scheduled on {node} with ReadWriteOncePod claim {claim}, which "
            f"{holder} on {holder_node} already uses: ReadWriteOncePod admits one pod only"
        ]
    if reason != "Unschedulable" or not message or RWOP_CONFLICT not in message:
        return [
            f"{second} is not scheduled, but the scheduler's reason does not name the "
            f"'{RWOP_CONFLICT}' conflict on claim {claim}: {message or reason or 'none'}"
        ]
    return []


__all__ = ["not_attached_twice", "one_pod_only"]
