"""``/proc/self/mountinfo``: every mount with its device number and the root of the
filesystem it shows, on the node (the kubelet path) and in the container (the mount path)."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from conformance.probes.common import MajorMinor, ProbeParseError, lines_of

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
    return [_mountinfo_line(number, line) for number, line in lines_of(text)]


def _normalize(path: str) -> str:
    normalized = posixpath.normpath(path)
    return "/" if normalized == "//" else normalized


def visible(candidates: Sequence[MountInfo]) -> MountInfo | None:
    """Of mounts at one path, the one on top (not the parent of another one there)."""
    if not candidates:
        return None
    parents = {m.parent_id for m in candidates}
    on_top = [m for m in candidates if m.mount_id not in parents]
    return (on_top or list(candidates))[-1]


def find_mount(mounts: Iterable[MountInfo], path: str) -> MountInfo | None:
    """The mount whose mount point is ``path`` (the top one when mounts are stacked)."""
    target = _normalize(path)
    return visible([m for m in mounts if _normalize(m.mount_point) == target])


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
    return visible(by_point[max(by_point, key=len)])


def is_read_write(mount: MountInfo) -> bool:
    """Writable: ``rw`` per mount and the superblock not ``ro`` (a rw bind of a ro fs isn't)."""
    return "rw" in mount.options and "ro" not in mount.super_options
