"""The device-stack checks on real lsblk output (tests/data/real/lsblk/) and on the shapes
a SAN presents; each rule is seen to pass and to fail naming the property."""

from __future__ import annotations

from dataclasses import replace

from conformance import checks, probes
from conformance.inventory import Expectations, HandleIn, Multipath
from conformance.observe import DeviceStack
from conformance.probes import BlockDevice, MajorMinor, SysfsAttributes
from tests.test_probes import capture

NO_SYSFS = SysfsAttributes({})


def real_lsblk(name: str) -> list[BlockDevice]:
    return probes.parse_lsblk(capture(f"real/lsblk/{name}").split("# ---\n", 1)[1])


def inverse_stack_of(devices: list[BlockDevice], name: str) -> BlockDevice:
    """What ``lsblk -s`` prints for one device, derived from the default tree of a real
    capture: the device, with what it sits on as its children."""
    for device, above in probes.walk_block_devices(devices):
        if device.name == name:
            below = None
            for parent in reversed(above):
                below = replace(parent, children=(below,) if below else ())
            return replace(device, children=(below,) if below else ())
    raise AssertionError(f"{name} not in the capture")


def stack(
    device: BlockDevice | None, handle: str | None = None, sysfs: SysfsAttributes = NO_SYSFS
) -> DeviceStack:
    return DeviceStack("web-0", "node-1", "pvc-1", handle, device, sysfs)


GPUD = real_lsblk("gpud-1-json-bytes-paths-nvme.txt")
LOCAL_VOLUME = inverse_stack_of(GPUD, "/dev/nvme2n1p1")  # mounted at /mnt/local-volume/vol-0


def test_an_nvme_partition_resolves_to_its_namespace_with_model_and_serial() -> None:
    seen = stack(LOCAL_VOLUME, handle="BTAX341402PV7P6DGN")
    expect = Expectations(
        device="nvme", model="INTEL SSDPF2KX076T1O", volume_handle_in=HandleIn.SERIAL
    )
    assert checks.device_stack(seen, expect) == []
    assert [d.name for d, _ in seen.layers()] == ["/dev/nvme2n1p1", "/dev/nvme2n1"]


def test_the_wrong_disk_for_the_volume_handle_is_named() -> None:
    seen = stack(LOCAL_VOLUME, handle="BTAX341404087P6DGN")  # another namespace's serial
    assert checks.device_stack(seen, Expectations(volume_handle_in=HandleIn.SERIAL)) == [
        "web-0 on node-1: pvc-1: /dev/nvme2n1 (disk) has serial 'BTAX341402PV7P6DGN', which "
        "does not carry the PV's volumeHandle 'BTAX341404087P6DGN': the disk is not this volume"
    ]


def test_ebs_serials_carry_the_volume_id_without_its_dash() -> None:
    assert checks.stack.carries("vol0abc123def4567890", "vol-0abc123def4567890")
    assert checks.stack.carries(
        "0x600a098038303053453f463045796c37", "600a098038303053453f463045796c37"
    )
    assert not checks.stack.carries("vol0abc123def4567891", "vol-0abc123def4567890")
    assert not checks.stack.carries(None, "vol-0abc")


def test_device_kind_model_and_transport_mismatches_name_the_disk() -> None:
    nvme = SysfsAttributes({MajorMinor(259, 3): {"device/transport": "pcie"}})
    disk = replace(LOCAL_VOLUME.children[0], major_minor=MajorMinor(259, 3), children=())
    seen = stack(replace(LOCAL_VOLUME, children=(disk,)), sysfs=nvme)
    assert checks.device_stack(seen, Expectations(transport="pcie", device="nvme")) == []
    assert checks.device_stack(seen, Expectations(transport="tcp", device="scsi", model="LUN")) == [
        "web-0 on node-1: pvc-1 is on /dev/nvme2n1 (259:3, disk), a nvme device, expected scsi",
        "web-0 on node-1: pvc-1: /dev/nvme2n1 (259:3, disk) has transport 'pcie', expected 'tcp'",
        "web-0 on node-1: pvc-1: /dev/nvme2n1 (259:3, disk) has model 'INTEL SSDPF2KX076T1O', "
        "expected 'LUN'",
    ]


def path(name: str, minor: int, state: str = "running", vendor: str = "NETAPP") -> BlockDevice:
    return BlockDevice(
        name=name,
        major_minor=MajorMinor(8, minor),
        type="disk",
        vendor=vendor,
        model="LUN C-Mode",
        transport="iscsi",
        hctl=f"{minor // 16}:0:0:1",
        extra=(("state", state),),
    )


def mpath(*paths: BlockDevice) -> BlockDevice:
    return BlockDevice(
        name="3600a098038303053453f463045796c37",
        kname="dm-3",
        major_minor=MajorMinor(253, 3),
        type="mpath",
        children=paths,
    )


SAN = Expectations(
    transport="iscsi", vendor="NETAPP", model="LUN C-Mode", multipath=Multipath(min_paths=2)
)


def test_a_multipath_lun_with_every_path_running_passes() -> None:
    assert checks.device_stack(stack(mpath(path("sdb", 16), path("sdc", 32))), SAN) == []


def test_a_path_down_a_missing_path_and_a_foreign_path_are_each_named() -> None:
    seen = stack(mpath(path("sdb", 16), path("sdc", 32, state="offline")))
    assert checks.device_stack(seen, SAN) == [
        "web-0 on node-1: pvc-1: path sdc (8:32, disk) of multipath "
        "3600a098038303053453f463045796c37 is offline, not running"
    ]
    (few,) = checks.device_stack(stack(mpath(path("sdb", 16))), SAN)
    assert few.endswith("has 1 path(s) (sdb (8:16, disk)), expected at least 2")
    (foreign,) = checks.device_stack(
        stack(mpath(path("sdb", 16), path("sdc", 32, vendor="PURE"))), SAN
    )
    assert (
        foreign == "web-0 on node-1: pvc-1: sdc (8:32, disk) has vendor 'PURE', expected 'NETAPP'"
    )


def test_a_single_path_disk_where_multipath_is_expected() -> None:
    (problem,) = checks.device_stack(stack(path("sdb", 16)), SAN)
    assert problem.startswith(
        "web-0 on node-1: pvc-1 is on sdb (8:16, disk), which is not a multipath device"
    )


def test_an_unreadable_stack_says_why() -> None:
    seen = DeviceStack(
        "web-0", "node-1", "pvc-1", None, None, NO_SYSFS, "lsblk lists no device 7:3"
    )
    assert checks.device_stack(seen, SAN) == [
        "web-0 on node-1: pvc-1: its device stack cannot be read: lsblk lists no device 7:3"
    ]
