"""`conformance inventory from-driver-manifest`: upstream's external storage driver manifests,
as vendors publish them, become inventory entries; every field is accounted for, and a key
upstream would silently ignore is an error naming it and its line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance import driver_manifest, inventory
from tests.conftest import ROOT

MANIFESTS = ROOT / "tests" / "data" / "driver-manifests"
CONVERTIBLE = ["aws-ebs-csi-driver", "ceph-csi-rbd", "ceph-csi-cephfs", "ceph-csi-nfs"]
SCREEN_LINES = 25


def leaves(data: Any, prefix: str = "") -> list[str]:
    """Dotted paths of the manifest's fields (maps of capabilities and timeouts to their
    keys; sets such as SupportedFsType and lists as one field)."""
    if not isinstance(data, dict) or prefix.endswith(("SupportedFsType", "MountOption")):
        return [prefix]
    found = []
    for key, value in data.items():
        found += leaves(value, f"{prefix}.{key}" if prefix else str(key))
    return found


def as_inventory(printed: str) -> inventory.Inventory:
    """The printed entries pasted into an inventory of a cluster that exists."""
    body = yaml.safe_load(printed)
    body["cluster"] = {"kubeconfig": "/dev/null"}
    body["nodes"] = {"access": "none"}
    return inventory.parse(yaml.safe_dump(body))


@pytest.mark.parametrize("name", CONVERTIBLE)
def test_a_real_manifest_converts_to_entries_that_load(conformance_cli, name: str) -> None:
    result = conformance_cli("inventory", "from-driver-manifest", str(MANIFESTS / f"{name}.yaml"))
    assert result.returncode == 0, result.stderr
    loaded = as_inventory(result.stdout)
    assert loaded.storage


@pytest.mark.parametrize("name", CONVERTIBLE)
def test_every_field_of_the_manifest_is_accounted_for(name: str) -> None:
    path = MANIFESTS / f"{name}.yaml"
    given = leaves(yaml.safe_load(path.read_text()))
    fates = {fate.field for fate in driver_manifest.load(path).fates}
    named = {field.split(" ")[0] for field in fates}
    missing = [field for field in given if field not in named]
    assert not missing, f"fields the conversion says nothing about: {missing}"


def test_ebs_reads_its_class_file_timeouts_and_capabilities() -> None:
    converted = driver_manifest.load(MANIFESTS / "aws-ebs-csi-driver.yaml")
    loaded = as_inventory(converted.render())
    disk, block = loaded.storage
    assert disk.name == "ebs"
    assert disk.provisioner == "ebs.csi.aws.com"
    assert disk.volume_binding_mode is inventory.BindingMode.WAIT  # from storageclass.yaml
    assert (disk.fs_type, disk.size) == ("xfs", "1Gi")
    caps = disk.capabilities
    assert (caps.fs_group, caps.expansion, caps.online_expansion, caps.topology) == (
        True,
        True,
        True,  # upstream's default when controllerExpansion is true
        True,
    )
    assert block.volume_mode is inventory.VolumeMode.BLOCK
    assert loaded.timeouts.pod_ready == 600  # Timeouts.PodStart: 10m


def test_ceph_entries_name_the_existing_class_and_the_share_type() -> None:
    rbd = as_inventory(driver_manifest.load(MANIFESTS / "ceph-csi-rbd.yaml").render())
    assert rbd.storage[0].storage_class == "k8s-storage-e2e-rbd"
    assert rbd.storage[0].capabilities.rwop is True
    assert rbd.storage[0].capabilities.fs_group is False
    cephfs = as_inventory(driver_manifest.load(MANIFESTS / "ceph-csi-cephfs.yaml").render())
    (entry,) = cephfs.storage  # block: false, so no Block entry
    assert entry.fs_type == "cephfs"
    assert entry.access_modes == [inventory.AccessMode.RWX]
    nfs = as_inventory(driver_manifest.load(MANIFESTS / "ceph-csi-nfs.yaml").render())
    assert nfs.timeouts.pvc_bound == 600  # Timeouts.ClaimProvision: 10m


def test_unused_fields_are_reported_with_the_reason() -> None:
    printed = driver_manifest.load(MANIFESTS / "ceph-csi-rbd.yaml").render()
    assert (
        "SnapshotClass.FromExistingClassName: k8s-storage-e2e-rbd -> not used: "
        "this harness has no snapshot suites" in printed
    )
    assert "DriverInfo.Capabilities.volumeLimits: false -> not used:" in printed


def test_a_misplaced_key_upstream_ignores_is_an_error_naming_it_and_its_line(
    conformance_cli,
) -> None:
    # Dell's manifest puts NumSnapshots under StressTestOptions; upstream drops it silently
    path = MANIFESTS / "dell-csi-powerflex.yaml"
    result = conformance_cli("inventory", "from-driver-manifest", str(path))
    assert result.returncode == 1
    assert "DriverInfo.StressTestOptions.NumSnapshots (line 86): unknown key" in result.stderr
    assert "allowed here: NumPods, NumRestarts" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) <= SCREEN_LINES
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "DriverInfo:\n  Name: x.csi.io\n  Capabilities:\n    snapshotDatasource: true\n",
            "DriverInfo.Capabilities.snapshotDatasource (line 4): unknown key",
        ),
        (
            "DriverInfo:\n  Name: x.csi.io\nTimeouts:\n  PodStart: 10 minutes\n",
            "Timeouts.PodStart (line 4): '10 minutes' is not a Go duration",
        ),
        (
            "DriverInfo:\n  Name: x.csi.io\nTimeouts:\n  PodReady: 5m\n",
            "Timeouts.PodReady (line 4): unknown timeout",
        ),
        (
            "StorageClass:\n  FromFile: missing-sc.yaml\nDriverInfo:\n  Name: x.csi.io\n",
            "StorageClass.FromFile (line 2): ",
        ),
        ("StorageClass:\n  FromName: true\n", "DriverInfo (line 1): required field is missing"),
        ("DriverInfo: [\n", "not valid YAML"),
    ],
)
def test_bad_manifests_name_the_field_and_line(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "driver.yaml"
    path.write_text(text)
    with pytest.raises(driver_manifest.ManifestError) as raised:
        driver_manifest.load(path)
    assert says in raised.value.render()


def test_from_name_makes_a_class_for_the_driver_and_unset_sizes_take_upstreams_default() -> None:
    converted = driver_manifest.convert(
        "StorageClass:\n  FromName: true\nDriverInfo:\n  Name: hostpath.csi.k8s.io\n"
        "  Capabilities:\n    persistence: true\n    singleNodeVolume: true\n"
    )
    (entry,) = as_inventory(converted.render()).storage
    assert entry.provisioner == "hostpath.csi.k8s.io"
    assert entry.size == "5Gi"
    assert entry.capabilities.multinode is False
