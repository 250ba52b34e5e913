"""Status of a StatefulSet: computeReplicaStatus and stateful_set_status_updater.go.

The counts are taken over the pods that exist when the reconcile starts; the write goes
through the status subresource, only when something changed, and completes a finished
rolling update (currentRevision catches up with updateRevision) as upstream does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from conformance.sim.api import errors
from conformance.sim.api.store import Obj, Store
from conformance.sim.controllers.statefulset.utils import (
    REVISION_LABEL,
    STATEFUL_SET,
    SetView,
    available,
    labels_of,
    meta_of,
    name_of,
    running_and_ready,
    terminating,
)


def compute_status(
    sts: SetView,
    pods: list[Obj],
    current: Obj,
    update: Obj,
    collisions: int,
    now: datetime,
) -> dict[str, Any]:
    """updateStatus: counts over the pods that exist, with Go's omitempty for zeros."""
    counts = {"replicas": 0, "ready": 0, "available": 0, "current": 0, "updated": 0}
    for pod in pods:
        counts["replicas"] += 1
        if running_and_ready(pod):
            counts["ready"] += 1
            if available(pod, sts.min_ready_seconds, now):
                counts["available"] += 1
        if not terminating(pod):
            revision = labels_of(pod).get(REVISION_LABEL)
            if revision == name_of(current):
                counts["current"] += 1
            if revision == name_of(update):
                counts["updated"] += 1
    status: dict[str, Any] = {
        "observedGeneration": int(meta_of(sts.obj).get("generation") or 0),
        "replicas": counts["replicas"],
        "readyReplicas": counts["ready"],
        "currentReplicas": counts["current"],
        "updatedReplicas": counts["updated"],
        "currentRevision": name_of(current),
        "updateRevision": name_of(update),
        "collisionCount": collisions,
        "availableReplicas": counts["available"],
    }
    return status


def write_status(store: Store, sts: SetView, status: dict[str, Any]) -> None:
    """updateStatefulSetStatus: complete a finished rolling update, write when changed."""
    if (
        sts.update_type == "RollingUpdate"
        and status["updatedReplicas"] == sts.replicas
        and status["readyReplicas"] == sts.replicas
        and status["replicas"] == sts.replicas
    ):
        status["currentReplicas"] = status["updatedReplicas"]
        status["currentRevision"] = status["updateRevision"]
    wanted = {
        k: v
        for k, v in status.items()
        if v or k in ("replicas", "availableReplicas", "collisionCount")
    }
    old = dict(sts.obj.get("status") or {})
    conditions = old.pop("conditions", None)
    if old == wanted:
        return

    def change(obj: Obj) -> None:
        new = dict(wanted)
        if conditions:
            new["conditions"] = conditions
        obj["status"] = new

    try:
        store.mutate(STATEFUL_SET, sts.namespace, sts.name, change, subresource="status")
    except errors.ApiError as exc:
        if exc.reason != "NotFound":
            raise
