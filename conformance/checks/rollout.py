"""Rolling updates of a StatefulSet: highest ordinal first, the pods below the partition
left alone, the others at the update revision, and no more pods down at once than
maxUnavailable allows (one, where the API server drops that alpha field)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

REVISION_LABEL = "controller-revision-hash"


def revision_of(pod: Any) -> str:
    """The ControllerRevision a pod was made from (its controller-revision-hash label)."""
    return str((pod.metadata.labels or {}).get(REVISION_LABEL, ""))


def went_down_in_order(history: Sequence[tuple[str, str, bool]], names: Sequence[str]) -> list[str]:
    """The pods of ``names`` in the order they first became unavailable (``history``: (event
    type, pod, available) from a watch begun while all were available): the order in which
    the controller took them down, even when several terminate at once."""
    order: list[str] = []
    for kind, name, available in history:
        if name in names and name not in order and (kind == "DELETED" or not available):
            order.append(name)
    return order


def replaced_highest_first(replaced: Sequence[str], expected: Sequence[str]) -> list[str]:
    """``replaced``: the old pods in the order they went down (``went_down_in_order``)."""
    if list(replaced) == list(expected):
        return []
    return [
        f"the rolling update replaced {', '.join(replaced) or 'no pod'}; expected "
        f"{', '.join(expected)} (highest ordinal first)"
    ]


def spared(
    before: Mapping[str, Any], after: Mapping[str, Any], names: Sequence[str], *, partition: int
) -> list[str]:
    """The pods in ``names`` (ordinals below the partition) are the very pods they were
    (same UID) at the revision they had."""
    problems = []
    for name in names:
        old, new = before.get(name), after.get(name)
        if old is None or new is None:
            problems.append(
                f"{name} is gone after the update, but it is below partition {partition}"
            )
            continue
        if new.metadata.uid != old.metadata.uid or revision_of(new) != revision_of(old):
            problems.append(
                f"{name} was replaced by the update (uid {old.metadata.uid} -> {new.metadata.uid}, "
                f"revision {revision_of(old)} -> {revision_of(new)}), but it is below partition "
                f"{partition}"
            )
    return problems


def at_revision(
    before: Mapping[str, Any], after: Mapping[str, Any], names: Sequence[str], revision: str
) -> list[str]:
    """The pods in ``names`` were re-created (new UID) from the update ``revision``."""
    problems = []
    for name in names:
        old, new = before.get(name), after.get(name)
        if new is None:
            problems.append(f"{name} does not exist after the update")
        elif revision_of(new) != revision:
            problems.append(
                f"{name} is at revision {revision_of(new) or '(none)'}, expected the update "
                f"revision {revision}"
            )
        elif old is not None and new.metadata.uid == old.metadata.uid:
            problems.append(f"{name} carries revision {revision} but was never re-created")
    return problems


def max_unavailable(stored: int | str | None, replicas: int) -> tuple[int, str]:
    """How many pods may be down at once, and why: the stored ``maxUnavailable`` (a number or
    a percentage of replicas, rounded up, at least 1), or 1 when the API server dropped it."""
    if stored is None:
        return 1, (
            "maxUnavailable was dropped by the API server (feature gate MaxUnavailableStatefulSet "
            "off): one pod at a time"
        )
    if isinstance(stored, str) and stored.endswith("%"):
        value = math.ceil(replicas * int(stored[:-1]) / 100)
    else:
        value = int(stored)
    return max(value, 1), f"maxUnavailable {stored} kept by the API server"


def unavailable_at_most(
    history: Sequence[tuple[str, str, bool]], members: Sequence[str], limit: int, *, why: str
) -> list[str]:
    """``history``: (event type, pod, available) from a watch that began with every member
    available; a pod deleted and not yet back counts as unavailable."""
    up = dict.fromkeys(members, True)
    worst: list[str] = []
    for kind, name, available in history:
        if name not in up:
            continue
        up[name] = kind != "DELETED" and available
        down = [pod for pod in members if not up[pod]]
        if len(down) > len(worst):
            worst = down
    if len(worst) <= limit:
        return []
    return [
        f"the rolling update had {len(worst)} pods unavailable at once ({', '.join(worst)}); "
        f"at most {limit} may be ({why})"
    ]
