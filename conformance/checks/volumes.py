"""The three views of a volume agree (DESIGN.md section 4): the node's SCSI layer, the
kubelet's mount of the pod's volume on the node, and the container's mount path.

The device is identified by major:minor in every view; names such as /dev/sdb differ
between the node and the container, device numbers do not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from conformance import probes

if TYPE_CHECKING:  # observe imports deployments, which phrases its failures with checks
    from conformance.observe import VolumeViews


def _kubelet_hints(views: VolumeViews) -> str:
    others = [
        f"{p.pv_name} of pod {p.pod_uid} at {m.mount_point}"
        for p, m in probes.kubelet_volume_mounts(views.node_mounts or ())
        if p.pod_uid == views.pod_uid or p.pv_name == views.pv
    ]
    return f"; the node has {', '.join(others)}" if others else ""


def kubelet_mount(views: VolumeViews, *, fs_type: str | None) -> list[str]:
    """The kubelet mounted the pod's volume at its path on the node, with the fs type."""
    where = f"{views.pod} on {views.node}"
    candidates = views.kubelet_mounts
    if len(candidates) > 1:
        listed = "; ".join(m.describe() for m in candidates)
        return [
            f"{where}: {views.pv} of pod {views.pod_uid} is mounted at {len(candidates)} kubelet "
            f"paths, so which one is the kubelet's cannot be told: {listed} (set "
            "nodes.kubelet_root to the kubelet's --root-dir)"
        ]
    kubelet = views.kubelet_mount
    if kubelet is None:
        return [
            f"{where}: the kubelet path of {views.pv} for pod {views.pod_uid} "
            f"({' or '.join(views.kubelet_roots)}/pods/{views.pod_uid}/volumes/<plugin-dir>/"
            f"{views.pv}[/mount]) is not mounted on the node{_kubelet_hints(views)}"
        ]
    if fs_type is not None and kubelet.fs_type != fs_type:
        return [
            f"{where}: the kubelet mounted {views.pv} at {kubelet.mount_point} as "
            f"{kubelet.fs_type}, expected {fs_type}"
        ]
    return []


def scsi_disk(views: VolumeViews, *, vendor: str | None, model: str | None) -> list[str]:
    """lsscsi lists the disk behind the volume (by major:minor) with the vendor and model."""
    where = f"{views.pod} on {views.node}"
    reference = views.kubelet_mount or views.container_mount
    if reference is None:
        return [f"{where}: {views.pv} is mounted neither by the kubelet nor in the container"]
    number = reference.major_minor
    whose = (
        f"the device the kubelet mounted {views.pv} from"
        if views.kubelet_mount is not None
        else f"the device on {views.mount_path} in the container"
    )
    devices: Sequence[probes.ScsiDevice] = views.lsscsi or ()
    scsi = probes.find_scsi_device(devices, number)
    if scsi is None:
        if devices and all(d.major_minor is None for d in devices):
            return [
                f"{where}: lsscsi printed no major:minor column (run it with -d), so no SCSI "
                f"device can be matched to {number} ({whose})"
            ]
        listed = "; ".join(d.describe() for d in devices) or "nothing"
        return [
            f"{where}: no lsscsi device has major:minor {number} ({whose}); lsscsi lists {listed}"
        ]
    return [
        f"{where}: lsscsi device [{scsi.hctl}] {scsi.device or '-'} ({number}) has {name} "
        f"{actual!r}, expected {expected!r}"
        for name, expected, actual in (
            ("vendor", vendor, scsi.vendor),
            ("model", model, scsi.model),
        )
        if expected is not None and actual != expected
    ]


def container_mount(views: VolumeViews, *, fs_type: str | None, writable: bool) -> list[str]:
    """The mount path in the container is the volume: same device as the kubelet's mount
    (when the node was looked at), the fs type, and read-write if asked."""
    where = views.pod
    path = views.mount_path
    if views.container_mounts is None:
        return [f"{where}: cannot read the container's mounts: {views.container_error}"]
    container = views.container_mount
    if container is None:
        under = probes.mount_containing(views.container_mounts, path)
        detail = (
            f" ({path} is on {under.mount_point}: {under.fs_type} {under.source} "
            f"{under.major_minor})"
            if under is not None
            else ""
        )
        return [f"{where}: nothing is mounted at {path} in the container{detail}"]
    problems = []
    kubelet = views.kubelet_mount
    if kubelet is not None and container.major_minor != kubelet.major_minor:
        problems.append(
            f"{where}: {path} is on {container.major_minor} but the kubelet mounted {views.pv} "
            f"from {kubelet.major_minor} ({container.source} in the container, "
            f"{kubelet.source} at {kubelet.mount_point})"
        )
    if fs_type is not None and container.fs_type != fs_type:
        problems.append(
            f"{where}: {path} is {container.fs_type} in the container, expected {fs_type}"
        )
    if writable and not probes.is_read_write(container):
        options, super_options = ",".join(container.options), ",".join(container.super_options)
        problems.append(
            f"{where}: {path} is mounted read-only in the container (mount options "
            f"{options}; filesystem options {super_options})"
        )
    return problems


def kubelet_mounts_gone(
    node_mounts: Sequence[probes.MountInfo], *, pod: str, pod_uid: str, node: str
) -> list[str]:
    """A deleted pod's volumes are unmounted from its node."""
    return [
        f"{pod} is gone but its kubelet mount {m.mount_point} remains on {node}"
        for path, m in probes.kubelet_volume_mounts(node_mounts)
        if path.pod_uid == pod_uid
    ]


def not_on_the_nodes_own_disk(views: VolumeViews) -> list[str]:
    """The volume is not the device, nor a directory of the device, that holds the node's
    root, the kubelet root, or the container's /etc/hosts: a "volume" that is a directory
    on the node's disk is a real driver bug, and equal device numbers in node and
    container do not catch it."""
    where = f"{views.pod} on {views.node}"
    volume = views.kubelet_mount or views.container_mount
    if volume is None:
        return [f"{where}: {views.pv} is mounted neither by the kubelet nor in the container"]
    node = views.node_mounts or ()
    kubelet_path = probes.parse_kubelet_volume_path(volume.mount_point)
    kubelet_root = kubelet_path.root if kubelet_path is not None else views.kubelet_roots[0]
    holders = (
        ("the node's root filesystem /", probes.find_mount(node, "/")),
        (f"the kubelet root {kubelet_root}", probes.mount_containing(node, kubelet_root)),
        (
            "the container's /etc/hosts",
            probes.find_mount(views.container_mounts or (), "/etc/hosts"),
        ),
    )
    part = f"directory {volume.root} of " if volume.root not in ("/", "") else ""
    return [
        f"{where}: {views.pv} is mounted from {part}{volume.major_minor} ({volume.source}), "
        f"the device that holds {what} ({holder.describe()}): it is a directory on the "
        "node's disk, not a volume of its own"
        for what, holder in holders
        if holder is not None and holder.major_minor == volume.major_minor
    ]
