"""The kernel-backed NodeRuntime: nodes with sshd, loop-device disks, pods, exec.

It glues host.py (node namespaces and sshd), devices.py (volumes, SCSI identity,
kubelet mounts), pods.py (pod namespaces) and pod_exec.py (exec) behind the interface
the controllers use, and applies the node-level faults at the moment they act.

Pods share their node's network namespace, so a pod's IP is its node's address
(like hostNetwork); names resolve through each pod's /etc/hosts, kept current as the
pods of a headless service come and go. ``hostPID``, ``hostNetwork``,
``securityContext.privileged`` (of the first container, the one the pod runs),
runAsUser/runAsGroup/fsGroup (the kubelet's SetVolumeOwnership at SetUp, see
:mod:`ownership`) and ``hostPath`` volumes act as a kubelet and container runtime make
them act; a
HostExec pod (privileged, hostPID, the node's / at /rootfs) can thus enter the node
with ``nsenter --mount=/rootfs/proc/1/ns/mnt``.

Besides disks (xfs/ext4 on loop devices looking like SCSI disks) it serves two more
kinds of volume: network file shares (:mod:`shares`: a storage server on the node
bridge, sshfs-mounted on nodes, ReadWriteMany) and raw Block volumes (:mod:`block`:
mapped, not mounted; a device node in the container). Containers are reported as
containerd's (``containerd://<64 hex>``) and their processes live in a cgroup named by
that ID (:mod:`cgroups`), as a tool without a shell in the image finds them on a node.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import random
import re
import secrets
import shutil
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from conformance.sim.api.defaulting.core import pod_qos_class
from conformance.sim.api.quantity import parse_quantity
from conformance.sim.faults import ActiveFaults
from conformance.sim.kernel import (
    block,
    cgroups,
    cleanup,
    devices,
    host,
    hostpath,
    ownership,
    pod_exec,
    pods,
    resize,
    shares,
    stacks,
    throttle,
    units,
)
from conformance.sim.kernel.model import NodeCommandError, NodeCommandTimeout, NodeHost, enter, run
from conformance.sim.runtimes.base import (
    EXPAND_IN_USE,
    FAILED_ATTACH,
    FAILED_KILL,
    FAILED_MAP,
    FAILED_MOUNT,
    FAILED_SANDBOX,
    FAILED_UNMOUNT,
    RUN_CONTAINER_ERROR,
    ExecSession,
    PodStarted,
    PodVolume,
    RuntimeFailure,
    is_share,
    volume_mode,
)
from conformance.sim.stackspec import StackParameters

log = logging.getLogger(__name__)

Obj = dict[str, Any]
T = TypeVar("T")
NODE_THREADS = 32  # blocking node operations in flight (each bounded by its own timeout)
DELETE_WAIT = 5.0  # how long one delete_volume waits for a volume still in use
CSI_PLUGIN_DIR = "kubernetes.io~csi"
CLIENT_KEY = "id_ed25519"
KNOWN_HOSTS = "known_hosts"
SSH_USER = "root"


@dataclass
class _Published:
    """A claim's volume as the kubelet mounts it for one pod (``path``: the pod's)."""

    node: str
    pv: str
    path: str  # the kubelet's path of the pod's volume (a Block volume: its device map path)
    csi: bool
    driver: str
    volume_handle: str
    mounted: bool = False  # SetUp (a Block volume: its map) succeeded; stop_pod tidies up
    kind: str = "disk"  # "disk" (staged, mounted), "share" (mounted) or "block" (mapped)


def _pv_source(pv: Obj) -> tuple[str, str, str, dict[str, str]]:
    """(plugin dir, driver, volume handle, attributes) of a PV."""
    spec = pv.get("spec") or {}
    if "csi" in spec:
        csi = spec["csi"]
        return (
            CSI_PLUGIN_DIR,
            str(csi.get("driver", "")),
            str(csi.get("volumeHandle", "")),
            {str(k): str(v) for k, v in (csi.get("volumeAttributes") or {}).items()},
        )
    if "flexVolume" in spec:
        flex = spec["flexVolume"]
        options = {str(k): str(v) for k, v in (flex.get("options") or {}).items()}
        driver = str(flex.get("driver", "sim/flex"))
        plugin_dir = options.get("pluginDir") or driver.replace("/", "~")
        return plugin_dir, driver, pv["metadata"]["name"], options
    # a static PV of another source type: treat it as a local disk, flex-style
    return "kubernetes.io~local-volume", "local", pv["metadata"]["name"], {}


PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
_NOT_FILE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def backing_name(pv: Obj) -> str:
    """What names a PV's disk in the volumes directory. A provisioned PV's is its own
    name. A static PV's is the volume it names, as a pre-created SAN LUN or cloud disk is
    found by its id, not by the PV object: ``static-<CSI volumeHandle>``, or
    ``static-<flexVolume options.volumeID>`` (characters other than letters, digits,
    ``.``, ``_`` and ``-`` become ``-``, with a short digest against collisions); a
    flexVolume without volumeID, or another source, is named by the PV."""
    name = str(pv["metadata"]["name"])
    if (pv["metadata"].get("annotations") or {}).get(PROVISIONED_BY):
        return name
    spec = pv.get("spec") or {}
    handle = str((spec.get("csi") or {}).get("volumeHandle") or "")
    handle = handle or str(
        ((spec.get("flexVolume") or {}).get("options") or {}).get("volumeID") or ""
    )
    if not handle:
        return name
    digest = hashlib.sha256(handle.encode()).hexdigest()[:8]
    return f"static-{_NOT_FILE_NAME.sub('-', handle)[:150]}-{digest}"


def _fs_type(pv: Obj, storage_class: Obj | None = None) -> str:
    spec = pv.get("spec") or {}
    for source in ("csi", "flexVolume"):
        if spec.get(source, {}).get("fsType"):
            return str(spec[source]["fsType"])
    params = (storage_class or {}).get("parameters") or {}
    return str(params.get("fsType") or params.get("csi.storage.k8s.io/fstype") or "ext4")


def container_identity(spec: Obj, container: Obj) -> dict[str, Any]:
    """The container's runAsUser/runAsGroup (its securityContext over the pod's) and
    supplementary groups (fsGroup, then supplementalGroups), as the kubelet hands them to
    the runtime."""
    pod_context = spec.get("securityContext") or {}
    own = container.get("securityContext") or {}

    def pick(key: str) -> int | None:
        value = own.get(key, pod_context.get(key))
        return None if value is None else int(value)

    groups = [pod_context.get("fsGroup"), *(pod_context.get("supplementalGroups") or [])]
    return {
        "run_as_user": pick("runAsUser"),
        "run_as_group": pick("runAsGroup"),
        "groups": tuple(dict.fromkeys(int(g) for g in groups if g is not None)),
    }


def _ssh_sessions(node: NodeHost, procs: dict[int, host.ProcInfo]) -> list[int]:
    """The node's per-connection sshd processes ("sshd: root@notty"), not its listener."""
    return [
        pid
        for pid in host.node_processes(node, procs)
        if procs[pid].cmdline[:1]
        and procs[pid].cmdline[0].startswith("sshd:")
        and "@" in procs[pid].command
    ]


