"""The commands we run on nodes and in containers, and the parsers of what they print.

Every probe is pure: a command (an argv tuple, which both the SSH transport and a pod
exec accept; ``sh -c`` scripts are built with :func:`shlex.quote`) plus a parser from the
command's text to frozen dataclasses. Nothing here runs anything; suites run the command
with a node shell or a pod exec and feed the stdout to the parser. Parsers raise
:class:`ProbeParseError` naming the probe, the line number and the line.

The device behind a volume is identified by major:minor in all three views (DESIGN.md
section 4): ``lsscsi -d`` on the node, ``/proc/self/mountinfo`` on the node (the kubelet
path) and ``/proc/self/mountinfo`` in the container (the mount path).
:func:`correlate` puts the three together and says, in words the suites print, what
does not agree.

The parsers are tested against real output of the real tools in ``tests/data/`` (each
capture has its origin next to it).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import posixpath
import re
import secrets
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CHECKSUM_ALGORITHMS",
    "CSI_PLUGIN_DIR",
    "FINDMNT",
    "FINDMNT_DEVNUM",
    "HOSTNAME",
    "HOSTNAME_PROC",
    "KUBELET_ROOT",
    "LSSCSI",
    "LSSCSI_PLAIN",
    "LSSCSI_SIZE",
    "LSSCSI_TRANSPORT",
    "MAX_PAYLOAD_BYTES",
    "MOUNT",
    "MOUNTINFO",
    "Checksum",
    "Correlation",
    "FindmntEntry",
    "HostEntry",
    "KubeletVolumePath",
    "MajorMinor",
    "MountInfo",
    "MountLine",
    "Payload",
    "ProbeParseError",
    "ScsiDevice",
    "checksum_command",
    "correlate",
    "find_mount",
    "find_scsi_device",
    "findmnt_command",
    "getent_hosts_command",
    "is_read_write",
    "kubelet_volume_mounts",
    "kubelet_volume_path",
    "match_kubelet_mount",
    "mount_containing",
    "parse_checksum",
    "parse_findmnt_json",
    "parse_getent_hosts",
    "parse_hostname",
    "parse_kubelet_volume_path",
    "parse_lsscsi",
    "parse_mount",
    "parse_mountinfo",
    "write_payload_command",
]


class ProbeParseError(ValueError):
    """A probe's output is not what the tool prints; names the probe, line and reason."""

    def __init__(
        self, probe: str, reason: str, *, line_no: int | None = None, line: str | None = None
    ) -> None:
        self.probe = probe
        self.reason = reason
        self.line_no = line_no
        self.line = line
        where = f" line {line_no}" if line_no is not None else ""
        shown = f": {line!r}" if line is not None else ""
        super().__init__(f"{probe} output{where}: {reason}{shown}")


