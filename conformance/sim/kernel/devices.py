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

What lsblk (util-linux 2.38) reads besides: HCTL is the last component of the block
device's ``device`` link (so links are written as the kernel writes them,
``../../../11:0:0:0``); TRAN is ``iscsi``/``fc``/``sas`` when
``/sys/class/{iscsi,fc,sas}_host/hostH`` exists (fc also needs ``symbolic_name``), so
each transport gets its class entries and its own device path (:class:`ScsiLayout`),
and ``lsscsi -t`` finds the iSCSI session's target name, the FC rport's port name or
the SAS address there; WWN and SERIAL come from the udev database (``udev.py``), which
each attach writes (ID_WWN_WITH_EXTENSION = the NAA WWN, ID_SCSI_SERIAL = VPD 0x80).
The WWN and serial derive from a key (the volumeHandle; see ``stackspec.py``). Other
stacks (dm-multipath, NVMe, RBD) are built on these pieces in ``stacks.py``.

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

from conformance.sim.kernel import throttle, udev
from conformance.sim.kernel.model import NODE_OP_TIMEOUT, NodeHost, enter, run
from conformance.sim.stackspec import naa_wwn, unit_serial

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


DELETED = " (deleted)"  # what the kernel appends to a backing file's name once unlinked


def _loop_bound_to(loop: str, image: Path) -> bool:
    """``image`` may carry the "(deleted)" of a listing (find_loops) or not."""
    backing = Path("/sys/block") / Path(loop).name / "loop" / "backing_file"
    try:
        text = backing.read_text().rstrip("\n").removesuffix(DELETED)
    except OSError:
        return False
    name = str(image).removesuffix(DELETED)
    return text in (name, str(Path(name).resolve()))


LOOP_CLR_FD = 0x4C01  # linux/loop.h


def _device_number(fd: int) -> tuple[int, int]:
    rdev = os.fstat(fd).st_rdev
    return os.major(rdev), os.minor(rdev)


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
        # a throttle rule (fault slow-volume) outlives the binding: the next image on this
        # device, maybe not ours, would be slow (a simulator killed before its detach)
        throttle.clear({_device_number(fd)})
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
    device_name: str  # sdb (dm-0, nvme1n1, rbd0 for the other stacks)
    hctl: str  # 11:0:0:0 ("" without a SCSI device: the no-scsi-device fault, or no SCSI)
    major: int  # the loop device's
    minor: int
    dev_path: str  # /dev/sdb, as seen inside the node (/dev/mapper/mpatha for a map)
    scsi_device: bool = True  # False under the no-scsi-device fault, and for non-SCSI stacks
    kind: str = "scsi"  # scsi, multipath, nvme, rbd (see stacks.py for the others)
    paths: tuple[Attachment, ...] = ()  # a multipath map's SCSI paths
    loop_device: str = ""  # a loop device this attachment made itself (a path's), freed on detach


