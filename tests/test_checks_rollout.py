"""The rolling update and retention checks judge facts as the suites gather them: pods and
claims as the client returns them, and the (type, name, available) history of a watch."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from conformance import checks
from conformance.cluster import rolled_out


def pod(uid: str, revision: str) -> Any:
    return SimpleNamespace(
        metadata=SimpleNamespace(uid=uid, labels={"controller-revision-hash": revision})
    )


def claim(uid: str, volume: str) -> Any:
    return SimpleNamespace(
        metadata=SimpleNamespace(uid=uid), spec=SimpleNamespace(volume_name=volume)
    )


BEFORE = {"web-0": pod("u0", "web-a"), "web-1": pod("u1", "web-a"), "web-2": pod("u2", "web-a")}


def test_spared_pods_are_the_same_pods_at_their_revision() -> None:
    after = {**BEFORE, "web-1": pod("u1b", "web-b"), "web-2": pod("u2b", "web-b")}
    assert checks.spared(BEFORE, after, ["web-0"], partition=1) == []
    after["web-0"] = pod("u0b", "web-b")
    assert checks.spared(BEFORE, after, ["web-0"], partition=1) == [
        "web-0 was replaced by the update (uid u0 -> u0b, revision web-a -> web-b), "
        "but it is below partition 1"
    ]
    del after["web-0"]
    assert checks.spared(BEFORE, after, ["web-0"], partition=1) == [
        "web-0 is gone after the update, but it is below partition 1"
    ]


def test_updated_pods_are_new_pods_of_the_update_revision() -> None:
    after = {**BEFORE, "web-2": pod("u2b", "web-b")}
    assert checks.at_revision(BEFORE, after, ["web-2"], "web-b") == []
    assert checks.at_revision(BEFORE, after, ["web-1"], "web-b") == [
        "web-1 is at revision web-a, expected the update revision web-b"
    ]
    relabelled = {**BEFORE, "web-2": pod("u2", "web-b")}
    assert checks.at_revision(BEFORE, relabelled, ["web-2"], "web-b") == [
        "web-2 carries revision web-b but was never re-created"
    ]


HISTORY = [  # one at a time, highest first: terminating, gone, back, Ready
    ("MODIFIED", "web-2", False),
    ("DELETED", "web-2", False),
    ("ADDED", "web-2", False),
    ("MODIFIED", "web-2", True),
    ("MODIFIED", "web-1", False),
    ("DELETED", "web-1", False),
    ("ADDED", "web-1", False),
    ("MODIFIED", "web-1", True),
    ("MODIFIED", "web-0", False),
    ("DELETED", "web-0", False),
    ("ADDED", "web-0", True),
]
NAMES = ["web-0", "web-1", "web-2"]


def test_the_order_pods_went_down_and_the_highest_first_judgement() -> None:
    down = checks.went_down_in_order(HISTORY, NAMES)
    assert down == ["web-2", "web-1", "web-0"]
    assert checks.replaced_highest_first(down, ["web-2", "web-1", "web-0"]) == []
    assert checks.replaced_highest_first(["web-1", "web-2"], ["web-2", "web-1"]) == [
        "the rolling update replaced web-1, web-2; expected web-2, web-1 (highest ordinal first)"
    ]


def test_unavailable_pods_are_counted_over_the_watch() -> None:
    assert checks.unavailable_at_most(HISTORY, NAMES, 1, why="one at a time") == []
    burst = [(kind, name, False) for name in reversed(NAMES) for kind in ("MODIFIED", "DELETED")]
    burst += [("ADDED", name, True) for name in NAMES]
    assert checks.unavailable_at_most(burst, NAMES, 2, why="maxUnavailable 2 kept") == [
        "the rolling update had 3 pods unavailable at once (web-0, web-1, web-2); "
        "at most 2 may be (maxUnavailable 2 kept)"
    ]
    other = [("MODIFIED", "web-reader", False)]
    assert checks.unavailable_at_most(other, NAMES, 1, why="-") == []


@pytest.mark.parametrize(
    ("stored", "replicas", "limit", "says"),
    [
        (None, 3, 1, "dropped by the API server"),
        (2, 3, 2, "maxUnavailable 2 kept"),
        ("50%", 3, 2, "maxUnavailable 50% kept"),
        ("10%", 3, 1, "kept"),
        (0, 3, 1, "kept"),
    ],
)
def test_the_limit_follows_the_stored_field(
    stored: int | str | None, replicas: int, limit: int, says: str
) -> None:
    got, why = checks.max_unavailable(stored, replicas)
    assert got == limit
    assert says in why


def test_recreated_claims_are_new_claims_on_new_volumes() -> None:
    before = {"data-web-1": claim("c1", "pvc-1")}
    assert (
        checks.claims_recreated(before, {"data-web-1": claim("c2", "pvc-2")}, when="w", rule="r")
        == []
    )
    assert checks.claims_recreated(
        before, before, when="after scale-up", rule="whenScaled is Delete"
    ) == [
        "claim data-web-1 is still the claim it was (uid c1) after scale-up, "
        "but whenScaled is Delete"
    ]
    assert checks.claims_recreated(
        before, {"data-web-1": claim("c2", "pvc-1")}, when="after scale-up", rule="r"
    ) == [
        "claim data-web-1 is bound to its old volume pvc-1 after scale-up, "
        "but r: expected a fresh volume"
    ]
    assert checks.claims_recreated(before, {}, when="after scale-up", rule="r") == [
        "claim data-web-1 does not exist after scale-up"
    ]


def sts(generation: int = 2, **status: Any) -> Any:
    values = {
        "observed_generation": 2,
        "replicas": 3,
        "ready_replicas": 3,
        "current_replicas": 1,
        "updated_replicas": 2,
        "current_revision": "web-a",
        "update_revision": "web-b",
        **status,
    }
    return SimpleNamespace(
        metadata=SimpleNamespace(generation=generation),
        spec=SimpleNamespace(replicas=3),
        status=SimpleNamespace(**values),
    )


def test_a_set_is_rolled_out_when_its_status_settles() -> None:
    assert rolled_out(sts())  # partitioned: 1 current + 2 updated
    assert not rolled_out(sts(generation=3))  # the latest spec not yet observed
    assert not rolled_out(sts(ready_replicas=2))
    assert not rolled_out(sts(current_replicas=0))  # a pod is being replaced
    assert rolled_out(sts(current_revision="web-b", current_replicas=3, updated_replicas=3))
    assert not rolled_out(sts(current_revision="web-b", current_replicas=2, updated_replicas=2))
