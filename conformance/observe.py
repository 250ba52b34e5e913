"""Facts the suites gather by running commands: on nodes, and in pods through the API.

Each function runs one probe's command (recorded as evidence by the transport) and
returns what its parser read, as data. Nothing here judges; :mod:`conformance.checks`
does, so a suite test reads: act, observe, then ``fail_on(checks.X(facts))``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conformance import evidence, probes
from conformance.deployments import Deployment
from conformance.inventory import KUBELET_ROOTS, Nodes
from conformance.nodes.pool import NodeShells


@dataclass(frozen=True)
class VolumeViews:
    """One volume as the node's SCSI layer, the node's mounts and the container see it.

    A view that was not looked at is None (no node access, no SCSI capability, no exec).
    """

    pod: str
    pod_uid: str
    node: str
    claim: str
    pv: str
    mount_path: str
    lsscsi: tuple[probes.ScsiDevice, ...] | None = None
    node_mounts: tuple[probes.MountInfo, ...] | None = None
    container_mounts: tuple[probes.MountInfo, ...] | None = None
    container_error: str = ""  # why the container's mounts could not be read
    container_view: str = "exec"  # how they were read: exec, or from the node by PID
    kubelet_roots: tuple[str, ...] = (probes.KUBELET_ROOT,)  # where the kubelet may keep pods

    @property
    def kubelet_mounts(self) -> list[probes.MountInfo]:
        """Every mount at this pod's exact kubelet path of the volume (one, normally)."""
        return probes.kubelet_mounts_of(
            self.node_mounts or (), self.pod_uid, self.pv, roots=self.kubelet_roots
        )

    @property
    def kubelet_mount(self) -> probes.MountInfo | None:
        """The kubelet's mount of the volume; None when there is none or it is ambiguous."""
        found = self.kubelet_mounts
        return found[0] if len(found) == 1 else None

    @property
    def container_mount(self) -> probes.MountInfo | None:
        return probes.find_mount(self.container_mounts or (), self.mount_path)

    def describe(self) -> str:
        """The views, one line each, for the evidence."""
        kubelet, container = self.kubelet_mount, self.container_mount
        device = kubelet or container
        scsi = (
            probes.find_scsi_device(self.lsscsi, device.major_minor)
            if self.lsscsi is not None and device is not None
            else None
        )
        return "\n".join(
            [
                f"volume:    {self.claim} -> {self.pv} of pod {self.pod} ({self.pod_uid}) "
                f"on {self.node}",
                "lsscsi:    "
                + (
                    "(not looked at)"
                    if self.lsscsi is None
                    else scsi.describe()
                    if scsi
                    else "(no device)"
                ),
                "kubelet:   "
                + (
                    "(not looked at)"
                    if self.node_mounts is None
                    else kubelet.describe()
                    if kubelet
                    else "(not mounted)"
                ),
                f"container ({self.container_view}): "
                + (
                    f"(not looked at{': ' + self.container_error if self.container_error else ''})"
                    if self.container_mounts is None
                    else container.describe()
                    if container
                    else "(not mounted)"
                ),
            ]
        )


def _mountinfo_from_node(
    shells: NodeShells, node: str, pod: Any
) -> tuple[str, tuple[probes.MountInfo, ...]] | str:
    """The container's mountinfo read on its node as /proc/<pid>/mountinfo, the PID found
    by the container ID in its cgroup path; or why that could not be done."""
    statuses = pod.status.container_statuses or []
    status_id = statuses[0].container_id if statuses else None
    try:
        command = probes.container_pids_command(status_id or "")
    except ValueError:
        return f"the pod reports no container ID to find it by ({status_id!r})"
    pids = probes.parse_pids(shells.run(node, command).check().stdout)
    if not pids:
        return f"no process on {node} has container {status_id} in its cgroup"
    read = shells.run(node, probes.mountinfo_of(pids[0]))
    if not read.ok:
        return f"`{read.command}` exited {read.exit_code}: {read.stderr.strip()}"
    return f"node {node}: /proc/{pids[0]}/mountinfo", tuple(probes.parse_mountinfo(read.stdout))


