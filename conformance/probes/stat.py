"""``stat -L`` of device nodes: what a path is (a block device?) and its major:minor.

A Block volume is a device node, not a mount: the container sees it at its devicePath,
the node at the kubelet's volumeDevices paths. ``stat -c`` prints the major and minor in
hex (``%t``, ``%T``), in GNU coreutils and busybox alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from conformance.probes.common import MajorMinor, ProbeParseError, lines_of

PROBE = "stat"
_FORMAT = "%n|%F|%t|%T"


def stat_command(paths: Sequence[str]) -> tuple[str, ...]:
    """``stat -L -c '%n|%F|%t|%T' PATH...``; a missing path is an error line on stderr."""
    if not paths or any(not p.startswith("/") for p in paths):
        raise ValueError(f"stat takes absolute paths, not {list(paths)!r}")
    return ("stat", "-L", "-c", _FORMAT, *paths)


@dataclass(frozen=True)
class PathStat:
    path: str
    type: str  # "block special file", "directory", "regular file", ...
    major_minor: MajorMinor  # of the device node itself (0:0 for non-devices)

    @property
    def is_block_device(self) -> bool:
        return self.type == "block special file"


def parse_stat(text: str) -> list[PathStat]:
    found = []
    for number, line in lines_of(text):
        parts = line.rsplit("|", 3)
        if len(parts) != 4:
            raise ProbeParseError(
                PROBE, "expected 'path|type|major|minor'", line_no=number, line=line
            )
        path, kind, major, minor = parts
        try:
            numbers = MajorMinor(int(major, 16), int(minor, 16))
        except ValueError:
            raise ProbeParseError(
                PROBE, "major and minor are not hex numbers", line_no=number, line=line
            ) from None
        found.append(PathStat(path, kind, numbers))
    return found
