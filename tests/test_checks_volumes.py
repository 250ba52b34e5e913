"""The volume checks judge the three views right: captures of real tools (tests/data/), taken
apart by the probes, put together as the suites' observations are."""

from __future__ import annotations

from conformance import checks, probes
from conformance.observe import VolumeViews
from tests.test_probes import CSI_PV, CSI_UID, FLEX_PATH, FLEX_UID, capture


def views(
    container: str = "web-0",
    lsscsi: str = "node-lsscsi-d",
    *,
    pod_uid: str = FLEX_UID,
    pv: str = "pv-datera-0",
) -> VolumeViews:
    return VolumeViews(
        pod="web-0",
        pod_uid=pod_uid,
        node="node-1",
        claim="data-web-0",
        pv=pv,
        mount_path="/data",
        lsscsi=tuple(probes.parse_lsscsi(capture(f"local-node/{lsscsi}.txt"))),
        node_mounts=tuple(probes.parse_mountinfo(capture("local-node/node-mountinfo.txt"))),
        container_mounts=tuple(
            probes.parse_mountinfo(capture(f"local-node/{container}-mountinfo.txt"))
        ),
    )


def all_checks(seen: VolumeViews, **expect: str | None) -> list[str]:
    fs_type = expect.get("fs_type")
    return (
        checks.kubelet_mount(seen, fs_type=fs_type)
        + checks.scsi_disk(seen, vendor=expect.get("vendor"), model=expect.get("model"))
        + checks.container_mount(seen, fs_type=fs_type, writable=bool(expect.get("writable")))
    )


def test_a_flexvolume_pod_whose_views_agree_passes() -> None:
    seen = views()
    assert all_checks(seen, fs_type="xfs", vendor="DATERA", model="IBLOCK", writable="y") == []
    assert seen.kubelet_mount is not None
    assert seen.kubelet_mount.mount_point == FLEX_PATH
    assert seen.describe().splitlines()[1:] == [
        "lsscsi:    [11:0:0:0] DATERA IBLOCK 4.0 /dev/sdb 7:0",
        f"kubelet:   7:0 xfs /dev/sdb at {FLEX_PATH} (rw,relatime)",
        "container (exec): 7:0 xfs /dev/sdb at /data (rw,relatime)",
    ]


def test_a_read_only_mount_fails_only_when_writable_is_asked() -> None:
    seen = views("web-1", pod_uid=CSI_UID, pv=CSI_PV)
    assert checks.kubelet_mount(seen, fs_type="ext4") == []
    assert checks.container_mount(seen, fs_type="ext4", writable=True) == [
        "web-0: /data is mounted read-only in the container (mount options ro,relatime; "
        "filesystem options rw)"
    ]
    assert checks.container_mount(seen, fs_type=None, writable=False) == []


def test_a_container_on_another_device_than_the_kubelet_mounted() -> None:
    # web-1's container (the CSI volume, 7:1) against web-0's kubelet mount (7:0)
    assert checks.container_mount(views("web-1"), fs_type=None, writable=False) == [
        "web-0: /data is on 7:1 but the kubelet mounted pv-datera-0 from 7:0 "
        f"(/dev/sdc in the container, /dev/sdb at {FLEX_PATH})"
    ]


def test_no_scsi_device_behind_the_volume() -> None:
    seen = views()
    without = tuple(d for d in seen.lsscsi or () if d.hctl != "11:0:0:0")  # no-scsi-device
    (problem,) = checks.scsi_disk(
        VolumeViews(**{**seen.__dict__, "lsscsi": without}), vendor=None, model=None
    )
    assert problem.startswith(
        "web-0 on node-1: no lsscsi device has major:minor 7:0 (the device the kubelet mounted "
        "pv-datera-0 from); lsscsi lists [0:0:0:0] ATA QEMU HARDDISK 2.5+ /dev/sda 8:0; "
    )


def test_lsscsi_without_major_minor_is_named() -> None:
    (problem,) = checks.scsi_disk(views(lsscsi="node-lsscsi"), vendor=None, model=None)
    assert "run it with -d" in problem
    assert "7:0" in problem


def test_nothing_mounted_at_the_mount_path() -> None:
    seen = views()
    without = tuple(m for m in seen.container_mounts or () if m.mount_point != "/data")
    assert checks.container_mount(
        VolumeViews(**{**seen.__dict__, "container_mounts": without}), fs_type=None, writable=True
    ) == [
        "web-0: nothing is mounted at /data in the container (/data is on /: tmpfs pod-web-0 0:45)"
    ]


