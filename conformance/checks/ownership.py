"""fsGroup: the kubelet gives the pod's fsGroup the volume (SetVolumeOwnership: the group
on every file, group read-write, setgid on directories so new files inherit it), and a
non-root container's files carry that group."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conformance.probes.owner import SETGID

if TYPE_CHECKING:  # observe imports deployments, which phrases its failures with checks
    from conformance.observe import Owned, Written

GROUP_RWX = 0o070


def fs_group_root(seen: Owned, root: str, fs_group: int) -> list[str]:
    """The volume's root is a directory of group fsGroup with group rwx and setgid."""
    owner = seen.of(root)
    if owner is None:
        return [f"{seen.pod}: cannot stat {root}: {seen.error or 'not listed'}"]
    if owner.gid == fs_group and owner.mode & GROUP_RWX == GROUP_RWX and owner.setgid:
        return []
    return [
        f"{seen.pod}: {root} is {owner.uid}:{owner.gid} mode {owner.mode:04o}, expected group "
        f"{fs_group} with group rwx and setgid (the pod's fsGroup {fs_group})"
    ]


def file_owned(seen: Owned, path: str, *, uid: int, gid: int, why: str) -> list[str]:
    """A file is owned by ``uid`` with group ``gid`` (``why`` says which rule wants it)."""
    owner = seen.of(path)
    if owner is None:
        return [f"{seen.pod}: cannot stat {path}: {seen.error or 'not listed'}"]
    if (owner.uid, owner.gid) == (uid, gid):
        return []
    return [f"{seen.pod}: {path} is {owner.uid}:{owner.gid}, expected {uid}:{gid} ({why})"]


def regrouped(change: Written, gid: int) -> list[str]:
    """The container changed a file's group to another of its groups."""
    if change.exit_code == 0:
        return []
    return [
        f"{change.pod}: chgrp {gid} {change.path} failed (exit {change.exit_code}): {change.stderr}"
    ]


__all__ = ["SETGID", "file_owned", "fs_group_root", "regrouped"]
