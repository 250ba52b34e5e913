"""The disk behind a volume is the one the entry declares: the whole device stack from the
mounted device down to the hardware (partitions, device-mapper, SCSI, NVMe, RBD), each
multipath path present and running, and, where the entry says so, the disk's serial or
WWN carrying the PV's volumeHandle, which proves it is this volume and not merely one of
this vendor's disks."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from conformance.inventory import Expectations, HandleIn
from conformance.probes import BlockDevice

if TYPE_CHECKING:  # observe imports deployments, which phrases its failures with checks
    from conformance.observe import DeviceStack

_NOT_ALNUM = re.compile(r"[^0-9a-z]")
_ID_PREFIXES = ("0x", "naa", "eui", "t10", "nvme")


def device_kind(device: BlockDevice) -> str:
    """scsi, nvme, rbd, nbd, loop, virtio, dm, or lsblk's TYPE for anything else."""
    name = (device.kname or device.name).rsplit("/", 1)[-1]  # lsblk --paths: /dev/nvme0n1
    for prefix, kind in (("nvme", "nvme"), ("rbd", "rbd"), ("nbd", "nbd"), ("loop", "loop")):
        if name.startswith(prefix):
            return kind
    if name.startswith("vd"):
        return "virtio"
    if device.hctl or name.startswith("sd"):
        return "scsi"
    if name.startswith("dm-") or device.type in ("mpath", "lvm", "crypt"):
        return "dm"
    return device.type or "unknown"


def _normal(identifier: str) -> str:
    text = _NOT_ALNUM.sub("", identifier.lower())
    for prefix in _ID_PREFIXES:
        if text.startswith(prefix) and len(text) > len(prefix) + 8:
            text = text[len(prefix) :]
    return text


def carries(identifier: str | None, handle: str) -> bool:
    """The disk's serial or WWN and the volumeHandle name the same volume: EBS serials are
    the volume id without its dash, SAN handles carry the LUN's WWN."""
    if not identifier:
        return False
    ours, theirs = _normal(identifier), _normal(handle)
    return bool(ours) and bool(theirs) and (ours in theirs or theirs in ours)


def _hardware(stack: DeviceStack) -> list[BlockDevice]:
    """The bottom of the stack: what has nothing under it (a map's paths, a disk)."""
    return [device for device, _ in stack.layers() if not device.children]


def _multipath_maps(stack: DeviceStack) -> list[BlockDevice]:
    return [
        device
        for device, _ in stack.layers()
        if device.type == "mpath"
        or (stack.sysfs.get(device.major_minor, "dm/uuid") or "").startswith("mpath-")
    ]


def _transport(stack: DeviceStack, device: BlockDevice) -> str | None:
    """lsblk's TRAN; for NVMe the controller's transport (pcie, tcp, rdma, fc) from sysfs."""
    if device_kind(device) == "nvme":
        return stack.sysfs.get(device.major_minor, "device/transport") or device.transport
    return device.transport


def device_stack(stack: DeviceStack, expect: Expectations) -> list[str]:
    """Everything the entry's ``expect`` says about the stack under this pod's volume."""
    where = f"{stack.pod} on {stack.node}: {stack.pv}"
    if stack.device is None:
        return [f"{where}: its device stack cannot be read: {stack.error}"]
    problems: list[str] = []
    disks = _hardware(stack)
    maps = _multipath_maps(stack)
    if expect.multipath is not None:
        if not maps:
            problems.append(
                f"{where} is on {stack.device.describe()}, which is not a multipath device "
                f"(its stack: {' <- '.join(d.describe() for d, _ in stack.layers())})"
            )
        for mpath in maps:
            paths = [child for child in mpath.children]
            if len(paths) < expect.multipath.min_paths:
                names = ", ".join(p.describe() for p in paths) or "none"
                problems.append(
                    f"{where}: multipath {mpath.describe()} has {len(paths)} path(s) ({names}), "
                    f"expected at least {expect.multipath.min_paths}"
                )
            for path in paths:
                state = path.column("state") or stack.sysfs.get(path.major_minor, "device/state")
                if state not in (None, "running", "live"):
                    problems.append(
                        f"{where}: path {path.describe()} of multipath {mpath.name} is {state}, "
                        "not running"
                    )
    for disk in disks:
        kind = device_kind(disk)
        if expect.device is not None and kind != expect.device:
            problems.append(
                f"{where} is on {disk.describe()}, a {kind} device, expected {expect.device}"
            )
        transport = _transport(stack, disk)
        if expect.transport is not None and transport != expect.transport:
            problems.append(
                f"{where}: {disk.describe()} has transport {transport!r}, "
                f"expected {expect.transport!r}"
            )
        found = {"vendor": disk.vendor, "model": disk.model, "rev": disk.column("rev")}
        for key, wanted in expect.hardware.items():
            have = (found[key] or "").strip() or None
            if have != wanted:
                problems.append(
                    f"{where}: {disk.describe()} has {key} {have!r}, expected {wanted!r}"
                )
        if expect.volume_handle_in is not None and stack.volume_handle:
            if expect.volume_handle_in is HandleIn.SERIAL:
                value = disk.serial or stack.sysfs.get(disk.major_minor, "device/serial")
            else:
                value = disk.wwn or stack.sysfs.get(disk.major_minor, "device/wwid")
            if not carries(value, stack.volume_handle):
                field = expect.volume_handle_in.value
                problems.append(
                    f"{where}: {disk.describe()} has {field} {value!r}, which does not carry "
                    f"the PV's volumeHandle {stack.volume_handle!r}: the disk is not this volume"
                )
    return problems