def _lines(text: str) -> Iterable[tuple[int, str]]:
    """(1-based number, line) of the non-blank lines."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line


# ---------------------------------------------------------------------------------------
# Device numbers
# ---------------------------------------------------------------------------------------

_MAJOR_MINOR = re.compile(r"^(\d+):(\d+)$")


@dataclass(frozen=True, order=True)
class MajorMinor:
    """A block device number, printed ``7:3`` like lsscsi -d, mountinfo and findmnt do."""

    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}:{self.minor}"

    @classmethod
    def parse(cls, text: str) -> MajorMinor:
        m = _MAJOR_MINOR.match(text.strip())
        if not m:
            raise ValueError(f"not a major:minor device number: {text!r}")
        return cls(int(m.group(1)), int(m.group(2)))


# ---------------------------------------------------------------------------------------
# lsscsi
# ---------------------------------------------------------------------------------------

LSSCSI = ("lsscsi", "-d")  # with major:minor, the column the views are correlated by
LSSCSI_PLAIN = ("lsscsi",)
LSSCSI_SIZE = ("lsscsi", "-d", "-s")
LSSCSI_TRANSPORT = ("lsscsi", "-d", "-t")

# lsscsi prints the peripheral type padded to 7 and a space, then (without -t) the INQUIRY
# vendor, model and revision as the kernel pads them: "%-8s %-16s %-4s  ", 32 columns in all
# (with -t the transport "%-30s  " takes the same 32 columns, or more when it is longer).
_TYPE_WIDTH = 7
_VENDOR = (8, 16)  # offsets from the start of the type column
_MODEL = (17, 33)
_REV = (34, 38)
_HCTL = re.compile(r"^\[(?P<hctl>(?:\d+|N):\d+:\d+:(?:\d+|0x[0-9a-fA-F]+))\]")
_TRANSPORT = re.compile(
    r"(?:(?:spi|fc|sas|sata|ata|sbp|usb|pcie|srp|fcoe):\S*|\S+,t,0x[0-9a-fA-F]+)(?=\s|$)"
)
_DEVICE_COLUMN = re.compile(r"(?P<dev>[^\s\[]+)\s*(?:\[(?P<major>\d+):(?P<minor>\d+)\])?")
_SIZE = re.compile(r"^\d+(?:\.\d+)?(?:[KMGTPEZ]i?B)?$")


@dataclass(frozen=True)
class ScsiDevice:
    """One line of ``lsscsi``: ``[11:0:0:0]   disk    DATERA   IBLOCK   4.0   /dev/sdb [7:0]``."""

    hctl: str  # host:channel:target:lun, "11:0:0:0"
    type: str  # "disk", "cd/dvd", "enclosu", ...
    vendor: str  # "" when lsscsi -t printed the transport instead
    model: str
    rev: str
    device: str | None  # "/dev/sdb"; None when lsscsi printed "-" (no /dev node found)
    major_minor: MajorMinor | None = None  # with -d
    size: str | None = None  # with -s, as printed: "107GB", "314MB"
    transport: str | None = None  # with -t: "iqn...,t,0x1", "sas:0x5000...", "" when blank
    extra: tuple[str, ...] = ()  # further columns (-g generic device, -w wwn, ...)

    @property
    def host(self) -> int:
        return int(self.hctl.split(":")[0]) if self.hctl[0] != "N" else -1

    def describe(self) -> str:
        """``[11:0:0:0] DATERA IBLOCK 4.0 /dev/sdb 7:0`` (what the messages quote)."""
        parts = [f"[{self.hctl}]"]
        identity = " ".join(p for p in (self.vendor, self.model, self.rev) if p)
        if identity:
            parts.append(identity)
        if self.transport:
            parts.append(self.transport)
        parts.append(self.device or "-")
        if self.major_minor is not None:
            parts.append(str(self.major_minor))
        return " ".join(parts)


def _lsscsi_line(number: int, line: str, transport: bool | None) -> ScsiDevice:
    def fail(reason: str) -> ProbeParseError:
        return ProbeParseError("lsscsi", reason, line_no=number, line=line)

    m = _HCTL.match(line)
    if not m:
        raise fail("expected '[H:C:T:L]' at the start of the line")
    rest_start = m.end()
    type_start = len(line) - len(line[rest_start:].lstrip(" "))
    if type_start == rest_start and rest_start < len(line):
        raise fail("no space after the [H:C:T:L] column")
    if type_start >= len(line):
        raise fail("no device type after the [H:C:T:L] column")
    dev_type = line[type_start : type_start + _TYPE_WIDTH].strip()
    after_type = type_start + _TYPE_WIDTH
    if len(line) > after_type and line[after_type] != " ":
        raise fail(
            f"the device type column is not {_TYPE_WIDTH} characters wide where lsscsi prints "
            "it (was the output re-spaced?)"
        )
    body = line[after_type + 1 :]

    transport_value: str | None = None
    vendor = model = rev = ""
    tm = _TRANSPORT.match(body)
    if transport is None:
        transport = tm is not None
    if transport:
        if tm is not None:
            transport_value = tm.group(0)
            tail = body[tm.end() :]
        elif body[:1] in ("", " "):
            transport_value = ""  # lsscsi -t found no transport: 30 blank columns
            tail = body
        else:
            raise fail("expected a transport (iqn...,t,0x1, sas:..., sata:..., fc:...)")
    else:

        def column(start: int, end: int) -> str:
            return line[type_start + start : type_start + end]

        for name, (start, end) in (("vendor", _VENDOR), ("model", _MODEL)):
            if column(end, end + 1) not in ("", " "):
                raise fail(
                    f"the {name} column is not {end - start} characters wide where lsscsi "
                    "prints it (was the output re-spaced?)"
                )
        if len(line.rstrip()) <= type_start + _REV[0]:
            raise fail("the line ends before the vendor, model and revision columns")
        vendor = column(*_VENDOR).strip()
        model = column(*_MODEL).strip()
        rev = column(*_REV).strip()
        tail = line[type_start + _REV[1] :]
        if tail[:1] not in ("", " "):
            raise fail("the revision column is wider than 4 characters")

    stripped = tail.strip()
    dm = _DEVICE_COLUMN.match(stripped)
    if not stripped or not dm:
        raise fail("no device column (a /dev path or '-')")
    device_text = dm.group("dev")
    if device_text != "-" and not device_text.startswith("/"):
        raise fail(f"the device column {device_text!r} is neither a path nor '-'")
    major_minor = None
    if dm.group("major") is not None:
        major_minor = MajorMinor(int(dm.group("major")), int(dm.group("minor")))
    size: str | None = None
    extra: list[str] = []
    for token in stripped[dm.end() :].split():
        if size is None and _SIZE.match(token):
            size = token
        elif token != "-":
            extra.append(token)
    return ScsiDevice(
        hctl=m.group("hctl"),
        type=dev_type,
        vendor=vendor,
        model=model,
        rev=rev,
        device=None if device_text == "-" else device_text,
        major_minor=major_minor,
        size=size,
        transport=transport_value,
        extra=tuple(extra),
    )


def parse_lsscsi(text: str, *, transport: bool | None = None) -> list[ScsiDevice]:
    """Parse ``lsscsi`` with any of ``-d``, ``-s``, ``-t`` (and ``-g``, ``-w``).

    Vendor, model and revision are fixed-width columns that may hold spaces
    (``ATA      QEMU HARDDISK    2.5+``): they are cut at lsscsi's column positions
    relative to the type column, never split on blanks. With ``-t`` the transport
    replaces those columns; ``transport=None`` recognises it per line (``iqn...,t,0x1``,
    ``sas:0x...``, ``sata:...``, ...), ``True``/``False`` says whether ``-t`` was given
    (needed only when a transport column may be blank). The device column tolerates
    ``/dev/sdb [8:16]`` and ``/dev/loop0[7:0]`` (lsscsi drops the space after a
    9-character name) and ``-`` (no /dev node: ``device`` is None, major:minor kept).
    """
    return [_lsscsi_line(number, line, transport) for number, line in _lines(text)]


def find_scsi_device(devices: Iterable[ScsiDevice], major_minor: MajorMinor) -> ScsiDevice | None:
    """The lsscsi device with that major:minor (lsscsi must have been run with -d)."""
    for device in devices:
        if device.major_minor == major_minor:
            return device
    return None


# ---------------------------------------------------------------------------------------
# /proc/self/mountinfo
# ---------------------------------------------------------------------------------------

MOUNTINFO = ("cat", "/proc/self/mountinfo")

_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


def _unescape(field_text: str) -> str:
    r"""Undo the kernel's octal escapes (``\040`` space, ``\011`` tab, ``\012``, ``\134``)."""
    return _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field_text)


