"""Slow volumes (fault ``slow-volume``): the kernel's own block-layer throttle on the
devices behind a volume, so fio in a pod measures a slow disk, not a sleep.

The limits go to cgroup v1's ``blkio.throttle.{read,write}_{iops,bps}_device`` in the
blkio hierarchy's root cgroup, where the simulator's pods do their I/O (it puts them in
no blkio group of their own). That is io.max's v1 form: cgroup v2's io.max cannot be set
on the root cgroup, and this host's io controller is bound to the v1 hierarchy. A host
without a v1 blkio hierarchy cannot throttle: the fault then fails the attach, saying
so. Every attach first clears what a killed simulator may have left on the device.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

BLKIO = Path("/sys/fs/cgroup/blkio")
IOPS = 200  # like a small cloud volume's baseline (gp2 at 66 GiB: 200 IOPS)
BYTES_PER_SECOND = 8 * 1024 * 1024
LIMITS = {
    "blkio.throttle.read_iops_device": IOPS,
    "blkio.throttle.write_iops_device": IOPS,
    "blkio.throttle.read_bps_device": BYTES_PER_SECOND,
    "blkio.throttle.write_bps_device": BYTES_PER_SECOND,
}


class ThrottleUnavailable(OSError):
    """This host offers no block throttle the simulator can use."""


def available(root: Path = BLKIO) -> bool:
    return all((root / name).exists() for name in LIMITS)


def throttle(devices: set[tuple[int, int]], root: Path = BLKIO) -> None:
    """Limit each device to :data:`IOPS` and :data:`BYTES_PER_SECOND` each way."""
    if not available(root):
        raise ThrottleUnavailable(
            f"fault slow-volume needs cgroup v1's blkio throttle ({root}/blkio.throttle.*); "
            "this host has none"
        )
    for major, minor in sorted(devices):
        for name, limit in LIMITS.items():
            (root / name).write_text(f"{major}:{minor} {limit}\n")


def clear(devices: set[tuple[int, int]], root: Path = BLKIO) -> None:
    """Take any limit off the devices (writing 0 removes a rule); quiet without blkio."""
    if not available(root):
        return
    for major, minor in sorted(devices):
        for name in LIMITS:
            with contextlib.suppress(OSError):  # no rule for the device: nothing to remove
                (root / name).write_text(f"{major}:{minor} 0\n")
