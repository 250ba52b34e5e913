"""Pods on a kernel-backed node: nested namespaces, their own root, start, stop and logs.

A pod is started inside its node (the node agent's mount, UTS, network and PID
namespaces) as::

    nsenter -t <agent> -m -u -n -p -r -w -- setpriv --pdeathsig KILL -- \\
        unshare --mount --uts --pid --fork --kill-child --propagation private -- sh -c SETUP

``nsenter`` (host PID namespace) forks the ``unshare`` into the node's PID namespace,
whose fork is PID 1 of the pod's PID namespace (nested in the node's, so the node's
``ps`` shows the pod's processes, as on a real node): it builds the pod's root and
then becomes the container's init. Each link dies with the one above it
(``--pdeathsig``, ``--kill-child``). The pod spec's host namespaces change that:

- ``hostPID``: no ``--pid``; the pod's processes live in the node's PID namespace and
  its /proc shows the node's processes (``/proc/1`` is the node's init).
- ``hostNetwork``: every pod shares its node's network namespace (the simulator has
  no pod network); with ``hostNetwork`` the pod also shares the node's UTS namespace
  (its hostname is the node's) and gets the node's /etc/hosts, as the kubelet does.
- ``privileged``: all capabilities, the node's /dev (rbind: its disks too) and a
  writable /sys. Other containers get the container runtimes' default capability set
  (:data:`DEFAULT_CAPS`; no ``CAP_SYS_ADMIN``, so no mount or ``nsenter``).
- ``runAsUser``/``runAsGroup`` and the supplementary groups (``fsGroup``, then
  ``supplementalGroups``): the container's process and every exec run with them
  (``setpriv --reuid --regid --groups``); a non-root process keeps no capabilities, as
  with runc. Unlike a real runtime, the image's /etc/passwd and /etc/group are not read
  (a user's own groups are not added; HOME is / for a uid other than 0), and
  ``runAsNonRoot`` is not verified.

The pod's root, as the container sees it::

    /            tmpfs (writable, like a container's upper layer)
    /usr /etc    read-only binds of the node's; bin, sbin, lib* as on the node
                 (merged-/usr symlinks, or read-only binds)
    /etc/hosts /etc/hostname /etc/resolv.conf
                 per-pod files the kubelet keeps on the node at
                 /var/lib/kubelet/pods/<uid>/etc-hosts, etc-hostname, resolv.conf
    /proc        a fresh procfs of the pod's PID namespace (the node's with hostPID)
    /sys         read-only bind of the node's /sys (no submounts); privileged: rbind, rw
    /dev         small tmpfs: null zero full random urandom tty, its own devpts
                 (pts/, ptmx), shm/, fd stdin stdout stderr symlinks; no disks;
                 privileged: rbind of the node's /dev
    /tmp /var/tmp /run /root /home ...   plain directories of the writable root
    <mountPath>  each volume: rbind of its node path (remounted read-only if asked):
                 a claim's kubelet mount, or a hostPath (see :mod:`hostpath`)

PID 1 is a tiny shell init (``cfsim-init``) that runs the container's command as its
child and forwards SIGTERM/SIGINT/SIGHUP to it, so a container process that does not
ignore SIGTERM ends at once (a bare PID 1 never gets SIGTERM's default action), while
one that ignores it is killed after the grace period, as a kubelet does. When the
command's argv[0] does not exist in the pod's root, ``sleep infinity`` stands in for
the image's entrypoint and :attr:`RunningPod.note` says so.

The container's stdout and stderr go to a log file in the pod's host-side state dir
(``<node state>/pods/<ns>_<name>_<uid>/<container>.log``).

Exec sessions live in :mod:`conformance.sim.kernel.pod_exec`.

Every process of a pod descends from an ``unshare`` whose environment carries
``CFSIM_POD_UID=<uid>``; killing that process kills the pod (``--kill-child``), which
is how leftovers of a crashed simulator can be found and removed.

Stopping: the kernel ends a PID namespace with its init, so a pod of its own is gone
once PID 1 is. A hostPID pod's processes stay in the node's namespace, where a real
runtime finds them by the container's cgroup and kills them all once the init exits.
The simulator does not rely on cgroups for this (a container's cgroup, see
:mod:`cgroups`, exists only where the host has a writable cgroup v2); it finds them by
what marks them instead (see
:func:`pod_pids`): the pod's mount namespace, and the sessions (``setsid``) of the
pod's start and of each exec, which also hold processes that left the pod's mount
namespace (a HostExec ``nsenter --mount=/rootfs/proc/1/ns/mnt``). Orphans in the
node's PID namespace are reaped by the node's init.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import posixpath
import re
import select
import shlex
import signal
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from conformance.sim.kernel import cgroups
from conformance.sim.kernel.model import NodeHost, child_pids, enter
from conformance.sim.runtimes.base import (
    FAILED_CONTAINER,
    FAILED_SANDBOX,
    RUN_CONTAINER_ERROR,
    RuntimeFailure,
)

KUBELET_PODS = "/var/lib/kubelet/pods"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ENV_MARK = "CFSIM_POD_UID"  # in the environment of every pod's unshare process
STANDIN = ("sleep", "infinity")
ROOT_SIZE = "512m"
# The capabilities containerd and Docker give a container that is not privileged.
DEFAULT_CAPS = (
    "chown",
    "dac_override",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "net_bind_service",
    "net_raw",
    "sys_chroot",
    "mknod",
    "audit_write",
    "setfcap",
)

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_UID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_ENV_KEY = re.compile(r"^[^=\0]+$")


class VolumeBind(NamedTuple):
    """One volume of the container: a path inside the node bound at a path in the pod."""

    node_path: str  # e.g. the kubelet's publish path, as seen inside the node
    mount_path: str  # the volumeMount's mountPath inside the container
    read_only: bool = False


class DeviceNode(NamedTuple):
    """A block volume of the container (volumeDevices): a device node the runtime makes."""

    path: str  # the volumeDevice's devicePath inside the container
    major: int
    minor: int


class HostEntry(NamedTuple):
    """A peer pod of the headless service, written to /etc/hosts."""

    hostname: str
    ip: str


@dataclass(frozen=True)
class PodSpec:
    namespace: str
    name: str
    uid: str
    container: str
    argv: tuple[str, ...] = ()  # command + args; empty: the image's entrypoint (stand-in)
    env: tuple[tuple[str, str], ...] = ()
    hostname: str = ""  # spec.hostname, else the pod's name
    subdomain: str = ""  # spec.subdomain: the headless service
    pod_ip: str = ""  # the pod's own /etc/hosts entry; default the node's address
    cluster_domain: str = "cluster.local"
    peers: tuple[HostEntry, ...] = ()  # other pods of the headless service
    volumes: tuple[VolumeBind, ...] = ()
    working_dir: str = ""
    host_pid: bool = False  # spec.hostPID: the node's PID namespace
    host_network: bool = False  # spec.hostNetwork: also the node's UTS namespace
    privileged: bool = False  # securityContext.privileged: all capabilities, node /dev
    devices: tuple[DeviceNode, ...] = ()  # block volumes: device nodes in the container
    cgroup: str = ""  # host path of the container's cgroup ("": none, see cgroups.py)
    # securityContext: the container's process identity (None: root, as the image's)
    run_as_user: int | None = None
    run_as_group: int | None = None
    groups: tuple[int, ...] = ()  # supplementary: fsGroup, then supplementalGroups

    def __post_init__(self) -> None:
        # Accept lists and plain tuples from callers; store hashable tuples.
        object.__setattr__(self, "argv", tuple(self.argv))
        object.__setattr__(self, "env", tuple((str(k), str(v)) for k, v in self.env))
        object.__setattr__(self, "peers", tuple(HostEntry(*p) for p in self.peers))
        object.__setattr__(self, "volumes", tuple(VolumeBind(*v) for v in self.volumes))
        object.__setattr__(self, "devices", tuple(DeviceNode(*d) for d in self.devices))
        object.__setattr__(self, "groups", tuple(int(g) for g in self.groups))
        for number in (self.run_as_user, self.run_as_group, *self.groups):
            if number is not None and not 0 <= number < 2**31:
                raise ValueError(f"bad user or group id {number!r}")
        for what, value in (("namespace", self.namespace), ("name", self.name)):
            if not value or "/" in value or value in (".", ".."):
                raise ValueError(f"bad pod {what} {value!r}")
        if not _UID.match(self.uid):
            raise ValueError(f"bad pod uid {self.uid!r}")
        if not _LABEL.match(self.container):
            raise ValueError(f"bad container name {self.container!r}")
        if self.subdomain and not _LABEL.match(self.subdomain):
            raise ValueError(f"bad subdomain {self.subdomain!r}")
        for key, _ in self.env:
            if not _ENV_KEY.match(key):
                raise ValueError(f"bad environment variable name {key!r}")
        for volume in self.volumes:
            _container_path(volume.mount_path)
            if not volume.node_path.startswith("/"):
                raise ValueError(f"volume node path must be absolute: {volume.node_path!r}")
        for device in self.devices:
            _container_path(device.path)
        if self.devices and self.privileged:
            # the privileged container's /dev is the node's: a device node made there would
            # be the node's too (containerd gives it a /dev of its own)
            raise ValueError("block volumes in privileged containers are not simulated")
        if self.working_dir:
            _container_path(self.working_dir)

    @property
    def pod_hostname(self) -> str:
        """The UTS hostname: spec.hostname or the pod name, cut to 63 characters."""
        return (self.hostname or self.name)[:63].rstrip("-.")

    @property
    def key(self) -> str:
        return f"{self.namespace}_{self.name}_{self.uid}"

    @property
    def node_dir(self) -> str:
        """The kubelet's directory of this pod, as seen inside the node."""
        return f"{KUBELET_PODS}/{self.uid}"