@dataclass(frozen=True)
class MountInfo:
    """One line of /proc/PID/mountinfo (proc(5)), paths decoded."""

    mount_id: int
    parent_id: int
    major_minor: MajorMinor
    root: str  # the directory of the filesystem mounted here ("/" unless a bind of a subdir)
    mount_point: str
    options: tuple[str, ...]  # per-mount options: rw/ro, relatime, nosuid, ...
    optional_fields: tuple[str, ...]  # shared:N, master:N, propagate_from:N, unbindable
    fs_type: str
    source: str
    super_options: tuple[str, ...]  # per-superblock options

    def describe(self) -> str:
        """``7:0 xfs /dev/sdb at /data (rw,relatime)`` (what the messages quote)."""
        root = f" [{self.root}]" if self.root != "/" else ""
        return (
            f"{self.major_minor} {self.fs_type} {self.source or '-'}{root} at {self.mount_point}"
            f" ({','.join(self.options)})"
        )


def _mountinfo_line(number: int, line: str) -> MountInfo:
    def fail(reason: str) -> ProbeParseError:
        return ProbeParseError("mountinfo", reason, line_no=number, line=line)

    fields = line.rstrip("\n").split(" ")
    try:
        separator = fields.index("-", 6)
    except ValueError:
        raise fail("no ' - ' separator after the mount options") from None
    if len(fields) - separator - 1 != 3:
        raise fail(
            "expected 3 fields (fs type, source, super options) after ' - ', "
            f"got {len(fields) - separator - 1}"
        )
    try:
        mount_id, parent_id = int(fields[0]), int(fields[1])
    except ValueError:
        raise fail("the mount ID and parent ID are not numbers") from None
    try:
        major_minor = MajorMinor.parse(fields[2])
    except ValueError:
        raise fail(f"field 3 {fields[2]!r} is not major:minor") from None
    for index, name in ((3, "root"), (4, "mount point")):
        if not fields[index].startswith("/"):
            raise fail(f"the {name} {fields[index]!r} is not an absolute path")
    fs_type, source, super_options = fields[separator + 1 :]
    if not fs_type:
        raise fail("empty filesystem type")
    return MountInfo(
        mount_id=mount_id,
        parent_id=parent_id,
        major_minor=major_minor,
        root=_unescape(fields[3]),
        mount_point=_unescape(fields[4]),
        options=tuple(_unescape(o) for o in fields[5].split(",") if o),
        optional_fields=tuple(fields[6:separator]),
        fs_type=_unescape(fs_type),
        source=_unescape(source),
        super_options=tuple(_unescape(o) for o in super_options.split(",") if o),
    )


