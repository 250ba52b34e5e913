"""Defaulting of apps/v1 kinds (pkg/apis/apps/v1/defaults.go): the StatefulSet.

Its pod template and claim templates get the core defaults, so a stored set reads
like one from a real cluster and its controller sees the same values.
"""

from __future__ import annotations

from conformance.sim.api.defaulting.core import default_pod_spec, default_pvc
from conformance.sim.api.unstructured import Obj, child, dicts, is_unset, set_default


def default_statefulset(obj: Obj) -> None:
    """SetDefaults_StatefulSet, with the core defaults for its pod and claim templates."""
    spec = child(obj, "spec")
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
