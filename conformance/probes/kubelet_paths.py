"""Where the kubelet mounts a pod's volume, built and recognised (in-tree, flexvolume, CSI)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from conformance.probes.mountinfo import MountInfo, visible

KUBELET_ROOT = "/var/lib/kubelet"
CSI_PLUGIN_DIR = "kubernetes.io~csi"

_KUBELET_PATH = re.compile(
    r"^(?P<root>.*)/pods/(?P<uid>[^/]+)/volumes/(?P<plugin>[^/]+~[^/]+)/(?P<pv>[^/]+)"
    r"(?P<mount>/mount)?$"
)


@dataclass(frozen=True)
class KubeletVolumePath:
    """Where the kubelet mounts a pod's volume: ``<root>/pods/<uid>/volumes/<plugin>/<pv>``
    (in-tree ``kubernetes.io~iscsi``, flexvolume ``vendor~driver``) or, for CSI,
    ``<root>/pods/<uid>/volumes/kubernetes.io~csi/<pv>/mount``."""

    pod_uid: str
    plugin_dir: str
    pv_name: str
    root: str = KUBELET_ROOT

    @property
    def csi(self) -> bool:
        return self.plugin_dir == CSI_PLUGIN_DIR

    @property
    def path(self) -> str:
        path = f"{self.root}/pods/{self.pod_uid}/volumes/{self.plugin_dir}/{self.pv_name}"
        return f"{path}/mount" if self.csi else path


def kubelet_volume_path(
    pod_uid: str, plugin_dir: str, pv_name: str, *, root: str = KUBELET_ROOT
) -> str:
    """The kubelet path of a pod's volume (CSI paths end in ``/mount``)."""
    for name, value in (("pod_uid", pod_uid), ("plugin_dir", plugin_dir), ("pv_name", pv_name)):
        if not value or "/" in value:
            raise ValueError(f"{name} {value!r}: a non-empty path component is needed")
    if "~" not in plugin_dir:
        raise ValueError(
            f"plugin_dir {plugin_dir!r}: kubelet plugin dirs are 'vendor~driver' "
            f"(e.g. {CSI_PLUGIN_DIR}, kubernetes.io~iscsi, datera~iscsi)"
        )
    return KubeletVolumePath(pod_uid, plugin_dir, pv_name, root.rstrip("/")).path


def parse_kubelet_volume_path(path: str) -> KubeletVolumePath | None:
    """Recognise a kubelet volume path of any kubelet root; None if it is not one."""
    m = _KUBELET_PATH.match(path)
    if not m:
        return None
    csi = m.group("plugin") == CSI_PLUGIN_DIR
    if csi != (m.group("mount") is not None):
        return None  # a CSI volume is mounted at .../<pv>/mount, others at .../<pv>
    return KubeletVolumePath(m.group("uid"), m.group("plugin"), m.group("pv"), m.group("root"))


def kubelet_volume_mounts(mounts: Iterable[MountInfo]) -> list[tuple[KubeletVolumePath, MountInfo]]:
    """Every mount at a kubelet volume path, with the path taken apart."""
    found = []
    for m in mounts:
        parsed = parse_kubelet_volume_path(m.mount_point)
        if parsed is not None:
            found.append((parsed, m))
    return found


def kubelet_mounts_of(
    mounts: Iterable[MountInfo],
    pod_uid: str,
    pv_name: str,
    *,
    roots: Sequence[str] = (KUBELET_ROOT,),
) -> list[MountInfo]:
    """The mounts of ``pv_name`` for pod ``pod_uid`` at exactly
    ``<root>/pods/<uid>/volumes/<plugin-dir>/<pv>[/mount]`` for one of ``roots``: the top
    one per path. Never a prefix: a CSI node plugin's view holds the same mounts again
    under ``/host/var/lib/kubelet/...`` (a real ceph-csi capture), which is not the
    kubelet's. More than one means the caller cannot tell which is the volume."""
    wanted = {root.rstrip("/") for root in roots}
    by_path: dict[str, list[MountInfo]] = {}
    for parsed, mount in kubelet_volume_mounts(mounts):
        if (parsed.pod_uid, parsed.pv_name) == (pod_uid, pv_name) and parsed.root in wanted:
            by_path.setdefault(mount.mount_point, []).append(mount)
    found = [visible(stacked) for stacked in by_path.values()]
    return [mount for mount in found if mount is not None]


def match_kubelet_mount(
    mounts: Iterable[MountInfo],
    pod_uid: str,
    pv_name: str,
    *,
    roots: Sequence[str] = (KUBELET_ROOT,),
) -> MountInfo | None:
    """The node's one mount of ``pv_name`` for pod ``pod_uid`` (CSI, flexvolume or
    in-tree) under ``roots``; None when there is none or more than one."""
    found = kubelet_mounts_of(mounts, pod_uid, pv_name, roots=roots)
    return found[0] if len(found) == 1 else None
