"""The StatefulSets a run needs, deployed ahead and at most a few at once.

On a real cluster a set takes minutes to come up (provisioning, attach), so deploying
each only when its module starts leaves the cluster idle while the harness checks and
the harness idle while the cluster provisions. After collection the run knows every set
it will need; this pool deploys them in background threads in the order the run will
use them, with at most ``workload.max_concurrent_sets`` existing at once (attach limits
per node are real), and deletes each as soon as its last test is done.

Suites that only look (no test marked ``disruptive``) share one set per case; a module
that disrupts gets its own, except the one marked ``after_readers``: it ends the shared
set, after the last read-only test of its case, so it still disrupts a set nobody uses
after it (deletion is a set's natural end of life). A read-only suite that adds a pod on
the set's claims deletes it, and waits until it is gone, before it ends. A set that
fails to come up fails only the tests that use it, with the reason. Evidence of a
deployment done ahead is replayed into the first test that uses the set.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from conformance import evidence, progress
from conformance.deployments import Case, Deployment

PROGRESS_TICK = 5.0  # seconds between progress reports while a test waits for its set
SHARED = "shared"  # the group of read-only suites


@dataclass(frozen=True)
class SetKey:
    """Which set: the group (SHARED, or the module that disrupts) and the case (by id:
    the case's entry holds mappings, which do not hash)."""

    group: str
    case_id: str
    case: Case = field(compare=False, hash=False)

    @classmethod
    def of(cls, group: str, case: Case) -> SetKey:
        return cls(group, case.id, case)

    def describe(self) -> str:
        owner = "shared by the read-only suites" if self.group == SHARED else self.group
        return f"{self.case.id} ({owner})"


class _Slots:
    """At most ``limit`` sets at once, granted strictly in the order the run needs them
    (first come, first served: a later set never takes the slot an earlier one awaits)."""

    def __init__(self, limit: int | None) -> None:
        self._limit = limit
        self._used = 0
        self._serving = 0
        self._closed = False
        self._cond = threading.Condition()

    def acquire(self, ticket: int) -> None:
        with self._cond:
            self._cond.wait_for(
                lambda: (
                    self._closed
                    or (
                        self._serving == ticket
                        and (self._limit is None or self._used < self._limit)
                    )
                )
            )
            if self._closed:
                raise RuntimeError("the run ended before this set's turn came")
            self._used += 1
            self._serving += 1
            self._cond.notify_all()

    def close(self) -> None:
        """Sets still waiting for a slot give up (the run is over)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def release(self) -> None:
        with self._cond:
            self._used -= 1
            self._cond.notify_all()


@dataclass
class _Entry:
    future: Future[Deployment]
    ticket: int
    recorded: evidence.Recording = field(default_factory=evidence.Recording)
    replayed: bool = False
    held: bool = False  # owns a slot (its namespace exists)


class SetPool:
    """Deploys sets ahead (``plan``), hands them to tests (``get``), deletes them after
    their last use (``release``), and everything left at the end (``close``)."""

    def __init__(
        self,
        make: Callable[[SetKey], tuple[Deployment, Callable[[], None]]],
        *,
        limit: int | None,
        workers: int,
    ) -> None:
        self._make = make  # -> (a Deployment in a fresh namespace, how to delete it)
        self._slots = _Slots(limit)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="set")
        self._entries: dict[SetKey, _Entry] = {}
        self._cleanups: dict[SetKey, Callable[[], None]] = {}
        self._lock = threading.Lock()
        self._tickets = 0
        self.started: dict[SetKey, float] = {}

    def plan(self, keys: list[SetKey]) -> None:
        """Start deploying these sets, in this order (the order the run will use them)."""
        for key in keys:
            self._submit(key)

    def _submit(self, key: SetKey) -> _Entry:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                ticket, self._tickets = self._tickets, self._tickets + 1
                future: Future[Deployment] = Future()
                entry = self._entries[key] = _Entry(future, ticket)
                self._executor.submit(self._deploy, key, entry)
            return entry

    def _deploy(self, key: SetKey, entry: _Entry) -> None:
        self._slots.acquire(entry.ticket)
        entry.held = True
        self.started[key] = time.monotonic()
        try:
            with evidence.recording() as kept:
                entry.recorded = kept
                deployment, cleanup = self._make(key)
                with self._lock:
                    self._cleanups[key] = cleanup
                deployment.deploy()
        except BaseException as exc:
            entry.future.set_exception(exc)
        else:
            entry.future.set_result(deployment)

    def get(self, key: SetKey) -> Deployment:
        """The set, deployed (waiting for it, with progress); raises why it did not come up."""
        entry = self._submit(key)
        started = time.monotonic()
        while not entry.future.done():
            wait([entry.future], timeout=PROGRESS_TICK)  # wakes on completion, or to report
            shown = progress.current()
            if shown is not None and not entry.future.done():
                state = "deploying" if entry.held else "waiting for a free slot"
                shown.waiting(f"its set {key.describe()}", state, time.monotonic() - started)
        shown = progress.current()
        if shown is not None:
            shown.done()
        if not entry.replayed:  # the first test to use the set gets its deployment's evidence
            entry.replayed = True
            entry.recorded.replay(f"deploy the set of {key.describe()} (done ahead)")
        return entry.future.result()

    def release(self, key: SetKey) -> None:
        """Delete the set's namespace and free its slot (after its last test)."""
        with self._lock:
            entry = self._entries.get(key)
            cleanup = self._cleanups.pop(key, None)
        if entry is None:
            return
        entry.future.exception()  # wait until its deployment ended, one way or the other
        try:
            if cleanup is not None:
                cleanup()
        finally:
            if entry.held:
                entry.held = False
                self._slots.release()

    def close(self) -> None:
        """Delete every set still there (the session ends, or was interrupted)."""
        self._slots.close()
        for key in list(self._entries):
            try:
                self.release(key)
            except Exception as exc:  # teardown goes on; the namespace carries our labels
                print(f"warning: could not delete the set of {key.describe()}: {exc}")
        self._executor.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class SetGroups:
    """Which set each suite module uses: the shared one (read-only modules, and the one
    disruptive module that takes it over after them) or one of its own."""

    disruptive: frozenset[str]
    after_readers: str | None = None  # the disruptive module that ends the shared set

    @classmethod
    def of(cls, disruptive: set[str], after_readers: set[str]) -> SetGroups:
        """Raises ValueError if more than one module would end the shared set: the second
        would find it changed by the first."""
        if len(after_readers) > 1:
            raise ValueError(
                f"suite modules {', '.join(sorted(after_readers))} are all marked "
                "after_readers; only one can take over the read-only suites' set"
            )
        return cls(frozenset(disruptive), next(iter(after_readers), None))

    def group(self, module: str) -> str:
        if module in self.disruptive and module != self.after_readers:
            return module
        return SHARED

    def stage(self, module: str) -> int:
        """Run order within a case: the read-only modules, then the one that ends their
        set, then the modules with sets of their own."""
        if module == self.after_readers:
            return 1
        return 2 if module in self.disruptive else 0

    def owns_a_set(self, module: str) -> bool:
        """The module is its set's last user: the set can go when the module is done."""
        return module in self.disruptive


__all__ = ["SHARED", "SetGroups", "SetKey", "SetPool"]