@dataclass
class RunningPod:
    node: NodeHost
    spec: PodSpec
    pid: int  # the pod's PID 1 as the host sees it: nsenter -t pid enters the pod
    log_path: Path
    note: str | None  # set when a stand-in replaced the container's command
    standin: bool = False
    process: asyncio.subprocess.Process | None = field(default=None, repr=False)
    pid_ns: tuple[int, int] = (0, 0)  # (st_dev, st_ino) of /proc/<pid>/ns/pid
    mnt_ns: tuple[int, int] = (0, 0)  # the same of /proc/<pid>/ns/mnt
    # Host PIDs of the session leaders (setsid) of the pod's start and of each exec: on a
    # shared PID namespace, what marks the pod's processes besides its mount namespace.
    sessions: set[int] = field(default_factory=set)
    peers: tuple[HostEntry, ...] = ()
    stopped: bool = False
    killed: bool = False  # stop_pod had to SIGKILL PID 1 after the grace period
    _pidfd: int = field(default=-1, repr=False)
    _parent_pidfd: int = field(default=-1, repr=False)
    # The pod's PID and mount namespaces, held open until it is stopped: their ids
    # (pid_ns, mnt_ns) name no other namespace meanwhile, so stop_pod kills only its own.
    _ns_fds: tuple[int, ...] = field(default=(), repr=False)

    @property
    def running(self) -> bool:
        """Whether the pod's PID 1 is still alive."""
        if self._pidfd < 0:
            return False
        return not _pidfd_exited(self._pidfd)

    async def wait(self) -> int:
        """The exit status of the container (128+signal when killed); waits for it."""
        if self.process is None:
            raise RuntimeFailure("pod has no process")
        code = exit_code(await self.process.wait())
        # unshare cannot re-raise SIGKILL on itself and exits 1 instead.
        return 128 + signal.SIGKILL if self.killed else code


