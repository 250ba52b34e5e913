"""The set pool: sets come up ahead in run order, at most N at once, a slow set is waited
for (with progress), a failed one fails only its users, and every set is deleted."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from conformance import sets
from conformance.deployments import Case
from conformance.inventory import PodManagementPolicy, Storage


class FakeDeployment:
    def __init__(self, name: str, gate: threading.Event | None, fail: bool) -> None:
        self.name, self.gate, self.fail = name, gate, fail

    def deploy(self) -> None:
        if self.gate is not None:
            assert self.gate.wait(30)
        if self.fail:
            raise AssertionError(f"claim data-{self.name}-0 is Pending, not Bound")


def key(name: str) -> sets.SetKey:
    entry = Storage(name=name, storage_class="gold")
    return sets.SetKey.of(sets.SHARED, Case(entry, 2, PodManagementPolicy.ORDERED_READY))


@pytest.fixture
def pool_and_log(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(sets, "PROGRESS_TICK", 0.05)
    monkeypatch.setattr(sets.progress, "_current", None)  # this test's waits stay quiet
    log: list[str] = []
    gates: dict[str, threading.Event] = {}
    alive: set[str] = set()
    peak = [0]
    lock = threading.Lock()

    def make(k: sets.SetKey) -> Any:
        name = k.case.storage.name
        with lock:
            alive.add(name)
            peak[0] = max(peak[0], len(alive))
            log.append(f"made {name}")

        def delete() -> None:
            with lock:
                alive.discard(name)
                log.append(f"deleted {name}")

        return FakeDeployment(name, gates.get(name), name.startswith("bad")), delete

    pool = sets.SetPool(make, limit=2, workers=2)
    yield pool, log, gates, peak
    pool.close()


def test_sets_come_up_in_order_at_most_two_at_once(pool_and_log: Any) -> None:
    pool, log, gates, peak = pool_and_log
    gates["slow"] = threading.Event()
    pool.plan([key("slow"), key("b"), key("c")])
    threading.Timer(0.3, gates["slow"].set).start()  # deploying takes longer than a tick
    assert pool.get(key("slow")).name == "slow"
    pool.release(key("slow"))
    pool.get(key("b"))
    pool.release(key("b"))
    pool.get(key("c"))
    pool.release(key("c"))
    assert peak[0] <= 2
    assert log.index("made slow") < log.index("made c")
    assert log.count("deleted slow") == 1


def test_a_set_that_does_not_come_up_fails_its_users_with_the_reason(pool_and_log: Any) -> None:
    pool, log, _, _ = pool_and_log
    pool.plan([key("bad"), key("good")])
    with pytest.raises(AssertionError, match="claim data-bad-0 is Pending, not Bound"):
        pool.get(key("bad"))
    assert pool.get(key("good")).name == "good"
    pool.close()
    assert {"deleted bad", "deleted good"} <= set(log)
