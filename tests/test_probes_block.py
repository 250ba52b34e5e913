"""The raw-block and device-node probes run with the real tools on a real loop device."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance import probes

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="loop devices need root")


@pytest.fixture
def loop_device(tmp_path: Path) -> Iterator[str]:
    image = tmp_path / "disk.img"
    with image.open("wb") as f:
        f.truncate(8 * 1024 * 1024)
    device = subprocess.run(
        ["losetup", "-f", "--show", str(image)], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        yield device
    finally:
        subprocess.run(["losetup", "-d", device], check=False)


def sh(argv: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def test_raw_data_written_at_an_offset_reads_back_there_only(loop_device: str) -> None:
    payload = probes.Payload.random(2 * probes.BLOCK)
    written = sh(probes.write_block_command(loop_device, payload, offset_blocks=100))
    assert written.returncode == 0, written.stderr
    read = sh(probes.read_block_command(loop_device, offset_blocks=100, blocks=2))
    assert probes.parse_checksum(read.stdout).digest == payload.sha256
    elsewhere = sh(probes.read_block_command(loop_device, offset_blocks=101, blocks=2))
    assert probes.parse_checksum(elsewhere.stdout).digest != payload.sha256


def test_a_raw_payload_must_be_whole_blocks() -> None:
    with pytest.raises(ValueError, match="whole 4096-byte blocks"):
        probes.write_block_command("/dev/x", probes.Payload.random(100), offset_blocks=0)


def test_stat_tells_a_block_device_and_its_number(loop_device: str, tmp_path: Path) -> None:
    done = sh(probes.stat_command([loop_device, str(tmp_path), str(tmp_path / "missing")]))
    found = probes.parse_stat(done.stdout)
    assert done.returncode != 0  # the missing path
    device, directory = found
    number = os.stat(loop_device).st_rdev
    assert device.is_block_device
    assert (device.major_minor.major, device.major_minor.minor) == (
        os.major(number),
        os.minor(number),
    )
    assert (directory.type, directory.is_block_device) == ("directory", False)


def test_the_container_id_is_taken_from_the_status_field() -> None:
    hex_id = "4f1a" * 16
    assert probes.container_id(f"containerd://{hex_id}") == hex_id
    assert probes.container_id(f"cri-o://{hex_id}") == hex_id
    with pytest.raises(ValueError, match="not a container ID"):
        probes.container_id("sim://abc")


def test_the_pids_of_a_cgroup_are_found_by_the_id_in_its_path() -> None:
    """This process's own cgroup stands in for a container's, where its path has an ID."""
    ids = [
        part
        for line in Path("/proc/self/cgroup").read_text().splitlines()
        for part in line.split(":", 2)[-1].split("/")
        if re.fullmatch(r"[0-9a-f]{12,64}", part)
    ]
    if not ids:
        pytest.skip("no cgroup of this process has a hex ID in its path")
    pids = probes.parse_pids(sh(probes.container_pids_command(f"containerd://{ids[0]}")).stdout)
    assert os.getpid() in pids


def test_sysfs_attributes_read_as_the_files_say() -> None:
    """The sysfs probe on this machine's own block devices reads what the files hold."""
    numbers = sorted(probes.MajorMinor.parse(n) for n in os.listdir("/sys/dev/block"))[-8:]
    if not numbers:
        pytest.skip("this machine lists no block devices in /sys/dev/block")
    found = probes.parse_sysfs(sh(probes.sysfs_command(numbers)).stdout)
    expected = {
        (number, attribute): Path(f"/sys/dev/block/{number}/{attribute}").read_text().strip()
        for number in numbers
        for attribute in ("device/model", "device/vendor", "dm/name", "device/state")
        if os.access(f"/sys/dev/block/{number}/{attribute}", os.R_OK)
    }
    assert {k: found.get(*k) for k in expected} == expected
    assert found.get(numbers[0], "no/such/attribute") is None
