"""A file share (nfs, cifs, cephfs, fuse.*) is identified by its source, not a device: the
kubelet's mount and the container's show the share the PV names, and pods on different
nodes see each other's writes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # observe imports deployments, which phrases its failures with checks
    from conformance.observe import ReadBack, VolumeViews
    from conformance.probes import Payload


def same_share(source: str | None, declared: str) -> bool:
    """``root@10.0.0.5:/exports/pv/`` and ``10.0.0.5:/exports/pv`` name one share (the user
    part and a trailing slash say nothing about which)."""
    if not source:
        return False

    def normal(text: str) -> str:
        host, sep, path = text.partition(":")
        host = host.rsplit("@", 1)[-1]
        return f"{host}{sep}{path.rstrip('/') or '/'}" if sep else text.rstrip("/")

    return normal(source) == normal(declared)


def share_source(views: VolumeViews, declared: str | None) -> list[str]:
    """The kubelet's mount and the container's show the share the PV declares."""
    if not declared:
        return [f"{views.pv}: the PV names no share (nfs server/path, or CSI server/share)"]
    problems = []
    kubelet = views.kubelet_mount
    if views.node_mounts is not None:
        if kubelet is None:
            problems.append(
                f"{views.pod} on {views.node}: nothing is mounted at the kubelet path of "
                f"{views.pv}, which should be the share {declared}"
            )
        elif not same_share(kubelet.source, declared):
            problems.append(
                f"{views.pod} on {views.node}: the kubelet mounted {kubelet.source} "
                f"({kubelet.fs_type}) at {kubelet.mount_point}, but {views.pv} is the share "
                f"{declared}"
            )
    container = views.container_mount
    if views.container_mounts is not None:
        if container is None:
            problems.append(
                f"{views.pod}: nothing is mounted at {views.mount_path} in the container"
            )
        elif not same_share(container.source, declared):
            problems.append(
                f"{views.pod}: {views.mount_path} shows {container.source} ({container.fs_type}) "
                f"in the container, but {views.pv} is the share {declared}"
            )
    return problems


def seen_by_the_other_pod(
    read: ReadBack, payload: Payload, *, writer: str, where: str
) -> list[str]:
    """What one pod wrote to the share, the other (on another node) reads back."""
    if read.digest == payload.sha256:
        return []
    if read.digest is None:
        got = f"cannot read it (exit {read.exit_code}: {read.stderr})"
    else:
        got = f"reads sha256 {read.digest[:16]}..., {writer} wrote {payload.sha256[:16]}..."
    return [f"{read.pod} ({where}) does not see what {writer} wrote to {read.path}: {got}"]