def parse_mountinfo(text: str) -> list[MountInfo]:
    """Parse /proc/self/mountinfo, decoding the kernel's octal escapes in paths."""
    return [_mountinfo_line(number, line) for number, line in _lines(text)]


def _normalize(path: str) -> str:
    normalized = posixpath.normpath(path)
    return "/" if normalized == "//" else normalized


def _visible(candidates: Sequence[MountInfo]) -> MountInfo | None:
    """Of mounts at one path, the one on top (not the parent of another one there)."""
    if not candidates:
        return None
    parents = {m.parent_id for m in candidates}
    on_top = [m for m in candidates if m.mount_id not in parents]
    return (on_top or list(candidates))[-1]


def find_mount(mounts: Iterable[MountInfo], path: str) -> MountInfo | None:
    """The mount whose mount point is ``path`` (the top one when mounts are stacked)."""
    target = _normalize(path)
    return _visible([m for m in mounts if _normalize(m.mount_point) == target])


def mount_containing(mounts: Iterable[MountInfo], path: str) -> MountInfo | None:
    """The mount ``path`` is on: the visible mount with the longest mount point above it."""
    target = _normalize(path)
    by_point: dict[str, list[MountInfo]] = {}
    for m in mounts:
        point = _normalize(m.mount_point)
        if point == "/" or target == point or target.startswith(point + "/"):
            by_point.setdefault(point, []).append(m)
    if not by_point:
        return None
    return _visible(by_point[max(by_point, key=len)])


def is_read_write(mount: MountInfo) -> bool:
    """Writable: ``rw`` per mount and the superblock not ``ro`` (a rw bind of a ro fs isn't)."""
    return "rw" in mount.options and "ro" not in mount.super_options


# ---------------------------------------------------------------------------------------
# findmnt -J
# ---------------------------------------------------------------------------------------

FINDMNT = ("findmnt", "-J")
FINDMNT_DEVNUM = ("findmnt", "-J", "-o", "TARGET,SOURCE,FSTYPE,OPTIONS,MAJ:MIN")


def findmnt_command(mount_point: str | None = None) -> tuple[str, ...]:
    """``findmnt -J -o TARGET,SOURCE,FSTYPE,OPTIONS,MAJ:MIN [--mountpoint PATH]``.

    findmnt exits 1 and prints nothing when nothing is mounted at PATH.
    """
    if mount_point is None:
        return FINDMNT_DEVNUM
    return (*FINDMNT_DEVNUM, "--mountpoint", mount_point)


@dataclass(frozen=True)
class FindmntEntry:
    """One filesystem of ``findmnt -J``, flattened out of the ``children`` tree."""

    target: str
    source: str  # "/dev/sdb", or "/dev/vda[/usr]" for a bind of a directory
    fstype: str
    options: tuple[str, ...]
    major_minor: MajorMinor | None = None  # when MAJ:MIN was among the columns
    parent: str | None = None  # the parent's target; None at the top
    depth: int = 0

    @property
    def device(self) -> str:
        """The source without findmnt's ``[fsroot]`` suffix."""
        return self.source.split("[", 1)[0] if self.source.endswith("]") else self.source

    @property
    def fsroot(self) -> str:
        """The directory of the filesystem mounted here (findmnt's ``[...]``), else "/"."""
        if self.source.endswith("]") and "[" in self.source:
            return self.source[self.source.index("[") + 1 : -1]
        return "/"


def _findmnt_string(value: object, key: str) -> str:
    if value is None:
        return ""
    if isinstance(value, (str, int, float, bool)):
        return str(value)
    raise ProbeParseError("findmnt -J", f"{key!r} is a {type(value).__name__}, not a string")


def parse_findmnt_json(text: str) -> list[FindmntEntry]:
    """Parse ``findmnt -J`` (any columns) into a flat list, parents before children."""
    try:
        document = json.loads(text) if text.strip() else {"filesystems": []}
    except json.JSONDecodeError as exc:
        lines = text.splitlines()
        shown = lines[exc.lineno - 1] if 0 < exc.lineno <= len(lines) else None
        raise ProbeParseError(
            "findmnt -J", f"not JSON ({exc.msg})", line_no=exc.lineno, line=shown
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("filesystems"), list):
        raise ProbeParseError("findmnt -J", "no top-level 'filesystems' list")
    entries: list[FindmntEntry] = []

    def walk(nodes: list[Any], parent: str | None, depth: int) -> None:
        for node in nodes:
            if not isinstance(node, dict) or "target" not in node:
                raise ProbeParseError(
                    "findmnt -J", f"a filesystem without 'target' (under {parent or 'the top'})"
                )
            target = _findmnt_string(node["target"], "target")
            mm_text = _findmnt_string(node.get("maj:min"), "maj:min")
            try:
                major_minor = MajorMinor.parse(mm_text) if mm_text else None
            except ValueError:
                raise ProbeParseError(
                    "findmnt -J", f"{target}: 'maj:min' {mm_text!r} is not major:minor"
                ) from None
            options = _findmnt_string(node.get("options"), "options")
            entries.append(
                FindmntEntry(
                    target=target,
                    source=_findmnt_string(node.get("source"), "source"),
                    fstype=_findmnt_string(node.get("fstype"), "fstype"),
                    options=tuple(o for o in options.split(",") if o),
                    major_minor=major_minor,
                    parent=parent,
                    depth=depth,
                )
            )
            children = node.get("children", [])
            if not isinstance(children, list):
                raise ProbeParseError("findmnt -J", f"{target}: 'children' is not a list")
            walk(children, target, depth + 1)

    walk(document["filesystems"], None, 0)
    return entries


