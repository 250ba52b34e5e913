"""Growing a volume: the backing image and its loop devices (the storage backend's
ControllerExpandVolume), the sizes nodes show for it, and its filesystem (the CSI node
plugin's NodeExpandVolume).

A volume is one loop device on its sparse image (:mod:`devices`); nodes see that loop's
major:minor under their own names (sdX, dm-N, nvmeXn1, rbdN), and a multipath map adds
a read-only loop per path. Growing it is what a SAN does to a LUN and a node then
notices: the image is extended (``truncate``), every loop on it re-reads its size
(``losetup -c``, LOOP_SET_CAPACITY: the kernel's own block device grows, also while
mounted), and the ``size`` attribute of every synthesized sysfs entry for it (the
disk, the map, each path, the namespace) is rewritten, as the kernel updates it on a
rescan / capacity change event. Where this differs from a real node: the sysfs sizes
change at once on every node the volume is attached to (a real node needs a SCSI
rescan, ``multipathd resize map`` or an NVMe AEN; CSI node plugins trigger these in
NodeExpandVolume), and no uevent is emitted.

The filesystem is grown inside the node's mount namespace, as a node plugin does:
``resize2fs <device>`` for ext4 (online: it finds the mount) and
``xfs_growfs <mount point>`` for xfs (which only works on a mounted filesystem). An
online ext4 resize (the EXT4_IOC_RESIZE_FS ioctl) needs CAP_SYS_RESOURCE; where the
simulator runs without it (a container), ext4 volumes grow offline instead, at their
next mount (:func:`grow_unmounted`), as with a driver that expands offline only.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from conformance.sim.kernel import devices
from conformance.sim.kernel.devices import Attachment, Volume
from conformance.sim.kernel.model import NODE_OP_TIMEOUT, NodeHost, enter, run

_MIB = 1024 * 1024


def grow_image(
    volume: Volume, size_bytes: int, *, rescan: bool = True, timeout: float = NODE_OP_TIMEOUT
) -> Volume:
    """Extend the volume's image to ``size_bytes`` (whole MiB, never shrinking) and make
    its loop device take the new size (``rescan``; without it the device keeps its old
    size, as on a node that never rescans); returns the volume with its new size."""
    size = max(-(-size_bytes // _MIB) * _MIB, volume.size_bytes)
    if size == volume.size_bytes and volume.image.stat().st_size >= size:
        return volume
    with open(volume.image, "r+b") as image:
        image.truncate(size)
    if rescan:
        refresh_loop(volume.loop_device, timeout=timeout)
    return Volume(
        volume.pv_name,
        volume.image,
        volume.loop_device,
        volume.major,
        volume.minor,
        volume.fs_type,
        size,
        volume.fs_uuid,
    )


def refresh_loop(loop: str, *, timeout: float = NODE_OP_TIMEOUT) -> None:
    """``losetup -c``: the loop device re-reads its backing file's size."""
    run(["losetup", "-c", loop], timeout=timeout)


def _write_size(sys_dir: Path, major: int, minor: int, size_bytes: int) -> None:
    """Rewrite ``size`` (512-byte sectors) of the block device sysfs knows as M:m."""
    link = sys_dir / "dev/block" / f"{major}:{minor}"
    if not link.is_symlink():
        return
    directory = Path(os.path.normpath(link.parent / os.readlink(link)))
    with contextlib.suppress(FileNotFoundError):
        devices.write_attributes(directory, {"size": str(size_bytes // 512)})


def show_size(node: NodeHost, attachment: Attachment, size_bytes: int) -> None:
    """What a node's kernel shows after a capacity change: each path loop of a multipath
    map re-reads its size, and the synthesized sysfs entries (the device, each path)
    carry the new size. The volume's own loop was refreshed by :func:`grow_image`."""
    with devices.node_lock(node):
        for path in attachment.paths:
            if path.loop_device:
                refresh_loop(path.loop_device)
            _write_size(node.sys_dir, path.major, path.minor, size_bytes)
        _write_size(node.sys_dir, attachment.major, attachment.minor, size_bytes)


def grow_filesystem(
    node: NodeHost,
    *,
    fs_type: str,
    device: str,
    mount_point: str,
    timeout: float = NODE_OP_TIMEOUT * 2,
) -> None:
    """NodeExpandVolume of a mounted volume: grow its filesystem to its device's size,
    in the node (``device`` and ``mount_point`` are node paths)."""
    if fs_type == "xfs":
        argv = ["xfs_growfs", mount_point]
    elif fs_type in ("ext4", "ext3", "ext2"):
        argv = ["resize2fs", device]
    else:
        raise devices.DeviceError(f"resize of filesystem {fs_type!r} is not supported")
    run([*enter(node.pid, net=False), *argv], timeout=timeout)


def grow_unmounted(node: NodeHost, *, device: str, timeout: float = NODE_OP_TIMEOUT * 2) -> None:
    """Grow an unmounted ext4 filesystem (offline): ``e2fsck -f -p`` (resize2fs insists on
    a freshly checked filesystem), then ``resize2fs``; in the node. An offline resize
    needs no CAP_SYS_RESOURCE, which the online one (EXT4_IOC_RESIZE_FS) does."""
    checked = run(
        [*enter(node.pid, net=False), "e2fsck", "-f", "-p", device], timeout=timeout, check=False
    )
    if checked.returncode not in (0, 1):  # 1: errors corrected
        raise devices.DeviceError(
            f"e2fsck -f -p {device} exited {checked.returncode}: {checked.stdout}{checked.stderr}"
        )
    run([*enter(node.pid, net=False), "resize2fs", device], timeout=timeout)


def empty_mount(node: NodeHost, mount_point: str, *, timeout: float = NODE_OP_TIMEOUT) -> None:
    """Fault expansion-loses-data: remove everything under a mounted volume (in the node)."""
    run(
        [*enter(node.pid, net=False), "find", mount_point, "-mindepth", "1", "-delete"],
        timeout=timeout,
    )


__all__ = [
    "empty_mount",
    "grow_filesystem",
    "grow_image",
    "grow_unmounted",
    "refresh_loop",
    "show_size",
]