# --- files the kubelet writes for a pod ---------------------------------------------

_HOSTS_HEADER = (
    "# Kubernetes-managed hosts file.\n"
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "fe00::0\tip6-mcastprefix\n"
    "fe00::1\tip6-allnodes\n"
    "fe00::2\tip6-allrouters\n"
)


def _names(spec: PodSpec, hostname: str) -> list[str]:
    """Names of a pod of the headless service: the FQDN first, then the short forms."""
    if not spec.subdomain:
        return [hostname]
    sub = f"{hostname}.{spec.subdomain}"
    svc = f"{sub}.{spec.namespace}.svc"
    return [f"{svc}.{spec.cluster_domain}", svc, f"{sub}.{spec.namespace}", sub]


def hosts_file(spec: PodSpec, own_ip: str, peers: Iterable[HostEntry]) -> str:
    """/etc/hosts as the kubelet writes it, plus the headless service's peers.

    There is no cluster DNS: the peers' lines stand in for the service's DNS records,
    so ``getent hosts <pod>.<service>`` and the FQDN resolve through files.
    """
    hostname = spec.pod_hostname
    own = _names(spec, hostname)
    if spec.subdomain:
        own.append(hostname)
    text = _HOSTS_HEADER + f"{own_ip}\t" + "\t".join(own) + "\n"
    lines = []
    for peer in peers:
        if peer.hostname == hostname or not spec.subdomain:
            continue
        lines.append(f"{peer.ip}\t" + "\t".join(_names(spec, peer.hostname)) + "\n")
    if lines:
        text += f"\n# Pods of the headless service {spec.subdomain} (in place of DNS).\n"
        text += "".join(lines)
    return text


def host_network_hosts_file(node_hosts: str) -> str:
    """/etc/hosts of a hostNetwork pod: the node's, under the kubelet's header."""
    return "# Kubernetes-managed hosts file (host network).\n" + node_hosts


