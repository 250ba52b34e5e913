"""Find and remove what simulated nodes left behind (``conformance sim clean``).

Only objects named or marked by the simulator are ever touched:

- processes: node agents (argv tag ``cfsim-agent``), everything in a ``cfsim-*`` network
  namespace, in a mount namespace whose mounts include a ``cfsim-<k>-<node>`` tmpfs
  (a node's root), and their descendants (pods, exec'd commands, ssh sessions);
- network namespaces ``cfsim-<k>-<node>`` and links ``cfs<k>br`` / ``cfs<k>n<i>``
  (the share server of :mod:`shares` is a node in this respect);
- cgroups ``<cgroup2>/cfsim-<k>-<node>`` holding the nodes' containers (:mod:`cgroups`);
- loop devices whose backing file lies under a *simulator state directory* (one holding
  a :data:`STATE_MARKER` file, see :func:`mark_state_dir`), mounts of the host's mount
  namespace under such a directory, and node directories (holding an agent script)
  under it.

By default only *orphans* are reported: objects whose simulator is gone. A subnet's
owner is recorded in its bridge's ifalias, a state directory's in its marker file
(pid and start time); objects of a simulator that still runs are listed in
``skipped_live`` and left alone. ``include_live=True`` (with ``subnets`` /
``state_dirs`` to scope it) takes them too: tests use it after killing a node's agent.

A simulator daemon that still runs although the run that started it (its *owner*,
see :mod:`conformance.sim.ownership`) is gone is an orphan too: a CI timeout SIGKILLs
the run, and a daemon that was stopped, hung or SIGKILLed itself would never tear
down. Such daemons are listed in ``simulators``; :func:`clean` stops them (SIGTERM,
then SIGKILL) before removing whatever of theirs is left. A daemon without an owner
(``conformance sim up`` by hand) is never touched while it runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from conformance.sim import lifecycle, ownership
from conformance.sim.control_plane import STATE_FILE
from conformance.sim.kernel import cgroups
from conformance.sim.kernel.devices import DELETED, detach_loop
from conformance.sim.kernel.host import (
    AGENT_SCRIPT,
    BRIDGE_RE,
    KILL_TIMEOUT,
    NETNS_DIR,
    NETNS_RE,
    NODE_RECORDS,
    VETH_RE,
    ProcInfo,
    agent_args,
    decode_mount_path,
    hold_ns,
    links,
    net_lock,
    netns_name,
    netns_names,
    owner_alive,
    owner_token,
    proc_info,
    reap_exited_agents,
    scan_processes,
    signal_and_wait,
    start_time,
    unmount_all,
)
from conformance.sim.kernel.model import PREFIX, run

STATE_MARKER = f".{PREFIX}-state"
STATE_REGISTRY = Path(f"/run/{PREFIX}-state-dirs")  # one file per marked state directory
ROOT_SOURCE_RE = re.compile(rf"^{PREFIX}-(\d+)-")
ALIAS_RE = re.compile(rf"^{PREFIX} owner=(\S+)")
LOOP_GONE_TIMEOUT = 5.0
SIMULATOR_STOP_TIMEOUT = 60.0  # a daemon's own teardown, as `sim down` allows it


def _registry_entry(path: Path) -> Path:
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:24]
    return STATE_REGISTRY / digest


def mark_state_dir(path: Path) -> Path:
    """Mark ``path`` as a simulator state directory owned by this process; return the marker.

    Clean-up matches loop devices, mounts and node directories under marked directories
    only, and leaves them alone while the owner still runs. The directory is also
    recorded in /run/cfsim-state-dirs, so its leftovers are still found after the
    directory itself was deleted (a loop device whose image is ``(deleted)``).
    """
    path = path.resolve()
    path.mkdir(parents=True, exist_ok=True)
    token = owner_token()
    marker = path / STATE_MARKER
    marker.write_text(token + "\n")
    STATE_REGISTRY.mkdir(mode=0o700, exist_ok=True)
    _registry_entry(path).write_text(f"{path}\n{token}\n")
    return marker


def unmark_state_dir(path: Path) -> None:
    """Forget a state directory (on ``sim down``, once everything under it is gone)."""
    path = path.resolve()
    (path / STATE_MARKER).unlink(missing_ok=True)
    _registry_entry(path).unlink(missing_ok=True)


def _registered() -> dict[Path, str]:
    """Recorded state directories -> owner token."""
    found: dict[Path, str] = {}
    with contextlib.suppress(FileNotFoundError):
        for entry in STATE_REGISTRY.iterdir():
            with contextlib.suppress(OSError, ValueError):
                directory, token = entry.read_text().splitlines()[:2]
                found[Path(directory)] = token
    return found


def state_dir_of(path: Path | str) -> Path | None:
    """The nearest directory at or above ``path`` holding a state marker, or recorded as
    one by :func:`mark_state_dir` (when the marker is gone with the directory)."""
    candidate = Path(path)
    registered = _registered()
    for directory in (candidate, *candidate.parents):
        with contextlib.suppress(OSError):
            if (directory / STATE_MARKER).is_file() or directory in registered:
                return directory
    return None


def _state_owner(state_dir: Path) -> str:
    """The owner token of a state directory's objects (its simulator daemon's)."""
    try:
        return (state_dir / STATE_MARKER).read_text().strip()
    except OSError:
        return _registered().get(state_dir, "").strip()


def _forget_dead_state_dirs() -> list[str]:
    """Drop records of state directories that are gone and whose owner is dead."""
    dropped = []
    for directory, token in _registered().items():
        if not directory.exists() and not owner_alive(token):
            _registry_entry(directory).unlink(missing_ok=True)
            dropped.append(str(directory))
    return dropped


@dataclass(frozen=True)
class LeftoverProcess:
    pid: int
    start_time: str | None
    subnet: int | None
    netns: str  # the node it belongs to (its netns name, also its root tmpfs's source)
    why: str  # "agent", "netns cfsim-3-node-1", "node root cfsim-3-node-1", "descendant"
    command: str


@dataclass(frozen=True)
class LeftoverSimulator:
    """A simulator daemon that still runs although its owner is gone."""

    pid: int
    start_time: str
    owner: ownership.Owner
    state_dir: str | None
    subnets: tuple[int, ...]  # whose bridges it made

    @property
    def token(self) -> str:
        """The owner token its kernel objects carry (see host.owner_token)."""
        return f"{self.pid}:{self.start_time}"


@dataclass(frozen=True)
class LeftoverLoop:
    device: str
    backing_file: str
    state_dir: str


@dataclass(frozen=True)
class LeftoverMount:
    target: str
    source: str
    fstype: str


@dataclass
class Leftovers:
    simulators: list[LeftoverSimulator] = field(default_factory=list)  # stopped first
    processes: list[LeftoverProcess] = field(default_factory=list)
    netns: list[str] = field(default_factory=list)
    interfaces: list[str] = field(default_factory=list)
    loop_devices: list[LeftoverLoop] = field(default_factory=list)
    mounts: list[LeftoverMount] = field(default_factory=list)
    node_dirs: list[str] = field(default_factory=list)
    node_records: list[str] = field(default_factory=list)  # /run/cfsim-nodes/<netns>
    cgroups: list[str] = field(default_factory=list)  # <cgroup2>/cfsim-<k>-<node>
    skipped_live: list[str] = field(default_factory=list)  # a running simulator's objects

    @property
    def empty(self) -> bool:
        return not (
            self.simulators
            or self.processes
            or self.netns
            or self.interfaces
            or self.loop_devices
            or self.mounts
            or self.node_dirs
            or self.node_records
            or self.cgroups
        )

    @property
    def subnets(self) -> set[int]:
        found = {proc.subnet for proc in self.processes if proc.subnet is not None}
        for name in self.netns:
            match = NETNS_RE.match(name)
            if match:
                found.add(int(match.group(1)))
        for name in self.interfaces:
            match = BRIDGE_RE.match(name) or VETH_RE.match(name)
            if match:
                found.add(int(match.group(1)))
        return found

    def lines(self) -> list[str]:
        out = [
            f"simulator {sim.pid} (its owner, process {sim.owner.pid}, is gone): "
            f"{sim.state_dir or 'state directory unknown'}"
            for sim in self.simulators
        ]
        out += [f"process {p.pid} ({p.why}): {p.command}" for p in self.processes]
        out += [f"netns {name}" for name in self.netns]
        out += [f"interface {name}" for name in self.interfaces]
        out += [f"loop device {lo.device} <- {lo.backing_file}" for lo in self.loop_devices]
        out += [f"mount {m.target} ({m.fstype} {m.source})" for m in self.mounts]
        out += [f"node directory {path}" for path in self.node_dirs]
        out += [f"node record {path}" for path in self.node_records]
        out += [f"cgroup {path}" for path in self.cgroups]
        return out


@dataclass
class CleanReport:
    found: Leftovers
    stopped: list[int] = field(default_factory=list)  # simulators whose owner is gone
    killed: list[int] = field(default_factory=list)
    unmounted: list[str] = field(default_factory=list)
    detached: list[str] = field(default_factory=list)
    deleted_interfaces: list[str] = field(default_factory=list)
    deleted_netns: list[str] = field(default_factory=list)
    removed_dirs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def lines(self) -> list[str]:
        if self.found.empty:
            out = ["nothing of crashed simulators found"]
        else:
            out = [
                *(f"stopped simulator {pid} (its owner is gone)" for pid in self.stopped),
                f"killed {len(self.killed)} process(es)"
                + (f": {', '.join(map(str, sorted(self.killed)))}" if self.killed else ""),
                *(f"unmounted {target}" for target in self.unmounted),
                *(f"detached {device}" for device in self.detached),
                *(f"deleted interface {name}" for name in self.deleted_interfaces),
                *(f"deleted netns {name}" for name in self.deleted_netns),
                *(f"removed {path}" for path in self.removed_dirs),
            ]
        out += [f"left alone (its simulator runs): {item}" for item in self.found.skipped_live]
        out += [f"error: {error}" for error in self.errors]
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


# --- finding ---------------------------------------------------------------------------


class _Scope:
    def __init__(
        self,
        subnets: Collection[int] | None,
        state_dirs: Collection[Path] | None,
        netns: Collection[str] | None,
        include_live: bool,
    ) -> None:
        self.netns_scoped = netns is not None
        self.subnets = None if subnets is None else set(subnets)
        self.state_dirs = None if state_dirs is None else [Path(p).resolve() for p in state_dirs]
        self.include_live = include_live
        self.bridge_owner: dict[int, str | None] = {}
        self.orphans: set[str] = set()  # tokens of live simulators whose owner is gone
        # netns (and veths) named by the caller or recorded for nodes under state_dirs
        self.names: set[str] = set(netns or ())

    @property
    def scoped(self) -> bool:
        return self.subnets is not None or self.state_dirs is not None or self.netns_scoped

    def in_scope(self, subnet: int | None, names: Collection[str], path: Path | None) -> bool:
        if not self.scoped:
            return True
        return (
            (subnet is not None and self.subnets is not None and subnet in self.subnets)
            or any(name in self.names for name in names)
            or (path is not None and self.path_in_scope(path))
        )

    def path_in_scope(self, path: Path | str) -> bool:
        if not self.scoped:
            return True
        if self.state_dirs is None:
            return False
        resolved = Path(path)
        return any(resolved == d or d in resolved.parents for d in self.state_dirs)

    def subnet_live(self, subnet: int) -> bool:
        return not self.include_live and owner_alive(self.bridge_owner.get(subnet))

    def state_live(self, state_dir: Path) -> bool:
        return not self.include_live and owner_alive(_state_owner(state_dir))

    def subnet_orphaned(self, subnet: int) -> bool:
        """Made by a simulator listed in ``simulators`` (found again once it is stopped)."""
        return self.bridge_owner.get(subnet) in self.orphans

    def state_orphaned(self, state_dir: Path) -> bool:
        return _state_owner(state_dir) in self.orphans


def _mountinfo(pid: int | str) -> list[tuple[str, str, str]]:
    """(target, fstype, source) of each mount in the process's mount namespace."""
    try:
        text = Path(f"/proc/{pid}/mountinfo").read_text()
    except OSError:
        return []
    mounts = []
    for line in text.splitlines():
        head, _, tail = line.partition(" - ")
        fields, rest = head.split(), tail.split()
        if len(fields) >= 5 and len(rest) >= 2:
            mounts.append((decode_mount_path(fields[4]), rest[0], decode_mount_path(rest[1])))
    return mounts


