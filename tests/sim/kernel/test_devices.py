"""Loop-device volumes as SCSI disks on kernel-backed nodes, and kubelet mount layouts.

Everything here runs the real tools (losetup, mkfs, lsscsi, mount, findmnt) on the real
kernel, so it needs root. A node is a holder process in its own mount and UTS namespaces
with a tmpfs root (read-only /usr and /etc bound in), the node's host dev/ and sys/
directories bound at /dev and /sys, and /proc; the shape host.py gives real nodes.

Set CFSIM_CAPTURE_FIXTURES=1 to rewrite tests/data/sim-node/*.txt from a fresh node.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import select
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.sim.kernel import devices
from conformance.sim.kernel.devices import Attachment, ScsiIdentity, Volume
from conformance.sim.kernel.model import NodeCommandError, NodeHost, enter, run

TOOLS = ("lsscsi", "losetup", "mkfs.xfs", "mkfs.ext4", "blkid", "unshare", "nsenter", "findmnt")
_missing = [tool for tool in TOOLS if shutil.which(tool) is None]
needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or bool(_missing) or not Path("/dev/loop-control").exists(),
    reason=(
        "needs root, /dev/loop-control and "
        + ", ".join(TOOLS)
        + (f" (missing: {', '.join(_missing)})" if _missing else "")
    ),
)

DATA = Path(__file__).resolve().parents[2] / "data" / "sim-node"
DATERA = ScsiIdentity("DATERA", "IBLOCK", "4.0")
SEED_UID = "6b99bd2a-628e-11e6-8463-0cc47ab41442"
MIB = 1024 * 1024
GIB = 1024 * MIB

# The node holder: private mount + UTS namespaces, a tmpfs root, pivot_root into it.
HOLDER = r"""
set -e
R="$1"; DEV="$2"; SYS="$3"; NAME="$4"
mount -t tmpfs -o mode=0755 cfsim-node-root "$R"
mkdir -p "$R/usr" "$R/etc" "$R/dev" "$R/sys" "$R/proc" "$R/run" "$R/tmp" "$R/var/lib/kubelet" \
    "$R/.oldroot"
