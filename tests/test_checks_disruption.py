"""The disruption checks: a pod adopted by a restarted kubelet, a mount kept, a drained pod's
move and the volume leaving the node it left."""

from __future__ import annotations

import dataclasses

from conformance import checks, probes
from conformance.observe import PodState

UID = "0d3f6a1e-5b7c-4c1e-9a6b-2f4e8d1c7b90"
PV = "pvc-6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
PATH = f"/var/lib/kubelet/pods/{UID}/volumes/kubernetes.io~csi/{PV}/mount"


def mount(mount_id: int = 812, device: str = "8:16", point: str = PATH) -> probes.MountInfo:
    line = f"{mount_id} 29 {device} / {point} rw,relatime shared:400 - ext4 /dev/sdb rw\n"
    return probes.parse_mountinfo(line)[0]


BEFORE = PodState(name="web-1", uid=UID, node="node-2", ready=True, restarts=0)


def test_a_pod_adopted_as_it_ran_passes() -> None:
    assert checks.adopted_after_kubelet_restart(BEFORE, BEFORE) == []
    assert checks.mount_kept(mount(), mount(), pod="web-1", pv=PV, node="node-2") == []


def test_a_restarted_container_a_new_pod_or_not_ready_is_named() -> None:
    restarted = dataclasses.replace(BEFORE, restarts=1, ready=False)
    assert checks.adopted_after_kubelet_restart(BEFORE, restarted) == [
        "web-1 on node-2: its container restarted when the kubelet restarted (restartCount 0 -> 1)",
        "web-1 on node-2: the pod is not Ready after the kubelet restarted",
    ]
    recreated = dataclasses.replace(BEFORE, uid="other")
    assert (
        "re-created when the kubelet restarted"
        in checks.adopted_after_kubelet_restart(BEFORE, recreated)[0]
    )


def test_a_lost_or_new_kubelet_mount_is_named() -> None:
    gone = checks.mount_kept(mount(), None, pod="web-1", pv=PV, node="node-2")
    assert gone == [
        f"web-1 on node-2: the kubelet mount of {PV} at {PATH} is gone after the kubelet restarted"
    ]
    again = checks.mount_kept(mount(), mount(901), pod="web-1", pv=PV, node="node-2")
    assert again == [
        f"web-1 on node-2: the kubelet remounted {PV} when it restarted "
        f"(mount 812 of 8:16 -> mount 901 of 8:16 at {PATH})"
    ]


def test_a_drained_pod_must_come_back_off_the_cordoned_node() -> None:
    elsewhere = dataclasses.replace(BEFORE, uid="new", node="node-3")
    assert checks.moved_off(BEFORE, elsewhere, cordoned="node-2") == []
    same_node = dataclasses.replace(BEFORE, uid="new")
    assert checks.moved_off(BEFORE, same_node, cordoned="node-2") == [
        "web-1: came back on the cordoned node node-2 after its eviction"
    ]


def test_the_volume_must_leave_the_node_its_pod_left() -> None:
    other = mount(point=f"/var/lib/kubelet/pods/{UID}/volumes/kubernetes.io~csi/pvc-other/mount")
    assert checks.volume_left_node([other], pod="web-1", pv=PV, node="node-2") == []
    assert checks.volume_left_node([other, mount()], pod="web-1", pv=PV, node="node-2") == [
        f"web-1 moved off node-2 but the kubelet mount of {PV} remains there at {PATH}"
    ]