def kubelet_roots(nodes: Nodes) -> tuple[str, ...]:
    """The kubelet root the inventory names, else the usual places (microk8s, older k3s,
    RKE on RancherOS move it)."""
    return (nodes.kubelet_root,) if nodes.kubelet_root else KUBELET_ROOTS


def node_mounts(shells: NodeShells, node: str) -> tuple[probes.MountInfo, ...]:
    """The node's own mount table (its mount namespace), parsed."""
    result = shells.run(node, list(probes.MOUNTINFO)).check()
    return tuple(probes.parse_mountinfo(result.stdout))


def volume_views(
    dep: Deployment,
    shells: NodeShells | None,
    ordinal: int,
    *,
    scsi: bool = False,
    container: bool = False,
) -> VolumeViews:
    """Look at pod ``ordinal``'s volume: on its node when ``shells`` is given (lsscsi too
    with ``scsi``), and in its container with ``container``."""
    pod = dep.pod(ordinal)
    name = pod.metadata.name
    node = pod.spec.node_name or ""
    claim_name = dep.claim_of_pod(pod) or dep.claim_name(ordinal)
    claim = dep.claims().get(claim_name)
    pv = (claim.spec.volume_name if claim is not None else "") or ""
    lsscsi = mounts = in_container = None
    error = ""
    if shells is not None:
        with evidence.step(f"look at {pv} on node {node}"):
            if scsi:
                result = shells.run(node, list(probes.LSSCSI)).check()
                lsscsi = tuple(probes.parse_lsscsi(result.stdout))
            mounts = node_mounts(shells, node)
    view = "exec"
    if container:
        with evidence.step(f"look at {dep.mount_path} in pod {name}"):
            result = dep.exec(name, list(probes.MOUNTINFO))
            if result.exit_code == 0:
                in_container = tuple(probes.parse_mountinfo(result.stdout))
            else:
                error = f"`{result.command}` exited {result.exit_code}: {result.stderr.strip()}"
                if shells is not None:  # an image without cat: read it from the node
                    seen = _mountinfo_from_node(shells, node, pod)
                    if isinstance(seen, str):
                        error += f"; from the node: {seen}"
                    else:
                        view, in_container = seen
    views = VolumeViews(
        pod=name,
        pod_uid=pod.metadata.uid,
        node=node,
        claim=claim_name,
        pv=pv,
        mount_path=dep.mount_path,
        lsscsi=lsscsi,
        node_mounts=mounts,
        container_mounts=in_container,
        container_error=error if in_container is None else "",
        container_view=view,
        kubelet_roots=kubelet_roots(dep.inventory.nodes),
    )
    evidence.attach_text(f"{name}: the views of {pv}", views.describe())
    return views


def declared_share(volume: Any) -> str | None:
    """The share a PV names: nfs ``server:path``, or a CSI driver's ``source`` (smb:
    ``//server/share``) or ``server`` + ``share`` attributes (csi-driver-nfs)."""
    spec = volume.spec
    if spec.nfs is not None:
        return f"{spec.nfs.server}:{spec.nfs.path}"
    attributes = (spec.csi.volume_attributes or {}) if spec.csi is not None else {}
    if attributes.get("source"):
        return str(attributes["source"])
    if attributes.get("server") and attributes.get("share"):
        return f"{attributes['server']}:{attributes['share']}"
    return None


# --- the device stack under a volume ------------------------------------------------------