_Tag = tuple[int, str, str]  # (subnet, the node's netns name, why)


def _classify(procs: dict[int, ProcInfo], netns_by_inode: dict[int, str]) -> dict[int, _Tag]:
    """pid -> (subnet, netns name, why) for every process that belongs to a simulated node."""
    me = proc_info(os.getpid())
    host_mnt = None if me is None else me.mnt
    root_of_mnt: dict[int, str | None] = {}
    tagged: dict[int, _Tag] = {}
    for pid, info in procs.items():
        args = agent_args(info.cmdline)
        if args is not None:
            tagged[pid] = (args[0], netns_name(args[0], args[1]), "agent")
            continue
        if info.net is not None and info.net in netns_by_inode:
            name = netns_by_inode[info.net]
            match = NETNS_RE.match(name)
            assert match is not None
            tagged[pid] = (int(match.group(1)), name, f"netns {name}")
            continue
        if info.mnt is not None and info.mnt != host_mnt:
            if info.mnt not in root_of_mnt:
                root_of_mnt[info.mnt] = next(
                    (
                        src
                        for _t, fs, src in _mountinfo(pid)
                        if fs == "tmpfs" and ROOT_SOURCE_RE.match(src)
                    ),
                    None,
                )
            source = root_of_mnt[info.mnt]
            if source is not None:
                match = ROOT_SOURCE_RE.match(source)
                assert match is not None
                tagged[pid] = (int(match.group(1)), source, f"node root {source}")
    # Descendants (pods in nested namespaces, exec'd commands) inherit the tag.
    children: dict[int, list[int]] = {}
    for info in procs.values():
        children.setdefault(info.ppid, []).append(info.pid)
    todo = list(tagged)
    while todo:
        parent = todo.pop()
        for child in children.get(parent, ()):
            if child not in tagged:
                subnet, netns, _why = tagged[parent]
                tagged[child] = (subnet, netns, f"descendant of {parent}")
                todo.append(child)
    return {pid: tag for pid, tag in tagged.items() if not procs[pid].zombie}