# ---------------------------------------------------------------------------------------
# mount (no arguments)
# ---------------------------------------------------------------------------------------

MOUNT = ("mount",)

_MOUNT_LINE = re.compile(
    r"^(?P<source>.*?) on (?P<target>/.*) type (?P<fstype>\S+) \((?P<options>.*)\)"
    r"(?: \[(?P<label>[^\]]*)\])?$"
)


@dataclass(frozen=True)
class MountLine:
    """One line of ``mount``: ``/dev/sdb on /data type xfs (rw,relatime,attr2)``."""

    source: str
    target: str
    fs_type: str
    options: tuple[str, ...]
    label: str | None = None  # ``mount -l``'s ``[LABEL]``


def parse_mount(text: str) -> list[MountLine]:
    """Parse ``mount`` output (util-linux and busybox: ``SRC on TARGET type FS (OPTS)``).

    Paths are printed as they are: util-linux shows a tab or newline in a name as ``?``,
    busybox prints it raw (a newline then breaks the line, which fails to parse). Use
    /proc/self/mountinfo (:func:`parse_mountinfo`) when names matter.
    """
    result = []
    for number, line in _lines(text):
        m = _MOUNT_LINE.match(line)
        if not m:
            raise ProbeParseError(
                "mount",
                "expected 'SOURCE on TARGET type FSTYPE (OPTIONS)'",
                line_no=number,
                line=line,
            )
        result.append(
            MountLine(
                source=m.group("source"),
                target=m.group("target"),
                fs_type=m.group("fstype"),
                options=tuple(o for o in m.group("options").split(",") if o),
                label=m.group("label"),
            )
        )
    return result


# ---------------------------------------------------------------------------------------
# kubelet volume paths
# ---------------------------------------------------------------------------------------

KUBELET_ROOT = "/var/lib/kubelet"
CSI_PLUGIN_DIR = "kubernetes.io~csi"

_KUBELET_PATH = re.compile(
    r"^(?P<root>.*)/pods/(?P<uid>[^/]+)/volumes/(?P<plugin>[^/]+~[^/]+)/(?P<pv>[^/]+)"
    r"(?P<mount>/mount)?$"
)


@dataclass(frozen=True)
class KubeletVolumePath:
    """Where the kubelet mounts a pod's volume: ``<root>/pods/<uid>/volumes/<plugin>/<pv>``
    (in-tree ``kubernetes.io~iscsi``, flexvolume ``vendor~driver``) or, for CSI,
    ``<root>/pods/<uid>/volumes/kubernetes.io~csi/<pv>/mount``."""

    pod_uid: str
    plugin_dir: str
    pv_name: str
    root: str = KUBELET_ROOT

    @property
    def csi(self) -> bool:
        return self.plugin_dir == CSI_PLUGIN_DIR

    @property
    def path(self) -> str:
        path = f"{self.root}/pods/{self.pod_uid}/volumes/{self.plugin_dir}/{self.pv_name}"
        return f"{path}/mount" if self.csi else path


def kubelet_volume_path(
    pod_uid: str, plugin_dir: str, pv_name: str, *, root: str = KUBELET_ROOT
) -> str:
    """The kubelet path of a pod's volume (CSI paths end in ``/mount``)."""
    for name, value in (("pod_uid", pod_uid), ("plugin_dir", plugin_dir), ("pv_name", pv_name)):
        if not value or "/" in value:
            raise ValueError(f"{name} {value!r}: a non-empty path component is needed")
    if "~" not in plugin_dir:
        raise ValueError(
            f"plugin_dir {plugin_dir!r}: kubelet plugin dirs are 'vendor~driver' "
            f"(e.g. {CSI_PLUGIN_DIR}, kubernetes.io~iscsi, datera~iscsi)"
        )
    return KubeletVolumePath(pod_uid, plugin_dir, pv_name, root.rstrip("/")).path