@dataclass(frozen=True)
class DeviceStack:
    """The device a volume is mounted from, and what it sits on down to the hardware:
    lsblk's inverse tree (``-s``: a multipath map's children are its paths) and sysfs."""

    pod: str
    node: str
    pv: str
    volume_handle: str | None
    device: probes.BlockDevice | None  # the mounted device; children: what it sits on
    sysfs: probes.SysfsAttributes
    error: str = ""  # why the stack could not be read

    def layers(self) -> list[tuple[probes.BlockDevice, int]]:
        """Every device of the stack with its depth (0: the mounted one)."""
        found: list[tuple[probes.BlockDevice, int]] = []

        def walk(device: probes.BlockDevice, depth: int) -> None:
            found.append((device, depth))
            for child in device.children:
                walk(child, depth + 1)

        if self.device is not None:
            walk(self.device, 0)
        return found

    def describe(self) -> str:
        if self.device is None:
            return f"{self.pv} on {self.node}: {self.error or 'no device'}"
        lines = []
        for device, depth in self.layers():
            identity = " ".join(
                part
                for part in (
                    device.vendor,
                    device.model,
                    device.transport,
                    device.hctl and f"[{device.hctl}]",
                    device.serial and f"serial {device.serial}",
                    device.column("state"),
                )
                if part
            )
            lines.append(f"{'  ' * depth}{device.describe()} {identity}".rstrip())
        return "\n".join(lines)


def device_stack(shells: NodeShells, views: VolumeViews, volume: Any) -> DeviceStack:
    """Resolve, on the pod's node, the stack under the device the kubelet mounted."""
    handle = volume.spec.csi.volume_handle if volume is not None and volume.spec.csi else None
    mount = views.kubelet_mount
    if mount is None:
        return DeviceStack(
            views.pod,
            views.node,
            views.pv,
            handle,
            None,
            probes.SysfsAttributes({}),
            "the kubelet has not mounted it",
        )
    with evidence.step(f"resolve the device stack of {views.pv} on {views.node}"):
        listed = shells.run(
            views.node, probes.lsblk_command(inverse=True, columns=probes.STACK_COLUMNS)
        )
        if not listed.ok:
            return DeviceStack(
                views.pod,
                views.node,
                views.pv,
                handle,
                None,
                probes.SysfsAttributes({}),
                f"`lsblk` exited {listed.exit_code}: {listed.stderr.strip()}",
            )
        found = probes.find_block_devices(probes.parse_lsblk(listed.stdout), mount.major_minor)
        if not found:
            return DeviceStack(
                views.pod,
                views.node,
                views.pv,
                handle,
                None,
                probes.SysfsAttributes({}),
                f"lsblk lists no device {mount.major_minor} ({mount.source})",
            )
        device = found[0]
        numbers = [d.major_minor for d, _ in probes.walk_block_devices([device]) if d.major_minor]
        read = shells.run(views.node, probes.sysfs_command(numbers)).check()
        stack = DeviceStack(
            views.pod, views.node, views.pv, handle, device, probes.parse_sysfs(read.stdout)
        )
    evidence.attach_text(f"{views.pod}: the device stack of {views.pv}", stack.describe())
    return stack


# --- block volumes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockViews:
    """A Block volume as the container sees it (a device node at devicePath) and as the
    kubelet maps it on the node (device nodes under its volumeDevices paths)."""

    pod: str
    pod_uid: str
    node: str
    pv: str
    device_path: str
    container: probes.PathStat | None
    container_error: str
    node_paths: tuple[probes.PathStat, ...] | None  # None: the node was not looked at
    looked_for: tuple[str, ...] = ()  # the kubelet paths asked for on the node