for d in bin sbin lib lib64; do if [ -L "/$d" ]; then ln -s "usr/$d" "$R/$d"; fi; done
for d in usr etc; do mount --bind "/$d" "$R/$d"; mount -o remount,bind,ro "$R/$d"; done
mount --bind "$DEV" "$R/dev"
mount --bind "$SYS" "$R/sys"
mount -t proc proc "$R/proc"
hostname "$NAME"
cd "$R"
pivot_root . .oldroot
umount -l /.oldroot
rmdir /.oldroot
echo ready
exec sleep infinity
"""

NodeFactory = Callable[[str], NodeHost]
VolumeFactory = Callable[..., Volume]


@pytest.fixture
def volumes(tmp_path: Path) -> Iterator[VolumeFactory]:
    """create_volume under tmp_path; every volume is deleted (loop freed) afterwards."""
    made: list[Volume] = []

    def make(pv_name: str, size_bytes: int = MIB, fs_type: str = "xfs", **kw: Any) -> Volume:
        volume = devices.create_volume(tmp_path / "volumes", pv_name, size_bytes, fs_type, **kw)
        made.append(volume)
        return volume

    yield make
    for volume in made:
        devices.delete_volume(volume, timeout=30)
    assert devices.find_loops(tmp_path / "volumes") == []


@pytest.fixture
def make_node(tmp_path: Path, volumes: VolumeFactory) -> Iterator[NodeFactory]:
    """Start node holders; killed before the volumes fixture frees the loops."""
    procs: list[subprocess.Popen[str]] = []

    def make(name: str) -> NodeHost:
        state = tmp_path / "nodes" / name
        for sub in ("dev", "sys", "root"):
            (state / sub).mkdir(parents=True)
        for dev, major, minor in (("null", 1, 3), ("zero", 1, 5), ("urandom", 1, 9)):
            os.mknod(state / "dev" / dev, 0o20666, os.makedev(major, minor))
            os.chmod(state / "dev" / dev, 0o666)
        argv = ["unshare", "--mount", "--uts", "--propagation", "private", "--"]
        argv += ["sh", "-c", HOLDER, "holder", *(str(state / s) for s in ("root", "dev", "sys"))]
        proc = subprocess.Popen(
            [*argv, name], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        procs.append(proc)
        assert proc.stdout is not None
        deadline = time.monotonic() + 15
        line = ""
        while time.monotonic() < deadline and proc.poll() is None:
            ready, _, _ = select.select([proc.stdout], [], [], deadline - time.monotonic())
            if ready:
                line = proc.stdout.readline()
                break
        if line.strip() != "ready":
            proc.kill()
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"node holder {name} did not start: {line!r} {err}")
        return NodeHost(name, len(procs), f"10.251.250.{len(procs) + 1}", proc.pid, state)

    yield make
    for proc in procs:
        proc.kill()
        proc.wait(timeout=10)


def in_node(node: NodeHost, *argv: str, check: bool = True) -> str:
    return run([*enter(node.pid, net=False), *argv], check=check).stdout


def loop_is_free(volume: Volume) -> bool:
    listing = run(["losetup", "--list", "--noheadings", "-O", "NAME,BACK-FILE"]).stdout
    return str(volume.image) not in listing


LSSCSI_LINE = re.compile(
    r"^\[(?P<hctl>\d+:\d+:\d+:\d+)\]\s+(?P<type>\S+)\s+(?P<vendor>.{8}) (?P<model>.{16}) "
    r"(?P<rev>.{4})\s+(?P<dev>/dev/[^\s\[]+|-)\s*(?:\[(?P<major>\d+):(?P<minor>\d+)\])?"
    r"(?:\s+(?P<size>\S+))?\s*$"
)


def lsscsi(node: NodeHost, *options: str) -> dict[str, dict[str, str]]:
    """lsscsi inside the node, parsed: {hctl: fields}."""
    rows: dict[str, dict[str, str]] = {}
    for line in in_node(node, "lsscsi", *options).splitlines():
        m = LSSCSI_LINE.match(line)
        assert m, f"unexpected lsscsi line {line!r}"
        rows[m["hctl"]] = {k: (v or "").strip() for k, v in m.groupdict().items()}
    return rows


def findmnt_targets(node: NodeHost) -> dict[str, dict[str, Any]]:
    def walk(fss: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for fs in fss:
            yield fs
            yield from walk(fs.get("children", []))

    doc = json.loads(in_node(node, "findmnt", "-J"))
    return {fs["target"]: fs for fs in walk(doc["filesystems"])}


def mountinfo(node: NodeHost) -> list[devices.MountEntry]:
    """/proc/self/mountinfo as a process inside the node reads it."""
    return devices.parse_mountinfo(in_node(node, "cat", "/proc/self/mountinfo"))


def assert_mounted(node: NodeHost, path: str, att: Attachment, volume: Volume) -> None:
    mount_lines = [ln for ln in in_node(node, "mount").splitlines() if f" on {path} " in ln]
    assert len(mount_lines) == 1, mount_lines
    assert mount_lines[0].startswith(
        f"{att.dev_path} on {path} type {volume.fs_type} (rw,relatime"
    ), mount_lines[0]
    fs = findmnt_targets(node)[path]
    assert (fs["source"], fs["fstype"]) == (att.dev_path, volume.fs_type)
    entries = [e for e in mountinfo(node) if e.mount_point == path]
    assert len(entries) == 1
    assert (entries[0].major, entries[0].minor) == (volume.major, volume.minor)
    assert (entries[0].source, entries[0].fs_type) == (att.dev_path, volume.fs_type)


# ---------------------------------------------------------------------------------------


def test_disk_names_follow_the_kernel() -> None:
    names = [devices._disk_name(i) for i in (0, 1, 25, 26, 27, 51, 52, 701, 702)]
    assert names == ["sda", "sdb", "sdz", "sdaa", "sdab", "sdaz", "sdba", "sdzz", "sdaaa"]


def test_scsi_identity_fits_inquiry() -> None:
    assert ScsiIdentity() == ScsiIdentity("SIM", "DISK", "1.0")
    for bad in (("TOOLONGVENDOR", "M", "1"), ("V", "M" * 17, "1"), ("V", "M", "12345")):
        with pytest.raises(ValueError, match="printable ASCII"):
            ScsiIdentity(*bad)


@needs_root
def test_create_volume_sparse_formatted(volumes: VolumeFactory) -> None:
    big = volumes("pv-big", 100 * GIB, "xfs")
    small = volumes("pv-small", MIB, "ext4")
    assert big.size_bytes == 100 * GIB
    assert big.image.stat().st_size == 100 * GIB
    assert big.image.stat().st_blocks * 512 < 128 * MIB  # sparse: mkfs wrote little
    assert small.size_bytes == 64 * MIB  # raised to mkfs' minimum
    assert volumes("pv-tiny-xfs", MIB, "xfs").size_bytes == 300 * MIB
    for volume in (big, small):
        assert volume.image.name == f"{volume.pv_name}.img"
        assert Path(volume.loop_device).is_block_device()
        assert os.major(os.stat(volume.loop_device).st_rdev) == volume.major == 7
        assert os.minor(os.stat(volume.loop_device).st_rdev) == volume.minor
        probe = run(["blkid", "-p", "-o", "export", volume.loop_device]).stdout
        assert f"TYPE={volume.fs_type}" in probe
        assert f"UUID={volume.fs_uuid}" in probe
    with pytest.raises(FileExistsError):
        devices.create_volume(small.image.parent, "pv-small", MIB, "ext4")
    with pytest.raises(ValueError, match="unsupported fs type"):
        devices.create_volume(small.image.parent, "pv-btrfs", MIB, "btrfs")


@needs_root
def test_load_volume_finds_or_reattaches(volumes: VolumeFactory, tmp_path: Path) -> None:
    volume = volumes("pv-load", MIB, "ext4")
    assert devices.load_volume(tmp_path / "volumes", "pv-load") == volume
    assert devices.load_volume(tmp_path / "volumes", "pv-none") is None
    assert devices.find_loops(tmp_path / "volumes") == [(volume.loop_device, str(volume.image))]
    run(["losetup", "-d", volume.loop_device])
    again = devices.load_volume(tmp_path / "volumes", "pv-load")
    assert again is not None
    assert (again.fs_type, again.fs_uuid, again.size_bytes) == ("ext4", volume.fs_uuid, 64 * MIB)
    devices.delete_volume(again)
    assert not volume.image.exists()
    assert loop_is_free(volume)


@needs_root
def test_lsscsi_lists_the_attached_disk(volumes: VolumeFactory, make_node: NodeFactory) -> None:
    node = make_node("node-1")
    xfs = volumes("pv-datera-0", MIB, "xfs")
    ext4 = volumes("pv-datera-1", 100 * GIB, "ext4")
    root = devices.add_root_disk(node)
    first = devices.attach(node, xfs, DATERA)
    second = devices.attach(node, ext4, ScsiIdentity())
    assert root == Attachment("sda", "0:0:0:0", 8, 0, "/dev/sda")
    assert first == Attachment("sdb", "11:0:0:0", xfs.major, xfs.minor, "/dev/sdb")
    assert second == Attachment("sdc", "12:0:0:0", ext4.major, ext4.minor, "/dev/sdc")
    assert devices.attach(node, xfs, DATERA) == first  # idempotent
    dev = (node.dev_dir / "sdb").stat()
    assert (dev.st_mode & 0o7777, dev.st_rdev) == (0o660, os.makedev(xfs.major, xfs.minor))

    plain = in_node(node, "lsscsi").splitlines()
    assert plain == [
        "[0:0:0:0]    disk    ATA      QEMU HARDDISK    2.5+  /dev/sda ",
        "[11:0:0:0]   disk    DATERA   IBLOCK           4.0   /dev/sdb ",
        "[12:0:0:0]   disk    SIM      DISK             1.0   /dev/sdc ",
    ]
    rows = lsscsi(node, "-d")
    assert rows["11:0:0:0"]["dev"] == "/dev/sdb"
    assert (rows["11:0:0:0"]["major"], rows["11:0:0:0"]["minor"]) == ("7", str(xfs.minor))
    assert (rows["12:0:0:0"]["major"], rows["12:0:0:0"]["minor"]) == ("7", str(ext4.minor))
    assert (rows["0:0:0:0"]["major"], rows["0:0:0:0"]["minor"]) == ("8", "0")
    sizes = {hctl: row["size"] for hctl, row in lsscsi(node, "-s").items()}
    assert sizes == {"0:0:0:0": "107GB", "11:0:0:0": "314MB", "12:0:0:0": "107GB"}
    assert "[11]    iscsi_tcp" in in_node(node, "lsscsi", "-H")
    assert in_node(node, "hostname").strip() == "node-1"
    assert devices.attachments(node) == [root, first, second]

    devices.detach(node, first)
    assert list(lsscsi(node)) == ["0:0:0:0", "12:0:0:0"]
    assert not (node.dev_dir / "sdb").exists()
    assert not (node.sys_dir / "devices/platform/host11").exists()
    again = devices.attach(node, xfs, DATERA)  # the lowest free name and host come back
    assert (again.device_name, again.hctl) == ("sdb", "11:0:0:0")


@needs_root
def test_concurrent_attach_allocates_distinct_disks(tmp_path: Path) -> None:
    node = NodeHost("node-x", 1, "10.251.250.2", os.getpid(), tmp_path / "node-x")
    fakes = [
        Volume(f"pv-{i}", tmp_path / f"pv-{i}.img", f"/dev/loop{i}", 7, 200 + i, "xfs", GIB)
        for i in range(30)
    ]
    got: list[Attachment] = []
    lock = threading.Lock()

    def attach_one(volume: Volume) -> None:
        att = devices.attach(node, volume, DATERA)
        with lock:
            got.append(att)

    threads = [threading.Thread(target=attach_one, args=(v,)) for v in fakes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len({a.device_name for a in got}) == len({a.hctl for a in got}) == 30
    assert {a.device_name for a in got} == {devices._disk_name(i) for i in range(1, 31)}
    listed = run(["lsscsi", "-y", str(node.sys_dir)]).stdout.splitlines()
    assert len(listed) == 30
    for att in got:
        devices.detach(node, att)
    assert run(["lsscsi", "-y", str(node.sys_dir)]).stdout == ""
    assert devices.attachments(node) == []


@needs_root
def test_publish_flex_and_csi_layouts(volumes: VolumeFactory, make_node: NodeFactory) -> None:
    node = make_node("node-1")
    xfs = volumes("pv-datera-0", MIB, "xfs")
    ext4 = volumes("pv-csi-0", MIB, "ext4")
    a_xfs = devices.attach(node, xfs, DATERA)
    a_ext4 = devices.attach(node, ext4, DATERA)

    flex = devices.publish(
        node,
        a_xfs,
        pod_uid=SEED_UID,
        pv_name=xfs.pv_name,
        plugin_dir="datera~iscsi",
        fs_type="xfs",
    )
    assert flex == f"/var/lib/kubelet/pods/{SEED_UID}/volumes/datera~iscsi/pv-datera-0"
    assert_mounted(node, flex, a_xfs, xfs)
    # the seed's line; kernels since 6.x no longer print attr2 (it is always on)
    seed = re.compile(
        rf"^/dev/sdb on {re.escape(flex)} type xfs \(rw,relatime,.*inode64.*noquota\)$"
    )
    assert any(seed.match(ln) for ln in in_node(node, "mount").splitlines())

    uid = "0d3b1a52-2f3e-4c47-9a59-3c0a0c1f7e11"
    handle = "datera-vol-7f3a"
    csi = devices.publish(
        node,
        a_ext4,
        pod_uid=uid,
        pv_name=ext4.pv_name,
        plugin_dir="kubernetes.io~csi",
        driver="dsp.csi.daterainc.io",
        volume_handle=handle,
        fs_type="ext4",
    )
    assert csi == f"/var/lib/kubelet/pods/{uid}/volumes/kubernetes.io~csi/pv-csi-0/mount"
    digest = hashlib.sha256(handle.encode()).hexdigest()
    staging = f"/var/lib/kubelet/plugins/kubernetes.io/csi/dsp.csi.daterainc.io/{digest}"
    assert_mounted(node, f"{staging}/globalmount", a_ext4, ext4)
    assert_mounted(node, csi, a_ext4, ext4)
    vol_data = json.loads(in_node(node, "cat", csi.removesuffix("/mount") + "/vol_data.json"))
    assert vol_data["specVolID"] == "pv-csi-0"
    assert vol_data["volumeHandle"] == handle
    assert vol_data["driverName"] == "dsp.csi.daterainc.io"
    assert vol_data["nodeName"] == "node-1"
    staged = json.loads(in_node(node, "cat", f"{staging}/vol_data.json"))
    assert staged == {"driverName": "dsp.csi.daterainc.io", "volumeHandle": handle}
    # idempotent publish; a second pod binds the same staged volume
    assert (
        devices.publish(
            node,
            a_ext4,
            pod_uid=uid,
            pv_name=ext4.pv_name,
            plugin_dir="kubernetes.io~csi",
            driver="dsp.csi.daterainc.io",
            volume_handle=handle,
            fs_type="ext4",
        )
        == csi
    )
    # read-only publish
    ro = devices.publish(
        node,
        a_ext4,
        pod_uid="pod-ro",
        pv_name=ext4.pv_name,
        plugin_dir="kubernetes.io~csi",
        driver="dsp.csi.daterainc.io",
        volume_handle=handle,
        fs_type="ext4",
        read_only=True,
    )
    assert findmnt_targets(node)[ro]["options"].startswith("ro,")
    with pytest.raises(NodeCommandError, match="Read-only"):
        in_node(node, "touch", f"{ro}/x")

    for path in (flex, csi, ro):
        devices.unpublish(node, path)
        assert all(e.mount_point != path for e in devices.node_mounts(node))
    devices.unstage(node, driver="dsp.csi.daterainc.io", volume_handle=handle)
    assert all((e.major, e.minor) != (ext4.major, ext4.minor) for e in devices.node_mounts(node))
    listing = in_node(node, "find", "/var/lib/kubelet", "-mindepth", "1").split()
    assert not [p for p in listing if p.endswith(("/mount", "/globalmount", ".json"))], listing
    assert not [p for p in listing if p.endswith(("pv-datera-0", "pv-csi-0"))], listing
    devices.unpublish(node, flex)  # unpublishing again is harmless
    devices.unstage(node, driver="dsp.csi.daterainc.io", volume_handle=handle)


@needs_root
def test_data_survives_reattach_on_another_node(
    volumes: VolumeFactory, make_node: NodeFactory
) -> None:
    n1, n2 = make_node("node-1"), make_node("node-2")
    volume = volumes("pv-datera-0", 100 * GIB, "xfs")
    att = devices.attach(n1, volume, DATERA)
    path = devices.publish(
        n1,
        att,
        pod_uid="uid-1",
        pv_name=volume.pv_name,
        plugin_dir="datera~iscsi",
        fs_type="xfs",
    )
    in_node(n1, "sh", "-c", 'echo "written on node-1" > "$1/data.txt"', "sh", path)
    devices.unpublish(n1, path)
    devices.detach(n1, att)
    assert lsscsi(n1) == {}

    devices.add_root_disk(n2)
    att2 = devices.attach(n2, volume, DATERA)
    assert (att2.device_name, att2.hctl) == ("sdb", "11:0:0:0")
    path2 = devices.publish(
        n2,
        att2,
        pod_uid="uid-2",
        pv_name=volume.pv_name,
        plugin_dir="kubernetes.io~csi",
        driver="dsp.csi.daterainc.io",
        volume_handle="h-0",
        fs_type="xfs",
    )
    assert_mounted(n2, path2, att2, volume)
    assert in_node(n2, "cat", f"{path2}/data.txt") == "written on node-1\n"


@needs_root
def test_delete_volume_frees_the_loop_and_names_holders(
    volumes: VolumeFactory, make_node: NodeFactory
) -> None:
    node = make_node("node-1")
    volume = volumes("pv-busy", MIB, "ext4")
    att = devices.attach(node, volume)
    path = devices.publish(
        node, att, pod_uid="uid-1", pv_name=volume.pv_name, plugin_dir="datera~iscsi"
    )
    with pytest.raises(devices.VolumeBusyError, match=rf"pid {node.pid} \(sleep\).*{path}"):
        devices.delete_volume(volume, timeout=0.3)
    assert volume.image.exists()
    devices.unpublish(node, path)
    devices.detach(node, att)
    devices.delete_volume(volume, timeout=30)
    assert loop_is_free(volume)
    assert not volume.image.exists()
    assert devices.find_loops(volume.image.parent) == []
    devices.delete_volume(volume)  # deleting again is harmless


@needs_root
def test_detach_loop_leaves_a_device_another_image_took_alone(volumes: VolumeFactory) -> None:
    mine = volumes("pv-mine", MIB, "ext4")
    theirs = volumes("pv-theirs", MIB, "ext4")
    # their device, asked to detach as ours (as after ours was freed and taken again)
    assert devices.detach_loop(theirs.loop_device, mine.image) is False
    assert not loop_is_free(theirs)
    assert devices.detach_loop(mine.loop_device, mine.image) is True
    assert loop_is_free(mine)


@needs_root
def test_a_busy_volume_is_deleted_without_detaching_a_device_by_name(
    volumes: VolumeFactory, make_node: NodeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race behind pods stuck in ContainerCreating (#9): ``losetup -d /dev/loopN``
    after seeing loopN still busy with our image detached whatever took loopN after our
    last user let go: another volume, which then vanished under its pod. The busy device
    is set to detach itself instead, and the wait only watches it."""
    node = make_node("node-1")
    volume = volumes("pv-busy", MIB, "ext4")
    att = devices.attach(node, volume)
    path = devices.publish(
        node, att, pod_uid="uid-1", pv_name=volume.pv_name, plugin_dir="datera~iscsi"
    )
    commands: list[list[str]] = []
    real_run = devices.run

    def recording_run(argv: Any, **kwargs: Any) -> Any:
        commands.append(list(argv))
        return real_run(argv, **kwargs)

    monkeypatch.setattr(devices, "run", recording_run)
    done = threading.Event()
    errors: list[BaseException] = []

    def delete() -> None:
        try:
            devices.delete_volume(volume, timeout=30)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            done.set()

    deleter = threading.Thread(target=delete)
    deleter.start()
    assert not done.wait(0.3), "deleted while still mounted"  # it waits for the user
    devices.unpublish(node, path)  # the last user lets go: the device detaches itself
    assert done.wait(30), "delete_volume did not notice the device was freed"
    deleter.join()
    assert errors == []
    assert loop_is_free(volume)
    assert not volume.image.exists()
    assert not [c for c in commands if c[:2] == ["losetup", "-d"]]
    devices.detach(node, att)


