"""Start, inspect and stop the simulated cluster as a background process.

Used by ``conformance sim up|status|down|clean`` and by the pytest plugin when the
inventory asks for the embedded cluster. Waiting is event-driven: readiness comes
over a pipe, and process exit is awaited through a pidfd.

A run passes ``owner_pid`` to :func:`up`: a CI timeout SIGKILLs the run, so no
teardown of its own runs, and the simulator must notice by itself that its run is
gone (see :mod:`conformance.sim.ownership`). Started by hand, it has no owner and
stays until ``sim down``.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.sim import ownership
from conformance.sim.control_plane import STATE_FILE, SimConfig
from conformance.sim.kernel.host import decode_mount_path

START_TIMEOUT = 120.0
STOP_TIMEOUT = 60.0
LOG_FILE = "sim.log"


class SimError(Exception):
    """A failure to report to the user in one screen (no traceback)."""


@dataclass(frozen=True)
class Running:
    pid: int
    url: str
    kubeconfig: Path
    inventory: Path
    state_dir: Path
    info: dict[str, Any]
    owner: ownership.Owner | None = None  # whose exit stops it; None: only `sim down` does


def _log_tail(state_dir: Path, lines: int = 15) -> str:
    log = state_dir / LOG_FILE
    if not log.exists():
        return "(no log)"
    text = log.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


def status(state_dir: Path) -> Running | None:
    """The running simulator described by ``state_dir``, or None."""
    state = state_dir / STATE_FILE
    if not state.exists():
        return None
    try:
        info = json.loads(state.read_text())
        pid = int(info["pid"])
    except (ValueError, KeyError, OSError):
        return None
    if not _alive(pid):
        return None
    owner = None
    with contextlib.suppress(KeyError, TypeError, ValueError):
        owner = ownership.Owner(int(info["owner"]["pid"]), str(info["owner"]["start_time"]))
    return Running(
        pid=pid,
        url=info["url"],
        kubeconfig=Path(info["kubeconfig"]),
        inventory=Path(info["inventory"]),
        state_dir=state_dir,
        info=info,
        owner=owner,
    )


def _alive(pid: int) -> bool:
    """True while the process runs; a zombie nobody reaped yet counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


is_running = _alive


REQUIRED_TOOLS = {
    "sshd": "openssh-server",
    "ssh-keygen": "openssh-client",
    "lsscsi": "lsscsi",
    "mkfs.xfs": "xfsprogs",
    "mkfs.ext4": "e2fsprogs",
    "losetup": "util-linux",
    "nsenter": "util-linux",
    "unshare": "util-linux",
    "ip": "iproute2",
    "blkdiscard": "util-linux",  # zeroes a raw Block volume (fault data-loss-on-reattach)
    "sshfs": "sshfs",  # nodes mount file shares from the share server
    "fusermount3": "fuse3",
    "fio": "fio",  # pods' images are the node's /usr: the performance suite's fio
}


def preflight(config: SimConfig) -> None:
    """Refuse early, in one line, when kernel-backed nodes cannot work here."""
    if config.runtime != "kernel":
        return
    if os.geteuid() != 0:
        raise SimError(
            "the simulated nodes need root (network and mount namespaces, loop devices, "
            "sshd); run as root, or use --runtime memory for an API-only cluster"
        )
    missing = sorted({package for tool, package in REQUIRED_TOOLS.items() if not which(tool)})
    if missing:
        raise SimError(
            "the simulated nodes need tools that are not installed; "
            f"run: apt-get install -y {' '.join(missing)}"
        )


def which(tool: str) -> bool:
    return shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is not None


def up(
    config: SimConfig, *, owner_pid: int | None = None, timeout: float = START_TIMEOUT
) -> Running:
    """Start the daemon in its own session; return once it serves (or raise SimError).

    With ``owner_pid``, the simulator stops and removes everything it made, state
    directory included, once that process exits (SIGKILL included); without, it runs
    until :func:`down`.
    """
    preflight(config)
    owner = None
    if owner_pid is not None:
        try:
            owner = ownership.Owner.of(owner_pid)
        except ProcessLookupError:
            raise SimError(f"the simulator's owner, process {owner_pid}, is not running") from None
    state_dir = Path(config.state_dir)
    running = status(state_dir)
    if running is not None:
        raise SimError(
            f"a simulated cluster is already running (pid {running.pid}, {running.url}); "
            "`conformance sim down` stops it"
        )
    state_dir.mkdir(parents=True, exist_ok=True)
    read_fd, write_fd = os.pipe()
    log = (state_dir / LOG_FILE).open("ab")
    try:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                ownership.DAEMON_MODULE,
                *ownership.daemon_argv(config.model_dump_json(), ready_fd=write_fd, owner=owner),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            pass_fds=(write_fd,),
            start_new_session=True,
        )
    finally:
        os.close(write_fd)
        log.close()
    message = _read_line(read_fd, timeout)
    os.close(read_fd)
    if message is None or not message.get("ready"):
        if process.poll() is None:
            process.terminate()
            wait_exit(process.pid, STOP_TIMEOUT)
        why = (message or {}).get("error") or f"no answer within {timeout:.0f}s"
        raise SimError(
            f"the simulated cluster did not start: {why}\n"
            f"last lines of {state_dir / LOG_FILE}:\n{_log_tail(state_dir)}"
        )
    running = status(state_dir)
    if running is None:
        raise SimError(f"the simulated cluster started but wrote no {STATE_FILE} in {state_dir}")
    return running


def _read_line(fd: int, timeout: float) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout
    buffer = b""
    while b"\n" not in buffer:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            return None
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buffer += chunk
    try:
        value = json.loads(buffer.split(b"\n", 1)[0] or b"null")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def wait_exit(pid: int, timeout: float) -> bool:
    """Wait for any process (not only our child) to exit, via pidfd; True if it did."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
        if ready:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # reap if it is our child
        return bool(ready)
    finally:
        os.close(fd)


def down(state_dir: Path, *, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the daemon (SIGTERM, then SIGKILL) and remove its state; True if one ran."""
    running = status(state_dir)
    if running is not None:
        os.kill(running.pid, signal.SIGTERM)
        if not wait_exit(running.pid, timeout):
            os.killpg(running.pid, signal.SIGKILL)
            wait_exit(running.pid, 10)
    remove_state(state_dir)
    return running is not None


def remove_state(state_dir: Path) -> bool:
    """Remove a stopped simulator's state directory; True if it is gone.

    Not while something is still mounted under it (a simulator killed before it could
    unmount): removing would descend into the mounted volume and delete its data.
    ``conformance sim clean`` unmounts such leftovers first.
    """
    if not state_dir.exists():
        return True
    if mounts_under(state_dir):
        return False
    shutil.rmtree(state_dir, ignore_errors=True)
    return not state_dir.exists()


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below ``path`` in this process's mount namespace."""
    root = str(path.resolve())
    found = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            fields = line.split()
            target = decode_mount_path(fields[4]) if len(fields) > 4 else ""
            if target == root or target.startswith(root + "/"):
                found.append(target)
    return found