def parse_kubelet_volume_path(path: str) -> KubeletVolumePath | None:
    """Recognise a kubelet volume path of any kubelet root; None if it is not one."""
    m = _KUBELET_PATH.match(path)
    if not m:
        return None
    csi = m.group("plugin") == CSI_PLUGIN_DIR
    if csi != (m.group("mount") is not None):
        return None  # a CSI volume is mounted at .../<pv>/mount, others at .../<pv>
    return KubeletVolumePath(m.group("uid"), m.group("plugin"), m.group("pv"), m.group("root"))


def kubelet_volume_mounts(mounts: Iterable[MountInfo]) -> list[tuple[KubeletVolumePath, MountInfo]]:
    """Every mount at a kubelet volume path, with the path taken apart."""
    found = []
    for m in mounts:
        parsed = parse_kubelet_volume_path(m.mount_point)
        if parsed is not None:
            found.append((parsed, m))
    return found


def match_kubelet_mount(
    mounts: Iterable[MountInfo], pod_uid: str, pv_name: str
) -> MountInfo | None:
    """The node's mount of ``pv_name`` for pod ``pod_uid`` (CSI, flexvolume or in-tree)."""
    return _visible(
        [
            m
            for p, m in kubelet_volume_mounts(mounts)
            if (p.pod_uid, p.pv_name) == (pod_uid, pv_name)
        ]
    )


# ---------------------------------------------------------------------------------------
# hostname and DNS
# ---------------------------------------------------------------------------------------

HOSTNAME = ("hostname",)
HOSTNAME_PROC = ("cat", "/proc/sys/kernel/hostname")  # for images without a hostname binary

_HOSTNAME = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$")


def parse_hostname(text: str) -> str:
    """The one hostname that ``hostname`` printed."""
    lines = [(n, line) for n, line in _lines(text)]
    if len(lines) != 1:
        raise ProbeParseError("hostname", f"expected one line, got {len(lines)}")
    number, line = lines[0]
    name = line.strip()
    if not _HOSTNAME.match(name):
        raise ProbeParseError("hostname", "not a hostname", line_no=number, line=line)
    return name


def getent_hosts_command(name: str) -> tuple[str, ...]:
    """``getent hosts NAME``: exits 2 and prints nothing when NAME does not resolve."""
    if not name or name.startswith("-") or any(c.isspace() for c in name):
        raise ValueError(f"not a host name to look up: {name!r}")
    return ("getent", "hosts", name)


@dataclass(frozen=True)
class HostEntry:
    """One line of ``getent hosts``: an address and the names it has."""

    ip: str
    names: tuple[str, ...]


def parse_getent_hosts(text: str) -> list[HostEntry]:
    """Parse ``getent hosts`` (``10.244.1.5      web-0.web.ns.svc.cluster.local web-0``)."""
    entries = []
    for number, line in _lines(text):
        tokens = line.split()
        try:
            ipaddress.ip_address(tokens[0])
        except ValueError:
            raise ProbeParseError(
                "getent hosts", f"{tokens[0]!r} is not an IP address", line_no=number, line=line
            ) from None
        if len(tokens) < 2:
            raise ProbeParseError(
                "getent hosts", "an address without a name", line_no=number, line=line
            )
        entries.append(HostEntry(tokens[0], tuple(tokens[1:])))
    return entries


# ---------------------------------------------------------------------------------------
# data: a random payload written with fsync, read back by checksum
# ---------------------------------------------------------------------------------------

# The payload travels base64-encoded inside one `sh -c` argument; Linux caps one argument
# at 128 KiB (MAX_ARG_STRLEN), so payloads stay well under that.
MAX_PAYLOAD_BYTES = 64 * 1024
CHECKSUM_ALGORITHMS = {"sha256": 64, "md5": 32}  # hex digest lengths


@dataclass(frozen=True)
class Payload:
    """Bytes to write into a volume, and what their checksums must read back as."""

    data: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not 0 < len(self.data) <= MAX_PAYLOAD_BYTES:
            raise ValueError(f"a payload is 1 to {MAX_PAYLOAD_BYTES} bytes, got {len(self.data)}")

    @classmethod
    def from_bytes(cls, data: bytes) -> Payload:
        return cls(bytes(data))

    @classmethod
    def random(
        cls, size: int = 4096, *, source: Callable[[int], bytes] = secrets.token_bytes
    ) -> Payload:
        """``size`` random bytes (from ``secrets`` unless a ``source`` is given)."""
        return cls(source(size))

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def md5(self) -> str:
        return hashlib.md5(self.data, usedforsecurity=False).hexdigest()

    @property
    def b64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")

    def digest(self, algorithm: str) -> str:
        if algorithm == "sha256":
            return self.sha256
        if algorithm == "md5":
            return self.md5
        raise ValueError(f"unknown checksum algorithm {algorithm!r}")

    def __str__(self) -> str:
        return f"{self.size}-byte payload sha256:{self.sha256[:16]}..."


