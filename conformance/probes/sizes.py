"""How large a filesystem or a block device is, as a process in the container sees it.

A filesystem: ``stat -f -c '%S %b' PATH`` (statfs: the fundamental block size times
the total data blocks, what ``df`` prints as its size; GNU coreutils and busybox alike).
A block device: ``blockdev --getsize64 DEV`` (util-linux and busybox: the BLKGETSIZE64
ioctl, the kernel's own idea of the device's size, in bytes).
"""

from __future__ import annotations

import re

from conformance.probes.common import ProbeParseError, lines_of

STATFS = "statfs"
BLOCKDEV = "blockdev"
_DIGITS = re.compile(r"[0-9]+")  # ASCII digits: str.isdigit() also takes "²"


def statfs_command(path: str) -> tuple[str, ...]:
    """``stat -f -c '%S %b' PATH``: block size and block count of the filesystem at PATH."""
    if not path.startswith("/"):
        raise ValueError(f"statfs takes an absolute path, not {path!r}")
    return ("stat", "-f", "-c", "%S %b", path)


def parse_statfs(text: str) -> int:
    """The filesystem's size in bytes (block size x total blocks), from the one line."""
    lines = _lines(STATFS, text)
    number, line = lines[0]
    parts = line.split()
    if len(parts) != 2 or not all(_DIGITS.fullmatch(part) for part in parts):
        raise ProbeParseError(STATFS, "expected '<block size> <blocks>'", line_no=number, line=line)
    _only(STATFS, lines)
    return int(parts[0]) * int(parts[1])


def blockdev_size_command(device: str) -> tuple[str, ...]:
    """``blockdev --getsize64 DEV``: the device's size in bytes."""
    if not device.startswith("/"):
        raise ValueError(f"blockdev takes a device path, not {device!r}")
    return ("blockdev", "--getsize64", device)


def parse_blockdev_size(text: str) -> int:
    """The device's size in bytes, from the one line, as the kernel has it, unchecked: an
    8 TB disk in a USB enclosure read as 115 PiB after a warm reboot (util-linux#1226)."""
    lines = _lines(BLOCKDEV, text)
    number, line = lines[0]
    if not _DIGITS.fullmatch(line.strip()):
        raise ProbeParseError(BLOCKDEV, "expected a size in bytes", line_no=number, line=line)
    _only(BLOCKDEV, lines)
    return int(line.strip())


def _lines(probe: str, text: str) -> list[tuple[int, str]]:
    lines = list(lines_of(text))
    if not lines:
        raise ProbeParseError(probe, "no output")
    return lines


def _only(probe: str, lines: list[tuple[int, str]]) -> None:
    """The command prints one line for its one path: a second (another path's, or a
    message after the number) is not this probe's output."""
    if len(lines) > 1:
        number, line = lines[1]
        raise ProbeParseError(probe, "expected one line", line_no=number, line=line)


__all__ = [
    "BLOCKDEV",
    "STATFS",
    "blockdev_size_command",
    "parse_blockdev_size",
    "parse_statfs",
    "statfs_command",
]
