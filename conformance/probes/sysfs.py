"""Attributes of block devices from sysfs, which every distro has and lsblk itself reads.

lsblk says a namespace's transport is "nvme"; whether that NVMe runs over PCIe, TCP,
RDMA or FC, and a device-mapper map's name and uuid, only sysfs says:
``/sys/dev/block/M:m/device/transport`` (the NVMe controller), ``.../dm/name``,
``.../dm/uuid`` (``mpath-<wwid>``, ``LVM-...``, ``CRYPT-...``), ``.../device/state``.

The command prints one ``M:m<TAB>attribute<TAB>value`` line per readable attribute; an
attribute a device does not have prints nothing.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from conformance.probes.common import MajorMinor, ProbeParseError, lines_of

PROBE = "sysfs"
ATTRIBUTES = (
    "dm/name",
    "dm/uuid",
    "device/transport",
    "device/state",
    "device/serial",
    "device/wwid",
    "device/model",
    "device/vendor",
    "wwid",
)


def sysfs_command(
    devices: Iterable[MajorMinor], attributes: Sequence[str] = ATTRIBUTES
) -> tuple[str, ...]:
    """``sh -c`` reading each attribute of each device; unreadable ones are skipped."""
    numbers = " ".join(str(d) for d in devices)
    names = " ".join(shlex.quote(a) for a in attributes)
    script = (
        f"for d in {numbers}; do for a in {names}; do f=/sys/dev/block/$d/$a; "
        '[ -r "$f" ] && printf "%s\\t%s\\t%s\\n" "$d" "$a" "$(tr -d "\\n" < "$f")"; '
        "done; done; true"
    )
    return ("sh", "-c", script)


@dataclass(frozen=True)
class SysfsAttributes:
    """What sysfs says of each device: major:minor -> attribute -> value (stripped)."""

    values: dict[MajorMinor, dict[str, str]]

    def get(self, device: MajorMinor | None, attribute: str) -> str | None:
        if device is None:
            return None
        return self.values.get(device, {}).get(attribute)


def parse_sysfs(text: str) -> SysfsAttributes:
    values: dict[MajorMinor, dict[str, str]] = {}
    for number, line in lines_of(text):
        parts = line.split("\t", 2)
        if len(parts) != 3:
            raise ProbeParseError(
                PROBE, "expected 'M:m<TAB>attribute<TAB>value'", line_no=number, line=line
            )
        try:
            device = MajorMinor.parse(parts[0])
        except ValueError:
            raise ProbeParseError(
                PROBE, f"{parts[0]!r} is not major:minor", line_no=number, line=line
            ) from None
        values.setdefault(device, {})[parts[1]] = parts[2].strip()
    return SysfsAttributes(values)
