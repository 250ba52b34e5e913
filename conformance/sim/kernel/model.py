"""What the node-side modules share: a node's identity on this machine and how to enter it.

A node is a long-lived agent process whose network, mount, UTS and PID namespaces
*are* the node (the agent is PID 1 of the node's PID namespace). Its /dev and /sys are
host directories bind-mounted inside, so disks can be attached from the host by
writing there (mknod, synthesized sysfs entries).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PREFIX = "cfsim"  # every kernel object the simulator makes is named with this prefix


@dataclass(frozen=True)
class NodeHost:
    name: str  # the Node object's name and the node's hostname
    index: int  # 1-based
    address: str  # InternalIP, e.g. 10.251.3.2, only ever inside our own netns
    pid: int  # the node agent (host PID; PID 1 inside the node): nsenter -t pid enters it
    state_dir: Path  # host path <sim state>/nodes/<name>

    @property
    def dev_dir(self) -> Path:
        """Host directory bind-mounted at the node's /dev."""
        return self.state_dir / "dev"

    @property
    def sys_dir(self) -> Path:
        """Host directory bind-mounted at the node's /sys (synthesized SCSI entries)."""
        return self.state_dir / "sys"


def child_pids(pid: int) -> list[int]:
    """Host PIDs of the children of ``pid`` (none once it is gone)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            found += [
                int(child)
                for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split()
            ]
        except OSError:
            continue
    return found


COMMAND_TIMEOUT = 60.0  # default bound of a host command
NODE_OP_TIMEOUT = 30.0  # bound of one mount, umount or file operation inside a node
_REAP_TIMEOUT = 5.0  # after SIGKILL: how long to collect output and reap


class NodeCommandError(RuntimeError):
    """A command failed; the message names it and what it printed."""

    def __init__(self, argv: Sequence[str], code: int, stdout: str, stderr: str) -> None:
        super().__init__(f"{' '.join(argv)} exited {code}: {stderr.strip() or stdout.strip()}")
        self.argv = list(argv)
        self.code = code
        self.stdout = stdout
        self.stderr = stderr

    @property
    def output(self) -> str:
        """What the command printed (stderr, else stdout), stripped."""
        return self.stderr.strip() or self.stdout.strip()


class NodeCommandTimeout(NodeCommandError):
    """A command did not end within its timeout and was killed (its process group)."""

    def __init__(self, argv: Sequence[str], timeout: float, stdout: str, stderr: str) -> None:
        super().__init__(argv, -signal.SIGKILL, stdout, stderr)
        self.timeout = timeout
        printed = self.output
        self.args = (
            f"{' '.join(argv)} did not end within {timeout:g}s and was killed; "
            + (f"it printed: {printed}" if printed else "it printed nothing"),
        )


def enter(pid: int, *, net: bool = True, root: bool = True, pid_ns: bool = True) -> list[str]:
    """argv prefix that runs a command inside the node (or pod) whose agent is ``pid``.

    With ``pid_ns`` the command joins the node's PID namespace (nsenter forks for it),
    so it shows in the node's ``ps`` and a PID namespace it makes nests in the node's,
    as a process of a real node's kubelet or runtime would.
    """
    argv = ["nsenter", "-t", str(pid), "-m", "-u"]
    if net:
        argv.append("-n")
    if pid_ns:
        argv.append("-p")
    if root:
        argv += ["-r", "-w"]
    return [*argv, "--"]


def _text(data: str | bytes | None) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""


def run(
    argv: Sequence[str],
    *,
    timeout: float = COMMAND_TIMEOUT,
    input: str | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a host command; raise NodeCommandError with its stderr when it fails.

    Bounded: a command still running after ``timeout`` seconds is killed with its whole
    process group (it runs in a session of its own, so what ``nsenter`` started inside
    a node goes too) and NodeCommandTimeout is raised, even with ``check=False``, with
    whatever it printed so far. A process stuck in the kernel (uninterruptible sleep)
    may outlive the kill; the caller is not held up by it.
    """
    process = subprocess.Popen(
        list(argv),
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        try:
            stdout, stderr = process.communicate(timeout=_REAP_TIMEOUT)
        except subprocess.TimeoutExpired:  # a stuck descendant still holds the pipes
            stdout, stderr = _text(expired.stdout), _text(expired.stderr)
            for pipe in (process.stdout, process.stderr):
                if pipe is not None:
                    pipe.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(_REAP_TIMEOUT)
        raise NodeCommandTimeout(argv, timeout, _text(stdout), _text(stderr)) from None
    except BaseException:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(_REAP_TIMEOUT)
        raise
    if check and process.returncode != 0:
        raise NodeCommandError(argv, process.returncode, stdout, stderr)
    return subprocess.CompletedProcess(list(argv), process.returncode, stdout, stderr)