@contextlib.contextmanager
def node_lock(node: NodeHost) -> Iterator[None]:
    """Serialize allocation of names and SCSI hosts on one node, across threads and
    processes (not re-entrant: take it once around a whole attachment)."""
    node.state_dir.mkdir(parents=True, exist_ok=True)
    with open(node.state_dir / "devices.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


_node_lock = node_lock


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


def write_attributes(directory: Path, attributes: dict[str, str]) -> None:
    """sysfs attribute files, one value and a newline each (``queue/x`` makes ``queue/``)."""
    for attr, value in attributes.items():
        _write(directory / attr, f"{value}\n")


def symlink(link: Path, target: Path) -> None:
    """A relative symlink written as the kernel writes sysfs links: up to the target's
    parent, then its name (``device -> ../../../11:0:0:0``, never ``../..``), so readers
    that take the link's last component (lsblk's HCTL) see the target's name."""
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(os.path.join(os.path.relpath(target.parent, link.parent), target.name))


_symlink = symlink


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


# SCSI transports: the driver behind the host (lsscsi -H, lsblk's "ata"/"sata" test) and
# the transport class whose /sys/class/<name>/hostN directory lsblk and lsscsi look for.
PROC_NAMES = {"iscsi": "iscsi_tcp", "fc": "qla2xxx", "sas": "mpt3sas", "ata": "ahci"}
ISCSI_PORTALS = "192.0.2."  # TEST-NET-1 (RFC 5737): written in sysfs only, never contacted


@dataclass(frozen=True)
class ScsiLayout:
    """Where one SCSI device lives under /sys/devices, per transport, as the kernel puts it.

    - iscsi: ``platform/hostH/sessionS/targetH:C:T/H:C:T:L`` (one session per host, as
      open-iscsi logs in one per portal);
    - fc: ``pci0000:00/0000:00:03.0/0000:BB:00.0/hostH/rport-H:0-0/targetH:C:T/H:C:T:L``;
    - sas: ``pci0000:00/0000:00:02.0/0000:BB:00.0/hostH/port-H:0/end_device-H:0/
      targetH:C:T/H:C:T:L``;
    - ata (the root disk): ``pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0``.
    """

    sys_dir: Path
    hctl: str
    transport: str

    @property
    def host(self) -> int:
        return int(self.hctl.split(":")[0])

    @property
    def session(self) -> int:
        return self.host - FIRST_DATA_HOST + 1

    @property
    def host_dir(self) -> Path:
        devices = self.sys_dir / "devices"
        if self.transport == "ata":
            return devices / "pci0000:00/0000:00:1f.2/ata1" / f"host{self.host}"
        if self.transport == "iscsi":
            return devices / "platform" / f"host{self.host}"
        bridge = "0000:00:03.0" if self.transport == "fc" else "0000:00:02.0"
        return devices / "pci0000:00" / bridge / self.pci_address / f"host{self.host}"

    @property
    def pci_address(self) -> str:
        return f"0000:{self.host % 256:02x}:00.0"

    @property
    def port_dir(self) -> Path:
        """What stands between the host and the target: session, rport or SAS end device."""
        if self.transport == "iscsi":
            return self.host_dir / f"session{self.session}"
        if self.transport == "fc":
            return self.host_dir / f"rport-{self.host}:0-0"
        if self.transport == "sas":
            return self.host_dir / f"port-{self.host}:0" / f"end_device-{self.host}:0"
        return self.host_dir

    @property
    def target(self) -> str:
        host, channel, target, _ = self.hctl.split(":")
        return f"target{host}:{channel}:{target}"

    @property
    def target_dir(self) -> Path:
        return self.port_dir / self.target

    @property
    def device_dir(self) -> Path:
        return self.target_dir / self.hctl


def iscsi_target_name(identity: ScsiIdentity, wwn: str) -> str:
    """The target's IQN in its vendor's style (a LIO target's otherwise)."""
    if identity.vendor == "NETAPP":
        return f"iqn.1992-08.com.netapp:sn.{wwn[8:]}:vs.3"
    if identity.vendor == "DATERA":
        return f"iqn.2013-05.com.daterainc:tc:01:sn:{wwn[-16:]}"
    return f"iqn.2003-01.org.linux-iscsi.target.x8664:sn.{wwn[-12:]}"


def _port_name(prefix: str, key: str) -> str:
    return "0x" + prefix + hashlib.sha256(key.encode()).hexdigest()[: 16 - len(prefix)]


def _transport_class(
    layout: ScsiLayout, identity: ScsiIdentity, wwn: str, portal: int
) -> tuple[str, dict[str, str]]:
    """Write the transport class entries of the device's host and port; return the
    udev ID_PATH of the device and properties its transport adds."""
    sys_dir, host, hctl = layout.sys_dir, layout.host, layout.hctl
    cls = sys_dir / "class"
    lun = hctl.split(":")[3]
    if layout.transport == "iscsi":
        ihost = layout.host_dir / "iscsi_host" / f"host{host}"
        write_attributes(
            ihost,
            {
                "initiatorname": "iqn.1993-08.org.debian:01:cfsim",
                "ipaddress": f"{ISCSI_PORTALS}1",
                "hwaddress": "(null)",
                "netdev": "(null)",
                "port_state": "Unknown",
                "port_speed": "Unknown",
            },
        )
        symlink(ihost / "device", layout.host_dir)
        symlink(cls / "iscsi_host" / f"host{host}", ihost)
        session = layout.port_dir / "iscsi_session" / f"session{layout.session}"
        target_name = iscsi_target_name(identity, wwn)
        address = f"{ISCSI_PORTALS}{10 + portal}"
        write_attributes(
            session,
            {
                "targetname": target_name,
                "tpgt": "1",
                "state": "LOGGED_IN",
                "recovery_tmo": "120",
                "initiatorname": "iqn.1993-08.org.debian:01:cfsim",
            },
        )
        symlink(session / "device", layout.port_dir)
        symlink(cls / "iscsi_session" / f"session{layout.session}", session)
        connection = layout.port_dir / f"connection{layout.session}:0"
        iconn = connection / "iscsi_connection" / f"connection{layout.session}:0"
        write_attributes(
            iconn,
            {
                "address": address,
                "port": "3260",
                "persistent_address": address,
                "persistent_port": "3260",
            },
        )
        symlink(iconn / "device", connection)
        symlink(cls / "iscsi_connection" / f"connection{layout.session}:0", iconn)
        return f"ip-{address}:3260-iscsi-{target_name}-lun-{lun}", {}
    if layout.transport == "fc":
        fchost = layout.host_dir / "fc_host" / f"host{host}"
        initiator = _port_name("21000024ff", f"hba:{host}")
        write_attributes(
            fchost,
            {
                "port_name": initiator,
                "node_name": initiator.replace("0x21", "0x20", 1),
                "port_id": f"0x{host % 256:02x}0100",
                "port_state": "Online",
                "port_type": "NPort (fabric via point-to-point)",
                "speed": "16 Gbit",
                "supported_classes": "Class 3",
                "symbolic_name": "QLE2742 FW:v9.06.02 DVR:v10.02.00.106-k",
            },
        )
        symlink(fchost / "device", layout.host_dir)
        symlink(cls / "fc_host" / f"host{host}", fchost)
        target_port = _port_name("20", f"target:{wwn}:{portal}")
        remote = {
            "port_name": target_port,
            "node_name": _port_name("20", f"node:{wwn}"),
            "port_id": f"0x{portal + 1:02x}0200",
        }
        rport = layout.port_dir / "fc_remote_ports" / layout.port_dir.name
        write_attributes(rport, {**remote, "port_state": "Online", "roles": "FCP Target"})
        symlink(rport / "device", layout.port_dir)
        symlink(cls / "fc_remote_ports" / layout.port_dir.name, rport)
        ftarget = layout.target_dir / "fc_transport" / layout.target
        write_attributes(ftarget, remote)
        symlink(ftarget / "device", layout.target_dir)
        symlink(cls / "fc_transport" / layout.target, ftarget)
        return f"pci-{layout.pci_address}-fc-{target_port}-lun-{lun}", {}
    if layout.transport == "sas":
        sashost = layout.host_dir / "sas_host" / f"host{host}"
        write_attributes(sashost, {"uevent": ""})
        symlink(sashost / "device", layout.host_dir)
        symlink(cls / "sas_host" / f"host{host}", sashost)
        address = _port_name("5000c5", f"sas:{wwn}:{portal}")
        sasdev = layout.port_dir / "sas_device" / layout.port_dir.name
        write_attributes(
            sasdev,
            {"sas_address": address, "enclosure_identifier": "0x0", "bay_identifier": "0"},
        )
        symlink(sasdev / "device", layout.port_dir)
        symlink(cls / "sas_device" / layout.port_dir.name, sasdev)
        write_attributes(layout.device_dir, {"sas_address": address})
        return f"pci-{layout.pci_address}-sas-{address}-lun-{lun}", {}
    return f"pci-0000:00:1f.2-ata-{host + 1}", {"ID_ATA": "1"}


def _synthesize(
    sys_dir: Path,
    hctl: str,
    name: str,
    major: int,
    minor: int,
    size_bytes: int,
    identity: ScsiIdentity,
    *,
    transport: str,
    wwn: str,
    serial: str,
    state: str = "running",
    portal: int = 0,
) -> dict[str, str]:
    """Write the SCSI device (host, transport class, target, device, block device) into
    ``sys_dir``; return the udev properties a real node's udev records for it."""
    layout = ScsiLayout(sys_dir, hctl, transport)
    host, channel, target, _lun = hctl.split(":")
    dev = layout.device_dir
    host_dir = layout.host_dir
    target_dir = layout.target_dir
    # the SCSI host (lsscsi -H) and target
    shost = host_dir / "scsi_host" / f"host{host}"
    write_attributes(
        shost, {"proc_name": PROC_NAMES[transport], "state": "running", "unique_id": "0"}
    )
    _symlink(shost / "device", host_dir)
    _symlink(sys_dir / "class/scsi_host" / f"host{host}", shost)
    _write(host_dir / "uevent", "DEVTYPE=scsi_host\n")
    _write(target_dir / "uevent", "DEVTYPE=scsi_target\n")
    id_path, transport_properties = _transport_class(layout, identity, wwn, portal)
    # the SCSI device: what lsscsi reads, padded as the kernel prints INQUIRY fields
    attrs = {
        "type": "0",
        "vendor": identity.vendor.ljust(8),
        "model": identity.model.ljust(16),
        "rev": identity.rev.ljust(4),
        "state": state,
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
    write_attributes(dev, attrs)
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
    write_attributes(
        blk,
        {
            "dev": f"{major}:{minor}",
            "size": str(size_bytes // 512),
            "ro": "0",
            "removable": "0",
            "range": "16",
            "uevent": f"MAJOR={major}\nMINOR={minor}\nDEVNAME={name}\nDEVTYPE=disk",
            "queue/logical_block_size": "512",
            "queue/physical_block_size": "512",
            "queue/rotational": "0",
        },
    )
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
    return {
        "ID_SCSI": "1",
        "ID_VENDOR": identity.vendor.strip().replace(" ", "_"),
        "ID_VENDOR_ENC": udev.encode(identity.vendor.ljust(8)),
        "ID_MODEL": identity.model.strip().replace(" ", "_"),
        "ID_MODEL_ENC": udev.encode(identity.model.ljust(16)),
        "ID_REVISION": identity.rev.strip(),
        "ID_TYPE": "disk",
        "ID_SERIAL": f"3{wwn}",
        "ID_SERIAL_SHORT": wwn,
        "ID_WWN": f"0x{wwn[:16]}",
        "ID_WWN_VENDOR_EXTENSION": f"0x{wwn[16:]}" if len(wwn) > 16 else "",
        "ID_WWN_WITH_EXTENSION": f"0x{wwn}",
        "ID_SCSI_SERIAL": serial,
        "ID_BUS": "scsi",
        "ID_PATH": id_path,
        "ID_PATH_TAG": re.sub(r"[^0-9A-Za-z]", "_", id_path),
        **transport_properties,
    }


def _scsi_host_dir(sys_dir: Path, hctl: str) -> Path:
    """The host directory of an existing SCSI device, whatever its transport."""
    host = f"host{hctl.split(':')[0]}"
    bus, shost = sys_dir / "bus/scsi/devices" / host, sys_dir / "class/scsi_host" / host
    if bus.is_symlink():
        return Path(os.path.normpath(bus.parent / os.readlink(bus)))
    if shost.is_symlink():  # <host dir>/scsi_host/hostH
        return Path(os.path.normpath(shost.parent / os.readlink(shost))).parent.parent
    transport = "ata" if hctl == ROOT_DISK_HCTL else "iscsi"
    return ScsiLayout(sys_dir, hctl, transport).host_dir


def unlink_links_into(sys_dir: Path, subtree: Path) -> None:
    """Remove every class, bus, block and dev/block link that points into ``subtree``
    (a device about to go), so no dangling entry is left for readers to trip on."""
    prefix = str(subtree).rstrip("/") + "/"
    directories = [sys_dir / "block", sys_dir / "dev" / "block"]
    for parent in (sys_dir / "class", sys_dir / "bus"):
        if parent.is_dir():
            for sub in parent.iterdir():
                directories.append(sub / "devices" if parent.name == "bus" else sub)
    for directory in directories:
        if not directory.is_dir():
            continue
        for link in directory.iterdir():
            if not link.is_symlink():
                continue
            target = os.path.normpath(link.parent / os.readlink(link))
            if target == str(subtree) or target.startswith(prefix):
                link.unlink()


def _remove_scsi(sys_dir: Path, hctl: str, name: str, major: int, minor: int) -> None:
    host_dir = _scsi_host_dir(sys_dir, hctl)
    first = sys_dir / "bus/scsi/devices" / hctl  # first: lsscsi stops listing it
    if first.is_symlink():
        first.unlink()
    for link in (
        sys_dir / "class/block" / name,
        sys_dir / "block" / name,
        sys_dir / "dev/block" / f"{major}:{minor}",
    ):
        if link.is_symlink() or link.is_file():
            link.unlink()
    unlink_links_into(sys_dir, host_dir)
    shutil.rmtree(host_dir, ignore_errors=True)
    if re.fullmatch(r"[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]", host_dir.parent.name):
        with contextlib.suppress(OSError):  # an HBA's PCI function, once its host is gone
            host_dir.parent.rmdir()


def _mknod(path: Path, major: int, minor: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.exists():
        path.unlink()
    os.mknod(path, stat.S_IFBLK | 0o660, os.makedev(major, minor))
    os.chmod(path, 0o660)  # umask may have cut it
    with contextlib.suppress(KeyError):
        os.chown(path, 0, grp.getgrnam("disk").gr_gid)


mknod = _mknod


def dev_links(node: NodeHost, name: str, links: list[str]) -> None:
    """udev's /dev symlinks (``disk/by-id/...``, relative to /dev) to /dev/<name>."""
    for link in links:
        path = node.dev_dir / link
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or path.exists():
            path.unlink()
        path.symlink_to(os.path.relpath(node.dev_dir / name, path.parent))


def remove_dev_links(node: NodeHost, name: str) -> None:
    """Remove the /dev symlinks (under /dev/disk, /dev/mapper, ...) to /dev/<name>."""
    target = str(node.dev_dir / name)
    for top in ("disk", "mapper", "rbd"):
        directory = node.dev_dir / top
        if not directory.is_dir():
            continue
        for path in sorted(directory.rglob("*"), reverse=True):
            if path.is_symlink():
                if os.path.normpath(path.parent / os.readlink(path)) == target:
                    path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()


def scsi_links(properties: dict[str, str]) -> tuple[list[str], list[str]]:
    """(identity links, path links) udev's 60-persistent-storage rules make for a disk."""
    identity = [f"disk/by-id/scsi-{properties['ID_SERIAL']}"]
    if properties.get("ID_WWN_WITH_EXTENSION"):
        identity.append(f"disk/by-id/wwn-{properties['ID_WWN_WITH_EXTENSION']}")
    return identity, [f"disk/by-path/{properties['ID_PATH']}"]


def add_scsi_disk(
    node: NodeHost,
    *,
    major: int,
    minor: int,
    size_bytes: int,
    identity: ScsiIdentity,
    transport: str,
    wwn: str,
    serial: str,
    state: str = "running",
    portal: int = 0,
    extra_properties: dict[str, str] | None = None,
    identity_links: bool = True,
) -> tuple[Attachment, dict[str, str]]:
    """The next free SCSI disk (sdb, sdc, ...) on its own SCSI host, for block device
    major:minor: /dev node, sysfs, udev entry (with ``extra_properties``, e.g. the
    filesystem's) and /dev/disk links. Call with :func:`node_lock` held. Returns the
    attachment and its udev properties.

    ``identity_links`` False leaves the by-id links to whoever sits on the disk (a
    multipath map takes them, as multipathd's udev rules do); ``portal`` numbers the
    paths of one LUN (their portal addresses / target ports differ).
    """
    if transport not in ("iscsi", "fc", "sas"):
        raise ValueError(f"unsupported SCSI transport {transport!r}")
    used = _used_names(node)
    name = next(_disk_name(i) for i in range(1, 26 * 27) if _disk_name(i) not in used)
    hosts = _used_hosts(node)
    host = next(h for h in range(FIRST_DATA_HOST, FIRST_DATA_HOST + 10_000) if h not in hosts)
    hctl = f"{host}:0:0:0"
    _mknod(node.dev_dir / name, major, minor)
    try:
        properties = _synthesize(
            node.sys_dir,
            hctl,
            name,
            major,
            minor,
            size_bytes,
            identity,
            transport=transport,
            wwn=wwn,
            serial=serial,
            state=state,
            portal=portal,
        )
        properties |= extra_properties or {}
        by_id, by_path = scsi_links(properties)
        links = (by_id if identity_links else []) + by_path
        if "ID_FS_UUID" in properties and identity_links:
            links.append(f"disk/by-uuid/{properties['ID_FS_UUID']}")
        dev_links(node, name, links)
        udev.write_entry(node, major, minor, properties, links)
    except BaseException:
        _remove_scsi(node.sys_dir, hctl, name, major, minor)
        remove_dev_links(node, name)
        (node.dev_dir / name).unlink(missing_ok=True)
        udev.remove_entry(node, major, minor)
        raise
    return Attachment(name, hctl, major, minor, f"/dev/{name}"), properties


def remove_scsi_disk(node: NodeHost, attachment: Attachment) -> None:
    """Undo :func:`add_scsi_disk` (call with :func:`node_lock` held). Idempotent."""
    if _HCTL.match(attachment.hctl):  # "" under no-scsi-device: only the /dev node
        _remove_scsi(
            node.sys_dir,
            attachment.hctl,
            attachment.device_name,
            attachment.major,
            attachment.minor,
        )
    udev.remove_entry(node, attachment.major, attachment.minor)
    remove_dev_links(node, attachment.device_name)
    path = node.dev_dir / attachment.device_name
    with contextlib.suppress(FileNotFoundError):
        st = path.lstat()
        if stat.S_ISBLK(st.st_mode) and st.st_rdev == os.makedev(
            attachment.major, attachment.minor
        ):
            path.unlink()


def attach(
    node: NodeHost,
    volume: Volume,
    identity: ScsiIdentity | None = None,
    *,
    no_scsi_device: bool = False,
    transport: str = "iscsi",
    wwn: str | None = None,
    serial: str | None = None,
) -> Attachment:
    """Give ``node`` the volume as the next free SCSI disk (sdb, sdc, ...).

    Creates ``/dev/sdX`` (block, 0660, root:disk, the loop's major:minor), the SCSI
    device under the node's /sys with its ``transport`` (iscsi, fc or sas: the class
    directories lsblk's TRAN and ``lsscsi -t`` read), its udev database entry and
    /dev/disk links. ``wwn`` (32 hex digits, NAA-6) and ``serial`` (VPD page 0x80)
    default to ones derived from the PV name. ``no_scsi_device`` (fault): only the /dev
    node, so ``lsscsi`` does not list the disk. Attaching a volume the node already has
    returns the existing attachment.
    """
    identity = identity or ScsiIdentity()
    wwn = wwn or naa_wwn(identity.vendor, volume.pv_name)
    serial = serial or unit_serial(volume.pv_name)
    node.dev_dir.mkdir(parents=True, exist_ok=True)
    node.sys_dir.mkdir(parents=True, exist_ok=True)
    with _node_lock(node):
        for existing in attachments(node):
            if (existing.major, existing.minor) == (volume.major, volume.minor):
                return existing
        if no_scsi_device:
            used = _used_names(node)
            name = next(_disk_name(i) for i in range(1, 26 * 27) if _disk_name(i) not in used)
            _mknod(node.dev_dir / name, volume.major, volume.minor)
            # no SCSI address: nothing in sysfs names this disk
            return Attachment(name, "", volume.major, volume.minor, f"/dev/{name}", False)
        attachment, _ = add_scsi_disk(
            node,
            major=volume.major,
            minor=volume.minor,
            size_bytes=volume.size_bytes,
            identity=identity,
            transport=transport,
            wwn=wwn,
            serial=serial,
            extra_properties=udev.filesystem_properties(volume.fs_type, volume.fs_uuid),
        )
        return attachment


def add_root_disk(
    node: NodeHost,
    identity: ScsiIdentity = ROOT_DISK_IDENTITY,
    size_bytes: int = 100 * 1024**3,
) -> Attachment:
    """Optional realism: a root disk ``sda`` at [0:0:0:0] (8:0, nothing real behind it)."""
    node.dev_dir.mkdir(parents=True, exist_ok=True)
    with _node_lock(node):
        _mknod(node.dev_dir / "sda", 8, 0)
        serial = f"QM00001-{node.name}"
        properties = _synthesize(
            node.sys_dir,
            ROOT_DISK_HCTL,
            "sda",
            8,
            0,
            size_bytes,
            identity,
            transport="ata",
            wwn=naa_wwn(identity.vendor, serial),
            serial=serial,
        )
        # an ATA disk: udev's ata_id gives model and serial, no WWN (QEMU's disks have none)
        model = identity.model.strip().replace(" ", "_")
        properties |= {
            "ID_SERIAL": f"{model}_{serial}",
            "ID_SERIAL_SHORT": serial,
            "ID_BUS": "ata",
        }
        for key in ("ID_WWN", "ID_WWN_VENDOR_EXTENSION", "ID_WWN_WITH_EXTENSION"):
            properties.pop(key)
        properties.pop("ID_SCSI_SERIAL")
        links = [f"disk/by-id/ata-{model}_{serial}", f"disk/by-path/{properties['ID_PATH']}"]
        dev_links(node, "sda", links)
        udev.write_entry(node, 8, 0, properties, links)
    return Attachment("sda", ROOT_DISK_HCTL, 8, 0, "/dev/sda")


def detach(node: NodeHost, attachment: Attachment) -> None:
    """Remove the SCSI device (lsscsi stops listing it), its udev entry and /dev links,
    then the /dev node. Idempotent.

    Mounts of the device inside the node are not touched (a stale mount keeps working,
    as on a real node whose iSCSI session went away).
    """
    with _node_lock(node):
        remove_scsi_disk(node, attachment)


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
