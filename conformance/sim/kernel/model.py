"""What the node-side modules share: a node's identity on this machine and how to enter it.

A node is a long-lived agent process whose network, mount, UTS and PID namespaces
*are* the node (the agent is PID 1 of the node's PID namespace). Its /dev and /sys are
host directories bind-mounted inside, so disks can be attached from the host by
writing there (mknod, synthesized sysfs entries).
"""

from __future__ import annotations

import os
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


class NodeCommandError(RuntimeError):
    def __init__(self, argv: Sequence[str], code: int, stdout: str, stderr: str) -> None:
        super().__init__(f"{' '.join(argv)} exited {code}: {stderr.strip() or stdout.strip()}")
        self.argv = list(argv)
        self.code = code
        self.stdout = stdout
        self.stderr = stderr


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


def run(
    argv: Sequence[str], *, timeout: float = 60, input: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a host command; raise NodeCommandError with its stderr when it fails."""
    result = subprocess.run(
        list(argv), capture_output=True, text=True, timeout=timeout, input=input, check=False
    )
    if check and result.returncode != 0:
        raise NodeCommandError(argv, result.returncode, result.stdout, result.stderr)
    return result
