"""The update algorithm of the StatefulSet controller, after stateful_set_control.go.

:class:`StatefulSetControl` runs one ``UpdateStatefulSet`` round: pick the current and
update ControllerRevisions, create missing ordinals (claims first, then the pod),
recreate failed pods, restore identity and the claims' retention references, delete
condemned ordinals, roll pods to the update revision, write the status and trim the
revision history.

OrderedReady ("monotonic" upstream) stops at the first pod that is not Running and
Ready or is terminating; Parallel ("burst") acts on every ordinal in one pass. Faults
that break ordering or retention act here:

- ``unordered-scale``: OrderedReady creates missing ordinals highest first without
  waiting for readiness, and scale-down deletes the condemned pods lowest first, at once;
- ``claims-deleted-despite-retain``: the claims of a condemned ordinal are deleted with
  its pod on scale-down, whatever whenScaled says;
- ``claims-deleted-on-set-delete``: a set being deleted (foreground) has all its claims
  deleted, whatever whenDeleted says (controller.py does the same once the set is gone).
- ``update-ignores-partition``: a rolling update replaces the pods below the partition too
  (and a missing pod below it comes back at the update revision);
- ``update-forward-order``: a rolling update replaces pods lowest ordinal first;
- ``update-all-at-once``: a rolling update deletes every outdated pod in one round,
  without waiting for the replaced ones to be Ready (beyond any maxUnavailable).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from conformance.sim.api import errors
from conformance.sim.api.store import Obj, Store
from conformance.sim.controllers.statefulset.pod_control import StatefulPodControl
from conformance.sim.controllers.statefulset.status import compute_status, write_status
from conformance.sim.controllers.statefulset.utils import (
    REVISION,
    REVISION_LABEL,
    STATEFUL_SET,
    SetView,
    available,
    labels_of,
    meta_of,
    name_of,
    new_controller_ref,
    ordinal_of,
    phase_of,
    revision_data,
    revision_hash,
    revision_number,
    revision_template,
    terminating,
    unavailable,
)
from conformance.sim.faults import ActiveFaults

UNORDERED_SCALE = "unordered-scale"
CLAIMS_DELETED_ON_SCALE = "claims-deleted-despite-retain"
CLAIMS_DELETED_ON_DELETE = "claims-deleted-on-set-delete"
UPDATE_IGNORES_PARTITION = "update-ignores-partition"
UPDATE_FORWARD_ORDER = "update-forward-order"
UPDATE_ALL_AT_ONCE = "update-all-at-once"


class _Blocked(Exception):
    """Monotonic processing must stop for this round (upstream's ``shouldExit``)."""


class StatefulSetControl:
    """defaultStatefulSetControl: decides what to create, delete and update, in what order."""

    def __init__(self, store: Store, faults: ActiveFaults, pods: StatefulPodControl) -> None:
        self.store = store
        self.faults = faults
        self.pods = pods

    def update(self, sts: SetView, pods: list[Obj], revisions: list[Obj]) -> dict[str, Any]:
        """UpdateStatefulSet: one round over the set's pods; returns the status it wrote.

        ``pods`` are the set's claimed pods, ``revisions`` its ControllerRevisions sorted
        by revision number (the controller lists and adopts both).
        """
        current_rev, update_rev, collisions = self._current_and_update(sts, revisions)
        current_set = sts.with_template(revision_template(current_rev))
        update_set = sts.with_template(revision_template(update_rev))
        now = datetime.now(timezone.utc)

        replicas: list[Obj | None] = [None] * max(sts.replicas, 0)
        condemned: list[Obj] = []
        for pod in pods:
            ordinal = ordinal_of(pod)
            if sts.in_range(ordinal):
                replicas[ordinal - sts.start] = pod
            elif ordinal >= 0:
                condemned.append(pod)
        condemned.sort(key=ordinal_of, reverse=True)

        status = compute_status(sts, pods, current_rev, update_rev, collisions, now)
        try:
            if sts.deleting:
                if self.faults.on(CLAIMS_DELETED_ON_DELETE):
                    self.pods.delete_all_claims(sts)
                return status
            self._update_pods(
                sts, current_set, update_set, current_rev, update_rev, replicas, condemned, status
            )
        except _Blocked:
            pass
        finally:
            write_status(self.store, sts, status)
            self._truncate_history(sts, pods, revisions, current_rev, update_rev)
        return status

    def _update_pods(
        self,
        sts: SetView,
        current_set: SetView,
        update_set: SetView,
        current_rev: Obj,
        update_rev: Obj,
        replicas: list[Obj | None],
        condemned: list[Obj],
        status: dict[str, Any],
    ) -> None:
        """updateStatefulSet of stateful_set_control.go, after the status was computed."""
        now = datetime.now(timezone.utc)
        unordered = not sts.parallel and self.faults.on(UNORDERED_SCALE)
        monotonic = not sts.parallel and not unordered

        first_unavailable: Obj | None = None
        for pod in [*replicas, *reversed(condemned)]:
            if pod is not None and unavailable(pod, sts.min_ready_seconds, now):
                first_unavailable = pod
                break

        order = range(len(replicas))
        for index in reversed(order) if unordered else order:
            replicas[index] = self._process_replica(
                sts, current_set, update_set, current_rev, update_rev, replicas, index, monotonic
            )

        for pod in condemned:
            self.pods.fix_claim_owners(update_set, pod)

        victims = sorted(condemned, key=ordinal_of) if unordered else condemned
        for pod in victims:
            self._process_condemned(sts, pod, first_unavailable, monotonic, now)

        if sts.update_type == "OnDelete":
            return
        self._roll(sts, update_rev, replicas, status, now)

    def _roll(
        self,
        sts: SetView,
        update_rev: Obj,
        replicas: list[Obj | None],
        status: dict[str, Any],
        now: datetime,
    ) -> None:
        """The rolling update: from the highest ordinal down to the partition, delete the
        first pod not at the update revision, or wait for the first unhealthy one: one pod
        at a time (maxUnavailable never reaches here: the API server drops it, as 1.32 does
        without the MaxUnavailableStatefulSet gate)."""
        update_min = 0 if self.faults.on(UPDATE_IGNORES_PARTITION) else sts.partition or 0
        targets = range(len(replicas) - 1, update_min - 1, -1)
        if self.faults.on(UPDATE_FORWARD_ORDER):
            targets = range(update_min, len(replicas))
        burst = self.faults.on(UPDATE_ALL_AT_ONCE)
        for target in targets:
            pod = replicas[target]
            if pod is None:
                return
            revision = labels_of(pod).get(REVISION_LABEL, "")
            if revision != name_of(update_rev) and not terminating(pod):
                self.pods.delete_pod(sts, pod)
                status["currentReplicas"] = max(status.get("currentReplicas", 0) - 1, 0)
                if burst:
                    continue
                return
            if unavailable(pod, sts.min_ready_seconds, now) and not burst:
                return

    # --- replicas ------------------------------------------------------------------------

    def _process_replica(
        self,
        sts: SetView,
        current_set: SetView,
        update_set: SetView,
        current_rev: Obj,
        update_rev: Obj,
        replicas: list[Obj | None],
        index: int,
        monotonic: bool,
    ) -> Obj | None:
        """processReplica: returns the pod now in this slot; raises _Blocked to stop the round."""
        pod = replicas[index]
        ordinal = sts.start + index
        if pod is not None and phase_of(pod) in ("Failed", "Succeeded"):
            if not terminating(pod):
                self.pods.delete_pod(sts, pod)
            if monotonic:
                raise _Blocked
            return pod
        if pod is None:
            # newVersionedStatefulSetPod: ordinals below the partition stay at the current revision
            use_current = (
                sts.partition is not None
                and ordinal < sts.start + sts.partition
                and not self.faults.on(UPDATE_IGNORES_PARTITION)
            )
            source, revision = (
                (current_set, current_rev) if use_current else (update_set, update_rev)
            )
            if self.pods.claims_stale(source, ordinal):
                raise _Blocked
            created = self.pods.create_pod(source, ordinal, name_of(revision))
            if monotonic:
                raise _Blocked
            return created
        if phase_of(pod) in ("", "Pending") and not terminating(pod):
            self.pods.create_claims(sts, pod, [ordinal])
            self.pods.fix_claim_owners(update_set, pod)
        if monotonic and (
            terminating(pod)
            or not available(pod, sts.min_ready_seconds, datetime.now(timezone.utc))
        ):
            raise _Blocked
        if not terminating(pod):
            pod = self.pods.update_identity(update_set, pod)
        return pod

    # --- condemned -----------------------------------------------------------------------

    def _process_condemned(
        self, sts: SetView, pod: Obj, first_unavailable: Obj | None, monotonic: bool, now: datetime
    ) -> None:
        """processCondemned: in monotonic mode one deletion per round, highest ordinal first."""
        if terminating(pod):
            if monotonic:
                raise _Blocked
            return
        if (
            monotonic
            and not available(pod, sts.min_ready_seconds, now)
            and (first_unavailable is None or name_of(pod) != name_of(first_unavailable))
        ):
            raise _Blocked
        self.pods.delete_pod(sts, pod)
        if self.faults.on(CLAIMS_DELETED_ON_SCALE):
            self.pods.delete_claims(sts, ordinal_of(pod))
        if monotonic:
            raise _Blocked

    # --- revisions -----------------------------------------------------------------------

    def _current_and_update(self, sts: SetView, revisions: list[Obj]) -> tuple[Obj, Obj, int]:
        """getStatefulSetRevisions: find, roll back to, or create the update revision."""
        status = sts.obj.get("status") or {}
        collisions = int(status.get("collisionCount") or 0)
        data = revision_data(sts.template)
        next_number = revision_number(revisions[-1]) + 1 if revisions else 1
        equal = [r for r in revisions if r.get("data") == data]
        if equal and name_of(equal[-1]) == name_of(revisions[-1]):
            update = revisions[-1]
        elif equal:
            number = next_number

            def bump(obj: Obj) -> None:
                obj["revision"] = number

            update = self.store.mutate(REVISION, sts.namespace, name_of(equal[-1]), bump)
            revisions[revisions.index(equal[-1])] = update
        else:
            update, collisions = self._create_revision(sts, data, next_number, collisions)
            revisions.append(update)
        current = next(
            (r for r in revisions if name_of(r) == status.get("currentRevision")),
            update,
        )
        return current, update, collisions

    def _create_revision(
        self, sts: SetView, data: dict[str, Any], number: int, collisions: int
    ) -> tuple[Obj, int]:
        """history.NewControllerRevision + CreateControllerRevision (collision probing)."""
        labels = dict((sts.template.get("metadata") or {}).get("labels") or {})
        labels[REVISION_LABEL] = revision_hash(data, collisions)
        metadata: dict[str, Any] = {
            "namespace": sts.namespace,
            "labels": labels,
            "ownerReferences": [
                new_controller_ref(sts.obj, STATEFUL_SET.api_version, STATEFUL_SET.kind)
            ],
        }
        annotations = meta_of(sts.obj).get("annotations")
        if annotations:
            metadata["annotations"] = dict(annotations)
        while True:
            metadata["name"] = f"{sts.name[:223]}-{revision_hash(data, collisions)}"
            body = {"metadata": metadata, "data": data, "revision": number}
            try:
                return self.store.create(REVISION, body, sts.namespace), collisions
            except errors.ApiError as exc:
                if exc.reason != "AlreadyExists":
                    raise
            existing = self.store.get(REVISION, sts.namespace, metadata["name"])
            if existing.get("data") == data:
                return existing, collisions
            collisions += 1

    def _truncate_history(
        self, sts: SetView, pods: list[Obj], revisions: list[Obj], current: Obj, update: Obj
    ) -> None:
        if sts.history_limit < 0:
            return
        live = {name_of(current), name_of(update)} | {
            labels_of(p).get(REVISION_LABEL, "") for p in pods
        }
        history = [r for r in revisions if name_of(r) not in live]
        for revision in history[: max(len(history) - sts.history_limit, 0)]:
            try:
                self.store.delete(REVISION, sts.namespace, name_of(revision))
            except errors.ApiError as exc:
                if exc.reason != "NotFound":
                    raise
