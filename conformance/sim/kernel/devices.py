"""Disks for simulated nodes: loop-device volumes that look like SCSI disks, kubelet mounts.

A *volume* is a sparse image file on a loop device, formatted xfs or ext4. *Attaching*
it to a node gives the node a block device node named like a SCSI disk (``/dev/sdb``,
the loop's major:minor) in ``node.dev_dir`` and a synthesized SCSI device under
``node.sys_dir``, so the real ``lsscsi`` (0.31) inside the node prints::

    [11:0:0:0]   disk    DATERA   IBLOCK           4.0   /dev/sdb

*Publishing* mounts that device inside the node's mount namespace where a kubelet
would: CSI plugins stage at ``/var/lib/kubelet/plugins/kubernetes.io/csi/<driver>/
<sha256(volumeHandle)>/globalmount`` and bind that at ``/var/lib/kubelet/pods/<uid>/
volumes/kubernetes.io~csi/<pv>/mount``; flexvolume and in-tree plugins mount the device
directly at ``/var/lib/kubelet/pods/<uid>/volumes/<vendor~driver>/<pv>``. The mount
source is the node's ``/dev/sdX``, so ``mount`` prints ``/dev/sdb on ... type xfs``.

What ``lsscsi`` 0.31 reads (found with strace against the real binary):
``bus/scsi/devices/`` (entries named H:C:T:L; ``hostN``/``targetH:C:T`` entries are
skipped), and in each device directory ``type``, ``vendor``, ``model``, ``rev``,
``block/<name>/dev`` (the /dev name is then found by scanning /dev for a block node
with that major:minor, so the mknod name is what it prints), ``block/<name>/size``
(``-s``, 512-byte sectors), ``state``, ``queue_depth``, ``scsi_level``,
``device_blocked``, ``timeout`` (``-l``), ``class/scsi_host/hostN/proc_name`` (``-H``),
``class/scsi_device/H:C:T:L/device/vpd_pg83`` (``-U``/``-u``) and
``queue/logical_block_size`` (``-S``). We write those and the rest of a real sd device's
shape (class/block, class/scsi_disk, block/, dev/block/M:m symlinks, inquiry, wwid).

Disk names: ``sda`` is never handed out; a node may get a synthesized root disk ``sda``
(ATA QEMU HARDDISK at 0:0:0:0, major:minor 8:0, no real device behind it) from
``add_root_disk``. Data disks get ``sdb``, ``sdc``, ... (lowest free) and each its own
SCSI host from 11 up (one iSCSI session per target, as open-iscsi does), channel,
target and LUN 0: ``[11:0:0:0]``, ``[12:0:0:0]``, ...

Node-level faults are explicit arguments; the runtime decides when to use them:
``create_volume(wrong_fstype=True)`` formats with the other filesystem (xfs<->ext4;
``Volume.fs_type`` records what is really on the disk), ``attach(no_scsi_device=True)``
makes the /dev node but no SCSI device (``lsscsi`` does not list it), ``wipe()``
re-formats a volume (data loss on re-attach), ``unpublish(stale=True)`` leaves the
kubelet mount in place, and ``file_stamps`` + ``corrupt_changed`` flip a bit in files
written since a snapshot (corrupt-writes).

The node's /dev must hold no other block node with a volume's major:minor (no loopN
nodes), or ``lsscsi`` may print that name instead of ``sdX``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import grp
import hashlib
import json
import os
import re
import shutil
import stat
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from conformance.sim.kernel.model import NODE_OP_TIMEOUT, NodeHost, enter, run

KUBELET_ROOT = "/var/lib/kubelet"
CSI_PLUGIN_DIR = "kubernetes.io~csi"
FS_TYPES = ("xfs", "ext4")
MIN_SIZE = {"xfs": 300 * 1024 * 1024, "ext4": 64 * 1024 * 1024}  # mkfs.xfs refuses < 300 MB
FIRST_DATA_HOST = 11  # SCSI host numbers of attached volumes start here, as in the seed
ROOT_DISK_HCTL = "0:0:0:0"
_MIB = 1024 * 1024
_SD_NAME = re.compile(r"^sd[a-z]+$")
_HCTL = re.compile(r"^(\d+):(\d+):(\d+):(\d+)$")


class DeviceError(RuntimeError):
    """A volume, attachment or kubelet mount operation could not be done."""


class VolumeBusyError(DeviceError):
    """The loop device is still held (mounted or open) past the deadline."""

    def __init__(self, message: str, holders: list[str]) -> None:
        detail = "; ".join(holders) if holders else "no holder found (kernel still releasing it)"
        super().__init__(f"{message}: {detail}")
        self.holders = holders


# ---------------------------------------------------------------------------------------
# Volumes: sparse image + loop device + filesystem
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Volume:
    pv_name: str
    image: Path  # host path of the sparse image file
    loop_device: str  # host path, /dev/loopN
    major: int
    minor: int
    fs_type: str  # the filesystem really on the device (the other one under wrong_fstype)
    size_bytes: int  # the image's (and device's) real size: the request, raised to mkfs' minimum
    fs_uuid: str = ""  # filesystem UUID, set by mkfs (changes on wipe)


def _other_fs(fs_type: str) -> str:
    return "ext4" if fs_type == "xfs" else "xfs"


def _check_fs(fs_type: str) -> None:
    if fs_type not in FS_TYPES:
        raise ValueError(f"unsupported fs type {fs_type!r}: expected one of {', '.join(FS_TYPES)}")


def _image_path(volumes_dir: Path, pv_name: str) -> Path:
    if not pv_name or "/" in pv_name or pv_name in (".", ".."):
        raise ValueError(f"bad volume name {pv_name!r}")
    return volumes_dir / f"{pv_name}.img"


def _mkfs(device: str, fs_type: str, fs_uuid: str, timeout: float) -> None:
    if fs_type == "xfs":
        argv = ["mkfs.xfs", "-q", "-f", "-m", f"uuid={fs_uuid}", device]
    else:
        # lazy init: nothing is zeroed up front, so a 100Gi sparse image costs a few MB
        argv = ["mkfs.ext4", "-q", "-F", "-U", fs_uuid]
        argv += ["-E", "lazy_itable_init=1,lazy_journal_init=1", device]
    run(argv, timeout=timeout)


def _rdev(path: str) -> tuple[int, int]:
    st = os.stat(path)
    if not stat.S_ISBLK(st.st_mode):
        raise DeviceError(f"{path} is not a block device")
    return os.major(st.st_rdev), os.minor(st.st_rdev)


def create_volume(
    volumes_dir: Path,
    pv_name: str,
    size_bytes: int,
    fs_type: str,
    *,
    wrong_fstype: bool = False,
    timeout: float = 120,
) -> Volume:
    """Make ``volumes_dir/<pv>.img`` (sparse), attach a loop device and format it.

    ``wrong_fstype`` (fault): format with the other filesystem (xfs<->ext4). The image is
    at least the chosen filesystem's minimum (xfs 300 MiB, ext4 64 MiB), rounded up to
    whole MiB. Raises FileExistsError when the image exists (use ``load_volume``).
    """
    _check_fs(fs_type)
    if size_bytes <= 0:
        raise ValueError(f"size must be positive, got {size_bytes}")
    actual_fs = _other_fs(fs_type) if wrong_fstype else fs_type
    size = max(size_bytes, MIN_SIZE[actual_fs])
    size = -(-size // _MIB) * _MIB
    image = _image_path(volumes_dir, pv_name)
    volumes_dir.mkdir(parents=True, exist_ok=True)
    with open(image, "xb") as f:  # exclusive: never reuse someone else's image
        f.truncate(size)
    loop = ""
    try:
        loop = run(["losetup", "-f", "--show", str(image)], timeout=timeout).stdout.strip()
        major, minor = _rdev(loop)
        fs_uuid = str(uuid.uuid4())
        _mkfs(loop, actual_fs, fs_uuid, timeout)
    except BaseException:
        if loop:
            detach_loop(loop, image)
        image.unlink(missing_ok=True)
        raise
    return Volume(pv_name, image, loop, major, minor, actual_fs, size, fs_uuid)


def wipe(volume: Volume, *, timeout: float = 120) -> Volume:
    """Fault data-loss-on-reattach: re-format the volume (same fs type, new UUID).

    The volume must not be mounted anywhere (checked with an exclusive open, which sees
    mounts in every namespace); returns the volume with its new ``fs_uuid``.
    """
    try:
        fd = os.open(volume.loop_device, os.O_RDONLY | os.O_EXCL)
    except OSError as e:
        if e.errno != errno.EBUSY:
            raise
        holders = _holders(volume.major, volume.minor)
        raise VolumeBusyError(f"cannot wipe {volume.pv_name}, it is in use", holders) from e
    os.close(fd)
    fs_uuid = str(uuid.uuid4())
    _mkfs(volume.loop_device, volume.fs_type, fs_uuid, timeout)
    return replace(volume, fs_uuid=fs_uuid)


def _loop_backing_files() -> dict[str, str]:
    """{"/dev/loopN": backing file} for every configured loop device on this machine."""
    result: dict[str, str] = {}
    for entry in Path("/sys/block").glob("loop*"):
        backing = entry / "loop" / "backing_file"
        with contextlib.suppress(OSError):
            result[f"/dev/{entry.name}"] = backing.read_text().rstrip("\n")
    return result


def find_loops(directory: Path) -> list[tuple[str, str]]:
    """Loop devices whose backing file is (or was, "(deleted)") under ``directory``.

    For clean-up after a crash: returns [("/dev/loopN", backing file), ...].
    """
    prefix = str(directory.resolve()).rstrip("/") + "/"
    return sorted(
        (loop, backing)
        for loop, backing in _loop_backing_files().items()
        if backing.startswith(prefix)
    )


def load_volume(volumes_dir: Path, pv_name: str, *, timeout: float = 60) -> Volume | None:
    """Find an existing volume again (after a restart): its loop device, or a new one.

    Returns None when there is no image. The fs type and UUID are probed with blkid.
    """
    image = _image_path(volumes_dir, pv_name)
    if not image.exists():
        return None
    image_str = str(image.resolve())
    loops = [loop for loop, backing in _loop_backing_files().items() if backing == image_str]
    if loops:
        loop = sorted(loops)[0]
    else:
        loop = run(["losetup", "-f", "--show", str(image)], timeout=timeout).stdout.strip()
    major, minor = _rdev(loop)
    probe = run(["blkid", "-p", "-o", "export", loop], timeout=timeout, check=False)
    tags = dict(line.split("=", 1) for line in probe.stdout.splitlines() if "=" in line)
    return Volume(
        pv_name,
        image,
        loop,
        major,
        minor,
        tags.get("TYPE", ""),
        image.stat().st_size,
        tags.get("UUID", ""),
    )


def _holders(major: int, minor: int) -> list[str]:
    """Who holds block device major:minor: mounts (one line per mount namespace) and fds."""
    wanted = f"{major}:{minor}"
    rdev = os.makedev(major, minor)
    found: list[str] = []
    seen_ns: set[str] = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            comm = (proc / "comm").read_text().strip()
            ns = os.readlink(proc / "ns" / "mnt")
            if ns not in seen_ns:
                points = [
                    fields[4]
                    for fields in (
                        line.split() for line in (proc / "mountinfo").read_text().splitlines()
                    )
                    if len(fields) > 4 and fields[2] == wanted
                ]
                seen_ns.add(ns)
                if points:
                    found.append(f"pid {proc.name} ({comm}) {ns} mounts it at {', '.join(points)}")
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    st = os.stat(fd)
                    if stat.S_ISBLK(st.st_mode) and st.st_rdev == rdev:
                        found.append(f"pid {proc.name} ({comm}) has it open as fd {fd.name}")
        except OSError:  # the process went away meanwhile
            continue
    return found


def _loop_bound_to(loop: str, image: Path) -> bool:
    backing = Path("/sys/block") / Path(loop).name / "loop" / "backing_file"
    try:
        text = backing.read_text().rstrip("\n")
    except OSError:
        return False
    text = text.removesuffix(" (deleted)")
    return text == str(image.resolve()) or text == str(image)


LOOP_CLR_FD = 0x4C01  # linux/loop.h


def detach_loop(loop: str, backing: str | Path) -> bool:
    """Detach ``loop`` if it still serves ``backing``; True when it was (or is now set to
    detach itself once its last user lets go: the kernel's autoclear for a device in use).

    The device is held open while it is checked and detached, so it cannot be released
    and bound to another image in between. Detaching by name (``losetup -d``) after a
    check can hit another volume that took the device meanwhile (this simulator's next
    one, or another simulator's): that volume then vanishes under its pod, whose next
    mount fails for good.
    """
    try:
        fd = os.open(loop, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENXIO, errno.ENODEV):
            return False
        raise
    try:
        if not _loop_bound_to(loop, Path(backing)):
            return False
        fcntl.ioctl(fd, LOOP_CLR_FD)
        return True
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # not bound (any more)
            return False
        raise
    finally:
        os.close(fd)


def delete_volume(volume: Volume, *, timeout: float = 30) -> None:
    """Detach the loop device and remove the image.

    A device still in use (mounted in some mount namespace) is set to detach itself
    once released (see :func:`detach_loop`); we wait up to ``timeout`` for that and
    past it raise VolumeBusyError naming who holds it (the image is then kept, and a
    later call finds the device gone or still held). The device is never detached by
    name again while we wait.
    """
    deadline = time.monotonic() + timeout
    detach_loop(volume.loop_device, volume.image)
    delay = 0.005
    while _loop_bound_to(volume.loop_device, volume.image):
        if time.monotonic() >= deadline:
            raise VolumeBusyError(
                f"{volume.loop_device} ({volume.pv_name}) still busy after {timeout:g}s",
                _holders(volume.major, volume.minor),
            )
        # polling: the kernel tells no one when a loop device's last user lets go
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    volume.image.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------
# SCSI identity and attachment (node /dev + synthesized sysfs)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScsiIdentity:
    """INQUIRY identity: lsscsi prints vendor padded to 8, model to 16, rev to 4."""

    vendor: str = "SIM"
    model: str = "DISK"
    rev: str = "1.0"

    def __post_init__(self) -> None:
        for field, value, width in (
            ("vendor", self.vendor, 8),
            ("model", self.model, 16),
            ("rev", self.rev, 4),
        ):
            if not value or len(value) > width or not value.isascii() or not value.isprintable():
                raise ValueError(f"SCSI {field} {value!r}: 1 to {width} printable ASCII characters")


ROOT_DISK_IDENTITY = ScsiIdentity("ATA", "QEMU HARDDISK", "2.5+")


@dataclass(frozen=True)
class Attachment:
    device_name: str  # sdb
    hctl: str  # 11:0:0:0 ("" without a SCSI device: the no-scsi-device fault)
    major: int  # the loop device's
    minor: int
    dev_path: str  # /dev/sdb, as seen inside the node
    scsi_device: bool = True  # False under the no-scsi-device fault


@contextlib.contextmanager
def _node_lock(node: NodeHost) -> Iterator[None]:
    """Serialize allocation on one node, across threads and processes."""
    node.state_dir.mkdir(parents=True, exist_ok=True)
    with open(node.state_dir / "devices.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _disk_name(index: int) -> str:
    """0 -> sda, 25 -> sdz, 26 -> sdaa (the kernel's sd_format_disk_name)."""
    letters = ""
    index += 1
    while index > 0:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("a") + rem) + letters
    return "sd" + letters


def _used_names(node: NodeHost) -> set[str]:
    names = {"sda"}  # reserved for the (optional) root disk
    for directory in (node.dev_dir, node.sys_dir / "class" / "block"):
        if directory.is_dir():
            names.update(p.name for p in directory.iterdir() if _SD_NAME.match(p.name))
    return names


def _used_hosts(node: NodeHost) -> set[int]:
    hosts: set[int] = set()
    for sub in ("class/scsi_host", "bus/scsi/devices"):
        directory = node.sys_dir / sub
        if directory.is_dir():
            for p in directory.iterdir():
                m = re.match(r"^host(\d+)$", p.name) or _HCTL.match(p.name)
                if m:
                    hosts.add(int(m.group(1)))
    return hosts


def _write(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content)
    else:
        path.write_bytes(content)


def _symlink(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(os.path.relpath(target, link.parent))


def _wwn(key: str) -> str:
    """A stable NAA-6 WWN in LIO's style (OUI 001405), 32 hex digits."""
    return "6001405" + hashlib.sha256(key.encode()).hexdigest()[:25]


def _inquiry(identity: ScsiIdentity) -> bytes:
    """Standard INQUIRY data (36 bytes): direct-access, SPC-4, fixed-width identity."""
    head = bytes([0x00, 0x00, 0x06, 0x02, 31, 0x00, 0x00, 0x02])
    return (
        head
        + identity.vendor.ljust(8).encode()
        + identity.model.ljust(16).encode()
        + identity.rev.ljust(4).encode()
    )


def _vpd_pg83(wwn: str) -> bytes:
    naa = bytes.fromhex(wwn)
    designator = bytes([0x01, 0x03, 0x00, len(naa)]) + naa  # binary, LU, NAA
    return bytes([0x00, 0x83, 0x00, len(designator)]) + designator


def _vpd_pg80(serial: str) -> bytes:
    data = serial.encode()
    return bytes([0x00, 0x80, 0x00, len(data)]) + data


def _scsi_device_dir(sys_dir: Path, hctl: str) -> Path:
    host = int(hctl.split(":")[0])
    channel, target = hctl.split(":")[1:3]
    tdir = f"target{host}:{channel}:{target}"
    if hctl == ROOT_DISK_HCTL:
        return sys_dir / "devices/pci0000:00/0000:00:1f.2/ata1/host0" / tdir / hctl
    session = host - FIRST_DATA_HOST + 1
    return sys_dir / f"devices/platform/host{host}/session{session}" / tdir / hctl


def _host_dir(sys_dir: Path, hctl: str) -> Path:
    device = _scsi_device_dir(sys_dir, hctl)
    return device.parent.parent.parent if hctl != ROOT_DISK_HCTL else device.parent.parent


def _synthesize(
    sys_dir: Path,
    hctl: str,
    name: str,
    major: int,
    minor: int,
    size_bytes: int,
    identity: ScsiIdentity,
    *,
    proc_name: str,
    serial: str,
) -> None:
    host, channel, target, _lun = hctl.split(":")
    dev = _scsi_device_dir(sys_dir, hctl)
    host_dir = _host_dir(sys_dir, hctl)
    target_dir = dev.parent
    wwn = _wwn(serial)
    # the SCSI host (lsscsi -H) and target
    shost = host_dir / "scsi_host" / f"host{host}"
    _write(shost / "proc_name", f"{proc_name}\n")
    _write(shost / "state", "running\n")
    _write(shost / "unique_id", "0\n")
    _symlink(shost / "device", host_dir)
    _symlink(sys_dir / "class/scsi_host" / f"host{host}", shost)
    _write(target_dir / "uevent", "DEVTYPE=scsi_target\n")
    # the SCSI device: what lsscsi reads, padded as the kernel prints INQUIRY fields
    attrs = {
        "type": "0",
        "vendor": identity.vendor.ljust(8),
        "model": identity.model.ljust(16),
        "rev": identity.rev.ljust(4),
        "state": "running",
        "queue_depth": "128",
        "queue_type": "simple",
        "scsi_level": "7",  # SPC-4 (ANSI version 6) + 1
        "device_blocked": "0",
        "timeout": "30",
        "eh_timeout": "10",
        "iocounterbits": "32",
        "iodone_cnt": "0x0",
        "ioerr_cnt": "0x0",
        "iorequest_cnt": "0x0",
        "modalias": "scsi:t-0x00",
        "wwid": f"naa.{wwn}",
        "uevent": "DEVTYPE=scsi_device\nDRIVER=sd\nMODALIAS=scsi:t-0x00",
    }
    for attr, value in attrs.items():
        _write(dev / attr, f"{value}\n")
    _write(dev / "inquiry", _inquiry(identity))
    _write(dev / "vpd_pg83", _vpd_pg83(wwn))
    _write(dev / "vpd_pg80", _vpd_pg80(serial[:32]))
    _symlink(dev / "subsystem", sys_dir / "bus/scsi")
    for cls in ("scsi_device", "scsi_disk"):
        cdir = dev / cls / hctl
        _symlink(cdir / "device", dev)
        _symlink(sys_dir / "class" / cls / hctl, cdir)
    _write(dev / "scsi_disk" / hctl / "cache_type", "write through\n")
    _write(dev / "scsi_disk" / hctl / "FUA", "0\n")
    # the block device sdX
    blk = dev / "block" / name
    for attr, value in {
        "dev": f"{major}:{minor}",
        "size": str(size_bytes // 512),
        "ro": "0",
        "removable": "0",
        "range": "16",
        "uevent": f"MAJOR={major}\nMINOR={minor}\nDEVNAME={name}\nDEVTYPE=disk",
        "queue/logical_block_size": "512",
        "queue/physical_block_size": "512",
        "queue/rotational": "0",
    }.items():
        _write(blk / attr, f"{value}\n")
    (blk / "holders").mkdir(exist_ok=True)
    (blk / "slaves").mkdir(exist_ok=True)
    _symlink(blk / "device", dev)
    _symlink(blk / "subsystem", sys_dir / "class/block")
    _symlink(sys_dir / "class/block" / name, blk)
    _symlink(sys_dir / "block" / name, blk)
    _symlink(sys_dir / "dev/block" / f"{major}:{minor}", blk)
    # last: bus/scsi/devices is what lsscsi lists, so the entry appears complete or not at all
    bus = sys_dir / "bus/scsi/devices"
    _symlink(bus / f"host{host}", host_dir)
    _symlink(bus / f"target{host}:{channel}:{target}", target_dir)
    _symlink(bus / hctl, dev)


def _remove_scsi(sys_dir: Path, hctl: str, name: str, major: int, minor: int) -> None:
    host, channel, target, _lun = hctl.split(":")
    bus = sys_dir / "bus/scsi/devices"
    links = [
        bus / hctl,  # first: lsscsi stops listing it
        bus / f"target{host}:{channel}:{target}",
        bus / f"host{host}",
        sys_dir / "class/scsi_device" / hctl,
        sys_dir / "class/scsi_disk" / hctl,
        sys_dir / "class/scsi_host" / f"host{host}",
        sys_dir / "class/block" / name,
        sys_dir / "block" / name,
        sys_dir / "dev/block" / f"{major}:{minor}",
    ]
    for link in links:
        if link.is_symlink() or link.is_file():
            link.unlink()
    shutil.rmtree(_host_dir(sys_dir, hctl), ignore_errors=True)


def _mknod(path: Path, major: int, minor: int) -> None:
    if path.is_symlink() or path.exists():
        path.unlink()
    os.mknod(path, stat.S_IFBLK | 0o660, os.makedev(major, minor))
    os.chmod(path, 0o660)  # umask may have cut it
    with contextlib.suppress(KeyError):
        os.chown(path, 0, grp.getgrnam("disk").gr_gid)


def attach(
    node: NodeHost,
    volume: Volume,
    identity: ScsiIdentity | None = None,
    *,
    no_scsi_device: bool = False,
) -> Attachment:
    """Give ``node`` the volume as the next free SCSI disk (sdb, sdc, ...).

    Creates ``/dev/sdX`` (block, 0660, root:disk, the loop's major:minor) and the SCSI
    device under the node's /sys. ``no_scsi_device`` (fault): only the /dev node, so
    ``lsscsi`` does not list the disk. Attaching a volume the node already has returns
    the existing attachment.
    """
    identity = identity or ScsiIdentity()
    node.dev_dir.mkdir(parents=True, exist_ok=True)
    node.sys_dir.mkdir(parents=True, exist_ok=True)
    with _node_lock(node):
        for existing in attachments(node):
            if (existing.major, existing.minor) == (volume.major, volume.minor):
                return existing
        used = _used_names(node)
        name = next(_disk_name(i) for i in range(1, 26 * 27) if _disk_name(i) not in used)
        hosts = _used_hosts(node)
        host = next(h for h in range(FIRST_DATA_HOST, FIRST_DATA_HOST + 10_000) if h not in hosts)
        hctl = f"{host}:0:0:0"
        _mknod(node.dev_dir / name, volume.major, volume.minor)
        if not no_scsi_device:
            try:
                _synthesize(
                    node.sys_dir,
                    hctl,
                    name,
                    volume.major,
                    volume.minor,
                    volume.size_bytes,
                    identity,
                    proc_name="iscsi_tcp",
                    serial=volume.pv_name,
                )
            except BaseException:
                _remove_scsi(node.sys_dir, hctl, name, volume.major, volume.minor)
                (node.dev_dir / name).unlink(missing_ok=True)
                raise
        if no_scsi_device:
            hctl = ""  # no SCSI address: nothing in sysfs names this disk
        return Attachment(
            name, hctl, volume.major, volume.minor, f"/dev/{name}", not no_scsi_device
        )


def add_root_disk(
    node: NodeHost,
    identity: ScsiIdentity = ROOT_DISK_IDENTITY,
    size_bytes: int = 100 * 1024**3,
) -> Attachment:
    """Optional realism: a root disk ``sda`` at [0:0:0:0] (8:0, nothing real behind it)."""
    node.dev_dir.mkdir(parents=True, exist_ok=True)
    with _node_lock(node):
        _mknod(node.dev_dir / "sda", 8, 0)
        _synthesize(
            node.sys_dir,
            ROOT_DISK_HCTL,
            "sda",
            8,
            0,
            size_bytes,
            identity,
            proc_name="ahci",
            serial=f"QM00001-{node.name}",
        )
    return Attachment("sda", ROOT_DISK_HCTL, 8, 0, "/dev/sda")


def detach(node: NodeHost, attachment: Attachment) -> None:
    """Remove the SCSI device (lsscsi stops listing it), then the /dev node. Idempotent.

    Mounts of the device inside the node are not touched (a stale mount keeps working,
    as on a real node whose iSCSI session went away).
    """
    with _node_lock(node):
        if _HCTL.match(attachment.hctl):  # "" under no-scsi-device: only the /dev node
            _remove_scsi(
                node.sys_dir,
                attachment.hctl,
                attachment.device_name,
                attachment.major,
                attachment.minor,
            )
        path = node.dev_dir / attachment.device_name
        with contextlib.suppress(FileNotFoundError):
            st = path.lstat()
            if stat.S_ISBLK(st.st_mode) and st.st_rdev == os.makedev(
                attachment.major, attachment.minor
            ):
                path.unlink()


def attachments(node: NodeHost) -> list[Attachment]:
    """The node's attached disks (sd* block nodes in its /dev), e.g. after a restart."""
    hctl_of: dict[str, str] = {}
    bus = node.sys_dir / "bus/scsi/devices"
    if bus.is_dir():
        for entry in bus.iterdir():
            if _HCTL.match(entry.name) and (entry / "block").is_dir():
                for blk in (entry / "block").iterdir():
                    hctl_of[blk.name] = entry.name
    found: list[Attachment] = []
    if not node.dev_dir.is_dir():
        return found
    for path in sorted(node.dev_dir.iterdir()):
        if not _SD_NAME.match(path.name):
            continue
        st = path.lstat()
        if not stat.S_ISBLK(st.st_mode):
            continue
        major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
        hctl = hctl_of.get(path.name, "")
        found.append(Attachment(path.name, hctl, major, minor, f"/dev/{path.name}", bool(hctl)))
    return found


# ---------------------------------------------------------------------------------------
# Kubelet mount layouts inside the node's mount namespace
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MountEntry:
    """One line of /proc/<pid>/mountinfo."""

    mount_id: int
    major: int
    minor: int
    root: str
    mount_point: str
    options: str
    fs_type: str
    source: str
    super_options: str


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text: str) -> list[MountEntry]:
    entries: list[MountEntry] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 10 or "-" not in fields[6:]:
            continue
        sep = fields.index("-", 6)
        major, minor = fields[2].split(":")
        entries.append(
            MountEntry(
                int(fields[0]),
                int(major),
                int(minor),
                _unescape(fields[3]),
                _unescape(fields[4]),
                fields[5],
                fields[sep + 1],
                _unescape(fields[sep + 2]),
                fields[sep + 3] if len(fields) > sep + 3 else "",
            )
        )
    return entries


def node_mounts(node: NodeHost) -> list[MountEntry]:
    """The node's mount table, read from the host (/proc/<agent pid>/mountinfo)."""
    return parse_mountinfo(Path(f"/proc/{node.pid}/mountinfo").read_text())


def _mounted_at(node: NodeHost, path: str) -> MountEntry | None:
    matches = [m for m in node_mounts(node) if m.mount_point == path]
    return matches[-1] if matches else None  # the topmost


@dataclass(frozen=True)
class KubeletLayout:
    """Where a kubelet puts one pod's volume (paths as seen inside the node).

    CSI (plugin dir ``kubernetes.io~csi``): staged once per node at ``staging_path`` and
    bind-mounted at ``publish_path`` = ``.../volumes/kubernetes.io~csi/<pv>/mount``.
    Flexvolume / in-tree (e.g. ``datera~iscsi``): the device is mounted directly at
    ``publish_path`` = ``.../volumes/<plugin dir>/<pv>``.
    """

    pod_uid: str
    pv_name: str
    plugin_dir: str
    driver: str = ""
    volume_handle: str = ""
    root: str = KUBELET_ROOT

    def __post_init__(self) -> None:
        for field, value in (("pod uid", self.pod_uid), ("pv name", self.pv_name)):
            if not value or "/" in value or value in (".", ".."):
                raise ValueError(f"bad {field} {value!r}")
        if not self.plugin_dir or "/" in self.plugin_dir:
            raise ValueError(f"bad plugin dir {self.plugin_dir!r}")
        if self.csi and not (self.driver and self.volume_handle):
            raise ValueError("a CSI layout needs driver and volume_handle")

    @property
    def csi(self) -> bool:
        return self.plugin_dir == CSI_PLUGIN_DIR

    @property
    def volume_dir(self) -> str:
        return f"{self.root}/pods/{self.pod_uid}/volumes/{self.plugin_dir}/{self.pv_name}"

    @property
    def publish_path(self) -> str:
        return f"{self.volume_dir}/mount" if self.csi else self.volume_dir

    @property
    def staging_dir(self) -> str:
        return staging_dir(self.driver, self.volume_handle, self.root)

    @property
    def staging_path(self) -> str:
        return f"{self.staging_dir}/globalmount"


def staging_dir(driver: str, volume_handle: str, root: str = KUBELET_ROOT) -> str:
    digest = hashlib.sha256(volume_handle.encode()).hexdigest()
    return f"{root}/plugins/kubernetes.io/csi/{driver}/{digest}"


def _in_node(
    node: NodeHost, *argv: str, input: str | None = None, timeout: float = NODE_OP_TIMEOUT
) -> str:
    """Run a command inside the node (bounded: NodeCommandTimeout after ``timeout``)."""
    return run([*enter(node.pid, net=False), *argv], input=input, timeout=timeout).stdout


def _rmdirs_in_node(node: NodeHost, *paths: str) -> None:
    """rmdir each path that exists and is empty (in order: children first)."""
    script = 'for d in "$@"; do if [ -d "$d" ]; then rmdir "$d" 2>/dev/null || true; fi; done'
    _in_node(node, "sh", "-c", script, "sh", *paths)


def _write_in_node(node: NodeHost, path: str, content: str) -> None:
    _in_node(node, "sh", "-c", 'cat > "$1"', "sh", path, input=content)


def _mount_device(
    node: NodeHost, attachment: Attachment, target: str, fs_type: str | None, read_only: bool
) -> None:
    existing = _mounted_at(node, target)
    if existing is not None:
        if (existing.major, existing.minor) != (attachment.major, attachment.minor):
            raise DeviceError(
                f"{node.name}: {target} already has {existing.source} "
                f"({existing.major}:{existing.minor}) mounted, not {attachment.dev_path}"
            )
        return
    _in_node(node, "mkdir", "-p", target)
    argv = ["mount"]
    if fs_type:
        argv += ["-t", fs_type]
    if read_only:
        argv += ["-o", "ro"]
    _in_node(node, *argv, attachment.dev_path, target)


def publish(
    node: NodeHost,
    attachment: Attachment,
    *,
    pod_uid: str,
    pv_name: str,
    plugin_dir: str,
    driver: str = "",
    volume_handle: str = "",
    fs_type: str | None = None,
    read_only: bool = False,
    node_name: str | None = None,
) -> str:
    """Mount the attached disk for a pod the way a kubelet does; return the pod's path.

    CSI (``plugin_dir == "kubernetes.io~csi"``): stage the device at the globalmount
    (once per node), bind it at ``.../<pv>/mount`` (read-only bind if ``read_only``),
    and write vol_data.json files as the kubelet does. Otherwise mount the device
    directly at ``.../<plugin_dir>/<pv>``. ``fs_type`` None lets mount probe the
    filesystem; pass ``volume.fs_type`` (what is on the disk) so a wrong-fstype volume
    mounts as what it is. Idempotent for the same device.
    """
    layout = KubeletLayout(pod_uid, pv_name, plugin_dir, driver, volume_handle)
    if not layout.csi:
        _mount_device(node, attachment, layout.publish_path, fs_type, read_only)
        return layout.publish_path
    stage(node, attachment, driver=driver, volume_handle=volume_handle, fs_type=fs_type)
    target = layout.publish_path
    existing = _mounted_at(node, target)
    if existing is not None:
        if (existing.major, existing.minor) != (attachment.major, attachment.minor):
            raise DeviceError(f"{node.name}: {target} already has {existing.source} mounted")
        return target
    _in_node(node, "mkdir", "-p", target)
    _in_node(node, "mount", "--bind", layout.staging_path, target)
    if read_only:
        _in_node(node, "mount", "-o", "remount,bind,ro", target)
    vol_data = {
        "attachmentID": "csi-" + hashlib.sha256(f"{volume_handle}{driver}".encode()).hexdigest(),
        "driverName": driver,
        "nodeName": node_name or node.name,
        "specVolID": pv_name,
        "volumeHandle": volume_handle,
        "volumeLifecycleMode": "Persistent",
    }
    _write_in_node(node, f"{layout.volume_dir}/vol_data.json", json.dumps(vol_data))
    return target


def stage(
    node: NodeHost,
    attachment: Attachment,
    *,
    driver: str,
    volume_handle: str,
    fs_type: str | None = None,
) -> str:
    """CSI NodeStage: mount the device at the driver's globalmount; return that path."""
    directory = staging_dir(driver, volume_handle)
    target = f"{directory}/globalmount"
    _mount_device(node, attachment, target, fs_type, False)
    vol_data = {"driverName": driver, "volumeHandle": volume_handle}
    _write_in_node(node, f"{directory}/vol_data.json", json.dumps(vol_data))
    return target


def _umount(node: NodeHost, path: str, timeout: float) -> None:
    for _ in range(16):  # a path may be mounted over several times
        if _mounted_at(node, path) is None:
            return
        _in_node(node, "umount", path, timeout=timeout)
    raise DeviceError(f"{node.name}: {path} is still mounted after 16 unmounts")


def unpublish(
    node: NodeHost, kubelet_path: str, *, stale: bool = False, timeout: float = NODE_OP_TIMEOUT
) -> None:
    """Unmount a pod's volume path and remove its directory (and vol_data.json for CSI).

    ``stale`` (fault stale-kubelet-mount): do nothing, leaving the mount as a kubelet
    that lost track of it would. Unpublishing an unmounted path just tidies up.
    """
    if stale:
        return
    _umount(node, kubelet_path, timeout)
    parent, _, leaf = kubelet_path.rpartition("/")
    is_csi = leaf == "mount" and parent.rpartition("/")[0].endswith(f"/{CSI_PLUGIN_DIR}")
    if is_csi:
        _in_node(node, "rm", "-f", f"{parent}/vol_data.json")
        _rmdirs_in_node(node, kubelet_path, parent)
    else:
        _rmdirs_in_node(node, kubelet_path)


def unstage(
    node: NodeHost, *, driver: str, volume_handle: str, timeout: float = NODE_OP_TIMEOUT
) -> None:
    """CSI NodeUnstage: unmount the globalmount and remove its directory."""
    directory = staging_dir(driver, volume_handle)
    _umount(node, f"{directory}/globalmount", timeout)
    _in_node(node, "rm", "-f", f"{directory}/vol_data.json")
    _rmdirs_in_node(node, f"{directory}/globalmount", directory)


# ---------------------------------------------------------------------------------------
# Fault corrupt-writes: a disk that silently corrupts data at rest
# ---------------------------------------------------------------------------------------

FileStamp = tuple[int, int, int]  # inode, size, mtime in ns: what a write changes


def _host_view(node: NodeHost, path: str) -> str:
    """A path inside the node, as the host reaches it (through the agent's root)."""
    return f"/proc/{node.pid}/root/{path.lstrip('/')}"


def file_stamps(node: NodeHost, path: str) -> dict[str, FileStamp]:
    """The regular files under ``path`` in the node (relative path -> stamp).

    Walks with directory file descriptors and never follows symlinks, so a pod cannot
    steer the walk out of its volume; a missing path has no files.
    """
    stamps: dict[str, FileStamp] = {}
    top = _host_view(node, path)
    if not os.path.isdir(top):
        return stamps
    for directory, _, names, dir_fd in os.fwalk(top, follow_symlinks=False):
        relative = os.path.relpath(directory, top)
        for name in names:
            try:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except OSError:
                continue  # removed meanwhile
            if stat.S_ISREG(st.st_mode):
                stamps[os.path.normpath(os.path.join(relative, name))] = (
                    st.st_ino,
                    st.st_size,
                    st.st_mtime_ns,
                )
    return stamps


def corrupt_changed(node: NodeHost, path: str, before: dict[str, FileStamp]) -> list[str]:
    """Flip the lowest bit of the middle byte of each non-empty regular file under
    ``path`` that is new or changed since ``before`` (see :func:`file_stamps`).

    The file keeps its size and timestamps, as on a disk that corrupts data at rest:
    only reading the data back shows it. Returns the relative paths corrupted.
    """
    top = _host_view(node, path)
    corrupted: list[str] = []
    for relative, stamp in file_stamps(node, path).items():
        if before.get(relative) == stamp or stamp[1] == 0:
            continue
        directory, name = os.path.split(relative)
        try:
            dir_fd = _open_beneath(top, directory)
        except OSError:
            continue
        try:
            fd = os.open(
                name, os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd
            )
        except OSError:
            continue  # removed or replaced meanwhile, or read-only
        finally:
            os.close(dir_fd)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
                continue
            offset = st.st_size // 2
            byte = os.pread(fd, 1, offset)
            if len(byte) != 1:
                continue
            os.pwrite(fd, bytes([byte[0] ^ 0x01]), offset)
            os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))
            corrupted.append(relative)
        finally:
            os.close(fd)
    return corrupted


def _open_beneath(top: str, relative: str) -> int:
    """A directory fd for ``top/relative``, opening one component at a time, no symlinks."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    for part in Path(relative).parts:
        if part in (".", ""):
            continue
        if part == "..":
            os.close(fd)
            raise OSError(errno.EINVAL, f"{relative} leaves {top}")
        try:
            child = os.open(
                part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd
            )
        finally:
            os.close(fd)
        fd = child
    return fd