def _node_records() -> dict[Path, tuple[Path | None, str | None]]:
    """/run/cfsim-nodes/<netns> -> (the node's state directory, its host-side veth)."""
    records: dict[Path, tuple[Path | None, str | None]] = {}
    with contextlib.suppress(FileNotFoundError):
        for record in NODE_RECORDS.iterdir():
            try:
                lines = record.read_text().splitlines()
            except OSError:
                lines = []
            node_dir = Path(lines[0]) if lines and lines[0].startswith("/") else None
            veth = lines[1] if len(lines) > 1 and VETH_RE.match(lines[1]) else None
            records[record] = (node_dir, veth)
    return records


def _is_node_dir(path: Path) -> bool:
    """A node's state directory: absolute, holding the agent script host.py writes."""
    return path.is_absolute() and (path / AGENT_SCRIPT).is_file()


def _orphaned_simulators(scope: _Scope) -> list[LeftoverSimulator]:
    """Simulator daemons (found by their command line) that run although their owner is
    gone, in scope; daemons without an owner are never listed."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if ownership.DAEMON_MODULE.encode() not in raw:
            continue
        cwd = None
        with contextlib.suppress(OSError):
            cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
        command = ownership.daemon_command(
            [part.decode(errors="replace") for part in raw.split(b"\0")[:-1]], cwd
        )
        stat = ownership.proc_stat(pid)
        if command is None or command.owner is None or stat is None or stat[0] in ("Z", "X"):
            continue
        if command.owner.alive():
            continue
        token = f"{pid}:{stat[1]}"
        subnets = tuple(sorted(k for k, owner in scope.bridge_owner.items() if owner == token))
        state_dir = command.state_dir
        in_scope = any(scope.in_scope(k, (), None) for k in subnets) or (
            state_dir is not None and scope.path_in_scope(state_dir)
        )
        if in_scope or not scope.scoped:
            where = None if state_dir is None else str(state_dir)
            found.append(LeftoverSimulator(pid, stat[1], command.owner, where, subnets))
    return found


def _loop_devices() -> list[tuple[str, str]]:
    result = run(["losetup", "-J", "-l"], check=False)
    if result.returncode != 0 or not result.stdout.strip():
        return []
    devices = json.loads(result.stdout).get("loopdevices", [])
    return [
        (str(dev.get("name", "")), str(dev.get("back-file") or ""))
        for dev in devices
        if isinstance(dev, dict)
    ]


def find_leftovers(
    *,
    subnets: Collection[int] | None = None,
    state_dirs: Collection[Path] | None = None,
    netns: Collection[str] | None = None,
    include_live: bool = False,
) -> Leftovers:
    """Everything of simulated nodes still on this host, by the ``cfsim`` prefix and markers.

    ``subnets`` (the k of 10.251.<k>.0/24: everything in them), ``state_dirs`` (loop
    devices, mounts and node directories under them, and the namespaces, links and
    processes of the nodes recorded there) and ``netns`` (single nodes) restrict the
    search; an object in any of them is in scope. Without ``include_live``, objects
    whose simulator still runs are only listed in ``skipped_live``.
    """
    scope = _Scope(subnets, state_dirs, netns, include_live)
    found = Leftovers()

    def keep(
        subnet: int | None, what: str, path: Path | None = None, names: Collection[str] = ()
    ) -> bool:
        if not scope.in_scope(subnet, names, path):
            return False
        if subnet is not None:
            if scope.subnet_orphaned(subnet):
                return False  # its simulator is stopped first, then this is found again
            if scope.subnet_live(subnet):
                found.skipped_live.append(what)
                return False
            return True
        if path is None:
            return False
        state = state_dir_of(path)
        if state is not None and scope.state_orphaned(state):
            return False
        if state is not None and scope.state_live(state):
            found.skipped_live.append(what)
            return False
        return True

    with net_lock():  # a simulator creating a bridge holds it until the owner is recorded
        all_links = links()
        names = netns_names()
    records = _node_records()
    for record, (node_dir, veth) in records.items():  # a scoped node takes its veth along
        in_dirs = scope.state_dirs is not None and node_dir and scope.path_in_scope(node_dir)
        if in_dirs or record.name in scope.names:
            scope.names.add(record.name)
            if veth is not None:
                scope.names.add(veth)
    for link in all_links:
        match = BRIDGE_RE.match(str(link.get("ifname", "")))
        if match:
            alias = ALIAS_RE.match(str(link.get("ifalias", "")))
            scope.bridge_owner[int(match.group(1))] = alias.group(1) if alias else None
    found.simulators = _orphaned_simulators(scope)
    scope.orphans = {sim.token for sim in found.simulators}

    held: list[int] = []  # netns held open while processes are matched to them by id
    try:
        netns_by_inode: dict[int, str] = {}
        for name in names:
            match = NETNS_RE.match(name)
            if not match:
                continue
            inode = hold_ns(NETNS_DIR / name, held)
            if inode is not None:
                netns_by_inode[inode] = name
            if keep(int(match.group(1)), f"netns {name}", names=[name]):
                found.netns.append(name)

        procs = scan_processes()
        for pid, (subnet, netns, why) in sorted(_classify(procs, netns_by_inode).items()):
            info = procs[pid]
            args = agent_args(info.cmdline)
            agent_state = args[2] if args is not None else None
            what = f"process {pid} ({why}): {info.command}"
            if keep(subnet, what, agent_state, names=[netns]):
                found.processes.append(
                    LeftoverProcess(pid, start_time(pid), subnet, netns, why, info.command)
                )
                known = str(agent_state) in found.node_dirs
                if agent_state is not None and _is_node_dir(agent_state) and not known:
                    found.node_dirs.append(str(agent_state))

        for record, (node_dir, _veth) in sorted(records.items()):
            match = NETNS_RE.match(record.name)
            if not match or not keep(
                int(match.group(1)), f"node record {record}", node_dir, names=[record.name]
            ):
                continue
            found.node_records.append(str(record))
            if (
                node_dir is not None
                and _is_node_dir(node_dir)
                and str(node_dir) not in found.node_dirs
            ):
                found.node_dirs.append(str(node_dir))

        for link in all_links:
            name = str(link.get("ifname", ""))
            match = VETH_RE.match(name) or BRIDGE_RE.match(name)
            if match and keep(int(match.group(1)), f"interface {name}", names=[name]):
                found.interfaces.append(name)

        root = cgroups.cgroup2_root()
        for directory in cgroups.node_dirs(root) if root is not None else []:
            match = cgroups.NODE_DIR_RE.match(directory.name)
            assert match is not None
            what = f"cgroup {directory}"
            if keep(int(match.group(1)), what, names=[directory.name]):
                found.cgroups.append(str(directory))

        for device, backing in _loop_devices():
            path = backing.removesuffix(DELETED)
            state = state_dir_of(Path(path).parent) if path else None
            if state is not None and keep(None, f"loop device {device} <- {backing}", Path(path)):
                found.loop_devices.append(LeftoverLoop(device, backing, str(state)))

        for target, fstype, source in _mountinfo("self"):
            if fstype == "nsfs":
                continue  # /run/netns/* go with their netns
            marked = state_dir_of(target) is not None or ROOT_SOURCE_RE.match(source)
            if marked and keep(None, f"mount {target}", Path(target)):
                found.mounts.append(LeftoverMount(target, source, fstype))
    finally:
        for fd in held:
            os.close(fd)
    return found


# --- removing --------------------------------------------------------------------------


def _kill(leftovers: Leftovers, report: CleanReport) -> None:
    starts = {proc.pid: proc.start_time for proc in leftovers.processes}

    def same(info: ProcInfo) -> bool:
        return start_time(info.pid) == starts.get(info.pid)

    if starts:
        left = signal_and_wait(starts, signal.SIGKILL, KILL_TIMEOUT, same)
        report.killed += sorted(set(starts) - left)
        if left:
            report.errors.append(f"processes survived SIGKILL: {sorted(left)}")
    # Stragglers: children forked between the scan and the kill, in the same nodes.
    nodes = {proc.netns for proc in leftovers.processes} | set(leftovers.netns)
    for _round in range(5):
        if not nodes:
            break
        again = find_leftovers(netns=nodes, include_live=True).processes
        if not again:
            break
        starts = {proc.pid: proc.start_time for proc in again}
        left = signal_and_wait(starts, signal.SIGKILL, KILL_TIMEOUT, same)
        report.killed += sorted(set(starts) - left)
    reap_exited_agents()


def _loop_attached(device: str, backing: str) -> bool:
    name = Path(device).name
    try:
        current = Path(f"/sys/block/{name}/loop/backing_file").read_text().strip()
    except OSError:
        return False
    return current == backing


def _stop_simulators(simulators: list[LeftoverSimulator], report: CleanReport) -> None:
    """SIGTERM (with SIGCONT, should one be stopped) so each tears down what it made as on
    ``sim down``; SIGKILL those still running after :data:`SIMULATOR_STOP_TIMEOUT`."""
    starts = {sim.pid: sim.start_time for sim in simulators}

    def same(info: ProcInfo) -> bool:
        return start_time(info.pid) == starts.get(info.pid)

    signal_and_wait(starts, signal.SIGTERM, 0, same)
    left = signal_and_wait(starts, signal.SIGCONT, SIMULATOR_STOP_TIMEOUT, same)
    if left:
        left = signal_and_wait(left, signal.SIGKILL, KILL_TIMEOUT, same)
    report.stopped += sorted(set(starts) - left)
    if left:
        report.errors.append(f"simulators survived SIGKILL: {sorted(left)}")


def _remove_state_dir(sim: LeftoverSimulator, report: CleanReport) -> None:
    """A stopped simulator's state directory, unless it now belongs to another one."""
    if sim.state_dir is None:
        return
    path = Path(sim.state_dir)
    try:
        recorded = json.loads((path / STATE_FILE).read_text()).get("pid")
    except (OSError, ValueError, AttributeError):
        recorded = None
    if not path.exists() or recorded not in (None, sim.pid):
        return
    if lifecycle.remove_state(path):
        report.removed_dirs.append(str(path))
    else:
        report.errors.append(f"not removing {path}: mounts under it")


