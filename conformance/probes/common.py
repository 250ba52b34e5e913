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
_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


def unescape_octal(field_text: str) -> str:
    r"""Undo the kernel's octal escapes (``\040`` space, ``\011`` tab, ``\012``, ``\134``)."""
    return _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field_text)


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


@dataclass(frozen=True)
class ProbeProblem:
    """A line a tolerant parser could not (fully) read: kept beside what it did read."""

    probe: str
    line_no: int
    line: str
    reason: str

    def error(self) -> ProbeParseError:
        """The same problem as the error a strict caller raises."""
        return ProbeParseError(self.probe, self.reason, line_no=self.line_no, line=self.line)


def split_options(text: str) -> tuple[str, ...]:
    """Split a mount option list at commas outside double quotes.

    The kernel and mount(8) quote an option value that holds commas, as SELinux labels
    do: ``rw,context="system_u:object_r:container_file_t:s0:c14,c22",relatime`` is three
    options, not four. Quotes are kept in the option as printed.
    """
    options: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            options.append("".join(current))
            current = []
        else:
            current.append(char)
    options.append("".join(current))
    return tuple(o for o in options if o)
