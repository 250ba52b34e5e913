"""Pre-provisioned (static) PersistentVolumes from an inventory template, as in the seed.

The seed's PetSet found its volumes already there: pv-datera-0..3, made by an
administrator, each bound to claim ``pv-claim-test-petset-<n>``. A vendor describes such
volumes with ``storage[].static`` (:class:`conformance.inventory.StaticVolumes`); this
module turns that template into one PV manifest per ordinal. Pure: it builds dicts.

Two ways to tie a PV to a claim, both upstream's:

- ``claim_ref``: the PV is pre-bound (``spec.claimRef`` names the claim, no uid); the
  binder gives it to that claim and no other. PV n goes to ordinal n.
- ``selector``: the PVs carry a pool label and the claim template selects it; the binder
  gives each claim one PV of the pool, in no particular order.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from conformance.inventory import StaticVolumes, Storage

Manifest = dict[str, Any]

POOL_LABEL = "conformance.io/static-pool"  # the set's pre-provisioned volumes
NAMESPACE_LABEL = "conformance.io/static-for"  # the namespace a PV was made for (cleanup)
ORDINAL_LABEL = "conformance.io/static-ordinal"  # which ordinal a PV was made for
CLAIM_REF = "claim_ref"
SELECTOR = "selector"
BINDINGS = (CLAIM_REF, SELECTOR)


def fill(value: Any, values: Mapping[str, str]) -> Any:
    """The template with every ``{placeholder}`` in its strings replaced."""
    if isinstance(value, str):
        for key, text in values.items():
            value = value.replace("{" + key + "}", text)
        return value
    if isinstance(value, dict):
        return {key: fill(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, values) for item in value]
    return value


def class_of(static: StaticVolumes) -> str:
    """The storageClassName the PVs and the claims share ("" unless the template names one:
    then no provisioner can step in and bind the claims to new volumes instead)."""
    return str(static.pv.get("storageClassName") or "")


def handles_for(static: StaticVolumes, replicas: int) -> str | None:
    """Why ``replicas`` ordinals cannot have a volume each, or None."""
    if static.handles is not None and len(static.handles) < replicas:
        return (
            f"static.handles lists {len(static.handles)} pre-created volume(s), "
            f"fewer than the {replicas} replicas"
        )
    return None


def volume(
    entry: Storage,
    *,
    ordinal: int,
    claim: str,
    namespace: str,
    set_name: str,
    run_id: str,
    labels: Mapping[str, str],
    pool: str,
    binding: str,
) -> Manifest:
    """The PV of ``ordinal``, pre-bound to ``claim`` (``claim_ref``) or labelled into
    ``pool`` (``selector``; ``pool=""`` leaves it out of every pool: a decoy)."""
    static = entry.static
    if static is None:
        raise ValueError(f"storage {entry.name!r} has no static: section")
    if binding not in BINDINGS:
        raise ValueError(f"binding {binding!r} is not one of {', '.join(BINDINGS)}")
    values = {
        "ordinal": str(ordinal),
        "claim": claim,
        "namespace": namespace,
        "set": set_name,
        "run": run_id,
        "handle": static.handles[ordinal] if static.handles else "",
    }
    spec: Manifest = fill(copy.deepcopy(static.pv), values)
    spec.setdefault("capacity", {"storage": entry.size})
    spec.setdefault("accessModes", [mode.value for mode in entry.access_modes])
    spec.setdefault("volumeMode", entry.volume_mode.value)
    spec.setdefault("persistentVolumeReclaimPolicy", "Retain")  # never delete the vendor's disk
    spec.setdefault("storageClassName", "")
    if binding == CLAIM_REF:
        spec["claimRef"] = {"kind": "PersistentVolumeClaim", "namespace": namespace, "name": claim}
    pv_labels = {**labels, NAMESPACE_LABEL: namespace, ORDINAL_LABEL: str(ordinal)}
    if binding == SELECTOR and pool:
        pv_labels[POOL_LABEL] = pool
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": fill(static.name, values), "labels": pv_labels},
        "spec": spec,
    }


def claim_templates_use(
    statefulset: Manifest, static: StaticVolumes, *, binding: str, pool: str
) -> None:
    """Shape a StatefulSet manifest so its claims ask for the static volumes: their class
    (see :func:`class_of`) and, for ``selector``, the pool's label."""
    for template in statefulset["spec"]["volumeClaimTemplates"]:
        spec = template["spec"]
        spec["storageClassName"] = class_of(static)
        if binding == SELECTOR:
            spec["selector"] = {"matchLabels": {POOL_LABEL: pool}}


__all__ = [
    "BINDINGS",
    "CLAIM_REF",
    "NAMESPACE_LABEL",
    "ORDINAL_LABEL",
    "POOL_LABEL",
    "SELECTOR",
    "claim_templates_use",
    "class_of",
    "fill",
    "handles_for",
    "volume",
]
