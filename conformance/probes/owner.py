"""``stat -c`` of files: their owner, group and mode (fsGroup ownership of a volume).

``%a`` prints the mode in octal with its setgid bit (``2775``), in GNU coreutils and
busybox alike; the name comes last, as it may hold ``|``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from conformance.probes.common import ProbeParseError, lines_of

PROBE = "stat-owner"
_FORMAT = "%u|%g|%a|%F|%n"
SETGID = 0o2000


def owner_command(paths: Sequence[str]) -> tuple[str, ...]:
    """``stat -c '%u|%g|%a|%F|%n' PATH...``; a missing path is an error line on stderr."""
    if not paths or any(not p.startswith("/") for p in paths):
        raise ValueError(f"stat takes absolute paths, not {list(paths)!r}")
    return ("stat", "-c", _FORMAT, *paths)


@dataclass(frozen=True)
class Owner:
    path: str
    uid: int
    gid: int
    mode: int  # permission bits with setuid/setgid/sticky, e.g. 0o2775
    type: str  # "directory", "regular file", "regular empty file", ...

    @property
    def setgid(self) -> bool:
        return bool(self.mode & SETGID)

    @property
    def is_dir(self) -> bool:
        return self.type == "directory"

    def describe(self) -> str:
        return f"{self.path} {self.uid}:{self.gid} mode {self.mode:04o}"


def parse_owner(text: str) -> list[Owner]:
    found = []
    for number, line in lines_of(text):
        parts = line.split("|", 4)
        if len(parts) != 5:
            raise ProbeParseError(
                PROBE, "expected 'uid|gid|mode|type|path'", line_no=number, line=line
            )
        uid, gid, mode, kind, path = parts
        try:
            found.append(Owner(path, int(uid), int(gid), int(mode, 8), kind))
        except ValueError:
            raise ProbeParseError(
                PROBE, "uid and gid are not numbers, or the mode is not octal", line_no=number
            ) from None
    return found
