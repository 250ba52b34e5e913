"""What a long wait is waiting for, shown while it waits.

On a real cluster, provisioning and attaching take minutes; a terminal that shows one
dot per test for that long looks hung. Waits report here what they await and what they
last saw (``web-1 ContainerCreating``); an interactive terminal gets one live line,
rewritten in place, a CI log a plain line every ``interval`` seconds.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

PLAIN_INTERVAL = 15.0  # seconds between lines in a log (not a terminal)
LIVE_WIDTH = 120


@dataclass
class Progress:
    write: Callable[[str], None]
    live: bool
    interval: float = PLAIN_INTERVAL
    label: str = ""  # the test case waited for, e.g. datera-iscsi-r2-OrderedReady
    quiet: Callable[[], AbstractContextManager[None]] = nullcontext  # lifts output capture
    _last: float = field(default=0.0, init=False)
    _shown: bool = field(default=False, init=False)

    def waiting(self, what: str, state: str, elapsed: float) -> None:
        """Called while a wait goes on; shows at most what the medium can take."""
        now = time.monotonic()
        if not self.live and now - self._last < self.interval:
            return
        self._last = now
        prefix = f"[{self.label}] " if self.label else ""
        text = f"{prefix}waiting {elapsed:.0f}s for {what}" + (f": {state}" if state else "")
        with self.quiet():
            if self.live:
                self.write("\r" + text[:LIVE_WIDTH].ljust(LIVE_WIDTH))
                self._shown = True
            else:
                self.write(text + "\n")

    def done(self) -> None:
        """The wait ended: clear the live line."""
        if self.live and self._shown:
            with self.quiet():
                self.write("\r" + " " * LIVE_WIDTH + "\r")
            self._shown = False


_current: Progress | None = None


def use(progress: Progress | None) -> None:
    """Where waits report (the pytest plugin sets this up; None: nowhere)."""
    global _current
    _current = progress


def current() -> Progress | None:
    """Where to report; None in background threads (work done ahead of its test waits
    silently: the test that needs it reports when it has to wait for it)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return _current


def for_terminal(
    quiet: Callable[[], AbstractContextManager[None]] = nullcontext,
) -> Progress:
    """A live line on a terminal, periodic lines elsewhere (CI logs)."""
    stream = sys.__stderr__ or sys.stderr

    def write(text: str) -> None:
        stream.write(text)
        stream.flush()

    return Progress(write, live=stream.isatty(), quiet=quiet)
