"""Ordinal order under OrderedReady: scale-up creates the lowest missing ordinal first,
scale-down deletes the highest first (upstream's StatefulSet guarantees)."""

from __future__ import annotations

from collections.abc import Sequence

from conformance.inventory import PodManagementPolicy


def created_in_order(
    created: Sequence[str], expected: Sequence[str], policy: PodManagementPolicy
) -> list[str]:
    """``created``: pod names in the order the watch saw them ADDED."""
    if policy is not PodManagementPolicy.ORDERED_READY or list(created) == list(expected):
        return []
    return [
        f"OrderedReady scale-up created {', '.join(created)}; expected {', '.join(expected)} "
        "in that order"
    ]


def deleted_highest_first(
    deleted: Sequence[str], expected: Sequence[str], policy: PodManagementPolicy
) -> list[str]:
    """``deleted``: pod names in the order the watch saw them DELETED."""
    if policy is not PodManagementPolicy.ORDERED_READY or list(deleted[: len(expected)]) == list(
        expected
    ):
        return []
    return [
        f"OrderedReady scale-down deleted {', '.join(deleted)}; expected {', '.join(expected)} "
        "(highest ordinal first)"
    ]