def resolv_conf(spec: PodSpec) -> str:
    domain = spec.cluster_domain
    return (
        "# No cluster DNS in the simulator: cluster names resolve through /etc/hosts.\n"
        f"search {spec.namespace}.svc.{domain} svc.{domain} {domain}\n"
        "options ndots:5\n"
    )


def _node_path(node: NodeHost, path: str) -> Path:
    """A path inside the node, reached from the host through the agent's root."""
    return Path(f"/proc/{node.pid}/root") / path.lstrip("/")


def _write_in_place(path: Path, content: str) -> None:
    """Rewrite a file keeping its inode (it is bind-mounted into the pod)."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(content)


def update_hosts(pod: RunningPod, peers: Sequence[HostEntry | tuple[str, str]]) -> None:
    """Rewrite the pod's /etc/hosts for a new set of headless-service peers.

    A stopped pod's files are gone: nothing is written then; a hostNetwork pod has the
    node's hosts file, which no peer changes.
    """
    if pod.stopped or pod.spec.host_network:
        return
    pod.peers = tuple(HostEntry(*p) for p in peers)
    ip = pod.spec.pod_ip or pod.node.address
    target = _node_path(pod.node, f"{pod.spec.node_dir}/etc-hosts")
    _write_in_place(target, hosts_file(pod.spec, ip, pod.peers))


# --- the pod's setup script -----------------------------------------------------------

# PID 1 of every pod: run the container as a child, forward termination signals, exit
# with its status. "$@" is the container's argv. The child is forked before the traps
# are set, so it never inherits them (a signal caught between fork and exec would be
# lost). Until the traps are set PID 1 ignores SIGTERM, so it says "started" (stdin is
# the socket to start_pod) only then, and waits for "go" so that its PID stays valid
# while start_pod looks it up.
_INIT = r"""unset CFSIM_INIT
"$@" </dev/null &
child=$!
fwd() { kill -"$1" "$child" 2>/dev/null; }
trap 'fwd TERM' TERM
trap 'fwd INT' INT
trap 'fwd HUP' HUP
printf 'started\n' >&0
n=0
until read -r go; do  # a trapped signal interrupts read; give up on end of input
  n=$((n + 1)); [ "$n" -lt 100 ] || break
done
exec 0</dev/null
if [ "$go" != go ]; then kill -KILL "$child"; exit 1; fi
exec 2>/dev/null
while :; do
  wait "$child"
  rc=$?
  kill -0 "$child" 2>/dev/null || exit "$rc"
done
"""


_SETUP_FUNCTIONS = r"""robind() { mount --bind "$1" "$2"; mount -o remount,bind,ro "$2"; }
mkdev() {
  if ! mknod -m 666 "dev/$1" c "$2" "$3" 2>/dev/null; then
    : > "dev/$1"; mount --bind "/dev/$1" "dev/$1"
  fi
}
overfile() { if [ -f "etc/$2" ] && [ ! -L "etc/$2" ]; then mount --bind "$P/$1" "etc/$2"; fi; }
vol() {
  if [ ! -e "$1" ]; then echo "volume path $1 does not exist on the node" >&2; exit 1; fi
  if [ -d "$1" ]; then mkdir -p "$R$2"; else mkdir -p "$(dirname "$R$2")"; : >> "$R$2"; fi
  mount --rbind "$1" "$R$2"
  if [ "$3" = ro ]; then mount -o remount,bind,ro "$R$2"; fi
}
blkdev() {
  mkdir -p "$(dirname "$R$1")"; rm -f "$R$1"
  mknod -m 660 "$R$1" b "$2" "$3"; chgrp disk "$R$1" 2>/dev/null || :
}
"""

_SETUP_ROOT = r"""mkdir -p "$R"
mount -t tmpfs -o mode=0755,size=$SIZE tmpfs "$R"
cd "$R"
mkdir -p usr etc proc sys dev tmp run root home mnt opt srv var/tmp var/log
chmod 1777 tmp var/tmp
chmod 0700 root
for d in bin sbin lib lib32 lib64 libx32; do
  if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$d"
  elif [ -d "/$d" ]; then mkdir "$d"; robind "/$d" "$d"; fi
done
robind /usr usr
robind /etc etc
overfile etc-hosts hosts
overfile etc-hostname hostname
overfile resolv.conf resolv.conf
mount -t proc proc proc
"""

# /sys and /dev of a container that is not privileged: no disks, /sys read-only.
_SETUP_DEV = r"""if mount --bind /sys sys 2>/dev/null; then
  mount -o remount,bind,ro sys 2>/dev/null || true
