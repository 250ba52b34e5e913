"""The kernel-backed NodeRuntime: nodes with sshd, loop-device disks, pods, exec.

It glues host.py (node namespaces and sshd), devices.py (volumes, SCSI identity,
kubelet mounts), pods.py (pod namespaces) and pod_exec.py (exec) behind the interface
the controllers use, and applies the node-level faults at the moment they act.

Pods share their node's network namespace, so a pod's IP is its node's address
(like hostNetwork); names resolve through each pod's /etc/hosts, kept current as the
pods of a headless service come and go. ``hostPID``, ``hostNetwork``,
``securityContext.privileged`` (of the first container, the one the pod runs) and
``hostPath`` volumes act as a kubelet and container runtime make them act; a
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
import logging
import os
import random
import secrets
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    pod_exec,
    pods,
    shares,
)
from conformance.sim.kernel.model import NodeCommandError, NodeHost, enter, run
from conformance.sim.runtimes.base import (
    ExecSession,
    PodStarted,
    PodVolume,
    RuntimeFailure,
    is_share,
    volume_mode,
)

log = logging.getLogger(__name__)

Obj = dict[str, Any]
CSI_PLUGIN_DIR = "kubernetes.io~csi"
CLIENT_KEY = "id_ed25519"
KNOWN_HOSTS = "known_hosts"
SSH_USER = "root"


@dataclass
class _Published:
    node: str
    pv: str
    path: str  # the kubelet's path of the pod's volume (a Block volume: its device map path)
    csi: bool
    driver: str
    volume_handle: str
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


def _fs_type(pv: Obj, storage_class: Obj | None = None) -> str:
    spec = pv.get("spec") or {}
    for source in ("csi", "flexVolume"):
        if spec.get(source, {}).get("fsType"):
            return str(spec[source]["fsType"])
    params = (storage_class or {}).get("parameters") or {}
    return str(params.get("fsType") or params.get("csi.storage.k8s.io/fstype") or "ext4")


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
        self._public_key = ""
        self._ssh_drop: asyncio.Task[None] | None = None
        self._share_server_start: asyncio.Task[shares.ShareServer] | None = None
        self.cgroup_root = cgroups.cgroup2_root()  # None: containers get no cgroup

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

    async def add_node(self, name: str, *, address: str, pod_cidr: str) -> None:
        await self._node(name)

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
        node = await task
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
            await asyncio.to_thread(shares.create_export, server, name)
            pv["spec"]["csi"]["volumeAttributes"]["server"] = server.address
            return
        if name in self.volumes:
            return
        if volume_mode(pv) == "Block":  # raw: nothing formats a Block volume
            self.volumes[name] = await asyncio.to_thread(
                block.create_raw_volume, self.volumes_dir, name, _size(pv)
            )
            return
        self.volumes[name] = await asyncio.to_thread(
            devices.create_volume,
            self.volumes_dir,
            name,
            _size(pv),
            _fs_type(pv, storage_class),
            wrong_fstype=self.faults.on("wrong-fstype"),
        )

    async def _volume(self, pv: Obj) -> devices.Volume:
        name = pv["metadata"]["name"]
        volume = self.volumes.get(name)
        if volume is None:
            volume = await asyncio.to_thread(devices.load_volume, self.volumes_dir, name)
        if volume is None and volume_mode(pv) == "Block":  # a static raw disk
            volume = await asyncio.to_thread(
                block.create_raw_volume, self.volumes_dir, name, _size(pv)
            )
        if volume is None:  # a static PV: the administrator's disk, made on first attach
            volume = await asyncio.to_thread(
                devices.create_volume, self.volumes_dir, name, _size(pv), _fs_type(pv)
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
                asyncio.to_thread(shares.start_server, self.network, self.state_dir / "shares")
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
                await asyncio.to_thread(shares.delete_export, server, name)
            except NodeCommandError as exc:
                raise RuntimeFailure(str(exc)) from exc
            return
        volume = self.volumes.pop(name, None) or await asyncio.to_thread(
            devices.load_volume, self.volumes_dir, name
        )
        if volume is not None:
            try:
                await asyncio.to_thread(devices.delete_volume, volume)
            except devices.DeviceError as exc:
                raise RuntimeFailure(str(exc)) from exc

    async def attach(self, node: str, pv: Obj) -> None:
        name = pv["metadata"]["name"]
        if (node, name) in self.attached or is_share(pv):  # a share is mounted, not attached
            return
        host_node = await self._node(node)
        volume = await self._volume(pv)
        if name in self.ever_attached and self.faults.on("data-loss-on-reattach"):
            if volume_mode(pv) == "Block":
                await asyncio.to_thread(block.zero, volume)
            else:
                volume = await asyncio.to_thread(devices.wipe, volume)
            self.volumes[name] = volume
        _, _, _, attributes = _pv_source(pv)
        identity = devices.ScsiIdentity(
            vendor=attributes.get("vendor", "SIM"),
            model=attributes.get("model", "DISK"),
            rev=attributes.get("rev", "1.0"),
        )
        attachment = await asyncio.to_thread(
            devices.attach,
            host_node,
            volume,
            identity,
            no_scsi_device=self.faults.on("no-scsi-device"),
        )
        self.attached[(node, name)] = attachment
        self.ever_attached.add(name)

    async def detach(self, node: str, pv: Obj) -> None:
        name = pv["metadata"]["name"]
        attachment = self.attached.pop((node, name), None)
        host_node = self.nodes.get(node)
        if attachment is None or host_node is None:
            return
        await asyncio.to_thread(devices.detach, host_node, attachment)

    # --- pods ---------------------------------------------------------------------

    async def start_pod(self, node: str, pod: Obj, volumes: list[PodVolume]) -> PodStarted:
        host_node = await self._node(node)
        m = pod["metadata"]
        spec = pod.get("spec") or {}
        container = (spec.get("containers") or [{}])[0]
        host_paths, binds = _host_paths(spec, container)
        await hostpath.set_up(host_node, host_paths)  # the volume manager's SetUp, first
        mounts: list[_Published] = []
        self.published[m["uid"]] = mounts  # as they are made: a failure undoes them all
        block_devices: list[pods.DeviceNode] = []
        cgroup = ""
        try:
            for volume in volumes:
                published = await self._set_up_volume(host_node, m["uid"], volume)
                mounts.append(published)
                if published.kind == "block":
                    attachment = self.attached[(node, volume.pv_name)]
                    block_devices += [
                        pods.DeviceNode(device.path, attachment.major, attachment.minor)
                        for device in volume.devices
                        if device.container == container.get("name")
                    ]
                    continue
                if self.faults.on("missing-data-mount"):
                    continue
                for mount in volume.mounts:
                    if mount.container != container.get("name"):
                        continue
                    read_only = (
                        mount.read_only or volume.read_only or self.faults.on("readonly-data-mount")
                    )
                    binds.append(pods.VolumeBind(published.path, mount.path, read_only))
            container_id = secrets.token_hex(32)
            cgroup = await asyncio.to_thread(self._container_cgroup, host_node, pod, container_id)
            pod_spec = self._pod_spec(host_node, pod, container, binds, block_devices, cgroup)
            running = await pods.start_pod(host_node, pod_spec)
        except (RuntimeFailure, ValueError, OSError, NodeCommandError) as exc:
            if cgroup:
                await asyncio.to_thread(cgroups.remove_pod, Path(cgroup))
            await self._unpublish(m["uid"], stale=False)
            if isinstance(exc, RuntimeFailure):
                raise
            raise RuntimeFailure(str(exc)) from exc  # reported as the runtime's failure
        self.pods[m["uid"]] = running
        self._refresh_peers(m["namespace"], spec.get("subdomain") or "")
        return PodStarted(
            pod_ip=host_node.address,
            container_ids={pod_spec.container: f"containerd://{container_id}"},
            note=running.note,
        )

    async def _set_up_volume(self, node: NodeHost, pod_uid: str, volume: PodVolume) -> _Published:
        """The volume manager's set-up of one claim for a pod: a share is mounted, a Block
        volume mapped, a disk staged and mounted (the last two already attached)."""
        plugin_dir, driver, handle, attributes = _pv_source(volume.pv)
        if is_share(volume.pv):
            server = await self._share_server()
            try:
                path = await asyncio.to_thread(
                    shares.publish,
                    node,
                    server,
                    share=attributes.get("share", ""),
                    layout=devices.KubeletLayout(
                        pod_uid, volume.pv_name, plugin_dir, driver, handle
                    ),
                    read_only=volume.read_only,
                    local_only=self.faults.on("share-not-shared"),
                )
            except shares.ShareError as exc:
                raise RuntimeFailure(
                    f'MountVolume.SetUp failed for volume "{volume.pv_name}" : {exc}',
                    reason="FailedMount",
                ) from exc
            return _Published(node.name, volume.pv_name, path, True, driver, handle, "share")
        attachment = self.attached.get((node.name, volume.pv_name))
        if attachment is None:
            raise RuntimeFailure(f"volume {volume.pv_name} is not attached to {node.name}")
        if volume.block:
            if plugin_dir != CSI_PLUGIN_DIR:
                raise RuntimeFailure(
                    f'MapVolume.SetUpDevice failed for volume "{volume.pv_name}" : the '
                    f"{plugin_dir} volume plugin does not support block volumes",
                    reason="FailedMapVolume",
                )
            path = await asyncio.to_thread(
                block.map_device,
                node,
                attachment,
                block.BlockLayout(pod_uid, volume.pv_name),
                driver=driver,
                volume_handle=handle,
            )
            return _Published(node.name, volume.pv_name, path, True, driver, handle, "block")
        path = await asyncio.to_thread(
            devices.publish,
            node,
            attachment,
            pod_uid=pod_uid,
            pv_name=volume.pv_name,
            plugin_dir=plugin_dir,
            driver=driver,
            volume_handle=handle,
            fs_type=None,
            read_only=volume.read_only,
            node_name=node.name,
        )
        return _Published(
            node.name, volume.pv_name, path, plugin_dir == CSI_PLUGIN_DIR, driver, handle
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
        )

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
        uid = pod["metadata"]["uid"]
        running = self.pods.get(uid)
        if running is not None:
            # forgotten only once stopped: a stop cut short (the kubelet's worker cancelled
            # when the simulator stops) leaves the pod for close() to stop, rather than its
            # namespaces held open with the volume mounted in them
            await pods.stop_pod(running, grace_seconds)
            self.pods.pop(uid, None)
            if running.spec.cgroup:  # empty now: the runtime removes the container's cgroup
                await asyncio.to_thread(cgroups.remove_pod, Path(running.spec.cgroup))
            self._refresh_peers(running.spec.namespace, running.spec.subdomain)
        stale = self.faults.on("stale-kubelet-mount")
        await self._unpublish(uid, stale=stale)
        host_node = self.nodes.get(node)
        if host_node is not None and not stale:
            await asyncio.to_thread(_remove_pod_dir, host_node, uid)

    async def _unpublish(self, uid: str, *, stale: bool) -> None:
        for mount in self.published.pop(uid, []):
            node = self.nodes.get(mount.node)
            if node is None:
                continue
            if mount.kind == "block":
                if not stale:
                    layout = block.BlockLayout(uid, mount.pv)
                    last = not self._still_published(mount)
                    await asyncio.to_thread(block.unmap_device, node, layout, last=last)
                continue
            await asyncio.to_thread(devices.unpublish, node, mount.path, stale=stale)
            staged = mount.kind == "disk" and mount.csi  # shares are mounted without staging
            if staged and not stale and not self._still_published(mount):
                await asyncio.to_thread(
                    devices.unstage, node, driver=mount.driver, volume_handle=mount.volume_handle
                )

    def _still_published(self, mount: _Published) -> bool:
        return any(
            other.node == mount.node and other.pv == mount.pv
            for mounts in self.published.values()
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
            for loop, _ in await asyncio.to_thread(devices.find_loops, directory):
                run(["losetup", "-d", loop], check=False)
        if self.network is not None:
            await asyncio.to_thread(self.network.close)
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