def _host_paths(
    spec: Obj, container: Obj
) -> tuple[list[hostpath.HostPathVolume], list[pods.VolumeBind]]:
    """The pod's hostPath volumes, and where ``container`` mounts them."""
    volumes = {
        str(v.get("name", "")): hostpath.HostPathVolume(
            str(v.get("name", "")),
            str(v["hostPath"].get("path") or ""),
            str(v["hostPath"].get("type") or ""),
        )
        for v in spec.get("volumes") or []
        if isinstance(v.get("hostPath"), dict)
    }
    binds = [
        pods.VolumeBind(
            hostpath.validate(volumes[mount["name"]]),
            str(mount.get("mountPath", "")),
            bool(mount.get("readOnly")),
        )
        for mount in container.get("volumeMounts") or []
        if mount.get("name") in volumes
    ]
    return list(volumes.values()), binds


def _mount_error(exc: BaseException) -> str:
    """A failed mount as k8s.io/mount-utils reports it (what in-tree plugins and most CSI
    drivers put in their errors); other failures as they are."""
    if isinstance(exc, NodeCommandError) and not isinstance(exc, NodeCommandTimeout):
        argv = exc.argv[exc.argv.index("--") + 1 :] if "--" in exc.argv else exc.argv
        if argv[:1] == ["mount"]:
            return (
                f"mount failed: exit status {exc.code}\n"
                "Mounting command: mount\n"
                f"Mounting arguments: {' '.join(argv[1:])}\n"
                f"Output: {exc.output}"
            )
    return str(exc)


def _size(pv: Obj) -> int:
    storage = ((pv.get("spec") or {}).get("capacity") or {}).get("storage") or "1Gi"
    return parse_quantity(str(storage))


def _remove_pod_dir(node: NodeHost, uid: str) -> None:
    """The kubelet's clean-up of an orphaned pod directory: once its volumes are unmounted,
    the empty directories under ``<root>/pods/<uid>`` go (a mount point stays: busy)."""
    directory = f"{pods.KUBELET_PODS}/{uid}"
    script = 'if [ -d "$1" ]; then find "$1" -xdev -depth -type d -empty -delete; fi 2>/dev/null'
    run([*enter(node.pid, net=False), "sh", "-c", f"{script}; :", "sh", directory], check=False)


class _CorruptingSession:
    """Fault corrupt-writes: an exec session after which its writes are corrupted at rest.

    Files can only be seen written once the session's process ended, so when it ends
    (``wait``, or ``kill`` if the client went away first) each regular file on the pod's
    volumes that the session created or changed gets one bit flipped, with its size and
    timestamps kept: a disk that silently corrupts data, noticed only by reading it back.
    The exec handler calls ``wait`` before it reports the exit status, so the client's
    next command already reads the corrupted data.
    """

    def __init__(
        self,
        inner: ExecSession,
        volumes: list[tuple[NodeHost, str, dict[str, devices.FileStamp]]],
    ) -> None:
        """``volumes``: (node, kubelet path, the files there before the session) per volume."""
        self._inner = inner
        self._volumes = volumes
        self._corrupted = False

    async def read(self) -> tuple[int, bytes] | None:
        return await self._inner.read()

    async def write_stdin(self, data: bytes) -> None:
        await self._inner.write_stdin(data)

    async def close_stdin(self) -> None:
        await self._inner.close_stdin()

    async def resize(self, width: int, height: int) -> None:
        await self._inner.resize(width, height)

    async def wait(self) -> int:
        code = await self._inner.wait()
        await self._corrupt()
        return code

    async def kill(self) -> None:
        await self._inner.kill()
        await self._corrupt()

    async def _corrupt(self) -> None:
        if self._corrupted:
            return
        self._corrupted = True
        for node, path, before in self._volumes:
            try:
                changed = await asyncio.to_thread(devices.corrupt_changed, node, path, before)
            except OSError as exc:  # the pod's volume went away meanwhile
                log.info("corrupt-writes: %s on %s: %s", path, node.name, exc)
                continue
            if changed:
                log.info("corrupt-writes: flipped a bit in %s under %s", changed, path)


