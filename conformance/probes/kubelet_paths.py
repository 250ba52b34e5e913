"""Where the kubelet mounts a pod's volume, built and recognised (in-tree, flexvolume, CSI)."""

from __future__ import annotations

import re
from collections.abc import Iterable
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


def match_kubelet_mount(
    mounts: Iterable[MountInfo], pod_uid: str, pv_name: str
) -> MountInfo | None:
    """The node's mount of ``pv_name`` for pod ``pod_uid`` (CSI, flexvolume or in-tree).

    A view that holds the host's root under a prefix (a CSI node plugin's
    ``/host/var/lib/kubelet/...``, seen in a real ceph-csi capture) shows the same mount
    twice; the copy under the prefixed root is left out for the node's own.
    """
    matches = [
        (p, m)
        for p, m in kubelet_volume_mounts(mounts)
        if (p.pod_uid, p.pv_name) == (pod_uid, pv_name)
    ]
    roots = {p.root for p, _ in matches}
    prefixed = {r for r in roots if any(r != o and r.endswith(o) for o in roots)}
    return visible([m for p, m in matches if p.root not in prefixed])
