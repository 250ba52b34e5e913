"""Edits of a StatefulSet manifest for sets shaped otherwise than the default one:
``Deployment.deploy(shape=...)`` takes these (partially applied). Pure: they edit dicts.
"""

from __future__ import annotations

import copy
from typing import Any

Manifest = dict[str, Any]


def _container(statefulset: Manifest) -> Manifest:
    containers: list[Manifest] = statefulset["spec"]["template"]["spec"]["containers"]
    return containers[0]


def add_claim_template(statefulset: Manifest, name: str, mount_path: str) -> None:
    """One more claim template, a copy of the first (class, size, access modes) named
    ``name``, mounted at ``mount_path``: its claims are ``<name>-<set>-<n>``."""
    templates: list[Manifest] = statefulset["spec"]["volumeClaimTemplates"]
    if any(t["metadata"]["name"] == name for t in templates):
        raise ValueError(f"the StatefulSet already has a claim template {name!r}")
    extra = copy.deepcopy(templates[0])
    extra["metadata"]["name"] = name
    templates.append(extra)
    mounts: list[Manifest] = _container(statefulset).setdefault("volumeMounts", [])
    mounts.append({"name": name, "mountPath": mount_path})


def run_as(
    statefulset: Manifest,
    *,
    user: int,
    group: int,
    fs_group: int | None = None,
    change_policy: str | None = None,
) -> None:
    """The pod's securityContext: its processes run as ``user``:``group``, with
    ``fs_group`` as a supplementary group owning the volumes (``fsGroupChangePolicy``
    ``Always`` or ``OnRootMismatch``)."""
    context: Manifest = {"runAsUser": user, "runAsGroup": group, "runAsNonRoot": user != 0}
    if fs_group is not None:
        context["fsGroup"] = fs_group
    if change_policy is not None:
        if change_policy not in ("Always", "OnRootMismatch"):
            raise ValueError(
                f"fsGroupChangePolicy {change_policy!r} is not Always or OnRootMismatch"
            )
        context["fsGroupChangePolicy"] = change_policy
    statefulset["spec"]["template"]["spec"]["securityContext"] = context


__all__ = ["add_claim_template", "run_as"]
