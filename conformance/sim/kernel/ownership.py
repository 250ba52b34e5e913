"""The kubelet's fsGroup ownership of a mounted volume (pkg/volume/volume_linux.go), on a node.

``SetVolumeOwnership``: every file and directory under the volume's path gets the group
fsGroup (``lchown(path, -1, fsGroup)``: symlinks themselves), then its mode ORed with
``0660`` (``0440`` read-only; symlinks are not chmodded), directories also with ``0110``
and setgid, so files created later inherit the group. Under ``fsGroupChangePolicy:
OnRootMismatch`` nothing is changed when the volume's root already has the group, is a
directory with those permission bits, and has setgid (``requiresPermissionChange``).

Which volumes get it is the plugin's business (:func:`applies`): flexVolume drivers do
unless they declare otherwise; CSI drivers under the default fsGroupPolicy
``ReadWriteOnceWithFSType`` only when the PV has an fsType and is ReadWriteOnce (so a
ReadWriteMany share does not); Block volumes never (they have no files).
"""

from __future__ import annotations

from typing import Any

from conformance.sim.kernel.model import NodeHost, enter, run

Obj = dict[str, Any]
ALWAYS = "Always"
ON_ROOT_MISMATCH = "OnRootMismatch"
TIMEOUT = 60.0

# $1 path, $2 fsGroup, $3 policy, $4 "ro" or "rw". Mirrors SetVolumeOwnership: the
# root check of OnRootMismatch, then a recursive lchown and chmod (find -P walks without
# following symlinks, as filepath.Walk).
_SCRIPT = r"""set -eu
p=$1; g=$2; policy=$3; ro=$4
files=ug+rw; dirs=ug+rwx,g+s; need=770
if [ "$ro" = ro ]; then files=ug+r; dirs=ug+rx,g+s; need=550; fi
if [ "$policy" = OnRootMismatch ] && [ -d "$p" ]; then
  set -- $(stat -c '%g %a' "$p")
  mode=$(printf '%04d' "$2")
  perms=$(printf '%o' $(( 0$mode & 0777 & 0$need )))
  setgid=$(( 0$mode & 02000 ))
  if [ "$1" = "$g" ] && [ "$perms" = "$need" ] && [ "$setgid" != 0 ]; then
    echo skipped; exit 0
  fi
fi
chgrp -hR "$g" "$p"
find -P "$p" -type d -exec chmod "$dirs" {} +
find -P "$p" ! -type d ! -type l -exec chmod "$files" {} +
echo changed
"""


def applies(pv: Obj, *, block: bool) -> bool:
    """Whether the kubelet applies fsGroup to this PV's volume (see the module's note)."""
    if block:
        return False
    spec = pv.get("spec") or {}
    if "flexVolume" in spec:
        return True
    csi = spec.get("csi")
    if csi is not None:
        modes = set(spec.get("accessModes") or [])
        return bool(csi.get("fsType")) and modes <= {"ReadWriteOnce", "ReadWriteOncePod"}
    return True  # in-tree disks (iscsi, fc, rbd, local ...) set ownership too


def pod_fs_group(pod: Obj) -> tuple[int | None, str]:
    """(spec.securityContext.fsGroup, its change policy; Always when not given)."""
    context = (pod.get("spec") or {}).get("securityContext") or {}
    group = context.get("fsGroup")
    policy = str(context.get("fsGroupChangePolicy") or ALWAYS)
    return (int(group) if group is not None else None), policy


def set_volume_ownership(
    node: NodeHost, path: str, fs_group: int, policy: str, *, read_only: bool
) -> bool:
    """Apply fsGroup under ``path`` in the node; False when OnRootMismatch skipped it."""
    mode = "ro" if read_only else "rw"
    argv = ["sh", "-c", _SCRIPT, "sh", path, str(fs_group), policy, mode]
    done = run([*enter(node.pid, net=False), *argv], timeout=TIMEOUT).stdout
    return done.strip() != "skipped"


__all__ = ["ALWAYS", "ON_ROOT_MISMATCH", "applies", "pod_fs_group", "set_volume_ownership"]