def block_views(dep: Deployment, shells: NodeShells | None, ordinal: int) -> BlockViews:
    pod = dep.pod(ordinal)
    name, uid, node = pod.metadata.name, pod.metadata.uid, pod.spec.node_name or ""
    claim = dep.claims().get(dep.claim_of_pod(pod) or dep.claim_name(ordinal))
    pv = (claim.spec.volume_name if claim is not None else "") or ""
    entry = dep.case.storage
    with evidence.step(f"look at {entry.device_path} in pod {name}"):
        result = dep.exec(name, list(probes.stat_command([entry.device_path])))
    found = probes.parse_stat(result.stdout) if result.exit_code == 0 else []
    error = (
        "" if found else f"`{result.command}` exited {result.exit_code}: {result.stderr.strip()}"
    )
    node_paths = None
    paths: tuple[str, ...] = ()
    if shells is not None:
        paths = tuple(
            path
            for root in kubelet_roots(dep.inventory.nodes)
            for path in (
                f"{root}/pods/{uid}/volumeDevices/{entry.kubelet_plugin_dir}/{pv}",
                f"{root}/plugins/kubernetes.io/csi/volumeDevices/{pv}/dev/{uid}",
            )
        )
        with evidence.step(f"look at the kubelet's mapping of {pv} on {node}"):
            listed = shells.run(node, probes.stat_command(paths))  # missing paths: exit 1
        node_paths = tuple(probes.parse_stat(listed.stdout))
    return BlockViews(
        name,
        uid,
        node,
        pv,
        entry.device_path,
        found[0] if found else None,
        error,
        node_paths,
        paths,
    )


def write_raw(dep: Deployment, pod: str, payload: probes.Payload, *, offset_blocks: int) -> Written:
    device = dep.case.storage.device_path
    with evidence.step(f"write {payload} to {device} at block {offset_blocks} in {pod}"):
        result = dep.exec(
            pod, probes.write_block_command(device, payload, offset_blocks=offset_blocks)
        )
    return Written(pod, f"{device}@{offset_blocks}", result.exit_code, result.stderr.strip())


def read_raw(dep: Deployment, pod: str, *, offset_blocks: int, blocks: int) -> ReadBack:
    device = dep.case.storage.device_path
    with evidence.step(f"read {blocks} blocks of {device} at block {offset_blocks} in {pod}"):
        result = dep.exec(
            pod, probes.read_block_command(device, offset_blocks=offset_blocks, blocks=blocks)
        )
    digest = probes.parse_checksum(result.stdout).digest if result.exit_code == 0 else None
    return ReadBack(
        pod, f"{device}@{offset_blocks}", result.exit_code, result.stderr.strip(), digest
    )


# --- data ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    pod: str
    path: str
    exit_code: int
    stderr: str


@dataclass(frozen=True)
class ReadBack:
    pod: str
    path: str
    exit_code: int
    stderr: str
    digest: str | None  # the sha256 read back; None when the file could not be read


def write_payload(dep: Deployment, pod: str, payload: probes.Payload, name: str) -> Written:
    path = f"{dep.mount_path}/{name}"
    with evidence.step(f"write {payload} to {path} in {pod}"):
        result = dep.exec(pod, probes.write_payload_command(path, payload))
    return Written(pod, path, result.exit_code, result.stderr.strip())


def read_back(dep: Deployment, pod: str, name: str) -> ReadBack:
    path = f"{dep.mount_path}/{name}"
    with evidence.step(f"read {path} back in {pod}"):
        result = dep.exec(pod, probes.checksum_command(path))
    digest = probes.parse_checksum(result.stdout).digest if result.exit_code == 0 else None
    return ReadBack(pod, path, result.exit_code, result.stderr.strip(), digest)


# --- ownership -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Owned:
    """Owners and modes of paths in a pod, as its container's process sees them."""

    pod: str
    owners: tuple[probes.Owner, ...]
    error: str = ""  # why (some of) them could not be read

    def of(self, path: str) -> probes.Owner | None:
        return next((o for o in self.owners if o.path == path), None)


def ownership(dep: Deployment, pod: str, paths: list[str]) -> Owned:
    with evidence.step(f"stat {' '.join(paths)} in {pod}"):
        result = dep.exec(pod, probes.owner_command(paths))
    error = "" if result.exit_code == 0 else f"`{result.command}` exited {result.exit_code}"
    return Owned(pod, tuple(probes.parse_owner(result.stdout)), error + result.stderr.strip())


