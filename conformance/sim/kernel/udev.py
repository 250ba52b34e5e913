"""The node's udev database: what systemd-udevd would have recorded for each disk.

lsblk (util-linux 2.38, misc-utils/lsblk-properties.c) asks libudev for a device's
properties before anything else, and takes WWN *only* from there
(``ID_WWN_WITH_EXTENSION``, else ``ID_WWN``); SERIAL from ``SCSI_IDENT_SERIAL``,
``ID_SCSI_SERIAL``, ``ID_SERIAL_SHORT`` or ``ID_SERIAL`` before sysfs'
``device/serial``; MODEL from ``ID_MODEL_ENC``. When libudev knows the device, lsblk
also takes FSTYPE and UUID from it (``ID_FS_TYPE``, ``ID_FS_UUID_ENC``) and does not
probe with blkid, so every entry written here carries those too.

libudev (systemd's sd-device) reads ``/run/udev/data/b<major>:<minor>``: ``S:`` lines
are the device's /dev symlinks (relative to /dev), ``E:`` its properties, ``I:`` when
udev initialized it (usec), ``G:``/``Q:`` tags, ``V:`` the database version. The device
itself is found through /sys (``/sys/class/block/<name>``, its ``uevent`` for
MAJOR/MINOR/DEVNAME).

Where the simulator differs: a node's /sys is a directory tree bound over /sys, not
sysfs, and libudev refuses a device whose syspath is not on sysfs (statfs magic) unless
``SYSTEMD_DEVICE_VERIFY_SYSFS=0``, systemd's documented switch for testing with a fake
sysfs. Node SSH sessions get it (sshd ``SetEnv``, see host.py), so ``lsblk`` over SSH
prints WWN and udev's SERIAL/MODEL as on a real node. A process entering the node
without it (``nsenter``) sees lsblk fall back to blkid and sysfs: FSTYPE, SERIAL and
MODEL still print, WWN does not. No udevd runs: entries are written when a disk is
attached and removed when it is detached, as udevd does on add/remove uevents.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from conformance.sim.kernel.model import NodeHost

DATA_DIR = "/run/udev/data"  # inside the node
VERIFY_SYSFS_ENV = "SYSTEMD_DEVICE_VERIFY_SYSFS"  # "0": accept a /sys that is not sysfs


def _data_dir(node: NodeHost) -> Path:
    """The node's /run/udev/data as the host reaches it (through the agent's root)."""
    return Path(f"/proc/{node.pid}/root") / DATA_DIR.lstrip("/")


def entry_path(node: NodeHost, major: int, minor: int) -> Path:
    return _data_dir(node) / f"b{major}:{minor}"


def encode(value: str) -> str:
    r"""udev's ``*_ENC`` encoding: characters unsafe in a property escaped as ``\xNN``."""
    return "".join(c if c.isalnum() or c in "#+-.:=@_" else f"\\x{ord(c):02x}" for c in value)


def filesystem_properties(fs_type: str, fs_uuid: str) -> dict[str, str]:
    """What udev's blkid builtin records for a filesystem (the ID_FS_* properties)."""
    if not fs_type:
        return {}
    found = {"ID_FS_TYPE": fs_type, "ID_FS_USAGE": "filesystem"}
    if fs_uuid:
        found |= {"ID_FS_UUID": fs_uuid, "ID_FS_UUID_ENC": encode(fs_uuid)}
    return found


def write_entry(
    node: NodeHost,
    major: int,
    minor: int,
    properties: Mapping[str, str],
    links: Iterable[str] = (),
) -> Path:
    """Write (atomically) the database entry of block device major:minor in the node."""
    directory = _data_dir(node)
    directory.mkdir(parents=True, exist_ok=True)
    lines = [f"S:{link}" for link in links]
    lines.append(f"I:{time.monotonic_ns() // 1000}")
    lines += [f"E:{key}={value}" for key, value in properties.items()]
    lines += ["G:systemd", "Q:systemd", "V:1"]
    path = entry_path(node, major, minor)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text("\n".join(lines) + "\n")
    temporary.replace(path)
    return path


def remove_entry(node: NodeHost, major: int, minor: int) -> None:
    """Forget block device major:minor (a removed device); harmless when absent or the
    node is gone."""
    with contextlib.suppress(FileNotFoundError, NotADirectoryError, ProcessLookupError):
        entry_path(node, major, minor).unlink()


def read_entry(node: NodeHost, major: int, minor: int) -> dict[str, str]:
    """The ``E:`` properties of an entry ({} when there is none)."""
    try:
        text = entry_path(node, major, minor).read_text()
    except (FileNotFoundError, NotADirectoryError):
        return {}
    return dict(
        line[2:].split("=", 1)
        for line in text.splitlines()
        if line.startswith("E:") and "=" in line
    )
