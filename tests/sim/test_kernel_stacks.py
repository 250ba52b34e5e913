"""Device stacks on kernel-backed nodes, seen over SSH as the harness sees them: SCSI disks
per transport, dm-multipath over SCSI paths, NVMe namespaces, RBD devices (lsblk -s,
sysfs, mountinfo), and the node faults that break them, each next to the healthy shape.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest
from kubernetes import client

from conformance.probes.lsblk import STACK_COLUMNS as COLUMNS  # what the harness asks
from conformance.sim.stackspec import nvme_serial, unit_serial, wwn_for
from conformance.waits import Seen, wait_for
from tests.sim import manifests
from tests.sim.conftest import Sim, kernel_sim_with_classes, new_namespace
from tests.sim.test_kernel_nodes import in_pod, node_shell, on_node

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("sshd", path="/usr/sbin:/usr/bin") is None,
    reason="kernel-backed nodes need root and openssh-server (CI runs as root)",
)

VENDORS = {
    "iscsi": ("DATERA", "IBLOCK", "4.0"),
    "fc": ("PURE", "FlashArray", "6.1"),
    "sas": ("HPE", "LOGICAL VOLUME", "1.0"),
}
CLASSES: dict[str, dict[str, str]] = {
    **{
        f"scsi-{transport}": {
            "vendor": vendor,
            "model": model,
            "rev": rev,
            "transport": transport,
            "fsType": "xfs",
        }
        for transport, (vendor, model, rev) in VENDORS.items()
    },
    "san": {
        "vendor": "NETAPP",
        "model": "LUN C-Mode",
        "rev": "9800",
        "multipath": "2",
        "fsType": "xfs",
    },
    "ebs": {"device": "nvme", "fsType": "ext4"},
    "ceph": {"device": "rbd", "pool": "kube", "fsType": "ext4"},
}


@pytest.fixture(scope="module")
def kernel_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    classes = tuple(
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": name},
            "provisioner": f"{name}.csi.sim.conformance.io",
            "parameters": parameters,
        }
        for name, parameters in CLASSES.items()
    )
    yield from kernel_sim_with_classes(tmp_path_factory, "stacks", nodes=1, classes=classes)


@pytest.fixture
def ns(kernel_sim: Sim) -> Iterator[str]:
    yield from new_namespace(kernel_sim, "s")


@pytest.fixture
def faults(kernel_sim: Sim) -> Iterator[Callable[..., None]]:
    """Switch node faults on for one test; all are cleared afterwards."""
    from conformance.sim.cli import _admin

    state = kernel_sim.running.state_dir

    def switch(*names: str) -> None:
        _admin(state, "PUT", "/sim/v1/faults", dict.fromkeys(names))

    yield switch
    _admin(state, "DELETE", "/sim/v1/faults")


def _ready(seen: Seen[client.V1Pod]) -> bool:
    return bool(seen.objects) and all(
        p.status.phase == "Running"
        and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
        for p in seen.items()
    )


class Volume:
    """web-0's volume on its node: the PV, the kubelet path and an SSH session there."""

    def __init__(self, sim: Sim, namespace: str, storage_class: str) -> None:
        sim.core.create_namespaced_service(namespace, manifests.service())
        body = manifests.statefulset(replicas=1, claim="data", storage_class=storage_class)
        sim.apps.create_namespaced_stateful_set(namespace, body)
        wait_for(sim.core.list_namespaced_pod, _ready, timeout=60, namespace=namespace)
        self.pod = sim.core.read_namespaced_pod("web-0", namespace)
        claim = sim.core.read_namespaced_persistent_volume_claim("data-web-0", namespace)
        self.pv = sim.core.read_persistent_volume(claim.spec.volume_name)
        self.handle: str = self.pv.spec.csi.volume_handle
        self.path = (
            f"/var/lib/kubelet/pods/{self.pod.metadata.uid}/volumes/kubernetes.io~csi/"
            f"{self.pv.metadata.name}/mount"
        )
        self.ssh: paramiko.SSHClient = node_shell(sim, self.pod)

    def run(self, command: str) -> str:
        return on_node(self.ssh, command)

    def kubelet_mount(self) -> list[str]:
        """The node's mountinfo line (split) of the kubelet path."""
        lines = [ln.split() for ln in self.run("cat /proc/self/mountinfo").splitlines()]
        found = [fields for fields in lines if fields[4] == self.path]
        assert len(found) == 1, found
        return found[0]

    def stack(self) -> dict[str, Any]:
        """lsblk's inverse tree from the device the kubelet mounted."""
        number = self.kubelet_mount()[2]
        document = json.loads(self.run(f"lsblk -J -b -o {COLUMNS} -s"))
        found = [d for d in document["blockdevices"] if d["maj:min"] == number]
        assert len(found) == 1, (number, document)
        return found[0]

    def sysfs(self, number: str, attribute: str) -> str:
        return self.run(f"cat /sys/dev/block/{number}/{attribute}").strip()