def change_group(dep: Deployment, pod: str, path: str, gid: int) -> Written:
    """``chgrp`` a file from inside the pod (its process owns it and is in both groups)."""
    with evidence.step(f"chgrp {gid} {path} in {pod}"):
        result = dep.exec(pod, ["chgrp", str(gid), path])
    return Written(pod, path, result.exit_code, result.stderr.strip())


# --- identity ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hostname:
    pod: str
    hostname: str | None  # None when it could not be read
    error: str = ""


@dataclass(frozen=True)
class Lookup:
    from_pod: str
    name: str
    entries: tuple[probes.HostEntry, ...]
    exit_code: int


def hostname(dep: Deployment, pod: str) -> Hostname:
    result = dep.exec(pod, list(probes.HOSTNAME_PROC))
    if result.exit_code != 0:
        return Hostname(pod, None, result.stderr.strip())
    return Hostname(pod, probes.parse_hostname(result.stdout))


def resolve(dep: Deployment, from_pod: str, target: str) -> Lookup:
    """What ``<target>.<service>`` resolves to inside ``from_pod``."""
    name = f"{target}.{dep.set_name}"
    result = dep.exec(from_pod, list(probes.getent_hosts_command(name)))
    entries = probes.parse_getent_hosts(result.stdout) if result.exit_code == 0 else []
    return Lookup(from_pod, name, tuple(entries), result.exit_code)


__all__ = [
    "BlockViews",
    "DeviceStack",
    "FioRun",
    "Hostname",
    "Lookup",
    "Owned",
    "PodState",
    "ReadBack",
    "VolumeViews",
    "Written",
    "block_views",
    "change_group",
    "declared_share",
    "device_stack",
    "hostname",
    "node_mounts",
    "ownership",
    "pod_state",
    "read_back",
    "read_raw",
    "resolve",
    "run_fio",
    "volume_views",
    "write_payload",
    "write_raw",
]


# --- performance ---------------------------------------------------------------------------

FIO_FILE = ".conformance-fio"


@dataclass(frozen=True)
class FioRun:
    """What fio measured in one pod (or in the fio pod beside it)."""

    pod: str
    ran_in: str  # "the workload container", or the fio pod's name
    exit_code: int
    error: str  # fio's complaint, or why its output could not be read
    figures: tuple[probes.FioFigures, ...]
    output: str  # fio's JSON, for the evidence


def run_fio(dep: Deployment, pod: str) -> FioRun:
    """fio's jobs on the pod's volume: in the workload container when its image has fio,
    else in a pod of ``workload.fio_image`` beside it on its node, mounting the same claim."""
    perf = dep.case.storage.performance
    block = dep.case.storage.volume_mode.value == "Block"
    path = dep.case.storage.device_path if block else f"{dep.mount_path}/{FIO_FILE}"
    argv = probes.fio_command(
        path,
        list(perf.jobs),
        size=perf.size,
        runtime=perf.runtime,
        iodepth=perf.iodepth,
        ioengine=perf.ioengine,
        direct=perf.direct,
    )
    timeout = perf.runtime * len(perf.jobs) + dep.cluster.timeouts.command + 60
    where, target = "the workload container", pod
    probe = dep.exec(pod, ["sh", "-c", "command -v fio"])
    if probe.exit_code != 0:
        target = dep.start_beside(
            pod, dep.inventory.workload.fio_image, suffix=f"fio-{pod.rsplit('-', 1)[-1]}"
        )
        where = f"pod {target} ({dep.inventory.workload.fio_image}) beside it"
    try:
        with evidence.step(f"fio {', '.join(perf.jobs)} on {path} in {where} of {pod}"):
            result = dep.cluster.exec(dep.namespace, target, list(argv), timeout=timeout)
            if not block:
                dep.cluster.exec(dep.namespace, target, list(probes.cleanup_command(path)))
    finally:
        if target != pod:
            dep.cluster.delete_pod(dep.namespace, target)
    figures: tuple[probes.FioFigures, ...] = ()
    error = result.stderr.strip() if result.exit_code != 0 else ""
    if result.exit_code == 0:
        try:
            figures = tuple(probes.parse_fio_json(result.stdout))
        except probes.ProbeParseError as exc:
            error = str(exc)
    return FioRun(pod, where, result.exit_code, error, figures, result.stdout)


