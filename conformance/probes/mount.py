"""``mount`` without arguments, as util-linux and busybox print it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from conformance.probes.common import ProbeParseError, lines_of, split_options

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

    Options are split at commas outside double quotes: SELinux labels hold commas
    (``context="system_u:object_r:container_file_t:s0:c14,c22"`` is one option).
    Paths are printed as they are: util-linux shows a tab or newline in a name as ``?``,
    busybox prints it raw (a newline then breaks the line, which fails to parse). Use
    /proc/self/mountinfo (:func:`parse_mountinfo`) when names matter.
    """
    result = []
    for number, line in lines_of(text):
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
                options=split_options(m.group("options")),
                label=m.group("label"),
            )
        )
    return result
