"""The expansion check and the size probes: facts in, sentences out."""

from __future__ import annotations

import dataclasses

import pytest

from conformance import checks, probes
from conformance.observe import Expansion, SizeSeen

GIB = 1024**3


def grown(**changes: object) -> Expansion:
    """A claim resized from 1Gi to 2Gi whose ext4 filesystem grew (statfs 1.94 GiB)."""
    facts = Expansion(
        claim="data-web-0",
        requested="2Gi",
        claim_capacity="2Gi",
        conditions=(),
        pv="pvc-1",
        pv_capacity="2Gi",
        seen=SizeSeen("web-0", "/data", "the filesystem", 2_086_264_832),
        size_before=1_020_702_720,
        recreated=False,
    )
    return dataclasses.replace(facts, **changes)  # type: ignore[arg-type]


def test_a_grown_claim_passes_online_and_offline() -> None:
    assert checks.expanded(grown(), online=True) == []
    assert checks.expanded(grown(recreated=True), online=False) == []


def test_a_filesystem_that_did_not_grow_names_claim_size_seen_and_request() -> None:
    stalled = grown(seen=SizeSeen("web-0", "/data", "the filesystem", 1_020_702_720))
    assert checks.expanded(stalled, online=True) == [
        "claim data-web-0: the filesystem at /data in web-0 is 973 MiB (1020702720 bytes) "
        "(as before the resize), but 2Gi was requested, at least 1.80 GiB expected after "
        "fs overhead"
    ]


def test_a_device_must_reach_the_request_itself() -> None:
    device = SizeSeen("web-0", "/dev/xvda", "the device", 2 * GIB - 512)
    (problem,) = checks.expanded(grown(seen=device, size_before=GIB), online=True)
    assert problem.startswith("claim data-web-0: the device at /dev/xvda in web-0 is 2.00 GiB")
    assert "but 2Gi was requested" in problem
    assert (
        checks.expanded(grown(seen=dataclasses.replace(device, size_bytes=2 * GIB)), online=True)
        == []
    )


def test_capacities_that_did_not_grow_are_named_with_the_claims_conditions() -> None:
    facts = grown(claim_capacity="1Gi", pv_capacity="1Gi", conditions=("Resizing",))
    assert checks.expanded(facts, online=True) == [
        "claim data-web-0: its PV pvc-1 has capacity 1Gi, expected at least 2Gi after the resize",
        "claim data-web-0: status.capacity is 1Gi, expected at least 2Gi after the resize "
        "(conditions: Resizing)",
    ]


def test_an_online_expansion_must_not_recreate_the_pod() -> None:
    (problem,) = checks.expanded(grown(recreated=True), online=True)
    assert "was re-created during an online expansion" in problem


def test_an_unreadable_size_is_reported() -> None:
    unread = SizeSeen("web-0", "/data", "the filesystem", None, "`stat -f` exited 127: not found")
    (problem,) = checks.expanded(grown(seen=unread), online=True)
    assert problem == (
        "claim data-web-0: the size of the filesystem at /data in web-0 cannot be read: "
        "`stat -f` exited 127: not found"
    )


def test_the_size_probes_read_statfs_and_blockdev() -> None:
    assert probes.statfs_command("/data") == ("stat", "-f", "-c", "%S %b", "/data")
    assert probes.parse_statfs("4096 509342\n") == 4096 * 509342
    assert probes.blockdev_size_command("/dev/xvda") == ("blockdev", "--getsize64", "/dev/xvda")
    assert probes.parse_blockdev_size("2147483648\n") == 2 * GIB
    with pytest.raises(probes.ProbeParseError, match="statfs"):
        probes.parse_statfs("  File: /data\n")
    with pytest.raises(probes.ProbeParseError, match="blockdev"):
        probes.parse_blockdev_size("")