def test_the_kubelet_path_not_mounted_names_what_the_node_has() -> None:
    seen = views(pod_uid="0000-new-uid")
    assert checks.kubelet_mount(seen, fs_type=None) == [
        "web-0 on node-1: the kubelet path of pv-datera-0 for pod 0000-new-uid "
        "(/var/lib/kubelet/pods/0000-new-uid/volumes/<plugin-dir>/pv-datera-0[/mount]) is not "
        "mounted on the "
        f"node; the node has pv-datera-0 of pod {FLEX_UID} at {FLEX_PATH}"
    ]
    # the container's device is still looked up in lsscsi
    assert checks.scsi_disk(seen, vendor="DATERA", model="IBLOCK") == []


def test_expectations_name_the_property() -> None:
    assert all_checks(views(), fs_type="ext4", vendor="NETAPP", model="IBLOCK") == [
        f"web-0 on node-1: the kubelet mounted pv-datera-0 at {FLEX_PATH} as xfs, expected ext4",
        "web-0 on node-1: lsscsi device [11:0:0:0] /dev/sdb (7:0) has vendor 'DATERA', "
        "expected 'NETAPP'",
        "web-0: /data is xfs in the container, expected ext4",
    ]


def test_an_unreadable_container_view_says_why() -> None:
    seen = VolumeViews(
        **{**views().__dict__, "container_mounts": None, "container_error": "exited 127"}
    )
    assert checks.container_mount(seen, fs_type=None, writable=False) == [
        "web-0: cannot read the container's mounts: exited 127"
    ]


def test_the_sim_node_shows_the_seed_shape() -> None:
    # the sim node's captures: the seed's flexvolume shape, the container view derived
    # from the kubelet mount as a pod's /data bind shows it
    seen = VolumeViews(
        pod="web-0",
        pod_uid=FLEX_UID,
        node="sim-node-1",
        claim="data-web-0",
        pv="pv-datera-0",
        mount_path="/data",
        lsscsi=tuple(probes.parse_lsscsi(capture("sim-node/lsscsi-d.txt"))),
        node_mounts=tuple(probes.parse_mountinfo(capture("sim-node/mountinfo.txt"))),
        container_mounts=tuple(
            probes.parse_mountinfo(
                "111 99 0:45 / / rw,relatime - tmpfs pod-web-0 rw,mode=755\n"
                "114 111 7:0 / /data rw,relatime - xfs /dev/sdb rw,inode64,noquota\n"
            )
        ),
    )
    assert all_checks(seen, fs_type="xfs", vendor="DATERA", model="IBLOCK", writable="y") == []


def test_kubelet_mounts_of_a_deleted_pod_are_named() -> None:
    mounts = probes.parse_mountinfo(capture("local-node/node-mountinfo.txt"))
    assert checks.kubelet_mounts_gone(mounts, pod="web-0", pod_uid=FLEX_UID, node="n1") == [
        f"web-0 is gone but its kubelet mount {FLEX_PATH} remains on n1"
    ]
    assert checks.kubelet_mounts_gone(mounts, pod="web-9", pod_uid="other", node="n1") == []


CEPH_UID = "840d1682-cd65-11e8-9fba-deadbeef0100"
CEPH_PV = "pvc-8017a31e-cd65-11e8-9fba-deadbeef0100"


def ceph_csi_views(roots: tuple[str, ...]) -> VolumeViews:
    """A real ceph-csi node plugin's view: the kubelet's mount, and again under /host."""
    text = capture("real/mountinfo/ceph-csi-86-rbdplugin-host-duplicate.txt")
    body = text.split("# ---\n", 1)[1]
    return VolumeViews(
        pod="web-0",
        pod_uid=CEPH_UID,
        node="node-1",
        claim="data-web-0",
        pv=CEPH_PV,
        mount_path="/data",
        node_mounts=tuple(probes.parse_mountinfo(body)),
        kubelet_roots=roots,
    )


def test_the_kubelet_path_is_matched_exactly_never_a_prefix() -> None:
    seen = ceph_csi_views(("/var/lib/kubelet",))
    assert checks.kubelet_mount(seen, fs_type="ext4") == []
    assert seen.kubelet_mount is not None
    assert seen.kubelet_mount.mount_point.startswith("/var/lib/kubelet/pods/")


