"""Fault slow-volume's throttle: limits written per device to the blkio throttle files,
removed again (0), and a clear refusal where the host has no blkio throttle."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.sim.kernel import throttle


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
