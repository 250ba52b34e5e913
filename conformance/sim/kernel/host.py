"""Kernel-backed nodes: a network namespace on a bridge, a private root, a real sshd.

One :class:`NodeNetwork` per simulator instance owns a bridge ``cfs<k>br`` holding
10.251.<k>.1/24 in the host's network namespace; ``k`` is picked under an exclusive
``flock`` so simulators running side by side (pytest-xdist workers) never share one.

A node is a long-lived *agent* (a small ``/bin/sh`` script, no Python inside the node)
started as::

    nsenter --net=/run/netns/cfsim-<k>-<name> -- \\
        unshare --mount --uts --pid --fork --kill-child --propagation private -- \\
        /bin/sh <state>/cfsim-agent.sh cfsim-agent <k> <name> <state> <address>

The agent is PID 1 of the node's own PID namespace, as a real node's init is: the
node's /proc is mounted for that namespace, so ``/proc/1`` inside the node is the
agent, ``/proc/1/ns/mnt`` the node's mount namespace (what a HostExec pod enters), the
node's ``ps`` lists only its own processes, and pods' PID namespaces nest in it. As
init it also reaps the node's orphans, and when it exits the kernel kills every
process left in the node. ``NodeHost.pid`` is the agent's host PID (the ``unshare``
above it, in the host's PID namespace, only waits for it).

The agent sets the hostname, builds the node's root on a tmpfs named
``cfsim-<k>-<name>`` (layout in :data:`ROOT_LAYOUT`), pivots into it, lazily unmounts
the old root and runs ``sshd -D``. ``nsenter -t <agent pid>`` (see :func:`model.enter`)
therefore enters the node: its network, mount, UTS and PID namespaces and its root.
The host reaches the node's files through ``/proc/<agent pid>/root`` and its /dev and
/sys through the state directory (``NodeHost.dev_dir`` / ``sys_dir``), which are bound
there.

Every kernel object carries the ``cfsim`` prefix (netns ``cfsim-<k>-<name>``, links
``cfs<k>br`` / ``cfs<k>n<index>``, root tmpfs source ``cfsim-<k>-<name>``, the agent's
argv tag ``cfsim-agent``) so :mod:`conformance.sim.kernel.cleanup` can find leftovers.
The bridge's ifalias records its owner (pid and start time), so a clean-up run can
tell a crashed simulator's objects from a running one's.

Blocking work is done by the ``*_sync`` functions; :func:`start_node` and
:func:`stop_node` run them in a worker thread for asyncio callers.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import ipaddress
import json
import os
import re
import secrets
import select
import shutil
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from conformance.sim.kernel.model import PREFIX, NodeHost, child_pids, run

SUBNET_PREFIX = "10.251"  # nodes live in 10.251.<k>.0/24, k in SUBNETS
SUBNETS = range(1, 251)
LOCK_PATH = Path(f"/run/{PREFIX}-net.lock")
NETNS_DIR = Path("/run/netns")
NODE_RECORDS = Path(f"/run/{PREFIX}-nodes")  # <netns name>: "<node state dir>\n<veth>\n"
AGENT_TAG = f"{PREFIX}-agent"  # argv[2] of every node agent (found by clean-up)
AGENT_SCRIPT = f"{PREFIX}-agent.sh"
NODE_RUN = f"/run/{PREFIX}-node"  # inside the node: sshd config, keys, pid file
NODE_BIN = f"{NODE_RUN}/bin"  # inside the node: commands of its own (systemctl, units.py)
# SSH sessions' PATH: the node's own commands first, then sshd's default for root
NODE_PATH = f"{NODE_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOST_KEY = "ssh_host_ed25519_key"
START_TIMEOUT = 20.0
STOP_GRACE = 3.0
KILL_TIMEOUT = 10.0

BRIDGE_RE = re.compile(r"^cfs(\d+)br$")
VETH_RE = re.compile(r"^cfs(\d+)n(\d+)$")
NETNS_RE = re.compile(rf"^{PREFIX}-(\d+)-(.+)$")
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$")

ROOT_LAYOUT = """\
/                tmpfs "cfsim-<k>-<name>" (mode 755), writable
/usr, /etc       read-only binds of the host's
/bin /sbin /lib /lib64   symlinks into usr/ as on the host (merged /usr)
/etc/hostname, /etc/hosts, /etc/resolv.conf   binds of <state>/etc/* (node-specific)
/dev             bind of <state>/dev (null zero full random urandom tty, ptmx -> pts/ptmx)
/dev/pts         devpts (newinstance), /dev/shm tmpfs
/sys             bind of <state>/sys (empty; the devices module synthesizes entries)
/proc            proc of the node's PID namespace (/proc/1 is the agent)
/var /run /tmp /root    directories on the root tmpfs (writable); /var/run -> /run
/var/lib/kubelet        the kubelet root
/run/cfsim-node  sshd_config, host key, authorized_keys, sshd.pid; bin/systemctl and
                 systemd.sock (units.py), first in SSH sessions' PATH
/run/udev/data   udev database entries of attached disks (udev.py); SSH sessions get
                 SYSTEMD_DEVICE_VERIFY_SYSFS=0 so libudev reads the synthesized /sys
"""

# Character devices made in <state>/dev: name -> (major, minor).
DEV_NODES = {
    "null": (1, 3),
    "zero": (1, 5),
    "full": (1, 7),
    "random": (1, 8),
    "urandom": (1, 9),
    "tty": (5, 0),
}

_AGENT_SH = r"""# cfsim node agent (written by conformance.sim.kernel.host; runs /bin/sh only)
# argv: cfsim-agent <k> <node name> <state dir> <address>
set -eu
k=$2 name=$3 state=$4
hostname "$name"
mount -t tmpfs -o mode=0755,size=256m "cfsim-$k-$name" "$state/root"
cd "$state/root"
mkdir -p usr etc var/lib/kubelet var/log var/tmp run/sshd run/lock run/cfsim-node tmp root \
    proc dev sys .old-root
chmod 1777 tmp var/tmp
chmod 0700 root
ln -s /run var/run
ln -s /run/lock var/lock
for l in bin sbin lib lib32 lib64 libx32; do
    if [ -L "/$l" ]; then
        ln -s "$(readlink "/$l")" "$l"
    elif [ -d "/$l" ]; then
        mkdir "$l"
        mount -o bind,ro "/$l" "$l"
    fi
done
mount -o bind,ro /usr usr
mount -o bind,ro /etc etc
for f in hostname hosts resolv.conf; do
    if [ -e "etc/$f" ]; then mount --bind "$state/etc/$f" "etc/$f"; fi
done
mount --bind "$state/dev" dev
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts dev/pts
mount -t tmpfs -o mode=1777,size=64m shm dev/shm
mount --bind "$state/sys" sys
mount -t proc proc proc
cp "$state/ssh/sshd_config" "$state/ssh/authorized_keys" "$state/ssh/ssh_host_ed25519_key" \
    "$state/ssh/ssh_host_ed25519_key.pub" run/cfsim-node/
chmod 0600 run/cfsim-node/ssh_host_ed25519_key
pivot_root . .old-root
cd /
umount -l /.old-root
rmdir /.old-root

sshd=
sleeper=
stop() {
    trap - TERM INT HUP
    kill -TERM $sshd $sleeper 2>/dev/null || :
    wait || :
    exit 0
}
trap stop TERM INT HUP
/usr/sbin/sshd -D -e -f /run/cfsim-node/sshd_config &
sshd=$!
echo "cfsim agent: node $name up, sshd pid $sshd" >&2
while :; do
    sleep infinity &
    sleeper=$!
    wait $sleeper || :
done
"""


def _sshd_config(address: str) -> str:
    return "\n".join(
        [
            "# cfsim node sshd (written by conformance.sim.kernel.host)",
            "Port 22",
            f"ListenAddress {address}",
            f"HostKey {NODE_RUN}/{HOST_KEY}",
            f"AuthorizedKeysFile {NODE_RUN}/authorized_keys",
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            f"PidFile {NODE_RUN}/sshd.pid",
            "UseDNS no",
            "PrintMotd no",
            "PrintLastLog no",
            "X11Forwarding no",
            "MaxStartups 100:30:200",
            "AcceptEnv LANG LC_*",
            # the node's /sys is synthesized, not sysfs: let libudev read it (udev.py);
            # the node's systemctl (units.py) comes before the host's
            f"SetEnv SYSTEMD_DEVICE_VERIFY_SYSFS=0 PATH={NODE_PATH}",
            "Subsystem sftp /usr/lib/openssh/sftp-server",
            "",
        ]
    )


# --- names and ownership -----------------------------------------------------------------


def bridge_name(subnet: int) -> str:
    return f"cfs{subnet}br"


def veth_name(subnet: int, index: int) -> str:
    return f"cfs{subnet}n{index}"


def netns_name(subnet: int, name: str) -> str:
    return f"{PREFIX}-{subnet}-{name}"


def subnet_of(node: NodeHost) -> int:
    """The k of 10.251.<k>.0/24 that the node's address lies in."""
    return int(node.address.split(".")[2])


def start_time(pid: int) -> str | None:
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return data.rsplit(")", 1)[1].split()[19]  # field 22: starttime, in clock ticks


def owner_token(pid: int | None = None) -> str:
    """``<pid>:<start time>`` of this (or the given) process: survives pid reuse."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{start_time(pid)}"


def owner_alive(token: str | None) -> bool:
    """Whether the process named by an :func:`owner_token` still runs."""
    if not token or ":" not in token:
        return False
    pid, _, started = token.strip().partition(":")
    return pid.isdigit() and start_time(int(pid)) == started


@contextlib.contextmanager
def net_lock() -> Iterator[None]:
    """The host-wide lock under which subnets are allocated and netns are added."""
    fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def links() -> list[dict[str, object]]:
    """``ip -j link`` of the host's network namespace."""
    parsed = json.loads(run(["ip", "-j", "link", "show"]).stdout or "[]")
    return [link for link in parsed if isinstance(link, dict)]


def netns_names() -> list[str]:
    try:
        return sorted(entry.name for entry in NETNS_DIR.iterdir())
    except FileNotFoundError:
        return []


def _disable_ipv6(ifname: str) -> None:
    """No IPv6 autoconfiguration chatter on our links (harmless when IPv6 is absent)."""
    path = Path(f"/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6")
    with contextlib.suppress(OSError):
        path.write_text("1")


def _subnets_in_use() -> set[int]:
    used: set[int] = set()
    for link in links():
        match = BRIDGE_RE.match(str(link.get("ifname", ""))) or VETH_RE.match(
            str(link.get("ifname", ""))
        )
        if match:
            used.add(int(match.group(1)))
    for name in netns_names():
        match = NETNS_RE.match(name)
        if match:
            used.add(int(match.group(1)))
    # Never take a subnet something else on this host already routes (more specifically
    # than a default or other broad route).
    space = ipaddress.IPv4Network(f"{SUBNET_PREFIX}.0.0/16")
    routes = json.loads(run(["ip", "-j", "-4", "route", "show", "table", "all"]).stdout or "[]")
    for route in routes:
        with contextlib.suppress(ValueError):
            network = ipaddress.IPv4Network(str(route.get("dst", "")), strict=False)
            if network.prefixlen >= space.prefixlen and network.overlaps(space):
                used.update(
                    k
                    for k in SUBNETS
                    if network.overlaps(ipaddress.IPv4Network(f"{SUBNET_PREFIX}.{k}.0/24"))
                )
    return used


# --- the network ---------------------------------------------------------------------------


class NodeNetwork:
    """A bridge ``cfs<k>br`` with 10.251.<k>.1/24 in the host namespace, for one simulator.

    The constructor allocates a free k (1..250) under :func:`net_lock` and creates the
    bridge (blocking, a few ms). ``close()`` deletes it (and tolerates it being gone);
    stop the nodes first. Pass :attr:`node_subnet` to the kubelet's ``register_nodes`` so
    Node objects carry the addresses :func:`start_node` gives (index i -> .i+1).
    """

    def __init__(self) -> None:
        with net_lock():
            used = _subnets_in_use()
            free = [k for k in SUBNETS if k not in used]
            if not free:
                raise RuntimeError(
                    f"no free {SUBNET_PREFIX}.<k>.0/24 for simulated nodes "
                    "(`conformance sim clean` removes leftovers of crashed simulators)"
                )
            self.subnet = free[0]
            self.bridge = bridge_name(self.subnet)
            # Owner (for clean-up) and a unique id (close() deletes only this very bridge).
            self.alias = f"{PREFIX} owner={owner_token()} id={secrets.token_hex(6)}"
            run(["ip", "link", "add", "name", self.bridge, "type", "bridge"])
            try:
                _disable_ipv6(self.bridge)
                run(["ip", "link", "set", "dev", self.bridge, "alias", self.alias])
                run(["ip", "addr", "add", f"{self.gateway}/24", "dev", self.bridge])
                run(["ip", "link", "set", "dev", self.bridge, "up"])
            except BaseException:
                run(["ip", "link", "del", "dev", self.bridge], check=False)
                raise
        self.closed = False

    @property
    def node_subnet(self) -> str:
        """``10.251.<k>``: node index i has ``<node_subnet>.<i+1>``."""
        return f"{SUBNET_PREFIX}.{self.subnet}"

    @property
    def gateway(self) -> str:
        return f"{SUBNET_PREFIX}.{self.subnet}.1"

    def address(self, index: int) -> str:
        if not 1 <= index <= 253:
            raise ValueError(f"node index {index} is out of 1..253")
        return f"{self.node_subnet}.{index + 1}"

    def close(self) -> None:
        """Delete the bridge, unless it is gone (clean-up) or, since, another one's."""
        if not self.closed:
            shown = run(["ip", "-j", "link", "show", "dev", self.bridge], check=False)
            if shown.returncode == 0 and any(
                link.get("ifalias") == self.alias for link in json.loads(shown.stdout or "[]")
            ):
                run(["ip", "link", "del", "dev", self.bridge], check=False)
            self.closed = True

    def __enter__(self) -> NodeNetwork:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"NodeNetwork({self.node_subnet}.0/24, bridge {self.bridge})"


# --- processes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    ppid: int
    net: int | None  # namespace inodes (None once the process is gone or a zombie)
    mnt: int | None
    uts: int | None
    cmdline: tuple[str, ...]
    state: str = "?"  # R, S, D, Z, ... as in /proc/<pid>/stat

    @property
    def command(self) -> str:
        return " ".join(self.cmdline)

    @property
    def zombie(self) -> bool:
        """Exited, not yet reaped: nothing to kill (its namespaces are gone)."""
        return self.state in ("Z", "X") or self.mnt is None


def agent_args(cmdline: Sequence[str]) -> tuple[int, str, Path] | None:
    """(subnet, node name, state dir) if ``cmdline`` is a node agent's, else None.

    The shape is ``... /bin/sh <state>/cfsim-agent.sh cfsim-agent <k> <name> <state> <addr>``.
    """
    for at, arg in enumerate(cmdline):
        if arg != AGENT_TAG or at == 0 or len(cmdline) < at + 5:
            continue
        subnet, name, state = cmdline[at + 1 : at + 4]
        if cmdline[at - 1] == str(Path(state) / AGENT_SCRIPT) and subnet.isdigit():
            return int(subnet), name, Path(state)
    return None


def node_record(netns: str) -> tuple[Path, str] | None:
    """(node state dir, host-side veth) recorded for a node's netns by start_node."""
    try:
        lines = (NODE_RECORDS / netns).read_text().splitlines()
    except OSError:
        return None
    return (Path(lines[0]), lines[1]) if len(lines) >= 2 else None


def _ns_inode(pid: int, kind: str) -> int | None:
    try:
        link = os.readlink(f"/proc/{pid}/ns/{kind}")  # e.g. "net:[4026531840]"
    except OSError:
        return None
    return int(link[link.index("[") + 1 : -1])


def proc_info(pid: int) -> ProcInfo | None:
    try:
        stat_text = Path(f"/proc/{pid}/stat").read_text()
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    state, ppid = stat_text.rsplit(")", 1)[1].split()[:2]
    cmdline = tuple(part.decode(errors="replace") for part in raw.split(b"\0")[:-1])
    return ProcInfo(
        pid,
        int(ppid),
        _ns_inode(pid, "net"),
        _ns_inode(pid, "mnt"),
        _ns_inode(pid, "uts"),
        cmdline,
        state,
    )


def running(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process."""
    info = proc_info(pid)
    return info is not None and not info.zombie


def scan_processes() -> dict[int, ProcInfo]:
    """Every live process on the host (by pid), except this one."""
    found: dict[int, ProcInfo] = {}
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != me:
            info = proc_info(int(entry))
            if info is not None:
                found[info.pid] = info
    return found


def with_descendants(roots: Iterable[int], procs: dict[int, ProcInfo]) -> set[int]:
    children: dict[int, list[int]] = {}
    for info in procs.values():
        children.setdefault(info.ppid, []).append(info.pid)
    result: set[int] = set()
    todo = [pid for pid in roots if pid in procs]
    while todo:
        pid = todo.pop()
        if pid not in result:
            result.add(pid)
            todo.extend(children.get(pid, ()))
    return result


def netns_inode(name: str) -> int | None:
    try:
        return os.stat(NETNS_DIR / name).st_ino
    except OSError:
        return None


# Popen objects (the unshare above each agent) of the nodes this process started, by
# the agent's pid (the unshare's until the agent is known), so they are reaped.
_AGENTS: dict[int, subprocess.Popen[bytes]] = {}
_AGENTS_LOCK = threading.Lock()


def reap_exited_agents() -> list[int]:
    """Reap agents started here that have exited (e.g. killed by clean-up)."""
    with _AGENTS_LOCK:
        done = [pid for pid, proc in _AGENTS.items() if proc.poll() is not None]
        for pid in done:
            del _AGENTS[pid]
    return done


def signal_and_wait(
    pids: Iterable[int],
    sig: int,
    timeout: float,
    still_ours: Callable[[ProcInfo], bool] = lambda _info: True,
) -> set[int]:
    """Send ``sig`` to each pid (through a pidfd) and wait up to ``timeout`` for them to exit.

    A pid is only signalled if, once its pidfd is open, ``still_ours`` holds for it (no
    harm from pid reuse). Returns the pids still running at the deadline.
    """
    fds: dict[int, int] = {}
    try:
        for pid in set(pids):
            try:
                fd = os.pidfd_open(pid)
            except (ProcessLookupError, OSError):
                continue
            info = proc_info(pid)
            if info is None or info.zombie or not still_ours(info):
                os.close(fd)
                continue
            fds[pid] = fd
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(fd, sig)
        poller = select.poll()
        for fd in fds.values():
            poller.register(fd, select.POLLIN)
        alive = dict(fds)
        by_fd = {fd: pid for pid, fd in fds.items()}
        deadline = time.monotonic() + timeout
        while alive:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for fd, _event in poller.poll(max(1, int(left * 1000))):
                poller.unregister(fd)
                alive.pop(by_fd[fd], None)
        reap_exited_agents()
        return set(alive)
    finally:
        for fd in fds.values():
            os.close(fd)


# --- keys and known_hosts ------------------------------------------------------------------


def _keygen(path: Path, comment: str) -> str:
    for old in (path, path.with_name(path.name + ".pub")):
        old.unlink(missing_ok=True)
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])
    return path.with_name(path.name + ".pub").read_text().strip()


def generate_client_key(path: Path) -> tuple[Path, str]:
    """An ed25519 client key at ``path`` (+ ``.pub``): (private key path, public key line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return path, _keygen(path, f"{PREFIX}-client")


def host_public_key(node: NodeHost) -> str:
    return (node.state_dir / "ssh" / f"{HOST_KEY}.pub").read_text().strip()


def known_hosts_line(node: NodeHost) -> str:
    """``<address> ssh-ed25519 <key>``: the node's host key as ssh's known_hosts holds it."""
    key_type, key = host_public_key(node).split()[:2]
    return f"{node.address} {key_type} {key}"


def write_known_hosts(path: Path, nodes: Iterable[NodeHost]) -> Path:
    """Write (replace) a known_hosts file listing every node's address and host key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(known_hosts_line(node) + "\n" for node in nodes)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path


# --- starting a node -----------------------------------------------------------------------


class NodeStartError(RuntimeError):
    pass


def _prepare_state(
    state_dir: Path, name: str, address: str, authorized_key: str, subnet: int
) -> None:
    for sub in ("root", "dev", "sys", "etc", "ssh"):
        (state_dir / sub).mkdir(parents=True, exist_ok=True)
    dev = state_dir / "dev"
    for dev_name, (major, minor) in DEV_NODES.items():
        path = dev / dev_name
        if not path.exists():
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(major, minor))
        os.chmod(path, 0o666)
    for sub in ("pts", "shm"):
        (dev / sub).mkdir(exist_ok=True)
    links_in_dev = {
        "ptmx": "pts/ptmx",
        "fd": "/proc/self/fd",
        "stdin": "/proc/self/fd/0",
        "stdout": "/proc/self/fd/1",
        "stderr": "/proc/self/fd/2",
    }
    for link_name, target in links_in_dev.items():
        link = dev / link_name
        if not link.is_symlink():
            link.symlink_to(target)
    etc = state_dir / "etc"
    (etc / "hostname").write_text(name + "\n")
    (etc / "hosts").write_text(
        f"127.0.0.1\tlocalhost\n{address}\t{name}\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    )
    # No nameserver: nothing on a node may query a resolver outside the simulator.
    (etc / "resolv.conf").write_text("# cfsim node: no DNS; names resolve from /etc/hosts\n")
    ssh = state_dir / "ssh"
    _keygen(ssh / HOST_KEY, f"{PREFIX}-{subnet}-{name}")
    (ssh / "authorized_keys").write_text(authorized_key.strip() + "\n")
    (ssh / "sshd_config").write_text(_sshd_config(address))
    (state_dir / AGENT_SCRIPT).write_text(_AGENT_SH)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as error:
        return f"({error})"


def _wait_ready(proc: subprocess.Popen[bytes], log: Path, timeout: float) -> int:
    """Wait for sshd's pid file inside the node (written once sshd listens); return the
    agent's host PID (the only child of the ``unshare`` that ``proc`` runs)."""
    deadline = time.monotonic() + timeout
    delay = 0.002
    last = "agent starting"
    while True:
        code = proc.poll()
        if code is not None:
            raise NodeStartError(
                f"node agent exited {code} before sshd was ready; agent log:\n{_tail(log)}"
            )
        agents = child_pids(proc.pid)
        if len(agents) != 1:
            last = f"unshare {proc.pid} has children {agents}, not one agent"
        else:
            # The node's root and /proc (its PID namespace: the pid file holds a node PID).
            root = Path(f"/proc/{agents[0]}/root")
            try:
                sshd_pid = (root / NODE_RUN.lstrip("/") / "sshd.pid").read_text().strip()
            except OSError as error:
                last = f"no sshd pid file yet ({error.strerror})"
            else:
                if sshd_pid.isdigit() and (root / "proc" / sshd_pid).exists():
                    return agents[0]
                last = f"sshd pid file holds {sshd_pid!r}, not a running process"
        if time.monotonic() >= deadline:
            raise NodeStartError(
                f"sshd not ready after {timeout:.0f}s (last seen: {last}); agent log:\n{_tail(log)}"
            )
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 0.1)


def start_node_sync(
    network: NodeNetwork,
    name: str,
    index: int,
    state_dir: Path,
    authorized_key: str,
    *,
    timeout: float = START_TIMEOUT,
) -> NodeHost:
    """Create the node's netns, veth and agent; return once its sshd listens."""
    if network.closed:
        raise NodeStartError(f"{network!r} is closed")
    if not NAME_RE.match(name):
        raise ValueError(f"node name {name!r} is not a DNS-1123 label")
    address = network.address(index)
    k = network.subnet
    netns = netns_name(k, name)
    veth = veth_name(k, index)
    state_dir = state_dir.resolve()
    _prepare_state(state_dir, name, address, authorized_key, k)
    with net_lock():  # `ip netns add` makes /run/netns shared once: not concurrently
        run(["ip", "netns", "add", netns])
    NODE_RECORDS.mkdir(mode=0o700, exist_ok=True)
    (NODE_RECORDS / netns).write_text(f"{state_dir}\n{veth}\n")
    try:
        run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns])
        _disable_ipv6(veth)
        run(["ip", "link", "set", "dev", veth, "master", network.bridge, "up"])
        ipv6 = Path("/proc/sys/net/ipv6").exists()
        batch = [
            "link set dev lo up",
            *(["link set dev eth0 addrgenmode none"] if ipv6 else []),
            f"addr add {address}/24 dev eth0",
            "link set dev eth0 up",
            f"route add default via {network.gateway}",
        ]
        run(["ip", "-n", netns, "-batch", "-"], input="\n".join(batch) + "\n")
        log = state_dir / "agent.log"
        argv = [
            "nsenter",
            f"--net={NETNS_DIR / netns}",
            "--",
            "unshare",
            "--mount",
            "--uts",
            "--pid",
            "--fork",
            "--kill-child",  # the agent dies with its unshare (and the node with the agent)
            "--propagation",
            "private",
            "--",
            "/bin/sh",
            str(state_dir / AGENT_SCRIPT),
            AGENT_TAG,
            str(k),
            name,
            str(state_dir),
            address,
        ]
        with log.open("ab") as log_file:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                start_new_session=True,  # Ctrl-C reaches the simulator, which stops nodes
            )
        with _AGENTS_LOCK:
            _AGENTS[proc.pid] = proc
        node = NodeHost(name=name, index=index, address=address, pid=proc.pid, state_dir=state_dir)
        try:
            agent = _wait_ready(proc, log, timeout)
        except BaseException:
            proc.kill()  # our unreaped child: its pid cannot name another process
            stop_node_sync(node, grace=0)
            raise
        with _AGENTS_LOCK:  # from now on known by the agent's pid, as the node is
            _AGENTS[agent] = _AGENTS.pop(proc.pid)
        return dataclasses.replace(node, pid=agent)
    except BaseException:
        run(["ip", "link", "del", "dev", veth], check=False)
        run(["ip", "netns", "delete", netns], check=False)
        (NODE_RECORDS / netns).unlink(missing_ok=True)
        raise


async def start_node(
    network: NodeNetwork,
    name: str,
    index: int,
    state_dir: Path,
    authorized_key: str,
    *,
    timeout: float = START_TIMEOUT,
) -> NodeHost:
    """:func:`start_node_sync` in a worker thread (the caller is an asyncio service)."""
    return await asyncio.to_thread(
        start_node_sync, network, name, index, state_dir, authorized_key, timeout=timeout
    )


# --- stopping a node -----------------------------------------------------------------------


def node_processes(node: NodeHost, procs: dict[int, ProcInfo] | None = None) -> set[int]:
    """Pids inside the node: its agent and every process sharing (or descending from) its
    namespaces, pods nested in their own mount/UTS/PID namespaces included."""
    procs = scan_processes() if procs is None else procs
    net = netns_inode(netns_name(subnet_of(node), node.name))
    agent = procs.get(node.pid)
    agent_ns = {(agent.mnt, agent.uts)} if agent is not None and agent.mnt is not None else set()
    inside = {
        info.pid
        for info in procs.values()
        if (net is not None and info.net == net)
        or (agent is not None and (info.mnt, info.uts) in agent_ns)
    }
    members = with_descendants(inside | {node.pid}, procs)
    return {pid for pid in members if not procs[pid].zombie}


def _host_mounts_under(path: Path) -> list[str]:
    """Mount points of this (the host's) mount namespace at or under ``path``."""
    prefix = str(path).rstrip("/") + "/"
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = decode_mount_path(line.split()[4])
        if point == str(path) or point.startswith(prefix):
            found.append(point)
    return found


def decode_mount_path(field: str) -> str:
    """Undo mountinfo's octal escapes (\\040 for a space, ...)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def unmount_all(points: Sequence[str]) -> list[str]:
    """Unmount deepest first (lazily when busy); return the failures."""
    failed = []
    for point in sorted(set(points), key=lambda p: p.count("/"), reverse=True):
        if run(["umount", point], check=False).returncode != 0:
            result = run(["umount", "-l", point], check=False)
            if result.returncode != 0:
                failed.append(f"{point}: {result.stderr.strip()}")
    return failed


def kill_all(
    find: Callable[[], set[int]],
    still_ours: Callable[[ProcInfo], bool],
    grace: float,
    what: str,
) -> None:
    """SIGTERM what ``find`` returns, SIGKILL after ``grace``, repeat until none is left."""
    pids = find()
    if grace > 0 and pids:
        signal_and_wait(pids, signal.SIGTERM, grace, still_ours)
    for _round in range(5):
        pids = find()
        if not pids:
            return
        left = signal_and_wait(pids, signal.SIGKILL, KILL_TIMEOUT, still_ours)
        if left:
            shown = ", ".join(f"{pid} {(proc_info(pid) or pid)!r}" for pid in sorted(left))
            raise RuntimeError(f"{what}: processes survived SIGKILL: {shown}")
    raise RuntimeError(f"{what}: processes keep appearing: {sorted(find())}")


def hold_ns(path: Path | str, held: list[int]) -> int | None:
    """Open a namespace file and keep it open; its inode (the namespace id) stays valid
    (not reused by a namespace made meanwhile) while the descriptor is held."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    held.append(fd)
    return os.fstat(fd).st_ino


def _hold_agent_ns(node: NodeHost, held: list[int]) -> tuple[int, int] | None:
    """(mount, UTS) namespace ids of the node's agent, held open; None if the agent is
    gone, its pid now names another process, or it has not left the host's namespaces."""
    agent = proc_info(node.pid)
    if agent is None or agent.zombie:
        return None
    expected = (subnet_of(node), node.name, node.state_dir)
    if agent_args(agent.cmdline) != expected:
        return None
    started = start_time(node.pid)
    mnt = hold_ns(f"/proc/{node.pid}/ns/mnt", held)
    uts = hold_ns(f"/proc/{node.pid}/ns/uts", held)
    again = proc_info(node.pid)  # the same process still, once the descriptors are open?
    if mnt is None or uts is None or again is None or start_time(node.pid) != started:
        return None
    if agent_args(again.cmdline) != expected:
        return None
    me = proc_info(os.getpid())
    if me is None or mnt == me.mnt or uts == me.uts:
        return None  # still in the host's namespaces: matching on them would take everything
    return mnt, uts


def stop_node_sync(node: NodeHost, *, grace: float = STOP_GRACE) -> None:
    """Stop the node: SIGTERM to its agent (which stops sshd) and every other process in
    its namespaces, SIGKILL after ``grace``, then delete the veth, the netns and the
    state directory. Idempotent; leaves no process in the node's namespaces."""
    k = subnet_of(node)
    netns = netns_name(k, node.name)
    # The netns is this node's only while its record names this node's state directory
    # (after a clean-up, another simulator may have made one of the same name).
    owned = node_record(netns) == (node.state_dir, veth_name(k, node.index))
    held: list[int] = []  # ns file descriptors: namespace ids are reused once freed
    try:
        net = hold_ns(NETNS_DIR / netns, held) if owned else None
        agent_ns = _hold_agent_ns(node, held)
        agent_start = start_time(node.pid) if agent_ns is not None else None
        members: set[int] = set()

        def ours(info: ProcInfo) -> bool:
            return (
                info.pid in members
                or (net is not None and info.net == net)
                or (agent_ns is not None and (info.mnt, info.uts) == agent_ns)
            )

        def find() -> set[int]:
            procs = scan_processes()
            found = {pid for pid, info in procs.items() if ours(info)}
            if agent_start is not None and start_time(node.pid) == agent_start:
                found.add(node.pid)
            members.clear()
            members.update(with_descendants(found, procs))
            return {pid for pid in members if not procs[pid].zombie}

        kill_all(find, ours, grace, f"stopping node {node.name}")
    finally:
        for fd in held:
            os.close(fd)
    with _AGENTS_LOCK:
        proc = _AGENTS.pop(node.pid, None)
    if proc is not None:
        proc.wait(timeout=KILL_TIMEOUT)
    if owned:
        run(["ip", "link", "del", "dev", veth_name(k, node.index)], check=False)
        run(["ip", "netns", "delete", netns], check=False)
        (NODE_RECORDS / netns).unlink(missing_ok=True)
    if node.state_dir.exists():
        failed = unmount_all(_host_mounts_under(node.state_dir))
        if failed:
            raise RuntimeError(f"stopping node {node.name}: cannot unmount {failed}")
        shutil.rmtree(node.state_dir, ignore_errors=True)


async def stop_node(node: NodeHost, *, grace: float = STOP_GRACE) -> None:
    """:func:`stop_node_sync` in a worker thread."""
    await asyncio.to_thread(stop_node_sync, node, grace=grace)


def node_mountinfo(node: NodeHost) -> str:
    """The node's mount table as the node sees it (host side, no nsenter needed)."""
    return Path(f"/proc/{node.pid}/mountinfo").read_text()


def nodes_alive(nodes: Collection[NodeHost]) -> list[str]:
    """Names of nodes whose agent still runs."""
    return [node.name for node in nodes if running(node.pid)]


__all__ = [
    "ROOT_LAYOUT",
    "NodeNetwork",
    "NodeStartError",
    "generate_client_key",
    "known_hosts_line",
    "node_processes",
    "start_node",
    "start_node_sync",
    "stop_node",
    "stop_node_sync",
    "write_known_hosts",
]