def test_two_kubelet_paths_for_one_volume_are_reported_not_guessed() -> None:
    (problem,) = checks.kubelet_mount(
        ceph_csi_views(("/var/lib/kubelet", "/host/var/lib/kubelet")), fs_type="ext4"
    )
    assert problem.startswith(
        f"web-0 on node-1: {CEPH_PV} of pod {CEPH_UID} is mounted at 2 kubelet paths, so which "
        "one is the kubelet's cannot be told: "
    )
    assert "(set nodes.kubelet_root to the kubelet's --root-dir)" in problem


def test_a_relocated_kubelet_root_is_looked_for_where_the_inventory_says() -> None:
    seen = ceph_csi_views(("/var/snap/microk8s/common/var/lib/kubelet",))
    (problem,) = checks.kubelet_mount(seen, fs_type=None)
    assert "(/var/snap/microk8s/common/var/lib/kubelet/pods/" in problem
    assert "is not mounted on the node" in problem


def mountinfo_from_mount(text: str) -> tuple[probes.MountInfo, ...]:
    """`mount` lines as mountinfo, each distinct source given its own device number (a
    derivation: `mount` prints no major:minor, but one source is one device)."""
    numbers: dict[str, probes.MajorMinor] = {}
    found = []
    for n, line in enumerate(probes.parse_mount(text), start=1):
        number = numbers.setdefault(line.source, probes.MajorMinor(253, len(numbers)))
        found.append(
            probes.MountInfo(
                mount_id=n,
                parent_id=0,
                major_minor=number,
                root="/",
                mount_point=line.target,
                options=line.options,
                fs_type=line.fs_type,
                source=line.source,
                super_options=(),
                optional_fields=(),
            )
        )
    return tuple(found)


def test_a_claim_that_is_a_directory_on_the_nodes_disk_is_caught() -> None:
    """democratic-csi#237: the pod's /pvc is on the node's root LV, like its /etc/hosts."""
    text = capture("real/mount/democratic-csi-237-pvc-on-host-disk.txt").split("# ---\n", 1)[1]
    container = mountinfo_from_mount(text)
    seen = VolumeViews(
        pod="pvc-test",
        pod_uid="u",
        node="microk8s",
        claim="data",
        pv="pvc-1",
        mount_path="/pvc",
        container_mounts=container,
    )
    assert checks.container_mount(seen, fs_type="ext4", writable=True) == []  # looks fine
    assert checks.not_on_the_nodes_own_disk(seen) == [
        "pvc-test on microk8s: pvc-1 is mounted from 253:7 (/dev/mapper/ubuntu--vg-ubuntu--lv), "
        "the device that holds the container's /etc/hosts (253:7 ext4 "
        "/dev/mapper/ubuntu--vg-ubuntu--lv at /etc/hosts (rw,relatime)): it is a directory on "
        "the node's disk, not a volume of its own"
    ]


def test_a_volume_on_a_device_of_its_own_passes_the_guard() -> None:
    assert checks.not_on_the_nodes_own_disk(views()) == []


def test_an_image_without_cat_is_looked_at_from_its_node() -> None:
    """The container's mounts are read on its node as /proc/<pid>/mountinfo, the PID found
    by the container ID in its cgroup path; the views say so."""
    from types import SimpleNamespace

    from conformance.nodes import CommandResult
    from conformance.observe import _mountinfo_from_node

    cid = "4f1a" * 16
    mountinfo = capture("local-node/web-0-mountinfo.txt")
    asked: list[str] = []

    class Shells:
        def run(self, node: str, command: tuple[str, ...]) -> CommandResult:
            text = " ".join(command)
            asked.append(text)
            out = "4242\n4250\n" if "cgroup" in text else mountinfo
            return CommandResult(text, out, "", 0, 0.0, node)

    status = SimpleNamespace(container_id=f"containerd://{cid}")
    pod = SimpleNamespace(status=SimpleNamespace(container_statuses=[status]))
    view, mounts = _mountinfo_from_node(Shells(), "node-1", pod)  # type: ignore[arg-type]
    assert view == "node node-1: /proc/4242/mountinfo"
    assert probes.find_mount(mounts, "/data") is not None
    assert cid in asked[0]
    assert asked[1] == "cat /proc/4242/mountinfo"
    nothing = SimpleNamespace(status=SimpleNamespace(container_statuses=[]))
    assert "reports no container ID" in str(_mountinfo_from_node(Shells(), "n", nothing))  # type: ignore[arg-type]
