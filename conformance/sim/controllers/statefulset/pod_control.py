"""Pod and claim operations of the StatefulSet controller, after stateful_pod_control.go.

:class:`StatefulPodControl` creates, updates and deletes the pods and claims of a set
and records the events upstream records for each; it also keeps claims' owner
references in line with the retention policy (UpdatePodClaimForRetentionPolicy).
Faults that corrupt a pod's identity act here, when the pod is made:

- ``wrong-claim-binding``: the pod of ordinal n mounts the claim of ordinal
  (n + 1) % replicas (the claims of both ordinals are still created);
- ``hostname-drift``: a pod created again for an ordinal this controller created
  before gets ``spec.hostname`` ``<set>-<ordinal>-<5 random characters>``.

``claims-kept-despite-delete`` breaks the retention policy where upstream implements
it: the claims' owner references are computed as if whenDeleted were Retain, so the
set never owns its claims and the garbage collector leaves them when the set goes
(switched on at run time, it takes effect at the set's next reconcile).
``claims-kept-despite-scaled-delete`` does the same to whenScaled: a condemned pod never
becomes its claims' owner, so they outlive the pod that scale-down removes.
"""

from __future__ import annotations

import dataclasses

from conformance.sim.api import errors
from conformance.sim.api.store import Obj, Store
from conformance.sim.controllers.events import record
from conformance.sim.controllers.statefulset.utils import (
    CLAIM,
    COMPONENT,
    POD,
    POD_INDEX_LABEL,
    POD_NAME_LABEL,
    RETAIN,
    SetView,
    claim_objects,
    claim_owner_up_to_date,
    has_stale_ref,
    labels_of,
    name_of,
    new_pod,
    ordinal_of,
    random_suffix,
    terminating,
    update_claim_owner_refs,
)
from conformance.sim.faults import ActiveFaults

WRONG_CLAIM = "wrong-claim-binding"
HOSTNAME_DRIFT = "hostname-drift"
CLAIMS_KEPT = "claims-kept-despite-delete"
CLAIMS_KEPT_ON_SCALE = "claims-kept-despite-scaled-delete"


