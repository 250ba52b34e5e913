"""A cordoned node is uncordoned after the body, also when it failed; one cordoned before stays."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from conformance.cluster import Cluster
from conformance.inventory import Timeouts


def cluster(monkeypatch: pytest.MonkeyPatch, *, cordoned: bool) -> tuple[Cluster, list[bool]]:
    changes: list[bool] = []
    node = SimpleNamespace(spec=SimpleNamespace(unschedulable=cordoned))
    made = Cluster(api=SimpleNamespace(), timeouts=Timeouts())  # type: ignore[arg-type]
    monkeypatch.setattr(Cluster, "core", property(lambda self: SimpleNamespace(read_node=None)))
    monkeypatch.setattr(Cluster, "call", lambda self, fn, *a, **k: node)

    def record(self: Any, name: str, unschedulable: bool) -> None:
        changes.append(unschedulable)

    monkeypatch.setattr(Cluster, "set_unschedulable", record)
    return made, changes


def test_uncordoned_after_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    made, changes = cluster(monkeypatch, cordoned=False)
    seen: list[list[bool]] = []

    def fail() -> None:
        with made.cordoned("node-2"):
            seen.append(list(changes))
            raise RuntimeError("the eviction failed")

    with pytest.raises(RuntimeError):
        fail()
    assert seen == [[True]]
    assert changes == [True, False]


def test_a_node_cordoned_before_stays_cordoned(monkeypatch: pytest.MonkeyPatch) -> None:
    made, changes = cluster(monkeypatch, cordoned=True)
    with made.cordoned("node-2"):
        pass
    assert changes == []
