"""How large a filesystem or a block device is, as a process in the container sees it.

A filesystem: ``stat -f -c '%S %b' PATH`` (statfs: the fundamental block size times
the total data blocks, what ``df`` prints as its size; GNU coreutils and busybox alike).
A block device: ``blockdev --getsize64 DEV`` (util-linux and busybox: the BLKGETSIZE64
ioctl, the kernel's own idea of the device's size, in bytes).
"""

from __future__ import annotations

from conformance.probes.common import ProbeParseError, lines_of

STATFS = "statfs"
BLOCKDEV = "blockdev"


def statfs_command(path: str) -> tuple[str, ...]:
    """``stat -f -c '%S %b' PATH``: block size and block count of the filesystem at PATH."""
    if not path.startswith("/"):
        raise ValueError(f"statfs takes an absolute path, not {path!r}")
    return ("stat", "-f", "-c", "%S %b", path)


def parse_statfs(text: str) -> int:
    """The filesystem's size in bytes (block size x total blocks)."""
    for number, line in lines_of(text):
        parts = line.split()
        if len(parts) != 2 or not all(part.isdigit() for part in parts):
            raise ProbeParseError(
                STATFS, "expected '<block size> <blocks>'", line_no=number, line=line
            )
        return int(parts[0]) * int(parts[1])
    raise ProbeParseError(STATFS, "no output")


def blockdev_size_command(device: str) -> tuple[str, ...]:
    """``blockdev --getsize64 DEV``: the device's size in bytes."""
    if not device.startswith("/"):
        raise ValueError(f"blockdev takes a device path, not {device!r}")
    return ("blockdev", "--getsize64", device)


def parse_blockdev_size(text: str) -> int:
    for number, line in lines_of(text):
        if not line.strip().isdigit():
            raise ProbeParseError(BLOCKDEV, "expected a size in bytes", line_no=number, line=line)
        return int(line.strip())
    raise ProbeParseError(BLOCKDEV, "no output")


__all__ = [
    "BLOCKDEV",
    "STATFS",
    "blockdev_size_command",
    "parse_blockdev_size",
    "parse_statfs",
    "statfs_command",
]
