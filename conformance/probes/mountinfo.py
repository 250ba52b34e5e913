"""``/proc/self/mountinfo``: every mount with its device number and the root of the
filesystem it shows, on the node (the kubelet path) and in the container (the mount path)."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from conformance.probes.common import MajorMinor, ProbeParseError, lines_of, unescape_octal

MOUNTINFO = ("cat", "/proc/self/mountinfo")

# an nsfs bind mount (/run/snapd/ns/lxd.mnt, /run/netns/x) shows the namespace, not a path,
# as its root: "662 644 0:4 mnt:[4026532136] /run/snapd/ns/lxd.mnt rw - nsfs nsfs rw"
_NAMESPACE_ROOT = re.compile(r"^[a-z_]+:\[\d+\]$")


@dataclass(frozen=True)
class MountInfo:
    """One line of /proc/PID/mountinfo (proc(5)), paths decoded."""

    mount_id: int
    parent_id: int
    major_minor: MajorMinor
    root: str  # the directory of the filesystem mounted here ("/" unless a bind of a subdir;
    # "mnt:[4026532136]" for an nsfs mount of a namespace)
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
    if not fields[3].startswith("/") and not _NAMESPACE_ROOT.match(fields[3]):
        raise fail(f"the root {fields[3]!r} is neither an absolute path nor a namespace")
    if not fields[4].startswith("/"):
        raise fail(f"the mount point {fields[4]!r} is not an absolute path")
    fs_type, source, super_options = fields[separator + 1 :]
    if not fs_type:
        raise fail("empty filesystem type")
    return MountInfo(
        mount_id=mount_id,
        parent_id=parent_id,
        major_minor=major_minor,
        root=unescape_octal(fields[3]),
        mount_point=unescape_octal(fields[4]),
        options=tuple(unescape_octal(o) for o in fields[5].split(",") if o),
        optional_fields=tuple(fields[6:separator]),
        fs_type=unescape_octal(fs_type),
        source=unescape_octal(source),
        super_options=tuple(unescape_octal(o) for o in super_options.split(",") if o),
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