@pytest.fixture
def volume(kernel_sim: Sim, ns: str) -> Iterator[Callable[[str], Volume]]:
    made: list[Volume] = []

    def make(storage_class: str) -> Volume:
        made.append(Volume(kernel_sim, ns, storage_class))
        return made[-1]

    yield make
    for each in made:
        each.ssh.close()


@pytest.mark.parametrize("transport", sorted(VENDORS))
def test_a_scsi_disk_shows_its_address_transport_and_identifiers(
    transport: str, volume: Callable[[str], Volume]
) -> None:
    vol = volume(f"scsi-{transport}")
    disk = vol.stack()
    vendor, model, rev = VENDORS[transport]
    assert re.fullmatch(r"sd[b-z]", disk["name"])
    assert re.fullmatch(r"\d+:0:0:0", disk["hctl"])
    assert (disk["type"], disk["tran"], disk["fstype"], disk["state"]) == (
        "disk",
        transport,
        "xfs",
        "running",
    )
    assert (disk["vendor"].strip(), disk["model"], disk["rev"].strip()) == (vendor, model, rev)
    # derived from the PV's handle, and stable: the same on every attach
    assert disk["wwn"] == f"0x{wwn_for(vendor, vol.handle)}"
    assert disk["serial"] == unit_serial(vol.handle)
    assert vol.sysfs(disk["maj:min"], "device/wwid") == f"naa.{wwn_for(vendor, vol.handle)}"
    assert vol.sysfs(disk["maj:min"], "device/state") == "running"
    row = next(ln for ln in vol.run("lsscsi -t").splitlines() if ln.startswith(f"[{disk['hctl']}]"))
    prefix = {"iscsi": "iqn.", "fc": "fc:0x", "sas": "sas:0x"}[transport]
    assert row.split()[2].startswith(prefix), row


