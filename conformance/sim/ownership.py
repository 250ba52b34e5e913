"""Who a simulator belongs to, so that it dies with the run that started it.

A CI timeout SIGKILLs the test run: no atexit handler or fixture teardown runs, and
the simulator daemon (in its own session, so a terminal's Ctrl-C does not tear it down
half-way) would keep its network namespaces, loop devices, mounts and sshd processes
for good. So ``lifecycle.up(config, owner_pid=...)`` hands the daemon its owner as
``--owner <pid>:<start time>`` (the start time tells a reused pid apart); the daemon
watches the owner through a pidfd and tears everything down when it exits, and
``conformance sim clean`` stops simulators that still run although their owner is gone
(a hung or stopped daemon). A simulator without an owner (``conformance sim up`` by
hand) lives until ``sim down``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DAEMON_MODULE = "conformance.sim.daemon"
CONFIG_FLAG = "--config"
OWNER_FLAG = "--owner"
READY_FD_FLAG = "--ready-fd"


def proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks) of a process from /proc/<pid>/stat, or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[-1].split()  # the command in (...) may hold spaces
    return fields[0], fields[19]  # fields 3 and 22 of proc(5)


@dataclass(frozen=True)
class Owner:
    """A process identified by pid and start time, so a reused pid is not mistaken for it."""

    pid: int
    start_time: str

    @classmethod
    def of(cls, pid: int) -> Owner:
        """The process ``pid`` as it is now; ProcessLookupError if it is gone."""
        stat = proc_stat(pid)
        if stat is None or stat[0] in ("Z", "X"):
            raise ProcessLookupError(f"no process {pid}")
        return cls(pid, stat[1])

    @classmethod
    def parse(cls, token: str) -> Owner:
        """The inverse of ``str(owner)``: ``<pid>:<start time>``; ValueError if malformed."""
        pid, sep, started = token.strip().partition(":")
        if not (sep and pid.isdigit() and started.isdigit()):
            raise ValueError(f"not an owner token (<pid>:<start time>): {token!r}")
        return cls(int(pid), started)

    def __str__(self) -> str:
        return f"{self.pid}:{self.start_time}"

    def alive(self) -> bool:
        """Whether it still runs; exited but not yet reaped (a zombie) counts as gone."""
        stat = proc_stat(self.pid)
        return stat is not None and stat[0] not in ("Z", "X") and stat[1] == self.start_time

    def as_json(self) -> dict[str, object]:
        return {"pid": self.pid, "start_time": self.start_time}


def watch(owner: Owner, on_exit: Callable[[], None]) -> Callable[[], None]:
    """Call ``on_exit`` from the running event loop once ``owner`` exits (SIGKILL
    included), or soon if it is already gone; return a function that stops watching.

    A pidfd becomes readable when its process exits, so the loop wakes for exactly that
    event; no polling.
    """
    loop = asyncio.get_running_loop()
    try:
        fd = os.pidfd_open(owner.pid)
    except ProcessLookupError:
        loop.call_soon(on_exit)
        return lambda: None
    if not owner.alive():  # the pid names another process now, or a zombie
        os.close(fd)
        loop.call_soon(on_exit)
        return lambda: None
    closed = False

    def stop_watching() -> None:
        nonlocal closed
        if not closed:
            closed = True
            loop.remove_reader(fd)
            os.close(fd)

    def exited() -> None:
        stop_watching()
        on_exit()

    loop.add_reader(fd, exited)
    return stop_watching


def daemon_argv(config_json: str, *, ready_fd: int, owner: Owner | None) -> list[str]:
    """The daemon's arguments after ``python -m conformance.sim.daemon``."""
    argv = [CONFIG_FLAG, config_json, READY_FD_FLAG, str(ready_fd)]
    if owner is not None:
        argv += [OWNER_FLAG, str(owner)]
    return argv


@dataclass(frozen=True)
class DaemonCommand:
    """What a simulator daemon's command line says about it."""

    owner: Owner | None
    state_dir: Path | None  # absolute; None when the command line cannot tell


def daemon_command(cmdline: Sequence[str], cwd: Path | None = None) -> DaemonCommand | None:
    """Recognize a simulator daemon by its command line (None for any other process).

    ``cwd`` (the daemon's working directory) resolves a relative state directory.
    """
    args = list(cmdline)
    try:
        start = next(
            i + 2 for i in range(len(args) - 1) if args[i : i + 2] == ["-m", DAEMON_MODULE]
        )
    except StopIteration:
        return None
    rest = args[start:]
    values = {flag: value for flag, value in itertools.pairwise(rest) if flag.startswith("--")}
    owner = None
    with contextlib.suppress(KeyError, ValueError):
        owner = Owner.parse(values[OWNER_FLAG])
    state_dir = None
    with contextlib.suppress(KeyError, ValueError, TypeError, AttributeError):
        path = Path(json.loads(values[CONFIG_FLAG])["state_dir"])
        if not path.is_absolute() and cwd is not None:
            path = cwd / path
        state_dir = path.resolve() if path.is_absolute() else None
    return DaemonCommand(owner, state_dir)
