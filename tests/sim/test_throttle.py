"""Fault slow-volume's throttle: limits written per device to the blkio throttle files,
removed again (0), and a clear refusal where the host has no blkio throttle."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conformance.sim.kernel import devices, throttle
from conformance.sim.kernel.model import run


def fake_blkio(tmp_path: Path) -> Path:
    for name in throttle.LIMITS:
        (tmp_path / name).write_text("")
    return tmp_path


def test_each_device_gets_each_limit(tmp_path: Path) -> None:
    root = fake_blkio(tmp_path)
    throttle.throttle({(7, 3)}, root)
    assert (root / "blkio.throttle.write_iops_device").read_text() == f"7:3 {throttle.IOPS}\n"
    assert (root / "blkio.throttle.read_bps_device").read_text() == (
        f"7:3 {throttle.BYTES_PER_SECOND}\n"
    )
    throttle.clear({(7, 3)}, root)
    assert (root / "blkio.throttle.write_iops_device").read_text() == "7:3 0\n"


def test_a_host_without_blkio_refuses_the_fault_and_clears_quietly(tmp_path: Path) -> None:
    with pytest.raises(throttle.ThrottleUnavailable, match="needs cgroup v1's blkio"):
        throttle.throttle({(7, 3)}, tmp_path)
    throttle.clear({(7, 3)}, tmp_path)  # nothing to do, no error


@pytest.mark.skipif(
    os.geteuid() != 0 or not throttle.available(),
    reason="needs root and this host's cgroup v1 blkio throttle (CI runs as root)",
)
def test_a_detached_loop_device_takes_its_limits_with_it(tmp_path: Path) -> None:
    """A simulator killed before its detach leaves rules on the device number: whatever
    image the device serves next (maybe not ours) would be slow. Detaching clears them."""
    image = tmp_path / "volume.img"
    image.write_bytes(b"\0" * 1024 * 1024)
    loop = run(["losetup", "-f", "--show", str(image)]).stdout.strip()
    number = f"{os.major(os.stat(loop).st_rdev)}:{os.minor(os.stat(loop).st_rdev)}"
    rules = throttle.BLKIO / "blkio.throttle.write_iops_device"
    try:
        throttle.throttle({(7, os.minor(os.stat(loop).st_rdev))})
        assert f"{number} {throttle.IOPS}" in rules.read_text().splitlines()
    finally:
        assert devices.detach_loop(loop, image)
    assert not [line for line in rules.read_text().splitlines() if line.startswith(f"{number} ")]
