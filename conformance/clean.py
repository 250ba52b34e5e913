"""Sweep what runs of this harness left on a cluster, found by their labels only.

A run killed by a CI timeout (SIGKILL: no teardown) leaves its namespaces, the
StorageClasses it created and, under a Retain policy, PersistentVolumes. Everything the
harness creates carries ``conformance.io/run``, the static PVs it makes from an
inventory's ``static:`` template too; PVs a provisioner made are not labelled, so such a
PV counts as ours only when its class is one of our labelled classes or its claim lived
in one of our labelled namespaces. Nothing else is ever touched.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from kubernetes.client.exceptions import ApiException

from conformance.cluster import Cluster
from conformance.workloads import LABEL_RUN

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(text: str) -> timedelta:
    """``90m``, ``2h``, ``1d12h``, ``45s`` -> a timedelta; ValueError names the shape."""
    m = _DURATION.match(text.strip())
    if not text.strip() or not m or not any(m.groups()):
        raise ValueError(f"{text!r} is not a duration such as 30m, 2h or 1d12h")
    days, hours, minutes, seconds = (int(g or 0) for g in m.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


@dataclass(frozen=True)
class Leftover:
    kind: str  # Namespace, StorageClass, PersistentVolume
    name: str
    run: str  # the run that made it ("?" for a PV, found through its class or claim)
    age: timedelta

    def describe(self) -> str:
        return f"{self.kind} {self.name} (run {self.run}, {_age(self.age)} old)"


@dataclass
class Leftovers:
    items: list[Leftover] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.items)


def _age(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes}m"
    hours = minutes // 60
    return f"{hours}h{minutes % 60:02d}m" if hours < 48 else f"{hours // 24}d"


def _created(obj: Any) -> datetime:
    stamp: datetime | None = obj.metadata.creation_timestamp
    if stamp is None:
        return datetime.now(timezone.utc)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


def find(
    cluster: Cluster, *, run: str | None = None, older_than: timedelta | None = None
) -> Leftovers:
    """What runs of the harness left: by ``run`` id if given, and older than ``older_than``."""
    now = datetime.now(timezone.utc)
    selector = f"{LABEL_RUN}={run}" if run else LABEL_RUN

    def wanted(obj: Any) -> bool:
        return older_than is None or now - _created(obj) >= older_than

    found = Leftovers()
    namespaces = [
        ns
        for ns in cluster.call(cluster.core.list_namespace, label_selector=selector).items
        if wanted(ns)
    ]
    classes = [
        sc
        for sc in cluster.call(cluster.storage.list_storage_class, label_selector=selector).items
        if wanted(sc)
    ]
    for obj, kind in [
        *((n, "Namespace") for n in namespaces),
        *((c, "StorageClass") for c in classes),
    ]:
        labels = obj.metadata.labels or {}
        found.items.append(
            Leftover(kind, obj.metadata.name, labels.get(LABEL_RUN, "?"), now - _created(obj))
        )
    ours_ns = {ns.metadata.name for ns in namespaces}
    ours_sc = {sc.metadata.name for sc in classes}
    for pv in cluster.call(cluster.core.list_persistent_volume).items:
        claim = pv.spec.claim_ref
        made = (pv.metadata.labels or {}).get(LABEL_RUN)  # a static PV the harness made
        ours = (
            (made is not None and (run is None or made == run))
            or pv.spec.storage_class_name in ours_sc
            or (claim is not None and claim.namespace in ours_ns)
        )
        if ours and wanted(pv):
            found.items.append(
                Leftover("PersistentVolume", pv.metadata.name, made or "?", now - _created(pv))
            )
    return found


def remove(cluster: Cluster, leftovers: Leftovers, report: Callable[[str], None]) -> int:
    """Delete them (PVs first, then namespaces, then classes); the number not removed."""
    order = {"PersistentVolume": 0, "Namespace": 1, "StorageClass": 2}
    delete: dict[str, Callable[[str], Any]] = {
        "PersistentVolume": cluster.core.delete_persistent_volume,
        "Namespace": cluster.core.delete_namespace,
        "StorageClass": cluster.storage.delete_storage_class,
    }
    failed = 0
    for item in sorted(leftovers.items, key=lambda i: order[i.kind]):
        try:
            cluster.call(delete[item.kind], item.name)
        except ApiException as exc:
            if exc.status != 404:
                failed += 1
                report(f"could not remove {item.describe()}: {exc.status} {exc.reason}")
                continue
        report(f"removed {item.describe()}")
    return failed
