"""``hostname``: the name a pod calls itself; a StatefulSet pod's must be its own name."""

from __future__ import annotations

import re

from conformance.probes.common import ProbeParseError, lines_of

HOSTNAME = ("hostname",)
HOSTNAME_PROC = ("cat", "/proc/sys/kernel/hostname")  # for images without a hostname binary

_HOSTNAME = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$")


def parse_hostname(text: str) -> str:
    """The one hostname that ``hostname`` printed."""
    lines = [(n, line) for n, line in lines_of(text)]
    if len(lines) != 1:
        raise ProbeParseError("hostname", f"expected one line, got {len(lines)}")
    number, line = lines[0]
    name = line.strip()
    if not _HOSTNAME.match(name):
        raise ProbeParseError("hostname", "not a hostname", line_no=number, line=line)
    return name