@needs_root
def test_fault_wrong_fstype(volumes: VolumeFactory, make_node: NodeFactory) -> None:
    node = make_node("node-1")
    volume = volumes("pv-wrong", MIB, "xfs", wrong_fstype=True)
    assert volume.fs_type == "ext4"
    assert volume.size_bytes == 64 * MIB
    att = devices.attach(node, volume, DATERA)
    kw: dict[str, Any] = {"pod_uid": "uid-1", "pv_name": volume.pv_name}
    with pytest.raises(NodeCommandError, match="mount"):
        devices.publish(node, att, plugin_dir="datera~iscsi", fs_type="xfs", **kw)
    path = devices.publish(node, att, plugin_dir="datera~iscsi", fs_type=volume.fs_type, **kw)
    assert f"/dev/sdb on {path} type ext4 " in in_node(node, "mount")
    devices.unpublish(node, path)
    other = volumes("pv-wrong-2", MIB, "ext4", wrong_fstype=True)
    assert (other.fs_type, other.size_bytes) == ("xfs", 300 * MIB)


@needs_root
def test_fault_no_scsi_device(volumes: VolumeFactory, make_node: NodeFactory) -> None:
    node = make_node("node-1")
    volume = volumes("pv-noscsi", MIB, "ext4")
    att = devices.attach(node, volume, DATERA, no_scsi_device=True)
    assert not att.scsi_device
    assert (node.dev_dir / "sdb").is_block_device()
    assert in_node(node, "lsscsi") == ""
    path = devices.publish(node, att, pod_uid="u", pv_name="pv-noscsi", plugin_dir="a~b")
    assert_mounted(node, path, att, volume)  # the disk works, lsscsi just does not see it
    assert devices.attachments(node) == [att]
    devices.unpublish(node, path)
    devices.detach(node, att)
    assert not (node.dev_dir / "sdb").exists()


