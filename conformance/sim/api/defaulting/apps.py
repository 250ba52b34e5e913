"""Defaulting of apps/v1 kinds (pkg/apis/apps/v1/defaults.go): the StatefulSet.

Its pod template and claim templates get the core defaults, so a stored set reads
like one from a real cluster and its controller sees the same values.
"""

from __future__ import annotations

from conformance.sim.api.defaulting.core import default_pod_spec, default_pvc
from conformance.sim.api.unstructured import Obj, child, dicts, is_unset, set_default


def default_statefulset(obj: Obj, old: Obj | None = None) -> None:
    """SetDefaults_StatefulSet, with the core defaults for its pod and claim templates, and
    the registry strategy's dropStatefulSetDisabledFields (``old``: the stored set on update)."""
    spec = child(obj, "spec")
    drop_max_unavailable(spec, old)
    set_default(spec, "podManagementPolicy", "OrderedReady")
    strategy = child(spec, "updateStrategy")
    if is_unset(strategy, "type"):
        strategy["type"] = "RollingUpdate"
        if strategy.get("rollingUpdate") is None:
            strategy["rollingUpdate"] = {}
    rolling = strategy.get("rollingUpdate")
    if (
        strategy["type"] == "RollingUpdate"
        and isinstance(rolling, dict)
        and rolling.get("partition") is None
    ):
        rolling["partition"] = 0
    policy = child(spec, "persistentVolumeClaimRetentionPolicy")
    set_default(policy, "whenDeleted", "Retain")
    set_default(policy, "whenScaled", "Retain")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    default_pod_spec(child(child(spec, "template"), "spec"))
    for claim in dicts(spec.get("volumeClaimTemplates")):
        set_default(claim, "apiVersion", "v1")  # set by the apps/v1 conversion
        set_default(claim, "kind", "PersistentVolumeClaim")
        default_pvc(claim)
    status = child(obj, "status")  # an empty StatefulSetStatus serializes these two
    if status.get("replicas") is None:
        status["replicas"] = 0
    if status.get("availableReplicas") is None:
        status["availableReplicas"] = 0


def drop_max_unavailable(spec: Obj, old: Obj | None) -> None:
    """dropStatefulSetDisabledFields: ``rollingUpdate.maxUnavailable`` needs the alpha gate
    MaxUnavailableStatefulSet, off by default in 1.32 (as here: the simulator has no gates),
    so the field is dropped unless the stored set already has it (maxUnavailableInUse)."""
    if old is not None and _max_unavailable(old.get("spec")) is not None:
        return
    strategy = spec.get("updateStrategy")
    rolling = strategy.get("rollingUpdate") if isinstance(strategy, dict) else None
    if isinstance(rolling, dict):
        rolling.pop("maxUnavailable", None)


def _max_unavailable(spec: object) -> object:
    strategy = spec.get("updateStrategy") if isinstance(spec, dict) else None
    rolling = strategy.get("rollingUpdate") if isinstance(strategy, dict) else None
    return rolling.get("maxUnavailable") if isinstance(rolling, dict) else None