fi
mount -t tmpfs -o mode=0755,size=1m,nosuid tmpfs dev
mkdev null 1 3; mkdev zero 1 5; mkdev full 1 7
mkdev random 1 8; mkdev urandom 1 9; mkdev tty 5 0
mkdir dev/pts dev/shm
if mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts dev/pts 2>/dev/null; then
  ln -s pts/ptmx dev/ptmx
fi
mount -t tmpfs -o mode=1777,size=64m,nosuid,nodev shm dev/shm
ln -s /proc/self/fd dev/fd
ln -s /proc/self/fd/0 dev/stdin; ln -s /proc/self/fd/1 dev/stdout; ln -s /proc/self/fd/2 dev/stderr
"""

# A privileged container's: the node's devices (its disks too) and a writable /sys.
_SETUP_DEV_PRIVILEGED = r"""mount --rbind /sys sys
mount --rbind /dev dev
"""

_SETUP_PIVOT = r"""if [ -n "$H" ]; then printf '%s' "$H" > /proc/sys/kernel/hostname; fi
mkdir -p "$R$W"
mkdir .oldroot
pivot_root . .oldroot
cd /
rmdir "/.oldroot$R" 2>/dev/null || true
umount -l /.oldroot
rmdir /.oldroot
rm -rf /run/mount
cd "$W"
mode=standin
if [ -n "$A0" ]; then
  case $A0 in
    */*) if [ -f "$A0" ] && [ -x "$A0" ]; then mode=command; fi ;;
    *)
      set -f; IFS=:
      for d in $CPATH; do
        if [ -f "${d:-.}/$A0" ] && [ -x "${d:-.}/$A0" ]; then mode=command; break; fi
      done
      unset IFS; set +f ;;
  esac
fi
SLEEP=$(command -v sleep)
printf '%s\n' "$mode" >&0
"""


def _container_path(path: str) -> str:
    if not path.startswith("/"):
        raise ValueError(f"container path must be absolute: {path!r}")
    if ".." in path.split("/"):
        raise ValueError(f"container path must not contain '..': {path!r}")
    normal = posixpath.normpath(path)
    if normal == "/":
        raise ValueError("cannot mount a volume over the container's root")
    return normal


def container_env(spec: PodSpec, *, tty: bool = False) -> dict[str, str]:
    home = "/root" if not spec.run_as_user else "/"  # runc: a uid the image does not list
    env = {"PATH": DEFAULT_PATH, "HOSTNAME": spec.pod_hostname, "HOME": home}
    if tty:
        env["TERM"] = "xterm"
    env.update(dict(spec.env))
    return env


def identity_argv(spec: PodSpec) -> list[str]:
    """setpriv options giving a process the container's user, group and supplementary
    groups (runAsUser, runAsGroup, fsGroup + supplementalGroups), as runc sets them;
    none when the pod names no identity (root, as the image's default user)."""
    if spec.run_as_user is None and spec.run_as_group is None and not spec.groups:
        return []
    user = 0 if spec.run_as_user is None else spec.run_as_user
    group = 0 if spec.run_as_group is None else spec.run_as_group
    groups = ["--groups", ",".join(map(str, spec.groups))] if spec.groups else ["--clear-groups"]
    return ["--reuid", str(user), "--regid", str(group), *groups]


def capabilities_argv(spec: PodSpec) -> list[str]:
    """The argv prefix that gives a process the container's identity (see
    :func:`identity_argv`) and capabilities (all when privileged, as the runtime gives a
    privileged container; a process that is not root keeps none, as with runc)."""
    identity = identity_argv(spec)
    if spec.privileged:
        return ["setpriv", *identity, "--"] if identity else []
    bounding = "-all," + ",".join(f"+{cap}" for cap in DEFAULT_CAPS)
    return ["setpriv", *identity, "--bounding-set", bounding, "--inh-caps", "-all", "--"]


def _setup_script(spec: PodSpec) -> str:
    q = shlex.quote
    env = container_env(spec)
    assignments = " ".join(q(f"{k}={v}") for k, v in env.items())
    init = q(f"CFSIM_INIT={_INIT}") + " /bin/sh -c " + q('eval "$CFSIM_INIT"') + " cfsim-init"
    init = " ".join([*(q(a) for a in capabilities_argv(spec)), "env -i", assignments, init])
    argv = " ".join(q(a) for a in spec.argv)
    variables = {
        "R": f"{spec.node_dir}/cfsim-rootfs",
        "P": spec.node_dir,
        "SIZE": ROOT_SIZE,
        "H": "" if spec.host_network else spec.pod_hostname,  # "": the node's UTS namespace
        "W": _container_path(spec.working_dir) if spec.working_dir else "/",
        "A0": spec.argv[0] if spec.argv else "",
        "CPATH": env["PATH"],
    }
    parts = ["set -eu"]
    parts += [f"{k}={q(v)}" for k, v in variables.items()]
    parts.append(_SETUP_FUNCTIONS + _SETUP_ROOT)
    parts.append(_SETUP_DEV_PRIVILEGED if spec.privileged else _SETUP_DEV)
    # Shallow mount paths first so nested mount paths land inside their parents.
    for volume in sorted(spec.volumes, key=lambda v: _container_path(v.mount_path).count("/")):
        mode = "ro" if volume.read_only else "rw"
        parts.append(f"vol {q(volume.node_path)} {q(_container_path(volume.mount_path))} {mode}")
    for device in spec.devices:  # as runc makes a volumeDevice: a node with its major:minor
        parts.append(f"blkdev {q(_container_path(device.path))} {device.major} {device.minor}")
    parts.append(_SETUP_PIVOT)
    parts.append(
        f'if [ "$mode" = command ]; then\n  exec {init} {argv}\nfi\nexec {init} "$SLEEP" infinity\n'
    )
    return "\n".join(parts)


# --- processes -------------------------------------------------------------------------


def exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def _pidfd_exited(pidfd: int) -> bool:
    poller = select.poll()  # not select(): descriptors may be numbered above 1023
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(0))


async def _wait_pidfd(pidfd: int, timeout: float) -> bool:
    """Wait until the process of ``pidfd`` exited; False when ``timeout`` passed first."""
    if _pidfd_exited(pidfd):
        return True
    if timeout <= 0:
        return False
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    loop.add_reader(pidfd, set_done, done)
    try:
        await asyncio.wait_for(done, timeout)
        return True
    except asyncio.TimeoutError:
        return _pidfd_exited(pidfd)
    finally:
        loop.remove_reader(pidfd)


def set_done(future: asyncio.Future[None]) -> None:
    """A reader/writer callback that completes ``future`` once (the loop may call it again)."""
    if not future.done():
        future.set_result(None)


def _ns_id(pid: int, kind: str = "pid") -> tuple[int, int]:
    st = os.stat(f"/proc/{pid}/ns/{kind}")
    return (st.st_dev, st.st_ino)


def pids_in_namespace(pid_ns: tuple[int, int]) -> list[int]:
    """Host PIDs of every process in the PID namespace ``pid_ns`` (see RunningPod.pid_ns)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            if _ns_id(int(entry)) == pid_ns:
                found.append(int(entry))
    return found


def _belongs(pod: RunningPod, pid: int) -> bool:
    """Whether ``pid`` is a live process of ``pod`` (see :func:`pod_pids`)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        state, _ppid, _pgrp, session = stat[stat.rindex(")") + 2 :].split()[:4]
        if state in ("Z", "X") or _ns_id(pid) != pod.pid_ns:
            return False
        if not pod.spec.host_pid:
            return True
        return int(session) in pod.sessions or _ns_id(pid, "mnt") == pod.mnt_ns
    except (OSError, ValueError):
        return False  # gone meanwhile


def pod_pids(pod: RunningPod) -> list[int]:
    """Host PIDs of the pod's live processes.

    A pod with its own PID namespace: every process in it. A hostPID pod: processes of
    the node's PID namespace in the pod's mount namespace or in one of its sessions
    (:attr:`RunningPod.sessions`), where a real runtime would use the container's cgroup.
    """
    return [
        int(entry) for entry in os.listdir("/proc") if entry.isdigit() and _belongs(pod, int(entry))
    ]


async def _kill_the_rest(pod: RunningPod, timeout: float) -> None:
    """SIGKILL the pod's processes left once its PID 1 is gone, until none is left.

    The kernel does this itself for a pod's own PID namespace (so this only waits); for
    a hostPID pod it is the runtime's kill of the container's cgroup.
    """
    deadline = time.monotonic() + timeout
    while left := pod_pids(pod):
        if time.monotonic() > deadline:
            seen = ", ".join(f"{pid} ({_comm(pid)})" for pid in left)
            raise RuntimeFailure(f"pod {pod.spec.name}: processes survive SIGKILL: {seen}")
        fds = []
        for pid in left:
            try:
                fd = os.pidfd_open(pid)
            except OSError:
                continue  # gone meanwhile
            if not _belongs(pod, pid):  # no longer the pod's, now that the pidfd holds it
                os.close(fd)
                continue
            fds.append(fd)
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(fd, signal.SIGKILL)
        try:
            for fd in fds:
                await _wait_pidfd(fd, max(0.0, deadline - time.monotonic()))
        finally:
            for fd in fds:
                os.close(fd)


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "gone"


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


# --- start and stop --------------------------------------------------------------------


async def start_pod(node: NodeHost, spec: PodSpec, *, timeout: float = 30.0) -> RunningPod:
    """Start the pod's namespaces and its container inside ``node``; return once it runs.

    Raises RuntimeFailure (with the setup's error output) when the pod cannot be made,
    e.g. a volume's node path does not exist.
    """
    pod_ip = spec.pod_ip or node.address
    node_dir = _node_path(node, spec.node_dir)
    try:
        node_dir.mkdir(parents=True, exist_ok=True)
        if spec.host_network:
            hosts = host_network_hosts_file(_node_path(node, "/etc/hosts").read_text())
        else:
            hosts = hosts_file(spec, pod_ip, spec.peers)
        _write_in_place(node_dir / "etc-hosts", hosts)
        _write_in_place(node_dir / "etc-hostname", spec.pod_hostname + "\n")
        _write_in_place(node_dir / "resolv.conf", resolv_conf(spec))
    except OSError as exc:
        raise RuntimeFailure(
            f"cannot write the pod's files on node {node.name}: {exc}", reason=FAILED_SANDBOX
        ) from exc

    state = node.state_dir / "pods" / spec.key
    state.mkdir(parents=True, exist_ok=True)
    log_path = state / f"{spec.container}.log"
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
    ours, theirs = socket.socketpair()
    argv = [
        *cgroups.join_argv(spec.cgroup),  # the container's cgroup, before anything runs
        *enter(node.pid),  # nsenter forks: the rest runs in the node's PID namespace
        *("setpriv", "--pdeathsig", "KILL", "--"),  # dies with nsenter
        *("unshare", "--mount"),
        *(() if spec.host_network else ("--uts",)),
        *(() if spec.host_pid else ("--pid",)),
        *("--fork", "--kill-child", "--propagation", "private", "--"),
        *("/bin/sh", "-c", _setup_script(spec), "cfsim-setup"),
    ]
    env = {"PATH": DEFAULT_PATH, ENV_MARK: spec.uid}
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=theirs.fileno(),
            stdout=log_fd,
            stderr=log_fd,
            env=env,
            start_new_session=True,  # the terminal's Ctrl-C reaches the sim, not its pods
        )
    except OSError as exc:
        ours.close()
        raise RuntimeFailure(f"cannot start pod {spec.name}: {exc}", reason=FAILED_SANDBOX) from exc
    finally:
        theirs.close()
        os.close(log_fd)

    async def fail(message: str, *, sandbox: bool = False) -> RuntimeFailure:
        """Kill what was started; the error, with the set-up's output. ``sandbox``: the
        pod's namespaces could not be made, else its container could not be started."""
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(process.wait(), 10)
        _remove_node_files(node, spec)
        detail = _tail(log_path)
        text = f"{message}: {detail}" if detail else message
        if sandbox:
            return RuntimeFailure(text, reason=FAILED_SANDBOX)
        return RuntimeFailure(text, reason=FAILED_CONTAINER, waiting=RUN_CONTAINER_ERROR)

    reader, writer = await asyncio.open_unix_connection(sock=ours)
    try:
        try:
            mode, started = await asyncio.wait_for(_two_lines(reader), timeout)
        except asyncio.TimeoutError:
            raise await fail(
                f"pod {spec.namespace}/{spec.name} was not set up within {timeout:g}s"
            ) from None
        if mode not in ("command", "standin") or started != "started":
            raise await fail(f"cannot set up pod {spec.namespace}/{spec.name} on {node.name}")
        # PID 1 (the init, with its signal traps set) now waits for "go": its PID is stable.
        # nsenter -> unshare -> PID 1
        unshares = child_pids(process.pid)
        children = child_pids(unshares[0]) if len(unshares) == 1 else []
        if len(children) != 1:
            raise await fail(
                f"cannot find PID 1 of pod {spec.name} (nsenter {process.pid} has children "
                f"{unshares}, and they {children})",
                sandbox=True,
            )
        pid = children[0]
        pidfd = os.pidfd_open(pid)
        parent_pidfd = os.pidfd_open(process.pid)
        pid_ns = _ns_id(pid)
        # Never take the node's (or the host's) PID namespace for the pod's own: stopping
        # the pod kills what is in it.
        expected = pid_ns == _ns_id(node.pid) if spec.host_pid else pid_ns != _ns_id(unshares[0])
        if not expected:
            for fd in (pidfd, parent_pidfd):
                os.close(fd)
            raise await fail(
                f"pod {spec.name}: PID 1 is not in the expected PID namespace", sandbox=True
            )
        mnt_ns = _ns_id(pid, "mnt")
        ns_fds = tuple(
            os.open(f"/proc/{pid}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC) for kind in ("pid", "mnt")
        )
        writer.write(b"go\n")
        await writer.drain()
    except OSError as exc:  # the pod's processes went away while it was looked up
        raise await fail(f"pod {spec.name} ended while it was started: {exc}") from exc
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    standin = mode == "standin"
    note = None
    if standin:
        stand_in = " ".join(STANDIN)
        if spec.argv:
            note = (
                f'container {spec.container}: command "{spec.argv[0]}" is not on node '
                f'{node.name}; "{stand_in}" runs in its place'
            )
        else:
            note = (
                f"container {spec.container}: the image's entrypoint is not available on "
                f'node {node.name}; "{stand_in}" runs in its place'
            )
    return RunningPod(
        node=node,
        spec=spec,
        pid=pid,
        log_path=log_path,
        note=note,
        standin=standin,
        process=process,
        pid_ns=pid_ns,
        mnt_ns=mnt_ns,
        sessions={process.pid},  # start_new_session: the session of everything it starts
        peers=spec.peers,
        _pidfd=pidfd,
        _parent_pidfd=parent_pidfd,
        _ns_fds=ns_fds,
    )


async def _two_lines(reader: asyncio.StreamReader) -> tuple[str, str]:
    first = (await reader.readline()).decode().strip()
    second = (await reader.readline()).decode().strip()
    return first, second


def _remove_node_files(node: NodeHost, spec: PodSpec) -> None:
    directory = _node_path(node, spec.node_dir)
    for name in ("etc-hosts", "etc-hostname", "resolv.conf"):
        with contextlib.suppress(OSError):
            (directory / name).unlink()
    for empty in (directory / "cfsim-rootfs", directory):
        with contextlib.suppress(OSError):
            empty.rmdir()


async def stop_pod(pod: RunningPod, grace_seconds: float, *, kill_timeout: float = 10.0) -> None:
    """Stop the pod as a kubelet does: SIGTERM, SIGKILL after the grace period.

    Returns once no process of the pod is left (:func:`pod_pids`). Idempotent.
    """
    if pod.stopped:
        return
    if pod._pidfd >= 0:
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(pod._pidfd, signal.SIGTERM)
        if not await _wait_pidfd(pod._pidfd, max(grace_seconds, 0.0)):
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(pod._pidfd, signal.SIGKILL)
                pod.killed = True
            if not await _wait_pidfd(pod._pidfd, kill_timeout):
                raise RuntimeFailure(f"pod {pod.spec.name}: PID {pod.pid} survived SIGKILL")
    await _kill_the_rest(pod, kill_timeout)
    if pod._parent_pidfd >= 0 and not await _wait_pidfd(pod._parent_pidfd, kill_timeout):
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(pod._parent_pidfd, signal.SIGKILL)
        await _wait_pidfd(pod._parent_pidfd, kill_timeout)
    if pod.process is not None:  # reap the unshare (when started from this event loop)
        with contextlib.suppress(RuntimeError, asyncio.TimeoutError):
            await asyncio.wait_for(pod.process.wait(), kill_timeout)
    for fd in (pod._pidfd, pod._parent_pidfd, *pod._ns_fds):
        if fd >= 0:
            os.close(fd)
    pod._pidfd = pod._parent_pidfd = -1
    pod._ns_fds = ()
    pod.stopped = True
    _remove_node_files(pod.node, pod.spec)


def read_logs(pod: RunningPod) -> str:
    """The container's stdout and stderr so far."""
    try:
        return pod.log_path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


__all__ = [
    "ENV_MARK",
    "KUBELET_PODS",
    "DeviceNode",
    "HostEntry",
    "PodSpec",
    "RunningPod",
    "VolumeBind",
    "container_env",
    "exit_code",
    "hosts_file",
    "pids_in_namespace",
    "pod_pids",
    "read_logs",
    "resolv_conf",
    "set_done",
    "start_pod",
    "stop_pod",
    "update_hosts",
]
