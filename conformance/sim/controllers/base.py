"""A controller: a work queue of object keys fed by store events, reconciled one at a time.

Like client-go's workqueue: a key queued twice is reconciled once, a failed reconcile
is retried with backoff, and a periodic resync catches anything a bug let slip.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from conformance.sim.api import errors
from conformance.sim.api.store import Event, Store
from conformance.sim.faults import ActiveFaults

if TYPE_CHECKING:
    from conformance.sim.profiles import Timing
    from conformance.sim.runtimes.base import NodeRuntime

log = logging.getLogger(__name__)

QueueKey = tuple[str, str]  # (namespace, name) of the object a controller reconciles


class Controller:
    """Subclasses set ``name`` and implement ``keys_for`` and ``reconcile``."""

    name = "controller"
    resync_seconds = 30.0

    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: asyncio.Queue[QueueKey] = asyncio.Queue()
        self._queued: set[QueueKey] = set()
        self._retries: dict[QueueKey, int] = {}
        store.subscribe(self._on_event)

    def keys_for(self, event: Event) -> Iterable[QueueKey]:
        """The keys this event makes worth reconciling (may be none)."""
        return ()

    async def reconcile(self, key: QueueKey) -> None:
        raise NotImplementedError

    def all_keys(self) -> Iterable[QueueKey]:
        """Every key, for the periodic resync."""
        return ()

    def enqueue(self, key: QueueKey) -> None:
        if key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def enqueue_after(self, key: QueueKey, seconds: float) -> None:
        asyncio.get_running_loop().call_later(seconds, self.enqueue, key)

    def _on_event(self, event: Event) -> None:
        for key in self.keys_for(event):
            self.enqueue(key)

    async def run(self) -> None:
        """Process keys forever; cancelled on shutdown."""
        resync = asyncio.create_task(self._resync())
        try:
            while True:
                key = await self._queue.get()
                self._queued.discard(key)
                try:
                    await self.reconcile(key)
                    self._retries.pop(key, None)
                except errors.ApiError as exc:
                    self._retry(key, f"{exc.code} {exc.reason}: {exc.message}")
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # a controller bug must not stop the cluster
                    log.exception("%s: reconcile %s failed", self.name, key)
                    self._retry(key, repr(exc))
        finally:
            resync.cancel()

    def _retry(self, key: QueueKey, why: str) -> None:
        attempt = self._retries.get(key, 0) + 1
        self._retries[key] = attempt
        delay = min(0.05 * 2**attempt, 5.0)
        log.debug("%s: retry %s in %.2fs (%s)", self.name, key, delay, why)
        self.enqueue_after(key, delay)

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.resync_seconds)  # periodic resync, not synchronization
            for key in self.all_keys():
                self.enqueue(key)


class RuntimeController(Controller):
    """A controller that acts through the node runtime (provisioning, attaching, mounting,
    resizing), with the latency profile's timing and the faults switched on."""

    def __init__(
        self,
        store: Store,
        runtime: NodeRuntime,
        timing: Timing,
        faults: ActiveFaults | None = None,
    ) -> None:
        super().__init__(store)
        self.runtime = runtime
        self.timing = timing
        self.faults = faults or ActiveFaults()
