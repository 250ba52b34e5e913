"""The StatefulSet controller, after kube-controller-manager's pkg/controller/statefulset.

Split as upstream splits it:

- ``controller.py`` (stateful_set.go): events to keys, the reconcile loop, adoption
  and release of pods and ControllerRevisions;
- ``control.py`` (stateful_set_control.go): the update algorithm, ordered or parallel
  create, delete, rolling update with partition, revision history;
- ``utils.py`` (stateful_set_utils.go): identity, ordinals and names, claims from
  templates, revision hashing, claim ownership under the retention policy;
- ``pod_control.py`` (stateful_pod_control.go): pod and claim operations and events;
- ``status.py`` (computeReplicaStatus, stateful_set_status_updater.go): the status.

Faults of conformance.sim.faults that concern this controller are read at the moment
of acting, so switching them at run time takes effect on the next reconcile; each
module's docstring names the faults that act in it.

Not modelled: maxUnavailable (KEP-961, alpha; the API server drops the field as 1.32 does
with its MaxUnavailableStatefulSet gate off by default, so a rolling update goes one pod
at a time), the StatefulSetStartOrdinal and PodIndexLabel feature gates (both treated as
on), rewriting the volumes of existing pods (the real API rejects pod spec changes anyway).
"""

from conformance.sim.controllers.statefulset.controller import StatefulSetController
from conformance.sim.controllers.statefulset.utils import (
    COMPONENT,
    POD_INDEX_LABEL,
    POD_NAME_LABEL,
    REVISION_LABEL,
    SetView,
    claim_owner_up_to_date,
    parent_and_ordinal,
    revision_hash,
    running_and_ready,
    update_claim_owner_refs,
)

__all__ = [
    "COMPONENT",
    "POD_INDEX_LABEL",
    "POD_NAME_LABEL",
    "REVISION_LABEL",
    "SetView",
    "StatefulSetController",
    "claim_owner_up_to_date",
    "parent_and_ordinal",
    "revision_hash",
    "running_and_ready",
    "update_claim_owner_refs",
]