class KernelRuntime:
    # containerd's shape: nodeInfo and the containerIDs carry its name, and containers'
    # cgroups are named as its CRI plugin names them (see cgroups.py)
    runtime_version = "containerd://1.7.24-cfsim"

    def __init__(self, state_dir: Path, faults: ActiveFaults, *, seed: int = 0) -> None:
        self.state_dir = state_dir.resolve()
        self.faults = faults
        self.rng = random.Random(seed)
        self.network: host.NodeNetwork | None = None
        self.indexes: dict[str, int] = {}
        self.nodes: dict[str, NodeHost] = {}
        self._node_starts: dict[str, asyncio.Task[NodeHost]] = {}
        self.volumes: dict[str, devices.Volume] = {}
        self.attached: dict[tuple[str, str], devices.Attachment] = {}
        self.ever_attached: set[str] = set()
        self.pods: dict[str, pods.RunningPod] = {}
        self.published: dict[str, list[_Published]] = {}  # pod uid -> its mounts
        self.grow_pending: set[str] = set()  # PVs grown whose filesystem has not grown yet
        self._public_key = ""
        self._ssh_drop: asyncio.Task[None] | None = None
        # Blocking node operations run here, not in the loop's default executor: each is
        # bounded (model.run's timeouts), and a few stuck ones must not starve the rest.
        self._pool = ThreadPoolExecutor(NODE_THREADS, thread_name_prefix="cfsim-node")
        self._share_server_start: asyncio.Task[shares.ShareServer] | None = None
        self.cgroup_root = cgroups.cgroup2_root()  # None: containers get no cgroup
        self._units: dict[str, units.Unit] = {}  # what the nodes' systemctl reaches
        self._unit_servers: dict[str, asyncio.AbstractServer] = {}

    async def _blocking(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking node operation in the runtime's own threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(function, *args, **kwargs))

    # --- paths handed to clients --------------------------------------------------

    @property
    def client_key(self) -> Path:
        return self.state_dir / CLIENT_KEY

    @property
    def known_hosts(self) -> Path:
        return self.state_dir / KNOWN_HOSTS

    @property
    def volumes_dir(self) -> Path:
        return self.state_dir / "volumes"

    def ssh_settings(self) -> dict[str, Any]:
        """The inventory's nodes.ssh section for this simulator."""
        return {
            "user": SSH_USER,
            "key_file": str(self.client_key),
            "known_hosts": str(self.known_hosts),
            "host_key_policy": "strict",
        }

    # --- nodes --------------------------------------------------------------------

    async def prepare(self, names: list[str]) -> str:
        """Claim a subnet and a client key before the Node objects are registered."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        cleanup.mark_state_dir(self.state_dir)
        self.volumes_dir.mkdir(exist_ok=True)
        self.indexes = {name: index for index, name in enumerate(names, start=1)}
        self.network = await asyncio.to_thread(host.NodeNetwork)
        _, self._public_key = await asyncio.to_thread(host.generate_client_key, self.client_key)
        self.known_hosts.write_text("")
        self._ssh_drop = asyncio.create_task(self._drop_ssh_sessions())
        return self.network.node_subnet

    def serve_units(self, served: dict[str, units.Unit]) -> None:
        """The units each node's ``systemctl`` reaches (the kubelet); set before the
        nodes come up."""
        self._units = dict(served)

    async def add_node(self, name: str, *, address: str, pod_cidr: str) -> None:
        node = await self._node(name)
        if self._units and name not in self._unit_servers:
            try:
                self._unit_servers[name] = await units.serve(node, self._units)
            except OSError as exc:  # the node works without: the restart command fails
                log.warning("node %s: no systemctl: %s", name, exc)

    async def _node(self, name: str) -> NodeHost:
        if name in self.nodes:
            return self.nodes[name]
        task = self._node_starts.get(name)
        if task is None:
            if self.network is None:
                raise RuntimeFailure("the node network is not prepared")
            index = self.indexes.get(name) or len(self.indexes) + 1
            self.indexes[name] = index
            task = asyncio.create_task(
                host.start_node(
                    self.network,
                    name,
                    index,
                    self.state_dir / "nodes" / name,
                    self._public_key,
                )
            )
            self._node_starts[name] = task
        try:
            node = await task
        except (OSError, RuntimeError, NodeCommandError) as exc:
            # the next call starts it again (a node that failed once is not lost for good)
            if self._node_starts.get(name) is task:
                del self._node_starts[name]
            log.warning("node %s did not start: %s", name, exc)
            raise RuntimeFailure(
                f"node {name} did not start: {exc}", reason=FAILED_SANDBOX
            ) from exc
        self.nodes[name] = node
        host.write_known_hosts(self.known_hosts, self.nodes.values())
        return node

    # --- volumes ------------------------------------------------------------------

    async def provision(self, pv: Obj, storage_class: Obj) -> None:
        name = pv["metadata"]["name"]
        if is_share(pv):  # CreateVolume of a share: its directory, and where it is served
            server = await self._share_server()
            share = pv["spec"]["csi"]["volumeAttributes"]["share"]
            if share != shares.export_path(name):
                raise RuntimeFailure(f"share {share} is not served here")
            try:
                await self._blocking(shares.create_export, server, name)
            except (NodeCommandError, OSError) as exc:
                log.warning("share %s: %s", name, exc)
                raise RuntimeFailure(str(exc)) from exc
            pv["spec"]["csi"]["volumeAttributes"]["server"] = server.address
            return
        if name in self.volumes:
            return
        try:
            if volume_mode(pv) == "Block":  # raw: nothing formats a Block volume
                self.volumes[name] = await self._blocking(
                    block.create_raw_volume, self.volumes_dir, name, _size(pv)
                )
                return
            self.volumes[name] = await self._blocking(
                devices.create_volume,
                self.volumes_dir,
                name,
                _size(pv),
                _fs_type(pv, storage_class),
                wrong_fstype=self.faults.on("wrong-fstype"),
            )
        except (NodeCommandError, devices.DeviceError, OSError) as exc:
            log.warning("volume %s: %s", name, exc)
            raise RuntimeFailure(str(exc)) from exc

    async def _volume(self, pv: Obj) -> devices.Volume:
        """The disk behind a PV. A static PV's (see :func:`backing_name`) is the
        administrator's pre-created disk: made, formatted with the PV's fsType, on the
        first attach of a PV naming it, and found again by every PV naming it later."""
        name = pv["metadata"]["name"]
        key = backing_name(pv)
        volume = self.volumes.get(name)
        if volume is None:
            volume = await self._blocking(devices.load_volume, self.volumes_dir, key)
        if volume is None and volume_mode(pv) == "Block":  # a static raw disk
            volume = await self._blocking(block.create_raw_volume, self.volumes_dir, key, _size(pv))
        if volume is None:  # a static PV: the administrator's disk, made on first attach
            volume = await self._blocking(
                devices.create_volume, self.volumes_dir, key, _size(pv), _fs_type(pv)
            )
        self.volumes[name] = volume
        return volume

    async def _share_server(self) -> shares.ShareServer:
        """The storage server of this simulator's shares, started on first use."""
        if self._share_server_start is None or (
            self._share_server_start.done()
            and (self._share_server_start.cancelled() or self._share_server_start.exception())
        ):
            if self.network is None:
                raise RuntimeFailure("the node network is not prepared")
            self._share_server_start = asyncio.create_task(
                self._blocking(shares.start_server, self.network, self.state_dir / "shares")
            )
        try:
            return await asyncio.shield(self._share_server_start)
        except (OSError, RuntimeError) as exc:
            raise RuntimeFailure(f"the share server did not start: {exc}") from exc

    async def delete_volume(self, pv: Obj) -> None:
        name = pv["metadata"]["name"]
        if is_share(pv):
            server = await self._share_server()
            try:
                await self._blocking(shares.delete_export, server, name)
            except (NodeCommandError, OSError) as exc:
                log.warning("share %s: %s", name, exc)
                raise RuntimeFailure(str(exc)) from exc
            return
        try:
            volume = self.volumes.get(name) or await self._blocking(
                devices.load_volume, self.volumes_dir, name
            )
            if volume is not None:  # still in use: fail soon, the provisioner retries
                await self._blocking(devices.delete_volume, volume, timeout=DELETE_WAIT)
        except (NodeCommandError, devices.DeviceError, OSError) as exc:
            log.warning("volume %s: %s", name, exc)
            raise RuntimeFailure(str(exc)) from exc
        self.volumes.pop(name, None)

    async def attach(self, node: str, pv: Obj) -> None:
        try:
            await self._attach(node, pv)
        except (NodeCommandError, devices.DeviceError, OSError) as exc:
            log.warning("node %s: attach of %s failed: %s", node, pv["metadata"]["name"], exc)
            raise RuntimeFailure(str(exc), reason=FAILED_ATTACH) from exc

    async def _attach(self, node: str, pv: Obj) -> None:
        name = pv["metadata"]["name"]
        if (node, name) in self.attached or is_share(pv):  # a share is mounted, not attached
            return
        host_node = await self._node(node)
        volume = await self._volume(pv)
        if name in self.ever_attached and self.faults.on("data-loss-on-reattach"):
            if volume_mode(pv) == "Block":
                await self._blocking(block.zero, volume)
            else:
                volume = await self._blocking(devices.wipe, volume)
            self.volumes[name] = volume
        _, _, handle, attributes = _pv_source(pv)
        try:
            parameters = StackParameters.parse(attributes)
        except ValueError as exc:
            raise RuntimeFailure(
                f"AttachVolume.Attach failed for volume {name!r}: {exc}", reason=FAILED_ATTACH
            ) from exc
        attachment = await self._blocking(
            stacks.attach,
            host_node,
            volume,
            parameters,
            handle,
            wrong_serial=self.faults.on("wrong-serial"),
            path_down=self.faults.on("multipath-path-down"),
            no_scsi_device=self.faults.on("no-scsi-device"),
        )
        devices_used = _devices_of(volume, attachment)
        await self._blocking(throttle.clear, devices_used)
        if self.faults.on("slow-volume"):
            try:
                await self._blocking(throttle.throttle, devices_used)
            except throttle.ThrottleUnavailable as exc:
                raise RuntimeFailure(str(exc), reason=FAILED_ATTACH) from exc
        self.attached[(node, name)] = attachment
        self.ever_attached.add(name)

    async def detach(self, node: str, pv: Obj) -> None:
        name = pv["metadata"]["name"]
        attachment = self.attached.get((node, name))
        host_node = self.nodes.get(node)
        if attachment is not None and host_node is not None:
            try:
                volume = self.volumes.get(name)
                if volume is not None:
                    await self._blocking(throttle.clear, _devices_of(volume, attachment))
                await self._blocking(stacks.detach, host_node, attachment)
            except (devices.DeviceError, OSError) as exc:
                log.warning("node %s: detach of %s failed: %s", node, name, exc)
                raise RuntimeFailure(str(exc), reason="FailedDetach") from exc
        self.attached.pop((node, name), None)

    async def expand_volume(self, pv: Obj, size_bytes: int) -> None:
        """ControllerExpandVolume: grow the image and its loop, then show the new size on
        every node the volume is attached to (:mod:`kernel.resize`). A share grows by
        nothing (its server's filesystem is what it is, as an NFS export's quota-less
        directory). Fault expansion-stalls-on-node: the image grows but no node notices
        (no ``losetup -c``, no sysfs update), as nodes that never rescan the LUN."""
        name = pv["metadata"]["name"]
        if is_share(pv):
            return
        stalls = self.faults.on("expansion-stalls-on-node")
        try:
            volume = await self._volume(pv)
            volume = await self._blocking(resize.grow_image, volume, size_bytes, rescan=not stalls)
            self.volumes[name] = volume
            if volume_mode(pv) != "Block":
                self.grow_pending.add(name)
            elif self.faults.on("expansion-loses-data"):
                await self._blocking(block.zero, volume)
            for (node, pv_name), attachment in list(self.attached.items()):
                host_node = self.nodes.get(node)
                if pv_name == name and host_node is not None and not stalls:
                    await self._blocking(resize.show_size, host_node, attachment, volume.size_bytes)
        except (NodeCommandError, devices.DeviceError, OSError) as exc:
            log.warning("volume %s: expansion failed: %s", name, exc)
            raise RuntimeFailure(f"rpc error: code = Internal desc = {exc}") from exc

    async def expand_filesystem(self, node: str, pod: Obj, pv: Obj) -> None:
        """NodeExpandVolume for a pod's mounted volume: resize2fs (ext4) or xfs_growfs
        (xfs) in the node; a Block volume or a share needs nothing. Fault
        expansion-stalls-on-node: it answers success without growing anything, as a
        node plugin whose NodeExpandVolume is a no-op. Fault expansion-loses-data: the
        grown filesystem comes back empty."""
        name = pv["metadata"]["name"]
        if is_share(pv) or volume_mode(pv) == "Block":
            return
        if self.faults.on("expansion-stalls-on-node"):
            return
        uid = pod["metadata"]["uid"]
        published = next(
            (p for p in self.published.get(uid, []) if p.pv == name and p.mounted), None
        )
        attachment = self.attached.get((node, name))
        host_node = self.nodes.get(node)
        if published is None or attachment is None or host_node is None:
            raise RuntimeFailure(
                f'MountVolume.NodeExpandVolume failed for volume "{name}" : volume {name} '
                f"is not mounted for pod {pod['metadata']['name']} on node {node}",
                reason=FAILED_MOUNT,
            )
        volume = await self._volume(pv)
        try:
            await self._blocking(
                resize.grow_filesystem,
                host_node,
                fs_type=volume.fs_type,
                device=attachment.dev_path,
                mount_point=published.path,
            )
            if self.faults.on("expansion-loses-data"):
                await self._blocking(resize.empty_mount, host_node, published.path)
        except (NodeCommandError, devices.DeviceError, OSError) as exc:
            log.warning("node %s: NodeExpandVolume of %s failed: %s", node, name, exc)
            in_use = "Permission denied to resize" in str(exc)  # no CAP_SYS_RESOURCE
            code = "FailedPrecondition" if in_use else "Internal"
            raise RuntimeFailure(
                f'MountVolume.NodeExpandVolume failed for volume "{name}" : '
                f"rpc error: code = {code} desc = {_mount_error(exc)}",
                reason=EXPAND_IN_USE if in_use else FAILED_MOUNT,
            ) from exc
        self.grow_pending.discard(name)

    async def _grow_unmounted(
        self, node: NodeHost, volume: PodVolume, attachment: devices.Attachment
    ) -> None:
        """NodeExpandVolume at MountDevice, before the volume is mounted: e2fsck and
        resize2fs on the device (ext4; xfs grows only mounted, online). A failure
        (still mounted for another pod) leaves it for the next mount."""
        name = volume.pv_name
        fs_type = (await self._volume(volume.pv)).fs_type
        if fs_type != "ext4" or self.faults.on("expansion-stalls-on-node"):
            return
        try:
            if self.faults.on("expansion-loses-data"):  # formatted anew at the grown size
                self.volumes[name] = await self._blocking(
                    devices.wipe, await self._volume(volume.pv)
                )
            else:
                await self._blocking(resize.grow_unmounted, node, device=attachment.dev_path)
        except (NodeCommandError, devices.DeviceError, OSError) as exc:
            log.warning("node %s: offline NodeExpandVolume of %s failed: %s", node.name, name, exc)
            return
        self.grow_pending.discard(name)

    # --- pods ---------------------------------------------------------------------

    async def mount_volumes(self, node: str, pod: Obj, volumes: list[PodVolume]) -> None:
        """The volume manager's mounts, in the node: hostPath set-up, then each claim's
        device (CSI: staged once per node, MountDevice, then bound for the pod, SetUp;
        other plugins: mounted at the pod's volume directory, SetUp). A share needs no
        device: SetUp mounts it from the share server. A Block volume is mapped instead
        (MapVolume.SetUpDevice), its device node made by start_pod.

        Each mount (or map) is recorded, with its kind, before it is tried, so stop_pod
        undoes whatever a failed attempt left. Fault mount-fails: the device mount fails
        as a driver's whose NodeStageVolume (or mount) fails, and so does a share's
        mount; Block maps are not affected.
        """
        host_node = await self._node(node)
        m = pod["metadata"]
        spec = pod.get("spec") or {}
        container = (spec.get("containers") or [{}])[0]
        host_paths, _ = _host_paths(spec, container)
        await hostpath.set_up(host_node, host_paths)  # the volume manager's SetUp, first
        mounts = self.published.setdefault(m["uid"], [])
        for volume in volumes:
            if any(p.pv == volume.pv_name and p.mounted for p in mounts):
                continue
            plugin_dir, driver, handle, attributes = _pv_source(volume.pv)
            csi = plugin_dir == CSI_PLUGIN_DIR
            layout = devices.KubeletLayout(m["uid"], volume.pv_name, plugin_dir, driver, handle)
            if is_share(volume.pv):  # no attach, no staging: SetUp mounts it from its server
                published = self._record(mounts, node, volume, layout.publish_path, "share")
                await self._mount_share(host_node, volume, layout, attributes.get("share", ""))
                published.mounted = True
                continue
            attachment = self.attached.get((node, volume.pv_name))
            if attachment is None:
                raise RuntimeFailure(
                    f'MountVolume.WaitForAttach failed for volume "{volume.pv_name}" : '
                    f"volume {volume.pv_name} has no device on node {node}",
                    reason=FAILED_MOUNT,
                    volume=volume.name,
                )
            if volume.pv_name in self.grow_pending and not volume.block:
                await self._grow_unmounted(host_node, volume, attachment)
            if volume.block:  # mapped, not mounted: the container gets a device node
                block_layout = block.BlockLayout(m["uid"], volume.pv_name)
                path = block_layout.pod_device_path
                published = self._record(mounts, node, volume, path, "block")
                await self._map_block(host_node, volume, attachment, block_layout)
                published.mounted = True
                continue
            published = self._record(mounts, node, volume, layout.publish_path, "disk")
            if csi:
                await self._mount_step(
                    "MountDevice",
                    volume,
                    host_node,
                    functools.partial(
                        devices.stage,
                        host_node,
                        attachment,
                        driver=driver,
                        volume_handle=handle,
                        fs_type=None,
                    ),
                    fault_target=layout.staging_path,
                    attachment=attachment,
                )
            if self.faults.on("volume-on-node-root"):  # a node directory, not the volume
                set_up: Callable[[], object] = functools.partial(
                    stacks.publish_node_directory,
                    host_node,
                    pod_uid=m["uid"],
                    pv_name=volume.pv_name,
                    plugin_dir=plugin_dir,
                    driver=driver,
                    volume_handle=handle,
                )
            else:
                set_up = functools.partial(
                    devices.publish,
                    host_node,
                    attachment,
                    pod_uid=m["uid"],
                    pv_name=volume.pv_name,
                    plugin_dir=plugin_dir,
                    driver=driver,
                    volume_handle=handle,
                    fs_type=None,
                    read_only=volume.read_only,
                    node_name=node,
                )
            await self._mount_step(
                "SetUp",
                volume,
                host_node,
                set_up,
                fault_target=None if csi else layout.publish_path,
                attachment=attachment,
            )
            await self._fs_group(host_node, pod, volume, layout.publish_path, handle)
            published.mounted = True

    async def _fs_group(
        self, node: NodeHost, pod: Obj, volume: PodVolume, path: str, handle: str
    ) -> None:
        """SetUp's last step: the pod's fsGroup on the volume's files (kernel/ownership.py).
        Fault fsgroup-ignored: skipped, the volume stays root's."""
        fs_group, policy = ownership.pod_fs_group(pod)
        if fs_group is None or not ownership.applies(volume.pv, block=volume.block):
            return
        if self.faults.on("fsgroup-ignored"):
            return
        try:
            await self._blocking(
                ownership.set_volume_ownership,
                node,
                path,
                fs_group,
                policy,
                read_only=volume.read_only,
            )
        except (NodeCommandError, OSError) as exc:
            raise RuntimeFailure(
                f'MountVolume.SetUp failed for volume "{volume.pv_name}" : '
                f"applyFSGroup failed for vol {handle}: {_mount_error(exc)}",
                reason=FAILED_MOUNT,
                volume=volume.name,
            ) from exc

    @staticmethod
    def _record(
        mounts: list[_Published], node: str, volume: PodVolume, path: str, kind: str
    ) -> _Published:
        """The pod's record of a volume's mount (or map), made before it is tried and
        kept across attempts, so that stop_pod undoes whatever an attempt left."""
        published = next((p for p in mounts if p.pv == volume.pv_name), None)
        if published is None:
            plugin_dir, driver, handle, _ = _pv_source(volume.pv)
            csi = plugin_dir == CSI_PLUGIN_DIR
            published = _Published(node, volume.pv_name, path, csi, driver, handle, kind=kind)
            mounts.append(published)
        return published

    async def _mount_share(
        self, node: NodeHost, volume: PodVolume, layout: devices.KubeletLayout, share: str
    ) -> None:
        """SetUp of a share (a CSI NodePublish without staging, as csi-driver-nfs's): sshfs
        from the share server at the pod's CSI path. A failure is worded as the share's
        driver words it (``mount failed: sshfs ...``). Fault share-not-shared: a plain
        directory of the node instead; fault mount-fails: the mount fails."""
        server = await self._share_server()
        try:
            if self.faults.on("mount-fails"):
                raise shares.ShareError(
                    f"mount failed: sshfs {shares.source(server.address, share)} "
                    f"{layout.publish_path}: the simulated driver's mount fails "
                    "(fault mount-fails)"
                )
            await self._blocking(
                shares.publish,
                node,
                server,
                share=share,
                layout=layout,
                read_only=volume.read_only,
                local_only=self.faults.on("share-not-shared"),
            )
        except (shares.ShareError, NodeCommandError, OSError) as exc:
            log.warning("node %s: SetUp of share %s failed: %s", node.name, volume.pv_name, exc)
            raise RuntimeFailure(
                f'MountVolume.SetUp failed for volume "{volume.pv_name}" : {exc}',
                reason=FAILED_MOUNT,
                volume=volume.name,
            ) from exc

    async def _map_block(
        self,
        node: NodeHost,
        volume: PodVolume,
        attachment: devices.Attachment,
        layout: block.BlockLayout,
    ) -> None:
        """The kubelet's map of a Block volume for the pod (CSI NodeStage, NodePublish on
        a file, the global map path and the pod's volumeDevices link), as csi_block.go."""
        plugin_dir, driver, handle, _ = _pv_source(volume.pv)
        if plugin_dir != CSI_PLUGIN_DIR:
            raise RuntimeFailure(
                f'MapVolume.SetUpDevice failed for volume "{volume.pv_name}" : the '
                f"{plugin_dir} volume plugin does not support block volumes",
                reason=FAILED_MAP,
                volume=volume.name,
            )
        try:
            await self._blocking(
                block.map_device, node, attachment, layout, driver=driver, volume_handle=handle
            )
        except (NodeCommandError, devices.DeviceError, OSError) as exc:
            log.warning("node %s: map of volume %s failed: %s", node.name, volume.pv_name, exc)
            raise RuntimeFailure(
                f'MapVolume.SetUpDevice failed for volume "{volume.pv_name}" : '
                f"rpc error: code = Internal desc = {exc}",
                reason=FAILED_MAP,
                volume=volume.name,
            ) from exc

    async def _mount_step(
        self,
        step: str,
        volume: PodVolume,
        node: NodeHost,
        operation: Callable[[], object],
        *,
        fault_target: str | None,
        attachment: devices.Attachment,
    ) -> None:
        """Run one mount operation; a failure becomes the volume manager's FailedMount
        message (``MountVolume.<step> failed for volume "<pv>" : <error>``), with the
        error as a CSI driver (gRPC status) or mount-utils words it."""
        csi = volume.pv.get("spec", {}).get("csi") is not None
        fs_type = _fs_type(volume.pv)
        try:
            if fault_target is not None and self.faults.on("mount-fails"):
                raise NodeCommandError(
                    ["mount", "-t", fs_type, attachment.dev_path, fault_target],
                    32,
                    "",
                    f"mount: {fault_target}: cannot mount {attachment.dev_path}: "
                    "the simulated driver's mount fails (fault mount-fails)",
                )
            await self._blocking(operation)
        except (NodeCommandError, devices.DeviceError, OSError) as exc:
            error = _mount_error(exc)
            if csi:
                error = f"rpc error: code = Internal desc = {error}"
            log.warning("node %s: %s of volume %s failed: %s", node.name, step, volume.pv_name, exc)
            raise RuntimeFailure(
                f'MountVolume.{step} failed for volume "{volume.pv_name}" : {error}',
                reason=FAILED_MOUNT,
                volume=volume.name,
            ) from exc

    async def start_pod(self, node: str, pod: Obj, volumes: list[PodVolume]) -> PodStarted:
        """The sandbox and the container, with the volumes mount_volumes mounted (and the
        Block volumes it mapped, as device nodes), the container in its own cgroup."""
        host_node = await self._node(node)
        m = pod["metadata"]
        spec = pod.get("spec") or {}
        container = (spec.get("containers") or [{}])[0]
        _, binds = _host_paths(spec, container)
        block_devices: list[pods.DeviceNode] = []
        mounts = {p.pv: p for p in self.published.get(m["uid"], []) if p.mounted}
        for volume in volumes:
            published = mounts.get(volume.pv_name)
            if published is None:
                raise RuntimeFailure(
                    f'volume "{volume.name}" of pod {m["name"]} is not mounted on node {node}',
                    waiting=RUN_CONTAINER_ERROR,
                )
            if self.faults.on("missing-data-mount"):  # a Block volume: no device node either
                continue
            if published.kind == "block":
                attachment = self.attached.get((node, volume.pv_name))
                if attachment is None:
                    raise RuntimeFailure(
                        f'volume "{volume.name}" of pod {m["name"]} has no device on node {node}',
                        waiting=RUN_CONTAINER_ERROR,
                    )
                block_devices += [
                    pods.DeviceNode(device.path, attachment.major, attachment.minor)
                    for device in volume.devices
                    if device.container == container.get("name")
                ]
                continue
            for mount in volume.mounts:
                if mount.container != container.get("name"):
                    continue
                read_only = (
                    mount.read_only or volume.read_only or self.faults.on("readonly-data-mount")
                )
                binds.append(pods.VolumeBind(published.path, mount.path, read_only))
        try:  # what the runtime refuses to create, before anything is made
            pod_spec = self._pod_spec(host_node, pod, container, binds, block_devices, "")
        except ValueError as exc:
            raise RuntimeFailure(str(exc)) from exc
        container_id = secrets.token_hex(32)
        cgroup = await self._blocking(self._container_cgroup, host_node, pod, container_id)
        if cgroup:
            pod_spec = replace(pod_spec, cgroup=cgroup)
        try:
            running = await pods.start_pod(host_node, pod_spec)
        except (RuntimeFailure, OSError) as exc:
            if cgroup:  # nothing runs in it any more
                await self._blocking(cgroups.remove_pod, Path(cgroup))
            if isinstance(exc, RuntimeFailure):
                raise
            log.warning("node %s: pod %s: %s", node, m["name"], exc)
            message = f"cannot start pod {m['name']}: {exc}"
            raise RuntimeFailure(message, reason=FAILED_SANDBOX) from exc
        self.pods[m["uid"]] = running
        self._refresh_peers(m["namespace"], spec.get("subdomain") or "")
        return PodStarted(
            pod_ip=host_node.address,
            container_ids={pod_spec.container: f"containerd://{container_id}"},
            note=running.note,
        )

    def _container_cgroup(self, node: NodeHost, pod: Obj, container_id: str) -> str:
        """Make the container's cgroup, as the systemd cgroup driver names it ("": none)."""
        if self.cgroup_root is None:
            return ""
        node_dir = cgroups.node_dir(
            self.cgroup_root, host.netns_name(host.subnet_of(node), node.name)
        )
        qos = pod_qos_class(pod.get("spec") or {})
        path = cgroups.container_dir(node_dir, pod["metadata"]["uid"], qos, container_id)
        try:
            return str(cgroups.create(path))
        except OSError as exc:  # the container runs, unfindable by its ID (as said in the log)
            log.warning("no cgroup for container %s: %s", container_id, exc)
            return ""

    def _pod_spec(
        self,
        node: NodeHost,
        pod: Obj,
        container: Obj,
        binds: list[pods.VolumeBind],
        block_devices: list[pods.DeviceNode],
        cgroup: str,
    ) -> pods.PodSpec:
        m = pod["metadata"]
        spec = pod.get("spec") or {}
        dns = not self.faults.on("dns-missing")
        host_network = bool(spec.get("hostNetwork"))
        return pods.PodSpec(
            namespace=m["namespace"],
            name=m["name"],
            uid=m["uid"],
            container=container.get("name", "main"),
            argv=tuple([*(container.get("command") or []), *(container.get("args") or [])]),
            env=tuple(
                (e["name"], str(e.get("value", "")))
                for e in container.get("env") or []
                if "value" in e
            ),
            hostname=node.name if host_network else spec.get("hostname") or "",
            subdomain=(spec.get("subdomain") or "") if dns else "",
            pod_ip=node.address,
            peers=tuple(self._peers(m["namespace"], spec.get("subdomain") or "")) if dns else (),
            volumes=tuple(binds),
            working_dir=container.get("workingDir") or "",
            host_pid=bool(spec.get("hostPID")),
            host_network=host_network,
            privileged=bool((container.get("securityContext") or {}).get("privileged")),
            devices=tuple(block_devices),
            cgroup=cgroup,
            **container_identity(spec, container),
        )

    async def wait_pod(self, node: str, pod: Obj) -> int:
        running = self.pods.get(pod["metadata"]["uid"])
        if running is None or running.stopped:
            raise RuntimeFailure(f"pod {pod['metadata']['name']} is not running on {node}")
        return await running.wait()

    def _peers(self, namespace: str, subdomain: str) -> list[pods.HostEntry]:
        if not subdomain:
            return []
        return [
            pods.HostEntry(p.spec.pod_hostname, p.spec.pod_ip or p.node.address)
            for p in self.pods.values()
            if p.spec.namespace == namespace and p.spec.subdomain == subdomain and p.running
        ]

    def _refresh_peers(self, namespace: str, subdomain: str) -> None:
        if not subdomain or self.faults.on("dns-missing"):
            return
        peers = self._peers(namespace, subdomain)
        for running in self.pods.values():
            if running.spec.namespace == namespace and running.spec.subdomain == subdomain:
                with contextlib.suppress(OSError):
                    pods.update_hosts(running, peers)

    async def stop_pod(self, node: str, pod: Obj, grace_seconds: float) -> None:
        """Stop the pod, then unmount its volumes. A failure (a process that survives
        SIGKILL, an unmount that fails or hangs) raises RuntimeFailure and keeps what is
        left recorded, so the kubelet's next attempt carries on where this one stopped."""
        uid = pod["metadata"]["uid"]
        running = self.pods.get(uid)
        if running is not None:
            # forgotten only once stopped: a stop cut short (the kubelet's worker cancelled
            # when the simulator stops) leaves the pod for close() to stop, rather than its
            # namespaces held open with the volume mounted in them
            try:
                await pods.stop_pod(running, grace_seconds)
            except RuntimeFailure as exc:  # a process that survives SIGKILL
                log.warning("node %s: %s", node, exc)
                raise RuntimeFailure(f"error killing pod: {exc}", reason=FAILED_KILL) from exc
            self.pods.pop(uid, None)
            if running.spec.cgroup:  # empty now: the runtime removes the container's cgroup
                await self._blocking(cgroups.remove_pod, Path(running.spec.cgroup))
            self._refresh_peers(running.spec.namespace, running.spec.subdomain)
        stale = self.faults.on("stale-kubelet-mount")
        await self._unpublish(uid, stale=stale)
        host_node = self.nodes.get(node)
        if host_node is not None and not stale:
            try:  # a tidy-up only: what it leaves, a later stop (or sim clean) removes
                await self._blocking(_remove_pod_dir, host_node, uid)
            except NodeCommandError as exc:
                log.warning("node %s: pod directory of %s: %s", node, uid, exc)

    async def _unpublish(self, uid: str, *, stale: bool) -> None:
        mounts = self.published.get(uid, [])
        while mounts:
            mount = mounts[0]
            node = self.nodes.get(mount.node)
            if node is not None:
                try:
                    await self._undo(node, uid, mount, stale=stale)
                except (NodeCommandError, devices.DeviceError, OSError) as exc:
                    if mount.kind == "block":
                        step = "UnmapVolume.TearDownDevice"
                    else:
                        step = "UnmountVolume." + ("TearDown" if mount.mounted else "UnmountDevice")
                    log.warning("node %s: %s of %s failed: %s", node.name, step, mount.pv, exc)
                    raise RuntimeFailure(
                        f'{step} failed for volume "{mount.pv}" : {exc}',
                        reason=FAILED_UNMOUNT,
                    ) from exc
            mounts.pop(0)
        self.published.pop(uid, None)

    async def _undo(self, node: NodeHost, uid: str, mount: _Published, *, stale: bool) -> None:
        """Undo one volume's mount (or map) for a pod: TearDown, then UnmountDevice once no
        other pod of the node uses the volume (a share has no staging; a Block volume is
        unmapped, its staging going with the last map)."""
        if mount.kind == "block":
            if not stale:
                layout = block.BlockLayout(uid, mount.pv)
                last = not self._still_published(mount, uid)
                await self._blocking(block.unmap_device, node, layout, last=last)
                mount.mounted = False
            return
        await self._blocking(devices.unpublish, node, mount.path, stale=stale)
        mount.mounted = False
        staged = mount.kind == "disk" and mount.csi  # shares are mounted without staging
        if staged and not stale and not self._still_published(mount, uid):
            await self._blocking(
                devices.unstage,
                node,
                driver=mount.driver,
                volume_handle=mount.volume_handle,
            )

    def _still_published(self, mount: _Published, uid: str) -> bool:
        """Whether another pod on the node still has the volume mounted (or is mounting
        it): then its staging mount stays."""
        return any(
            other.node == mount.node and other.pv == mount.pv
            for other_uid, mounts in self.published.items()
            if other_uid != uid
            for other in mounts
        )

    async def exec(
        self,
        node: str,
        pod: Obj,
        container: str,
        command: list[str],
        *,
        stdin: bool,
        tty: bool,
    ) -> ExecSession:
        uid = pod["metadata"]["uid"]
        running = self.pods.get(uid)
        if running is None:
            raise RuntimeFailure(f"pod {pod['metadata']['name']} is not running on {node}")
        mounts = [m for m in self.published.get(uid, []) if m.node in self.nodes]
        if not (self.faults.on("corrupt-writes") and mounts):
            session: ExecSession = await pod_exec.exec_in_pod(
                running, command, stdin=stdin, tty=tty
            )
            return session

        def snapshot() -> list[tuple[NodeHost, str, dict[str, devices.FileStamp]]]:
            return [
                (self.nodes[m.node], m.path, devices.file_stamps(self.nodes[m.node], m.path))
                for m in mounts
            ]

        volumes = await asyncio.to_thread(snapshot)
        inner = await pod_exec.exec_in_pod(running, command, stdin=stdin, tty=tty)
        return _CorruptingSession(inner, volumes)

    async def logs(self, node: str, pod: Obj, container: str) -> str:
        running = self.pods.get(pod["metadata"]["uid"])
        return pods.read_logs(running) if running is not None else ""

    # --- faults -------------------------------------------------------------------

    async def _drop_ssh_sessions(self) -> None:
        """ssh-drop: kill a share of the nodes' SSH session processes mid-session."""
        judged: set[int] = set()
        while True:
            await asyncio.sleep(0.2)  # the fault's own sampling period, not synchronization
            rate = self.faults.value("ssh-drop")
            if not rate:
                continue
            procs = await asyncio.to_thread(host.scan_processes)
            for node in list(self.nodes.values()):
                for pid in _ssh_sessions(node, procs):
                    if pid in judged:
                        continue
                    judged.add(pid)
                    if self.rng.random() < rate:
                        with contextlib.suppress(ProcessLookupError, PermissionError):
                            os.kill(pid, signal.SIGKILL)

    # --- shutdown -----------------------------------------------------------------

    async def close(self) -> None:
        for server in self._unit_servers.values():
            server.close()
        self._unit_servers.clear()
        if self._ssh_drop is not None:
            self._ssh_drop.cancel()
        # All at once: a run killed by a CI timeout expects its simulator gone in seconds,
        # and one by one the stops add up on a loaded machine.
        running_pods = list(self.pods.values())
        outcomes = await asyncio.gather(
            *(pods.stop_pod(running, 0) for running in running_pods),
            return_exceptions=True,
        )
        for running, outcome in zip(running_pods, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                log.error("stopping pod %s: %r", running.spec.name, outcome)
        self.pods.clear()
        log.info("stopped %d pods", len(running_pods))
        for task in self._node_starts.values():
            if not task.done():
                task.cancel()
        stopped = await asyncio.gather(
            *(host.stop_node(node, grace=2) for node in self.nodes.values()),
            return_exceptions=True,
        )
        for node, outcome in zip(list(self.nodes.values()), stopped, strict=True):
            if isinstance(outcome, BaseException):
                log.error("stopping node %s: %s", node.name, outcome)
        if self.cgroup_root is not None:  # the nodes' processes are gone: their cgroups can go
            for node in self.nodes.values():
                node_dir = cgroups.node_dir(
                    self.cgroup_root, host.netns_name(host.subnet_of(node), node.name)
                )
                for failure in await asyncio.to_thread(cgroups.remove_tree, node_dir):
                    log.error("removing cgroup %s", failure)
        self.nodes.clear()
        await self._stop_share_server()  # after the nodes, whose mounts it served
        self.attached.clear()
        for volume in list(self.volumes.values()):
            try:
                await asyncio.to_thread(devices.delete_volume, volume)
            except Exception as exc:
                log.error("deleting volume %s: %s", volume.pv_name, exc)
        self.volumes.clear()
        for directory in (self.volumes_dir, self.state_dir / "shares"):
            for loop, backing in await asyncio.to_thread(devices.find_loops, directory):
                with contextlib.suppress(OSError):
                    devices.detach_loop(loop, backing)
        if self.network is not None:
            await asyncio.to_thread(self.network.close)
        self._pool.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(OSError):
            cleanup.unmark_state_dir(self.state_dir)
        shutil.rmtree(self.volumes_dir, ignore_errors=True)
        shutil.rmtree(self.state_dir / "nodes", ignore_errors=True)
        shutil.rmtree(self.state_dir / "shares", ignore_errors=True)

    async def _stop_share_server(self) -> None:
        task, self._share_server_start = self._share_server_start, None
        if task is None:
            return
        try:
            server = await task  # a start under way finishes (it runs in a thread)
        except (OSError, RuntimeError, asyncio.CancelledError):
            return  # it cleaned up after itself
        try:
            await asyncio.to_thread(shares.stop_server, server)
        except Exception as exc:
            log.error("stopping the share server: %s", exc)


def _devices_of(volume: devices.Volume, attachment: devices.Attachment) -> set[tuple[int, int]]:
    """The block devices a pod's I/O to the volume goes through (the volume's loop, and the
    device the node presents, e.g. a multipath map's)."""
    return {(volume.major, volume.minor), (attachment.major, attachment.minor)}
