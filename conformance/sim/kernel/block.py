"""Raw block volumes (``volumeMode: Block``): unformatted disks mapped into pods as devices.

A Block PV is provisioned raw: a sparse image on a loop device with no filesystem
(the application owns every byte). It is attached like any disk
(:func:`devices.attach`: ``/dev/sdX`` and its SCSI sysfs on the node). Instead of
mounting it, the kubelet *maps* it for each pod, as its CSI block volume plugin
(pkg/volume/csi/csi_block.go) does::

    <plugins>/staging/<pv>        NodeStage: a directory (nothing to stage for a raw disk)
    <plugins>/publish/<pv>/<uid>  NodePublish: the driver bind-mounts /dev/sdX on this file
    <plugins>/<pv>/dev/<uid>      the global map path: a bind of the publish file
    <plugins>/<pv>/data/vol_data.json
    <root>/pods/<uid>/volumeDevices/kubernetes.io~csi/<pv>   a symlink to the publish file

with ``<plugins>`` = ``<root>/plugins/kubernetes.io/csi/volumeDevices``.

The container runtime then gives the container a block device node at the container's
``volumeDevices[].devicePath`` with the device's major:minor (runc mknods it; see
:class:`pods.DeviceNode`).

Not done as upstream: the kubelet also attaches a loop device to the global map path
to hold the device open (``AttachFileDevice``), and the runtime limits the device's
access in the container's devices cgroup (read-only for a read-only claim); the
simulator does neither. The node's /dev is a bind of a host directory, not a devtmpfs,
so the binds show that directory's filesystem in mountinfo, not ``devtmpfs``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from conformance.sim.kernel import devices
from conformance.sim.kernel.model import NodeHost, enter, run

KUBELET_ROOT = devices.KUBELET_ROOT
CSI_PLUGIN_DIR = devices.CSI_PLUGIN_DIR
_BLOCK_DIR = "plugins/kubernetes.io/csi/volumeDevices"


@dataclass(frozen=True)
class BlockLayout:
    """Where the kubelet maps one pod's block volume (paths as seen inside the node)."""

    pod_uid: str
    pv_name: str
    root: str = KUBELET_ROOT

    def __post_init__(self) -> None:
        for field, value in (("pod uid", self.pod_uid), ("pv name", self.pv_name)):
            if not value or "/" in value or value in (".", ".."):
                raise ValueError(f"bad {field} {value!r}")

    @property
    def staging_dir(self) -> str:
        return f"{self.root}/{_BLOCK_DIR}/staging/{self.pv_name}"

    @property
    def publish_dir(self) -> str:
        return f"{self.root}/{_BLOCK_DIR}/publish/{self.pv_name}"

    @property
    def publish_path(self) -> str:
        return f"{self.publish_dir}/{self.pod_uid}"

    @property
    def volume_dir(self) -> str:
        return f"{self.root}/{_BLOCK_DIR}/{self.pv_name}"

    @property
    def global_map_path(self) -> str:
        return f"{self.volume_dir}/dev/{self.pod_uid}"

    @property
    def data_dir(self) -> str:
        return f"{self.volume_dir}/data"

    @property
    def pod_device_path(self) -> str:
        return f"{self.root}/pods/{self.pod_uid}/volumeDevices/{CSI_PLUGIN_DIR}/{self.pv_name}"