def write_payload_command(path: str, payload: Payload) -> tuple[str, ...]:
    """``sh -c SCRIPT sh PATH``: write the payload to PATH with fsync, then check its size.

    The script base64-decodes the payload, ``dd conv=fsync`` writes and fsyncs it, and
    the file's size must be the payload's: it exits 0 only then (non-zero with a message
    on stderr otherwise). PATH travels as ``$1``, so it needs no quoting in the script.
    Works with coreutils and with busybox alone (sh, base64, dd, wc). Read it back with
    :func:`checksum_command` and compare with ``payload.sha256``.
    """
    if not path.startswith("/"):
        raise ValueError(f"write the payload to an absolute path, not {path!r}")
    script = (
        f"set -e; printf '%s' {shlex.quote(payload.b64)} | base64 -d"
        ' | dd of="$1" bs=65536 conv=fsync; '
        'n=$(wc -c < "$1"); '
        f"[ $n -eq {payload.size} ] || "
        f'{{ echo "$1: $n bytes written, expected {payload.size}" >&2; exit 1; }}'
    )
    return ("sh", "-c", script, "sh", path)


def checksum_command(path: str, algorithm: str = "sha256") -> tuple[str, ...]:
    """``sha256sum PATH`` (or ``md5sum``): prints ``<hex>  PATH``."""
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise ValueError(f"unknown checksum algorithm {algorithm!r}")
    return (f"{algorithm}sum", path)


@dataclass(frozen=True)
class Checksum:
    algorithm: str  # "sha256" or "md5", from the digest's length
    digest: str  # lower-case hex
    path: str


_CHECKSUM_LINE = re.compile(r"^(?P<escaped>\\)?(?P<digest>[0-9a-fA-F]+) [ *](?P<path>.+)$")


def _unescape_checksum_path(path: str) -> str:
    # coreutils prefixes the line with "\" and writes "\\" and "\n" in such names
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), path)


def parse_checksum(text: str) -> Checksum:
    """Parse one line of ``sha256sum``/``md5sum`` (coreutils or busybox)."""
    lines = list(_lines(text))
    if len(lines) != 1:
        raise ProbeParseError("checksum", f"expected one line, got {len(lines)}")
    number, line = lines[0]
    m = _CHECKSUM_LINE.match(line)
    if not m:
        raise ProbeParseError(
            "checksum", "expected '<hex digest>  <file>'", line_no=number, line=line
        )
    digest = m.group("digest").lower()
    algorithm = next((a for a, n in CHECKSUM_ALGORITHMS.items() if n == len(digest)), None)
    if algorithm is None:
        raise ProbeParseError(
            "checksum",
            f"a {len(digest)}-digit digest is neither sha256 (64) nor md5 (32)",
            line_no=number,
            line=line,
        )
    path = m.group("path")
    if m.group("escaped"):
        path = _unescape_checksum_path(path)
    return Checksum(algorithm, digest, path)


# ---------------------------------------------------------------------------------------
# The three views of one volume
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Correlation:
    """One volume seen by lsscsi on the node, the node's kubelet mount and the container.

    ``problems`` are sentences naming the object and the property, for the suites to
    assert and print; ``node_problems`` concern lsscsi and the kubelet mount,
    ``container_problems`` the container's mount.
    """

    pod_uid: str
    pv_name: str
    mount_path: str
    scsi_device: ScsiDevice | None
    kubelet_mount: MountInfo | None
    container_mount: MountInfo | None
    node_problems: tuple[str, ...] = ()
    container_problems: tuple[str, ...] = ()

    @property
    def problems(self) -> tuple[str, ...]:
        return self.node_problems + self.container_problems

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def major_minor(self) -> MajorMinor | None:
        """The volume's device number: the kubelet's mount's, else the container's."""
        for mount in (self.kubelet_mount, self.container_mount):
            if mount is not None:
                return mount.major_minor
        return None

    def describe(self) -> str:
        """The three views, one line each, for the evidence."""
        return "\n".join(
            [
                f"lsscsi:    {self.scsi_device.describe() if self.scsi_device else '(no device)'}",
                "kubelet:   "
                + (self.kubelet_mount.describe() if self.kubelet_mount else "(not mounted)"),
                "container: "
                + (self.container_mount.describe() if self.container_mount else "(not mounted)"),
            ]
        )


