"""The share and block-volume checks, on real captures where people published them."""

from __future__ import annotations

from conformance import checks, probes
from conformance.observe import BlockViews, ReadBack, VolumeViews
from conformance.probes import MajorMinor, PathStat
from tests.test_checks_volumes import mountinfo_from_mount
from tests.test_probes import capture

NFS_UID = "5547bed0-813a-11e5-b9eb-fa163e22c268"


def nfs_views(container_source: str = "10.66.79.133:/jhou") -> VolumeViews:
    """kubernetes/kubernetes#16657: an in-tree nfs4 volume at its kubelet path on a node."""
    text = capture("real/mount/kubernetes-16657-nfs4-in-tree.txt").split("# ---\n", 1)[1]
    node = mountinfo_from_mount(text)
    container = mountinfo_from_mount(f"{container_source} on /data type nfs4 (rw,relatime)\n")
    return VolumeViews(
        pod="web-0",
        pod_uid=NFS_UID,
        node="node-1",
        claim="data-web-0",
        pv="pvol",
        mount_path="/data",
        node_mounts=node,
        container_mounts=container,
    )


def test_the_kubelet_and_the_container_show_the_share_the_pv_names() -> None:
    assert checks.share_source(nfs_views(), "10.66.79.133:/jhou") == []
    assert checks.share_source(nfs_views(), "10.66.79.133:/jhou/") == []


def test_another_share_in_either_view_is_named() -> None:
    assert checks.share_source(nfs_views("10.66.79.133:/other"), "10.66.79.133:/jhou") == [
        "web-0: /data shows 10.66.79.133:/other (nfs4) in the container, but pvol is the share "
        "10.66.79.133:/jhou"
    ]
    problem, in_container = checks.share_source(nfs_views(), "10.0.0.9:/jhou")
    assert in_container.startswith("web-0: /data shows 10.66.79.133:/jhou (nfs4) in the container")
    assert problem.startswith(
        "web-0 on node-1: the kubelet mounted 10.66.79.133:/jhou (nfs4) at /var/lib/kubelet/pods/"
    )
    assert problem.endswith("but pvol is the share 10.0.0.9:/jhou")


def test_a_user_part_says_nothing_about_which_share() -> None:
    assert checks.shares.same_share(
        "root@10.251.3.250:/exports/pvc-1", "10.251.3.250:/exports/pvc-1"
    )
    assert not checks.shares.same_share(
        "10.251.3.250:/exports/pvc-2", "10.251.3.250:/exports/pvc-1"
    )
    assert not checks.shares.same_share(None, "10.251.3.250:/exports/pvc-1")


def test_a_cephfs_source_with_a_monitor_list_is_one_share() -> None:
    """ceph-csi#3309: a kernel CephFS mount names all monitors before the path."""
    text = capture("real/proc-mounts/ceph-csi-3309-cephfs-kernel.txt").split("# ---\n", 1)[1]
    (entry,) = [e for e in probes.parse_proc_mounts(text) if e.fs_type == "ceph"]
    assert checks.shares.same_share(entry.source, "192.168.21.11,192.168.21.12,192.168.21.13:/")


def test_a_write_the_other_pod_does_not_see_is_named() -> None:
    payload = probes.Payload.random()
    seen = ReadBack("web-reader", "/data/shared.bin", 0, "", payload.sha256)
    assert checks.seen_by_the_other_pod(seen, payload, writer="web-0 on n1", where="on n2") == []
    unseen = ReadBack("web-reader", "/data/shared.bin", 1, "No such file or directory", None)
    assert checks.seen_by_the_other_pod(unseen, payload, writer="web-0 on n1", where="on n2") == [
        "web-reader (on n2) does not see what web-0 on n1 wrote to /data/shared.bin: cannot read "
        "it (exit 1: No such file or directory)"
    ]


def block(container: PathStat | None, node: tuple[PathStat, ...] | None) -> BlockViews:
    return BlockViews(
        "web-0", "u1", "node-1", "pvc-1", "/dev/xvda", container, "exit 1", node, ("/k/a", "/k/b")
    )


DEVICE = PathStat("/dev/xvda", "block special file", MajorMinor(7, 4))
MAPPED = PathStat("/k/a", "block special file", MajorMinor(7, 4))


def test_the_device_at_its_path_that_the_kubelet_mapped_passes() -> None:
    assert checks.block_device(block(DEVICE, (MAPPED,))) == []
    assert checks.block_device(block(DEVICE, None)) == []  # no node access: the container only


def test_each_way_a_block_volume_goes_wrong_is_named() -> None:
    assert checks.block_device(block(None, (MAPPED,))) == [
        "web-0: nothing is at /dev/xvda in the container (exit 1)"
    ]
    directory = PathStat("/dev/xvda", "directory", MajorMinor(0, 0))
    assert checks.block_device(block(directory, (MAPPED,))) == [
        "web-0: /dev/xvda in the container is a directory, not a block device"
    ]
    assert checks.block_device(block(DEVICE, ())) == [
        "web-0 on node-1: the kubelet has not mapped pvc-1 for the pod: none of /k/a, /k/b is a "
        "block device on the node"
    ]
    other = PathStat("/k/a", "block special file", MajorMinor(7, 5))
    assert checks.block_device(block(DEVICE, (other,))) == [
        "web-0: /dev/xvda is device 7:4 in the container, but the kubelet maps pvc-1 to 7:5 at "
        "/k/a on node-1"
    ]
