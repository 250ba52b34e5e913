"""What every probe shares: the parse error that names the line, device numbers."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


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


def lines_of(text: str) -> Iterable[tuple[int, str]]:
    """(1-based number, line) of the non-blank lines."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line


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