def test_a_multipath_map_stands_on_two_running_paths(
    kernel_sim: Sim, ns: str, volume: Callable[[str], Volume]
) -> None:
    vol = volume("san")
    mount = vol.kubelet_mount()
    mapped = vol.stack()
    wwn = wwn_for("NETAPP", vol.handle)
    assert vol.handle == f"sim-san:{wwn}"
    assert re.fullmatch(r"dm-\d+", mapped["kname"])
    assert (mapped["type"], mapped["name"], mapped["state"]) == ("mpath", "mpatha", "running")
    assert mount[mount.index("-") + 2] == "/dev/mapper/mpatha"  # the mount source
    number = mapped["maj:min"]
    assert vol.sysfs(number, "dm/name") == "mpatha"
    assert vol.sysfs(number, "dm/uuid") == f"mpath-3{wwn}"
    paths = mapped["children"]
    assert len(paths) == 2
    for path in paths:
        assert (path["type"], path["tran"], path["state"], path["fstype"]) == (
            "disk",
            "iscsi",
            "running",
            "mpath_member",
        )
        assert (path["vendor"].strip(), path["model"]) == ("NETAPP", "LUN C-Mode")
        assert re.fullmatch(r"\d+:0:0:0", path["hctl"])
        assert path["wwn"] == f"0x{wwn}"
        assert vol.run(f"ls /sys/block/{path['kname']}/holders").split() == [mapped["kname"]]
    assert len({p["hctl"] for p in paths}) == 2  # a SCSI host (session) per path
    slaves = vol.run(f"ls /sys/block/{mapped['kname']}/slaves").split()
    assert slaves == sorted(p["kname"] for p in paths)
    # the container's /data is the map too, and data written there is the map's
    code, inside = in_pod(
        kernel_sim, ns, "web-0", "cat /proc/self/mountinfo; echo mp > /data/f; sync"
    )
    assert code == 0
    assert any(ln.split()[2] == number and ln.split()[4] == "/data" for ln in inside.splitlines())
    assert vol.run(f"cat {vol.path}/f").strip() == "mp"
    # detached (the kubelet detaches before the pod object goes): the map and its paths
    # leave the node, and the paths' loop devices leave the host
    kernel_sim.apps.patch_namespaced_stateful_set_scale("web", ns, {"spec": {"replicas": 0}})
    wait_for(kernel_sim.core.list_namespaced_pod, lambda s: not s.objects, timeout=60, namespace=ns)
    left = set(vol.run("ls /sys/block").split())
    assert not {mapped["kname"], *(p["kname"] for p in paths)} & left
    assert not vol.run("ls /dev/mapper").split()
    image = next(Path(kernel_sim.running.state_dir).rglob(f"{vol.pv.metadata.name}.img"))
    bound = [ln for ln in _losetup() if ln[1] == str(image)]
    assert len(bound) == 1, bound  # the volume's own loop, no path's


def test_taking_the_simulator_down_under_a_running_multipath_pod_frees_every_loop(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """``sim down`` while a pod still uses a multipath volume (a run killed mid-test): the
    paths' read-only loops go with the volume's own, although the image is deleted by then."""
    from conformance.sim.kernel import cleanup

    san = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": "san"},
        "provisioner": "san.csi.sim.conformance.io",
        "parameters": CLASSES["san"],
    }
    running = kernel_sim_with_classes(tmp_path_factory, "san-down", nodes=1, classes=(san,))
    sim = next(running)
    state_dir = Path(sim.running.state_dir)
    try:
        vol = Volume(sim, "default", "san")
        vol.ssh.close()
        image = next(state_dir.rglob(f"{vol.pv.metadata.name}.img"))
        assert len([ln for ln in _losetup() if ln[1] == str(image)]) == 3  # volume, 2 paths
    finally:
        running.close()  # lifecycle.down, with web-0 still running
    left = [ln for ln in _losetup() if ln[1].startswith(str(state_dir.resolve()))]
    assert left == [], f"loop devices left after sim down: {left}"
    leftovers = cleanup.find_leftovers(state_dirs=[state_dir], include_live=True)
    assert leftovers.empty, "\n".join(leftovers.lines())


def _losetup() -> list[list[str]]:
    from conformance.sim.kernel.model import run

    listing = run(["losetup", "--list", "--noheadings", "-O", "NAME,BACK-FILE"]).stdout
    return [ln.split(None, 1) for ln in listing.splitlines() if ln.strip()]


def test_fault_multipath_path_down(
    volume: Callable[[str], Volume], faults: Callable[..., None]
) -> None:
    faults("multipath-path-down")
    vol = volume("san")
    paths = vol.stack()["children"]
    assert sorted(p["state"] for p in paths) == ["offline", "running"]
    down = next(p for p in paths if p["state"] == "offline")
    assert vol.sysfs(down["maj:min"], "device/state") == "offline"


