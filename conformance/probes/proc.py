"""Processes of a container, found on its node by the container ID in their cgroup path.

For images without a shell (distroless: no ``cat``, no ``sh``), the container's view of
its mounts is read from the node as ``/proc/<pid>/mountinfo``. The PID is found the way
it can be on any node, whatever the runtime: containerd and CRI-O put a container's
processes in a cgroup whose path carries its ID (``.../cri-containerd-<id>.scope``,
``.../crio-<id>.scope``), and ``status.containerStatuses[].containerID`` names it.
"""

from __future__ import annotations

import re

from conformance.probes.common import ProbeParseError, lines_of

PROBE = "container pid"
_ID = re.compile(r"^[0-9a-f]{12,64}$")


def container_id(status_id: str) -> str:
    """``containerd://<hex>`` (or ``cri-o://``, ``docker://``) -> ``<hex>``."""
    bare = status_id.rsplit("://", 1)[-1]
    if not _ID.match(bare):
        raise ValueError(f"not a container ID: {status_id!r}")
    return bare


def container_pids_command(status_id: str) -> tuple[str, ...]:
    """PIDs (one per line) whose cgroup path names the container."""
    bare = container_id(status_id)
    script = (
        'for f in /proc/[0-9]*/cgroup; do grep -qs -- "$1" "$f" && '
        '{ d=${f%/cgroup}; echo "${d#/proc/}"; }; done; true'
    )
    return ("sh", "-c", script, "sh", bare)


def parse_pids(text: str) -> list[int]:
    pids = []
    for number, line in lines_of(text):
        if not line.strip().isdigit():
            raise ProbeParseError(PROBE, "not a PID", line_no=number, line=line)
        pids.append(int(line.strip()))
    return sorted(pids)


def mountinfo_of(pid: int) -> tuple[str, ...]:
    """The container's mount table as it sees it, read from the node."""
    return ("cat", f"/proc/{pid}/mountinfo")
