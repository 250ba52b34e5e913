"""``/proc/mounts`` (and ``/etc/mtab``): the older mount table, without device numbers.

Each line is ``source mountpoint fstype options dump pass`` with the kernel's octal
escapes (``\\040`` for a space). It names no major:minor and no root of a bind mount, so
the harness correlates by :mod:`conformance.probes.mountinfo`; this reader is for nodes
and captures where /proc/mounts is all there is (a CSI node plugin's own mount table,
``cat /proc/mounts`` pasted into an issue).
"""

from __future__ import annotations

from dataclasses import dataclass

from conformance.probes.common import ProbeParseError, lines_of, split_options, unescape_octal

PROC_MOUNTS = ("cat", "/proc/mounts")


@dataclass(frozen=True)
class MountEntry:
    """One line of /proc/mounts (fstab(5) fields), paths decoded."""

    source: str  # "/dev/sdb", "10.0.0.5:/export", "//server/share", "mon1,mon2:/", "tmpfs"
    mount_point: str
    fs_type: str
    options: tuple[str, ...]  # split at commas outside quotes (SELinux context="...")
    dump: int = 0
    pass_no: int = 0


def parse_proc_mounts(text: str) -> list[MountEntry]:
    """Parse /proc/mounts or /etc/mtab: six blank-separated fields per line."""
    entries = []
    for number, line in lines_of(text):

        def fail(reason: str, number: int = number, line: str = line) -> ProbeParseError:
            return ProbeParseError("/proc/mounts", reason, line_no=number, line=line)

        fields = line.split()
        if len(fields) != 6:
            raise fail(
                f"expected 6 fields (source, mount point, type, options, dump, pass), "
                f"got {len(fields)}"
            )
        source, mount_point, fs_type, options, dump, pass_no = fields
        if not mount_point.startswith("/"):
            raise fail(f"the mount point {mount_point!r} is not an absolute path")
        if not (dump.isdigit() and pass_no.isdigit()):
            raise fail(f"dump and pass are not numbers: {dump!r} {pass_no!r}")
        entries.append(
            MountEntry(
                source=unescape_octal(source),
                mount_point=unescape_octal(mount_point),
                fs_type=unescape_octal(fs_type),
                options=tuple(unescape_octal(o) for o in split_options(options)),
                dump=int(dump),
                pass_no=int(pass_no),
            )
        )
    return entries