def test_an_nvme_namespace_carries_its_ebs_volume_id(volume: Callable[[str], Volume]) -> None:
    vol = volume("ebs")
    namespace = vol.stack()
    assert re.fullmatch(r"vol-0[0-9a-f]{16}", vol.handle)
    assert re.fullmatch(r"nvme\d+n1", namespace["name"])
    assert (namespace["tran"], namespace["model"], namespace["hctl"]) == (
        "nvme",
        "Amazon Elastic Block Store",
        None,
    )
    assert namespace["serial"] == vol.handle.replace("-", "")  # as EBS does
    number = namespace["maj:min"]
    controller = vol.run(f"readlink /sys/dev/block/{number}/device").strip()
    assert controller == "../../" + namespace["name"].removesuffix("n1")
    assert vol.sysfs(number, "device/transport") == "pcie"
    assert vol.sysfs(number, "device/serial") == vol.handle.replace("-", "")
    assert vol.sysfs(number, "device/model") == "Amazon Elastic Block Store"
    assert vol.sysfs(number, "device/state") == "live"


def test_fault_wrong_serial(volume: Callable[[str], Volume], faults: Callable[..., None]) -> None:
    faults("wrong-serial")
    nvme = volume("ebs")
    serial = nvme.stack()["serial"]
    assert re.fullmatch(r"vol0[0-9a-f]{16}", serial)  # still shaped like an EBS serial...
    assert serial != nvme_serial(nvme.handle)  # ...but another volume's
    assert nvme.handle[4:] not in serial


def test_fault_wrong_serial_on_scsi(
    volume: Callable[[str], Volume], faults: Callable[..., None]
) -> None:
    faults("wrong-serial")
    san = volume("san")
    for path in san.stack()["children"]:
        assert path["wwn"] != f"0x{wwn_for('NETAPP', san.handle)}"
        assert path["wwn"][2:] not in san.handle
        assert path["serial"] != unit_serial(san.handle)


def test_an_rbd_device_is_virtual_with_its_pool_and_image(volume: Callable[[str], Volume]) -> None:
    vol = volume("ceph")
    device = vol.stack()
    assert re.fullmatch(r"rbd\d+", device["name"])
    assert device["type"] == "disk"
    for column in ("vendor", "model", "serial", "wwn", "tran", "hctl"):
        assert device[column] is None, column
    number = device["name"].removeprefix("rbd")
    image = "csi-vol-" + vol.handle[-36:]
    assert vol.run(f"cat /sys/bus/rbd/devices/{number}/pool").strip() == "kube"
    assert vol.run(f"cat /sys/bus/rbd/devices/{number}/name").strip() == image
    assert vol.run(f"readlink -f /dev/rbd/kube/{image}").strip() == f"/dev/{device['name']}"


def _device_of(mountinfo: str, mount_point: str) -> tuple[str, str]:
    """(major:minor, root) of the topmost mount at ``mount_point``."""
    found = [ln.split() for ln in mountinfo.splitlines() if ln.split()[4] == mount_point]
    return found[-1][2], found[-1][3]


@pytest.mark.parametrize("fault", [False, True], ids=["healthy", "volume-on-node-root"])
def test_fault_volume_on_node_root(
    fault: bool,
    kernel_sim: Sim,
    ns: str,
    volume: Callable[[str], Volume],
    faults: Callable[..., None],
) -> None:
    if fault:
        faults("volume-on-node-root")
    vol = volume("scsi-iscsi")
    node = vol.run("cat /proc/self/mountinfo")
    number, root = _device_of(node, vol.path)
    root_device = _device_of(node, "/")[0]
    code, inside = in_pod(kernel_sim, ns, "web-0", "cat /proc/self/mountinfo")
    assert code == 0
    data, hosts = _device_of(inside, "/data")[0], _device_of(inside, "/etc/hosts")[0]
    if not fault:  # the volume is a device of its own, mounted whole
        assert (root, data) == ("/", number)
        assert number not in (root_device, hosts)
        return
    assert root == f"/var/lib/volumes/{vol.pv.metadata.name}"
    assert number == root_device == data == hosts