# --- a pod across a disruption ------------------------------------------------------------


@dataclass(frozen=True)
class PodState:
    """What a disruption may change about a pod: its identity, node, restarts, readiness."""

    name: str
    uid: str
    node: str
    ready: bool
    restarts: int  # of its containers, summed


def pod_state(pod: Any) -> PodState:
    """The state of a pod as the API reports it."""
    statuses = (pod.status.container_statuses if pod.status else None) or []
    conditions = (pod.status.conditions if pod.status else None) or []
    return PodState(
        name=pod.metadata.name,
        uid=pod.metadata.uid,
        node=pod.spec.node_name or "",
        ready=any(c.type == "Ready" and c.status == "True" for c in conditions),
        restarts=sum(int(s.restart_count or 0) for s in statuses),
    )


# --- expansion -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SizeSeen:
    """How large a volume is in a container: its filesystem at the mount path (statfs),
    or a Block volume's device at its devicePath (blockdev)."""

    pod: str
    path: str
    what: str  # "the filesystem" or "the device"
    size_bytes: int | None  # None when it could not be read
    error: str = ""


def size_seen(dep: Deployment, pod: str) -> SizeSeen:
    """The volume's size as the container sees it, per the entry's volume mode."""
    block = dep.case.storage.volume_mode.value == "Block"
    path = dep.case.storage.device_path if block else dep.mount_path
    what = "the device" if block else "the filesystem"
    argv = probes.blockdev_size_command(path) if block else probes.statfs_command(path)
    with evidence.step(f"read the size of {what} at {path} in {pod}"):
        result = dep.exec(pod, list(argv))
    if result.exit_code != 0:
        error = f"`{result.command}` exited {result.exit_code}: {result.stderr.strip()}"
        return SizeSeen(pod, path, what, None, error)
    try:
        size = (probes.parse_blockdev_size if block else probes.parse_statfs)(result.stdout)
    except probes.ProbeParseError as exc:
        return SizeSeen(pod, path, what, None, str(exc))
    return SizeSeen(pod, path, what, size)


@dataclass(frozen=True)
class Expansion:
    """A resized claim as the API shows it (claim, PV) and its pod's container sees it."""

    claim: str
    requested: str  # the size the claim was resized to
    claim_capacity: str | None  # status.capacity.storage
    conditions: tuple[str, ...]  # the claim's condition types (Resizing, FileSystemResizePending)
    pv: str
    pv_capacity: str | None  # spec.capacity.storage
    seen: SizeSeen
    size_before: int | None  # what the container saw before the resize
    recreated: bool  # the pod is another one than before (its uid changed)


def expansion(
    dep: Deployment, ordinal: int, requested: str, *, before: SizeSeen, pod_uid: str
) -> Expansion:
    """The facts of a resize of claim ``ordinal`` to ``requested``, looked at now."""
    claim = dep.claim(ordinal)
    status = claim.status
    pv_name = claim.spec.volume_name or ""
    pv = dep.volume(pv_name) if pv_name else None
    pod = dep.pod(ordinal)
    return Expansion(
        claim=claim.metadata.name,
        requested=requested,
        claim_capacity=(status.capacity or {}).get("storage") if status else None,
        conditions=tuple(c.type for c in (status.conditions or []) if status) if status else (),
        pv=pv_name,
        pv_capacity=(pv.spec.capacity or {}).get("storage") if pv is not None else None,
        seen=size_seen(dep, pod.metadata.name),
        size_before=before.size_bytes,
        recreated=pod.metadata.uid != pod_uid,
    )