@needs_root
def test_fault_data_loss_wipe(volumes: VolumeFactory, make_node: NodeFactory) -> None:
    node = make_node("node-1")
    volume = volumes("pv-wipe", MIB, "xfs")
    att = devices.attach(node, volume, DATERA)
    kw: dict[str, Any] = {"pod_uid": "u", "pv_name": volume.pv_name, "plugin_dir": "datera~iscsi"}
    path = devices.publish(node, att, **kw)
    in_node(node, "sh", "-c", 'echo keep > "$1/data.txt"', "sh", path)
    with pytest.raises(devices.VolumeBusyError, match="in use"):
        devices.wipe(volume)
    devices.unpublish(node, path)
    wiped = devices.wipe(volume)
    assert wiped.fs_uuid != volume.fs_uuid
    assert wiped.fs_type == "xfs"
    path = devices.publish(node, att, **kw)
    assert in_node(node, "ls", "-A", path) == ""
    devices.unpublish(node, path)


@needs_root
def test_fault_stale_mount(volumes: VolumeFactory, make_node: NodeFactory) -> None:
    node = make_node("node-1")
    volume = volumes("pv-stale", MIB, "ext4")
    att = devices.attach(node, volume, DATERA)
    path = devices.publish(node, att, pod_uid="u", pv_name="pv-stale", plugin_dir="a~b")
    devices.unpublish(node, path, stale=True)
    devices.detach(node, att)
    assert lsscsi(node) == {}
    assert_mounted(node, path, att, volume)  # still there after the pod and the disk are gone


