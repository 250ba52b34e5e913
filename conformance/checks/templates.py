"""Several claim templates per set (data, log, ...): each claim is mounted at its own path
from its own device, never at another template's path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # observe imports deployments, which phrases its failures with checks
    from conformance.observe import VolumeViews


def own_devices(views: Sequence[VolumeViews]) -> list[str]:
    """One pod's templates (one views each): distinct volumes on distinct devices, and each
    path shows the device the kubelet mounted for that path's claim (when the node was
    looked at). Missing mounts are :func:`checks.container_mount`'s to report."""
    problems: list[str] = []
    by_volume: dict[str, list[VolumeViews]] = {}
    for seen in views:
        if seen.pv:
            by_volume.setdefault(seen.pv, []).append(seen)
    problems += [
        f"{same[0].pod}: claims {', '.join(v.claim for v in same)} are bound to the same "
        f"volume {pv}"
        for pv, same in by_volume.items()
        if len(same) > 1
    ]
    by_device: dict[str, list[VolumeViews]] = {}
    for seen in views:
        mount = seen.container_mount
        if mount is not None:
            by_device.setdefault(str(mount.major_minor), []).append(seen)
    problems += [
        f"{same[0].pod}: {' and '.join(v.mount_path for v in same)} are all on {device} "
        f"in the container (claims {', '.join(v.claim for v in same)})"
        for device, same in by_device.items()
        if len(same) > 1
    ]
    kubelet = {
        str(seen.kubelet_mount.major_minor): seen
        for seen in views
        if seen.kubelet_mount is not None
    }
    for seen in views:
        mount, own = seen.container_mount, seen.kubelet_mount
        if mount is None or own is None or mount.major_minor == own.major_minor:
            continue
        other = kubelet.get(str(mount.major_minor))
        whose = (
            f"the device the kubelet mounted for claim {other.claim} ({other.pv})"
            if other is not None
            else "a device the kubelet mounted for none of the pod's claims"
        )
        problems.append(
            f"{seen.pod}: {seen.mount_path} shows {mount.major_minor}, {whose}, not that of "
            f"claim {seen.claim} ({seen.pv}, {own.major_minor})"
        )
    return problems
