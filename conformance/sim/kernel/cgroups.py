"""Containers' cgroups: every process of a container in a cgroup v2 directory named by its ID.

On a real node the only link from a pod's ``status.containerStatuses[].containerID``
(``containerd://<64 hex>``) to the container's processes is the cgroup the runtime
puts them in: with the systemd cgroup driver, containerd names it
``kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid with _>.slice/
cri-containerd-<id>.scope``, and ``/proc/<pid>/cgroup`` shows that path. So a tool
with node access but no shell in the image finds the container's PID by grepping
``/proc/*/cgroup`` for the ID, then reads ``/proc/<pid>/mountinfo``.

The simulator does the same in the host's cgroup v2 hierarchy (wherever it is
mounted: ``/sys/fs/cgroup``, or ``/sys/fs/cgroup/unified`` on hybrid hosts), under a
directory per node named like the node's network namespace::

    <cgroup2>/cfsim-<k>-<node>/kubepods.slice/kubepods-besteffort.slice/
        kubepods-besteffort-pod<uid>.slice/cri-containerd-<id>.scope

No controller is enabled (no limits: only membership), and the directory is
removed with the pod. Differences from a real node: the path carries the
``/cfsim-<k>-<node>`` prefix (nodes share the host's cgroup namespace, as a kubelet
running in a container without a cgroup namespace shows its own prefix), and there
is no sandbox (pause) container scope. Without a writable cgroup v2 hierarchy,
containers get no cgroup and :func:`cgroup2_root` says None.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import threading
from pathlib import Path

from conformance.sim.kernel.model import PREFIX

NODE_DIR_RE = re.compile(rf"^{PREFIX}-(\d+)-(.+)$")  # like the node's netns name
_ID = re.compile(r"^[0-9a-f]{64}$")
_QOS_SLICE = {"Burstable": "burstable", "BestEffort": "besteffort"}  # Guaranteed: none


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def cgroup2_root() -> Path | None:
    """The writable cgroup v2 mount of this host (its mount namespace), or None.

    Only mounts where a process can really be moved into a new cgroup count (a
    container's cgroup namespace may offer a writable mount that refuses that)."""
    try:
        text = Path("/proc/self/mountinfo").read_text()
    except OSError:
        return None
    found: list[Path] = []
    for line in text.splitlines():
        head, _, tail = line.partition(" - ")
        fields, rest = head.split(), tail.split()
        if len(fields) < 6 or not rest or rest[0] != "cgroup2":
            continue
        if "rw" in fields[5].split(",") and os.access(_unescape(fields[4]), os.W_OK):
            found.append(Path(_unescape(fields[4])))
    preferred = [p for p in found if p == Path("/sys/fs/cgroup")]
    others = [p for p in found if p not in preferred]
    return next((p for p in [*preferred, *others] if _can_move_into(p)), None)


def _can_move_into(root: Path) -> bool:
    probe = root / f"{PREFIX}-probe-{os.getpid()}-{threading.get_ident()}"
    try:
        probe.mkdir()
    except OSError:
        return False
    try:
        moved = subprocess.run(
            [*join_argv(str(probe)), "true"], capture_output=True, timeout=10, check=False
        )
        return moved.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
    finally:
        with contextlib.suppress(OSError):
            probe.rmdir()  # the probe's process has exited: the cgroup is empty


def node_dir(root: Path, node_netns: str) -> Path:
    """The node's cgroup directory (named as its network namespace, ``cfsim-<k>-<node>``)."""
    if not NODE_DIR_RE.match(node_netns):
        raise ValueError(f"{node_netns!r} is not a simulated node's name")
    return root / node_netns


def container_dir(node: Path, pod_uid: str, qos_class: str, container_id: str) -> Path:
    """Where the systemd cgroup driver puts a container of a pod of this QoS class."""
    if not _ID.match(container_id):
        raise ValueError(f"container id {container_id!r} is not 64 hex digits")
    pod = pod_uid.replace("-", "_")
    slices = node / "kubepods.slice"
    qos = _QOS_SLICE.get(qos_class)
    if qos is None:
        pod_slice = slices / f"kubepods-pod{pod}.slice"
    else:
        pod_slice = slices / f"kubepods-{qos}.slice" / f"kubepods-{qos}-pod{pod}.slice"
    return pod_slice / f"cri-containerd-{container_id}.scope"


def create(path: Path) -> Path:
    """Make the container's cgroup (and its parents); return it."""
    path.mkdir(parents=True, exist_ok=True)
    return path


def join_argv(path: str) -> list[str]:
    """An argv prefix that moves the process into the cgroup ``path`` before it execs
    the rest, so everything it starts is there from its first instruction."""
    if not path:
        return []
    return ["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', path]


def pids(path: Path) -> list[int]:
    """Processes in the cgroup (not its children)."""
    try:
        return [int(p) for p in (path / "cgroup.procs").read_text().split()]
    except OSError:
        return []


def remove_pod(container: Path) -> None:
    """Remove a container's scope and its pod's slice once empty (QoS slices stay)."""
    pod_slice = container.parent
    for directory in (container, pod_slice):
        with contextlib.suppress(FileNotFoundError, OSError):
            directory.rmdir()


def remove_tree(path: Path) -> list[str]:
    """Remove a cgroup directory and every one below it, deepest first; return those
    that could not go (still holding processes)."""
    if not path.is_dir():
        return []
    failed = []
    directories = [Path(d) for d, _, _ in os.walk(path)]
    for directory in sorted(directories, key=lambda d: len(d.parts), reverse=True):
        try:
            directory.rmdir()
        except FileNotFoundError:
            continue
        except OSError as exc:
            failed.append(f"{directory}: {exc.strerror}")
    return failed


def node_dirs(root: Path) -> list[Path]:
    """Every simulated node's cgroup directory under ``root``."""
    try:
        return sorted(p for p in root.iterdir() if p.is_dir() and NODE_DIR_RE.match(p.name))
    except OSError:
        return []


__all__ = [
    "NODE_DIR_RE",
    "cgroup2_root",
    "container_dir",
    "create",
    "join_argv",
    "node_dir",
    "node_dirs",
    "pids",
    "remove_pod",
    "remove_tree",
]
