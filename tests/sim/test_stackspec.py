"""StorageClass parameters that shape the device stack, the stable identifiers derived from
volume handles, and the provisioner's use of both (in-memory store, no kernel)."""

from __future__ import annotations

import re

import pytest

from conformance.sim.stackspec import (
    EBS_MODEL,
    StackParameters,
    naa_wwn,
    nvme_serial,
    unrelated_key,
    wwn_for,
)
from tests.sim.test_volumes import PV, PVC, SC, Sim, claim, run, storage_class


def test_defaults_are_an_iscsi_scsi_disk() -> None:
    assert StackParameters.parse({}) == StackParameters(
        device="scsi", transport="iscsi", vendor="SIM", model="DISK", rev="1.0", multipath=0
    )
    nvme = StackParameters.parse({"device": "nvme"})
    assert (nvme.transport, nvme.model) == ("pcie", EBS_MODEL)
    assert StackParameters.parse({"device": "rbd", "pool": "kube"}).transport == ""


@pytest.mark.parametrize(
    ("parameters", "says"),
    [
        ({"device": "floppy"}, "parameter device: 'floppy' is not one of scsi, nvme, rbd"),
        ({"transport": "pcie"}, "parameter transport: 'pcie' is not one of iscsi, fc, sas"),
        ({"device": "nvme", "transport": "iscsi"}, "is not one of pcie, tcp, rdma, fc"),
        ({"device": "rbd", "transport": "fc"}, "an rbd device has no transport"),
        ({"multipath": "two"}, "'two' is not a number of paths"),
        ({"multipath": "9"}, "9 paths, expected 0 to 8"),
        ({"device": "nvme", "multipath": "2"}, "a nvme device has no SCSI paths"),
        ({"userFriendlyNames": "perhaps"}, "parameter userFriendlyNames: 'perhaps'"),
        ({"device": "rbd", "pool": "a/b"}, "parameter pool: 'a/b' is not a pool name"),
    ],
)
def test_parameters_a_node_cannot_show_are_refused_naming_them(
    parameters: dict[str, str], says: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        StackParameters.parse(parameters)


def test_handles_carry_what_the_disk_shows() -> None:
    san = StackParameters.parse({"vendor": "NETAPP", "multipath": "2"}).volume_handle("u1")
    wwn = wwn_for("NETAPP", san)
    assert san == f"sim-san:{wwn}"
    assert wwn.startswith("600a0980")
    assert len(wwn) == 32
    ebs = StackParameters.parse({"device": "nvme"}).volume_handle("u1")
    assert re.fullmatch(r"vol-0[0-9a-f]{16}", ebs)
    assert nvme_serial(ebs) == ebs.replace("-", "")  # as EBS: the id without its dash
    rbd = StackParameters.parse({"device": "rbd"}).volume_handle("u1")
    assert re.fullmatch(r"0001-0009-rook-ceph-0{15}2-[0-9a-f-]{36}", rbd)
    assert StackParameters.parse({}).volume_handle("u1") == "sim-u1"


def test_identifiers_are_stable_and_wrong_serial_is_another_volumes() -> None:
    assert naa_wwn("DATERA", "pv-1") == naa_wwn("DATERA", "pv-1") != naa_wwn("DATERA", "pv-2")
    assert naa_wwn("DATERA", "pv-1").startswith("6001405")  # LIO's OUI
    handle = "vol-0123456789abcdef0"
    other = nvme_serial(unrelated_key(handle))
    assert other.startswith("vol0")
    assert len(other) == 20
    assert other != nvme_serial(handle)
    san = "sim-san:600a0980" + "1" * 24
    assert wwn_for("NETAPP", unrelated_key(san)) != wwn_for("NETAPP", san)


def test_the_provisioner_copies_the_stack_to_the_pv_with_a_fitting_handle() -> None:
    async def main() -> None:
        async with Sim() as sim:
            parameters = {"device": "nvme", "fsType": "ext4", "csi.storage.k8s.io/fstype": "ext4"}
            sim.store.create(
                SC, storage_class("ebs", "ebs.csi.sim.conformance.io", parameters=parameters)
            )
            uid = sim.store.create(PVC, claim("data", cls="ebs"))["metadata"]["uid"]
            await sim.wait_for(lambda: sim.phase(PVC, "data") == "Bound", what="Bound")
            pv = sim.get(PV, f"pvc-{uid}")
            assert pv is not None
            csi = pv["spec"]["csi"]
            assert csi["volumeAttributes"] == {"device": "nvme"}
            assert re.fullmatch(r"vol-0[0-9a-f]{16}", csi["volumeHandle"])

    run(main())


def test_the_provisioner_refuses_a_stack_the_nodes_cannot_show() -> None:
    async def main() -> None:
        async with Sim() as sim:
            parameters = {"device": "nvme", "multipath": "2"}
            sim.store.create(SC, storage_class("bad", parameters=parameters))
            sim.store.create(PVC, claim("data", cls="bad"))
            failed = await sim.wait_for(
                lambda: [m for r, m in sim.events("data") if r == "ProvisioningFailed"],
                what="ProvisioningFailed",
            )
            assert failed[0] == (
                'failed to provision volume with StorageClass "bad": rpc error: code = '
                "InvalidArgument desc = parameter multipath: a nvme device has no SCSI paths"
            )
            assert sim.phase(PVC, "data") == "Pending"
            assert not sim.runtime.volumes

    run(main())