# ---------------------------------------------------------------------------------------
# Seed-shaped node: checks the saved parser fixtures, or rewrites them on request


CAPTURES = {
    "lsscsi.txt": ["lsscsi"],
    "lsscsi-d.txt": ["lsscsi", "-d"],
    "lsscsi-s.txt": ["lsscsi", "-s"],
    "mount.txt": ["mount"],
    "findmnt-J.txt": ["findmnt", "-J"],
    "mountinfo.txt": ["cat", "/proc/self/mountinfo"],
}


def _version(node: NodeHost, argv: list[str]) -> str:
    if argv[0] == "cat":
        return f"Linux {os.uname().release}"
    if argv[0] == "lsscsi":
        result = run([*enter(node.pid, net=False), "lsscsi", "-V"], check=False)
        return "lsscsi " + (result.stderr or result.stdout).split()[1]
    tool = "findmnt" if argv[0] == "findmnt" else "mount"
    return in_node(node, tool, "--version").strip()


@needs_root
def test_seed_shaped_node_matches_saved_fixtures(
    volumes: VolumeFactory, make_node: NodeFactory
) -> None:
    node = make_node("node-1")
    devices.add_root_disk(node)
    flex_vol = volumes("pv-datera-0", 100 * GIB, "xfs")
    csi_vol = volumes("pv-datera-1", 100 * GIB, "xfs")
    flex_att = devices.attach(node, flex_vol, DATERA)
    csi_att = devices.attach(node, csi_vol, DATERA)
    flex = devices.publish(
        node,
        flex_att,
        pod_uid=SEED_UID,
        pv_name="pv-datera-0",
        plugin_dir="datera~iscsi",
        fs_type="xfs",
    )
    csi = devices.publish(
        node,
        csi_att,
        pod_uid="a8f0e9c4-3b1d-4e55-9f2a-6c7d8e9f0a1b",
        pv_name="pv-datera-1",
        plugin_dir="kubernetes.io~csi",
        driver="dsp.csi.daterainc.io",
        volume_handle="pv-datera-1",
        fs_type="xfs",
    )
    outputs = {name: in_node(node, *argv) for name, argv in CAPTURES.items()}
    if os.environ.get("CFSIM_CAPTURE_FIXTURES") == "1":
        DATA.mkdir(parents=True, exist_ok=True)
        today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
        for name, argv in CAPTURES.items():
            command = f"nsenter -t <node pid> -m -u -r -w -- {' '.join(argv)}"
            header = (
                f"# captured {today} with `{command}` inside a simulated node"
                f" (tests/sim/kernel/test_devices.py, {_version(node, argv)});"
                " the first line is this header\n"
            )
            (DATA / name).write_text(header + outputs[name])
    # what the saved fixtures must agree with, independent of loop minors and paths
    saved = {name: (DATA / name).read_text().split("\n", 1) for name in CAPTURES}
    for name, (header, _) in saved.items():
        assert header.startswith("# captured "), name
        assert "inside a simulated node" in header, name
    assert saved["lsscsi.txt"][1] == outputs["lsscsi.txt"]
    assert saved["lsscsi.txt"][1].splitlines()[1] == (
        "[11:0:0:0]   disk    DATERA   IBLOCK           4.0   /dev/sdb "
    )
    assert re.search(r"/dev/sdb \[7:\d+\]", saved["lsscsi-d.txt"][1])
    assert saved["lsscsi-s.txt"][1] == outputs["lsscsi-s.txt"]
    mount_line = f"/dev/sdb on {flex} type xfs (rw,relatime,"
    for text in (saved["mount.txt"][1], outputs["mount.txt"]):
        assert mount_line in text
        assert f"/dev/sdc on {csi} type xfs" in text
    saved_fs = json.loads(saved["findmnt-J.txt"][1])["filesystems"][0]
    assert saved_fs["target"] == "/"
    assert any(f" {flex} " in ln for ln in saved["mountinfo.txt"][1].splitlines())