class StatefulPodControl:
    """Writes the pods and claims of sets; remembers which ordinals it created per set."""

    def __init__(self, store: Store, faults: ActiveFaults) -> None:
        self.store = store
        self.faults = faults
        self.created: dict[str, set[int]] = {}  # set uid -> ordinals this controller created

    def forget(self, set_uid: str) -> None:
        """The set is gone: its ordinals start afresh if a set of that name comes back."""
        self.created.pop(set_uid, None)

    # --- pods ----------------------------------------------------------------------------

    def update_identity(self, sts: SetView, pod: Obj) -> Obj:
        """UpdateStatefulPod: restore the identity labels and the claims' retention refs."""
        self.fix_claim_owners(sts, pod)
        labels = labels_of(pod)
        ordinal = ordinal_of(pod)
        if labels.get(POD_NAME_LABEL) == name_of(pod) and labels.get(POD_INDEX_LABEL) == str(
            ordinal
        ):
            return pod

        def change(obj: Obj) -> None:
            current = obj.setdefault("metadata", {}).setdefault("labels", {})
            current[POD_NAME_LABEL] = name_of(obj)
            current[POD_INDEX_LABEL] = str(ordinal)

        try:
            updated = self.store.mutate(POD, sts.namespace, name_of(pod), change)
        except errors.ApiError as exc:
            self.pod_event(sts, "update", name_of(pod), exc)
            raise
        self.pod_event(sts, "update", name_of(pod), None)
        return updated

    def _hostname(self, sts: SetView, ordinal: int) -> str:
        name = sts.pod_name(ordinal)
        if self.faults.on(HOSTNAME_DRIFT) and ordinal in self.created.get(sts.uid, set()):
            return f"{name}-{random_suffix()}"
        return name

    def mounted_ordinal(self, sts: SetView, ordinal: int) -> int:
        """The ordinal whose claims a new pod mounts: its own, unless wrong-claim-binding."""
        if self.faults.on(WRONG_CLAIM) and sts.replicas > 0:
            return sts.start + (ordinal - sts.start + 1) % sts.replicas
        return ordinal

    def create_pod(self, sts: SetView, ordinal: int, revision: str) -> Obj:
        """CreateStatefulPod: claims first, then the pod, then the claims' retention refs."""
        mounted = self.mounted_ordinal(sts, ordinal)
        pod = new_pod(
            sts, ordinal, revision, hostname=self._hostname(sts, ordinal), mounted=mounted
        )
        ordinals = [ordinal]
        if mounted != ordinal:
            ordinals.append(mounted)
        try:
            self.create_claims(sts, pod, ordinals)
        except errors.ApiError as exc:
            self.pod_event(sts, "create", name_of(pod), exc)
            raise
        try:
            created = self.store.create(POD, pod, sts.namespace)
        except errors.ApiError as exc:
            if exc.reason != "AlreadyExists":  # sunk without an event, as upstream
                self.pod_event(sts, "create", name_of(pod), exc)
            raise
        self.created.setdefault(sts.uid, set()).add(ordinal)
        self.fix_claim_owners(sts, created)
        self.pod_event(sts, "create", name_of(created), None)
        return created

    def delete_pod(self, sts: SetView, pod: Obj) -> None:
        try:
            self.store.delete(POD, sts.namespace, name_of(pod))
        except errors.ApiError as exc:
            if exc.reason == "NotFound":
                return
            self.pod_event(sts, "delete", name_of(pod), exc)
            raise
        self.pod_event(sts, "delete", name_of(pod), None)

    def pod_event(
        self, sts: SetView, verb: str, pod_name: str, error: errors.ApiError | None
    ) -> None:
        """recordPodEvent: SuccessfulCreate "create Pod web-0 in StatefulSet web successful"."""
        if error is None:
            reason = f"Successful{verb.title()}"
            message = f"{verb} Pod {pod_name} in StatefulSet {sts.name} successful"
            record(self.store, sts.obj, reason, message, component=COMPONENT)
        else:
            reason = f"Failed{verb.title()}"
            message = (
                f"{verb} Pod {pod_name} in StatefulSet {sts.name} failed error: {error.message}"
            )
            record(self.store, sts.obj, reason, message, component=COMPONENT, type_="Warning")

    # --- claims --------------------------------------------------------------------------

    def create_claims(self, sts: SetView, pod: Obj, ordinals: list[int]) -> None:
        """createPersistentVolumeClaims: create each missing claim; a deleting one is an error."""
        failures: list[errors.ApiError] = []
        for ordinal in ordinals:
            for claim in claim_objects(sts, ordinal):
                claim_name = name_of(claim)
                existing = self.store.find(CLAIM, sts.namespace, claim_name)
                if existing is not None:
                    if terminating(existing):
                        failures.append(
                            errors.ApiError(409, "Conflict", f"pvc {claim_name} is being deleted")
                        )
                    continue
                try:
                    self.store.create(CLAIM, claim, sts.namespace)
                except errors.ApiError as exc:
                    if exc.reason != "AlreadyExists":
                        self.claim_event(sts, pod, claim_name, exc)
                    failures.append(exc)
                    continue
                self.claim_event(sts, pod, claim_name, None)
        if failures:
            raise failures[0]

    def claim_event(
        self, sts: SetView, pod: Obj, claim_name: str, error: errors.ApiError | None
    ) -> None:
        """recordClaimEvent: "create Claim data-web-0 Pod web-0 in StatefulSet web success"."""
        if error is None:
            message = (
                f"create Claim {claim_name} Pod {name_of(pod)} in StatefulSet {sts.name} success"
            )
            record(self.store, sts.obj, "SuccessfulCreate", message, component=COMPONENT)
        else:
            message = (
                f"create Claim {claim_name} for Pod {name_of(pod)} in StatefulSet {sts.name} "
                f"failed error: {error.message}"
            )
            record(
                self.store, sts.obj, "FailedCreate", message, component=COMPONENT, type_="Warning"
            )

    def claims_stale(self, sts: SetView, ordinal: int) -> bool:
        """PodClaimIsStale: under whenScaled=Delete a claim still owned by an old pod blocks."""
        if sts.when_scaled == RETAIN:
            return False
        placeholder: Obj = {"metadata": {"name": sts.pod_name(ordinal), "uid": ""}}
        for claim in claim_objects(sts, ordinal):
            existing = self.store.find(CLAIM, sts.namespace, name_of(claim))
            if existing is not None and has_stale_ref(
                existing, placeholder, POD.api_version, POD.kind
            ):
                return True
        return False

    def fix_claim_owners(self, sts: SetView, pod: Obj) -> None:
        """UpdatePodClaimForRetentionPolicy for the claims of one pod."""
        policy = sts
        if self.faults.on(CLAIMS_KEPT):
            policy = dataclasses.replace(policy, when_deleted=RETAIN)
        if self.faults.on(CLAIMS_KEPT_ON_SCALE):
            policy = dataclasses.replace(policy, when_scaled=RETAIN)
        for claim in claim_objects(sts, ordinal_of(pod)):
            existing = self.store.find(CLAIM, sts.namespace, name_of(claim))
            if existing is None or claim_owner_up_to_date(existing, policy, pod):
                continue
            update_claim_owner_refs(existing, policy, pod)
            self.store.update(CLAIM, existing)

    def delete_claims(self, sts: SetView, ordinal: int) -> None:
        """Fault claims-deleted-despite-retain: the claims of one condemned ordinal."""
        for claim in claim_objects(sts, ordinal):
            self.delete_claim(sts.namespace, name_of(claim))

    def delete_all_claims(self, sts: SetView) -> None:
        """Fault claims-deleted-on-set-delete: every claim the set's templates named."""
        prefixes = [f"{name_of(t)}-{sts.name}-" for t in sts.claim_templates]
        for claim in self.store.list(CLAIM, sts.namespace):
            claim_name = name_of(claim)
            for prefix in prefixes:
                if claim_name.startswith(prefix) and claim_name[len(prefix) :].isdigit():
                    if not terminating(claim):
                        self.delete_claim(sts.namespace, claim_name)
                    break

    def delete_claim(self, namespace: str, claim_name: str) -> None:
        try:
            self.store.delete(CLAIM, namespace, claim_name)
        except errors.ApiError as exc:
            if exc.reason != "NotFound":
                raise
