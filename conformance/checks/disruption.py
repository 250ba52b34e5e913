"""Judgements on a pod across a disruption: a kubelet restart, a node drain."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from conformance import probes

if TYPE_CHECKING:  # observe imports deployments, which phrases its failures with checks
    from conformance.observe import PodState


def adopted_after_kubelet_restart(before: PodState, after: PodState) -> list[str]:
    """A restarted kubelet adopts the pod as it runs: the same pod (uid), its container
    not restarted, Ready again."""
    where = f"{before.name} on {before.node}"
    problems = []
    if after.uid != before.uid:
        problems.append(
            f"{where}: the pod was re-created when the kubelet restarted "
            f"(uid {before.uid} -> {after.uid})"
        )
    elif after.restarts != before.restarts:
        problems.append(
            f"{where}: its container restarted when the kubelet restarted "
            f"(restartCount {before.restarts} -> {after.restarts})"
        )
    if not after.ready:
        problems.append(f"{where}: the pod is not Ready after the kubelet restarted")
    return problems


def mount_kept(
    before: probes.MountInfo | None,
    after: probes.MountInfo | None,
    *,
    pod: str,
    pv: str,
    node: str,
) -> list[str]:
    """The kubelet's mount of the volume outlives a kubelet restart untouched: the same
    mount (mountinfo's mount ID), of the same device. The kernel reuses a freed mount ID,
    so a remount may keep it: the container's restart count (adopted_after_kubelet_restart)
    catches what this cannot."""
    where = f"{pod} on {node}"
    if before is None:
        return [f"{where}: the kubelet had no mount of {pv} before the restart to compare"]
    if after is None:
        return [
            f"{where}: the kubelet mount of {pv} at {before.mount_point} is gone after "
            "the kubelet restarted"
        ]
    if (after.mount_id, after.major_minor) != (before.mount_id, before.major_minor):
        return [
            f"{where}: the kubelet remounted {pv} when it restarted (mount "
            f"{before.mount_id} of {before.major_minor} -> mount {after.mount_id} of "
            f"{after.major_minor} at {after.mount_point})"
        ]
    return []


def moved_off(before: PodState, after: PodState, *, cordoned: str) -> list[str]:
    """An evicted pod of a StatefulSet comes back, as a new pod, off the cordoned node."""
    if after.uid == before.uid:
        return [f"{before.name}: still the same pod (uid {before.uid}) after its eviction"]
    if after.node == cordoned:
        return [f"{after.name}: came back on the cordoned node {cordoned} after its eviction"]
    return []


def volume_left_node(
    node_mounts: Sequence[probes.MountInfo], *, pod: str, pv: str, node: str
) -> list[str]:
    """The volume of a pod that moved away is no longer mounted by the kubelet of the
    node it left (for any pod)."""
    return [
        f"{pod} moved off {node} but the kubelet mount of {pv} remains there at {m.mount_point}"
        for path, m in probes.kubelet_volume_mounts(node_mounts)
        if path.pv_name == pv
    ]