def _merged(first: Leftovers, second: Leftovers) -> Leftovers:
    merged = Leftovers()
    for name in vars(merged):
        combined = getattr(merged, name)
        for item in [*getattr(first, name), *getattr(second, name)]:
            if item not in combined:
                combined.append(item)
    return merged


def clean(leftovers: Leftovers) -> CleanReport:
    """Remove what :func:`find_leftovers` found: stop orphaned simulators, kill processes,
    unmount, detach loop devices, delete links and namespaces, remove node directories."""
    report = CleanReport(found=leftovers)
    simulators = list(leftovers.simulators)
    if simulators:
        _stop_simulators(simulators, report)
        # What their teardown (or SIGKILL) left now belongs to dead simulators.
        rest = find_leftovers(
            state_dirs=[Path(sim.state_dir) for sim in simulators if sim.state_dir],
            subnets=[k for sim in simulators for k in sim.subnets],
        )
        leftovers = report.found = _merged(leftovers, rest)
    _kill(leftovers, report)

    targets = [mount.target for mount in leftovers.mounts]
    failed = unmount_all(targets)
    report.errors += [f"unmount {failure}" for failure in failed]
    report.unmounted += [t for t in targets if not any(f.startswith(t + ":") for f in failed)]

    for loop in leftovers.loop_devices:
        if not _loop_attached(loop.device, loop.backing_file):
            report.detached.append(loop.device)
            continue
        try:  # through a descriptor: never a device another volume took meanwhile
            detach_loop(loop.device, loop.backing_file)
            refused = ""
        except OSError as exc:
            refused = exc.strerror or str(exc)
        deadline = time.monotonic() + LOOP_GONE_TIMEOUT
        delay = 0.005
        while _loop_attached(loop.device, loop.backing_file) and time.monotonic() < deadline:
            time.sleep(delay)  # the kernel releases it once the last mount holding it is gone
            delay = min(delay * 2, 0.2)
        if _loop_attached(loop.device, loop.backing_file):
            report.errors.append(f"loop device {loop.device} still attached ({refused or 'busy'})")
        else:
            report.detached.append(loop.device)

    for directory in leftovers.cgroups:  # empty once their processes are killed
        failed = cgroups.remove_tree(Path(directory))
        report.errors += [f"cgroup {failure}" for failure in failed]
        if not failed:
            report.removed_dirs.append(directory)

    # veths first (deleting one end removes its peer), then bridges.
    for name in sorted(leftovers.interfaces, key=lambda n: BRIDGE_RE.match(n) is not None):
        result = run(["ip", "link", "del", "dev", name], check=False)
        if result.returncode == 0 or "Cannot find device" in result.stderr:
            report.deleted_interfaces.append(name)
        else:
            report.errors.append(f"ip link del {name}: {result.stderr.strip()}")

    for name in leftovers.netns:
        result = run(["ip", "netns", "delete", name], check=False)
        if result.returncode == 0 or "No such file" in result.stderr:
            report.deleted_netns.append(name)
        else:
            report.errors.append(f"ip netns delete {name}: {result.stderr.strip()}")

    for directory in leftovers.node_dirs:
        path = Path(directory)
        busy = [
            t
            for t, _fs, _src in _mountinfo("self")
            if t == directory or t.startswith(directory + "/")
        ]
        if busy:
            report.errors.append(f"not removing {directory}: mounts under it {busy}")
            continue
        if _is_node_dir(path):
            shutil.rmtree(path, ignore_errors=True)
            report.removed_dirs.append(directory)
    for record in leftovers.node_records:
        Path(record).unlink(missing_ok=True)
        report.removed_dirs.append(record)
    for sim in simulators:
        _remove_state_dir(sim, report)
    _forget_dead_state_dirs()
    return report


__all__ = [
    "STATE_MARKER",
    "CleanReport",
    "LeftoverLoop",
    "LeftoverMount",
    "LeftoverProcess",
    "LeftoverSimulator",
    "Leftovers",
    "clean",
    "find_leftovers",
    "mark_state_dir",
    "state_dir_of",
    "unmark_state_dir",
]