def _kubelet_hints(mounts: Sequence[MountInfo], pod_uid: str, pv_name: str) -> str:
    others = [
        f"{p.pv_name} of pod {p.pod_uid} at {m.mount_point}"
        for p, m in kubelet_volume_mounts(mounts)
        if p.pod_uid == pod_uid or p.pv_name == pv_name
    ]
    return f"; the node has {', '.join(others)}" if others else ""


def correlate(
    node_lsscsi: Sequence[ScsiDevice] | None,
    node_mounts: Sequence[MountInfo],
    container_mounts: Sequence[MountInfo],
    *,
    pod_uid: str,
    pv_name: str,
    mount_path: str,
    expect_fs_type: str | None = None,
    expect_vendor: str | None = None,
    expect_model: str | None = None,
    expect_writable: bool = False,
) -> Correlation:
    """Match the volume across the three views by major:minor and list what disagrees.

    ``node_lsscsi`` is ``parse_lsscsi`` of ``lsscsi -d`` (None skips the SCSI check, for
    drivers without SCSI disks); ``node_mounts`` and ``container_mounts`` are
    ``parse_mountinfo`` of /proc/self/mountinfo on the node and in the container.
    The ``expect_*`` options add the inventory's expectations (fs type, SCSI vendor and
    model, a read-write mount in the container).
    """
    node_problems: list[str] = []
    container_problems: list[str] = []

    kubelet = match_kubelet_mount(node_mounts, pod_uid, pv_name)
    if kubelet is None:
        node_problems.append(
            f"the kubelet path of {pv_name} for pod {pod_uid} "
            f"(.../pods/{pod_uid}/volumes/<plugin-dir>/{pv_name}[/mount]) is not mounted on "
            f"the node{_kubelet_hints(node_mounts, pod_uid, pv_name)}"
        )
    elif expect_fs_type is not None and kubelet.fs_type != expect_fs_type:
        node_problems.append(
            f"the kubelet mounted {pv_name} at {kubelet.mount_point} as {kubelet.fs_type}, "
            f"expected {expect_fs_type}"
        )

    container = find_mount(container_mounts, mount_path)
    if container is None:
        under = mount_containing(container_mounts, mount_path)
        where = (
            f" ({mount_path} is on {under.mount_point}: {under.fs_type} {under.source} "
            f"{under.major_minor})"
            if under is not None
            else ""
        )
        container_problems.append(f"nothing is mounted at {mount_path} in the container{where}")
    else:
        if kubelet is not None and container.major_minor != kubelet.major_minor:
            container_problems.append(
                f"{mount_path} is on {container.major_minor} but the kubelet mounted {pv_name} "
                f"from {kubelet.major_minor} ({container.source} in the container, "
                f"{kubelet.source} at {kubelet.mount_point})"
            )
        if expect_fs_type is not None and container.fs_type != expect_fs_type:
            container_problems.append(
                f"{mount_path} is {container.fs_type} in the container, expected {expect_fs_type}"
            )
        if expect_writable and not is_read_write(container):
            options = ",".join(container.options)
            super_options = ",".join(container.super_options)
            container_problems.append(
                f"{mount_path} is mounted read-only in the container "
                f"(mount options {options}; filesystem options {super_options})"
            )

    scsi: ScsiDevice | None = None
    reference = kubelet if kubelet is not None else container
    device_number = reference.major_minor if reference is not None else None
    if node_lsscsi is not None and device_number is not None:
        whose = (
            f"the device the kubelet mounted {pv_name} from"
            if kubelet is not None
            else f"the device on {mount_path} in the container"
        )
        scsi = find_scsi_device(node_lsscsi, device_number)
        if scsi is None:
            if node_lsscsi and all(d.major_minor is None for d in node_lsscsi):
                node_problems.append(
                    f"lsscsi printed no major:minor column (run it with -d), so no SCSI device "
                    f"can be matched to {device_number} ({whose})"
                )
            else:
                listed = "; ".join(d.describe() for d in node_lsscsi) or "nothing"
                node_problems.append(
                    f"no lsscsi device has major:minor {device_number} ({whose}); "
                    f"lsscsi lists {listed}"
                )
        else:
            for name, expected, actual in (
                ("vendor", expect_vendor, scsi.vendor),
                ("model", expect_model, scsi.model),
            ):
                if expected is not None and actual != expected:
                    node_problems.append(
                        f"lsscsi device [{scsi.hctl}] {scsi.device or '-'} ({device_number}) has "
                        f"{name} {actual!r}, expected {expected!r}"
                    )

    return Correlation(
        pod_uid=pod_uid,
        pv_name=pv_name,
        mount_path=mount_path,
        scsi_device=scsi,
        kubelet_mount=kubelet,
        container_mount=container,
        node_problems=tuple(node_problems),
        container_problems=tuple(container_problems),
    )