def create_raw_volume(volumes_dir: Path, pv_name: str, size_bytes: int) -> devices.Volume:
    """A sparse image of ``size_bytes`` (whole MiB, at least 1) on a loop device, no
    filesystem. Raises FileExistsError when the image exists (use devices.load_volume)."""
    if size_bytes <= 0:
        raise ValueError(f"size must be positive, got {size_bytes}")
    size = -(-size_bytes // (1 << 20)) << 20
    image = volumes_dir / f"{pv_name}.img"
    if not pv_name or "/" in pv_name or pv_name in (".", ".."):
        raise ValueError(f"bad volume name {pv_name!r}")
    volumes_dir.mkdir(parents=True, exist_ok=True)
    with open(image, "xb") as handle:  # exclusive: never reuse someone else's image
        handle.truncate(size)
    try:
        loop = run(["losetup", "-f", "--show", str(image)]).stdout.strip()
    except BaseException:
        image.unlink(missing_ok=True)
        raise
    rdev = os.stat(loop).st_rdev
    return devices.Volume(pv_name, image, loop, os.major(rdev), os.minor(rdev), "", size)


def zero(volume: devices.Volume) -> None:
    """Fault data-loss-on-reattach for a raw volume: discard every block (reads give zeros).

    The loop device passes the discard on as holes punched in its image.
    """
    run(["blkdiscard", "--force", volume.loop_device])


def _in_node(node: NodeHost, script: str, *args: str) -> None:
    run([*enter(node.pid, net=False), "sh", "-c", script, "sh", *args])


_MAP = r"""set -eu
dev=$1 staging=$2 publish=$3 global=$4 data=$5 link=$6 vol_data=$7
mkdir -p "$staging" "$(dirname "$publish")" "$(dirname "$global")" "$data" "$(dirname "$link")"
[ -e "$publish" ] || : > "$publish"
[ -e "$global" ] || : > "$global"
mounted() { awk -v p="$1" '$5 == p { found = 1 } END { exit !found }' /proc/self/mountinfo; }
mounted "$publish" || mount --bind "$dev" "$publish"
mounted "$global" || mount --bind "$publish" "$global"
printf '%s' "$vol_data" > "$data/vol_data.json"
ln -sfn "$publish" "$link"
"""

_UNMAP = r"""set -eu
publish=$1 global=$2 link=$3 pod_dir=$4 volume_dir=$5 staging=$6 publish_dir=$7 last=$8
mounted() { awk -v p="$1" '$5 == p { found = 1 } END { exit !found }' /proc/self/mountinfo; }
while mounted "$global"; do umount "$global"; done
while mounted "$publish"; do umount "$publish"; done
rm -f "$global" "$publish" "$link"
rmdir "$pod_dir" "$(dirname "$pod_dir")" "$(dirname "$global")" "$publish_dir" 2>/dev/null || :
if [ "$last" = yes ]; then
  rm -f "$volume_dir/data/vol_data.json"
  rmdir "$volume_dir/data" "$volume_dir" "$staging" 2>/dev/null || :
fi
"""


def map_device(
    node: NodeHost,
    attachment: devices.Attachment,
    layout: BlockLayout,
    *,
    driver: str,
    volume_handle: str,
    node_name: str | None = None,
) -> str:
    """NodeStage + NodePublish of a block volume and the kubelet's map; return the pod's
    device map path (the symlink a container runtime is handed). Idempotent."""
    vol_data = {
        "driverName": driver,
        "nodeName": node_name or node.name,
        "specVolID": layout.pv_name,
        "volumeHandle": volume_handle,
        "volumeLifecycleMode": "Persistent",
    }
    _in_node(
        node,
        _MAP,
        attachment.dev_path,
        layout.staging_dir,
        layout.publish_path,
        layout.global_map_path,
        layout.data_dir,
        layout.pod_device_path,
        json.dumps(vol_data),
    )
    return layout.pod_device_path


def unmap_device(node: NodeHost, layout: BlockLayout, *, last: bool) -> None:
    """Undo :func:`map_device` for one pod; ``last``: no other pod of the node maps the
    volume, so NodeUnstage too (the staging directory and the volume's data go)."""
    _in_node(
        node,
        _UNMAP,
        layout.publish_path,
        layout.global_map_path,
        layout.pod_device_path,
        str(Path(layout.pod_device_path).parent),
        layout.volume_dir,
        layout.staging_dir,
        layout.publish_dir,
        "yes" if last else "no",
    )


__all__ = [
    "BlockLayout",
    "create_raw_volume",
    "map_device",
    "unmap_device",
    "zero",
]
