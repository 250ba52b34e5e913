"""The StatefulSet controller loop, after upstream's stateful_set.go.

:class:`StatefulSetController` turns store events into set keys (a pod or claim event
wakes the set that owns or would own it), and one reconcile is one ``sync``: claim the
pods (adopt orphans that match the selector, release owned pods that no longer do),
list and adopt ControllerRevisions, then hand over to :class:`StatefulSetControl`
(control.py) for the update round, and requeue while pods wait out minReadySeconds.

Faults are read at the moment of acting, so switching them at run time takes effect
on the next reconcile. ``claims-deleted-on-set-delete`` acts here too: once a set is
gone (deleted in the background), the claims its templates named are deleted.
"""

from __future__ import annotations

from collections.abc import Iterable

from conformance.sim.api import errors
from conformance.sim.api.kinds import Kind
from conformance.sim.api.store import Event, Obj, Store, key_of
from conformance.sim.controllers.base import Controller, QueueKey
from conformance.sim.controllers.statefulset.control import (
    CLAIMS_DELETED_ON_DELETE,
    StatefulSetControl,
)
from conformance.sim.controllers.statefulset.pod_control import StatefulPodControl
from conformance.sim.controllers.statefulset.utils import (
    CLAIM,
    COMPONENT,
    POD,
    REVISION,
    STATEFUL_SET,
    SetView,
    controller_ref,
    labels_of,
    meta_of,
    name_of,
    new_controller_ref,
    owner_refs,
    parent_and_ordinal,
    revision_number,
    terminating,
    uid_of,
)
from conformance.sim.faults import ActiveFaults


class StatefulSetController(Controller):
    """kube-controller-manager's statefulset-controller over the simulated store."""

    name = COMPONENT

    def __init__(self, store: Store, faults: ActiveFaults) -> None:
        super().__init__(store)
        self.faults = faults
        self.pods = StatefulPodControl(store, faults)
        self.control = StatefulSetControl(store, faults, self.pods)
        self._tombstones: dict[QueueKey, Obj] = {}  # deleted sets, for the claims fault

    # --- events -> keys ------------------------------------------------------------------

    def keys_for(self, event: Event) -> Iterable[QueueKey]:
        if event.kind == STATEFUL_SET:
            key = key_of(event.object)
            if event.type == "DELETED":
                self._tombstones[key] = event.object
            return [key]
        if event.kind == POD:
            return self._keys_for_pod(event)
        if event.kind == CLAIM:
            return self._keys_for_claim(event.object)
        if event.kind == REVISION:
            ref = controller_ref(event.object)
            if ref is not None and ref.get("kind") == STATEFUL_SET.kind:
                return [(key_of(event.object)[0], str(ref.get("name") or ""))]
        return ()

    def _keys_for_pod(self, event: Event) -> set[QueueKey]:
        namespace = key_of(event.object)[0]
        keys: set[QueueKey] = set()
        for pod in (event.object, event.old):
            if pod is None:
                continue
            ref = controller_ref(pod)
            if ref is not None:
                api_version = str(ref.get("apiVersion", ""))
                if ref.get("kind") == STATEFUL_SET.kind and api_version.startswith("apps/"):
                    keys.add((namespace, str(ref.get("name") or "")))
                continue
            for obj in self.store.list(STATEFUL_SET, namespace):
                if SetView.of(obj).selects(labels_of(pod)):
                    keys.add(key_of(obj))
        return keys

    def _keys_for_claim(self, claim: Obj) -> set[QueueKey]:
        namespace, claim_name = key_of(claim)
        keys: set[QueueKey] = set()
        for ref in owner_refs(claim):
            if ref.get("kind") == STATEFUL_SET.kind:
                keys.add((namespace, str(ref.get("name") or "")))
        for obj in self.store.list(STATEFUL_SET, namespace):
            sts = SetView.of(obj)
            prefixes = [f"{name_of(t)}-{sts.name}-" for t in sts.claim_templates]
            for prefix in prefixes:
                rest = claim_name[len(prefix) :]
                if claim_name.startswith(prefix) and rest.isdigit():
                    keys.add(key_of(obj))
        return keys

    def all_keys(self) -> Iterable[QueueKey]:
        return [key_of(obj) for obj in self.store.list(STATEFUL_SET)]

    # --- reconcile -----------------------------------------------------------------------

    async def reconcile(self, key: QueueKey) -> None:
        """sync: claim the pods and revisions, then one round of the update algorithm."""
        namespace, name = key
        obj = self.store.find(STATEFUL_SET, namespace, name)
        if obj is None:
            tombstone = self._tombstones.pop(key, None)
            if tombstone is not None:
                self.pods.forget(uid_of(tombstone))
                if self.faults.on(CLAIMS_DELETED_ON_DELETE):
                    self.pods.delete_all_claims(SetView.of(tombstone))
            return
        self._tombstones.pop(key, None)
        sts = SetView.of(obj)
        revisions = self._revisions(sts)
        pods = self._claim_pods(sts)
        status = self.control.update(sts, pods, revisions)
        waiting = status.get("readyReplicas", 0) != status.get("availableReplicas", 0)
        if not sts.deleting and sts.min_ready_seconds > 0 and waiting:
            self.enqueue_after(key, float(sts.min_ready_seconds))

    # --- pods: adoption and release ------------------------------------------------------

    def _claim_pods(self, sts: SetView) -> list[Obj]:
        """ControllerRefManager.ClaimPods, filtered by isMemberOf (the pod's name pattern)."""
        owned: list[Obj] = []
        for pod in self.store.list(POD, sts.namespace):
            member = parent_and_ordinal(name_of(pod))[0] == sts.name
            matches = member and sts.selects(labels_of(pod))
            ref = controller_ref(pod)
            if ref is not None:
                if ref.get("uid") != sts.uid:
                    continue
                if matches:
                    owned.append(pod)
                elif not sts.deleting:
                    self._release(sts, pod)
                continue
            if not matches or sts.deleting or terminating(pod):
                continue
            adopted = self._adopt(sts, POD, pod)
            if adopted is not None:
                owned.append(adopted)
        return owned

    def _adopt(self, sts: SetView, kind: Kind, obj: Obj) -> Obj | None:
        uid = uid_of(obj)
        fresh = self.store.find(STATEFUL_SET, sts.namespace, sts.name)
        if fresh is None or uid_of(fresh) != sts.uid or terminating(fresh):
            return None  # canAdopt: the set must still be the same live object

        def change(current: Obj) -> None:
            if uid_of(current) != uid or controller_ref(current) is not None:
                raise errors.conflict(kind, name_of(current), "the object changed while adopting")
            refs = current.setdefault("metadata", {}).setdefault("ownerReferences", [])
            refs.append(new_controller_ref(sts.obj, STATEFUL_SET.api_version, STATEFUL_SET.kind))

        try:
            adopted: Obj = self.store.mutate(kind, sts.namespace, name_of(obj), change)
        except errors.ApiError as exc:
            if exc.reason == "NotFound":
                return None
            raise
        return adopted

    def _release(self, sts: SetView, pod: Obj) -> None:
        def change(current: Obj) -> None:
            m = current.setdefault("metadata", {})
            refs = [ref for ref in m.get("ownerReferences") or [] if ref.get("uid") != sts.uid]
            if refs:
                m["ownerReferences"] = refs
            else:
                m.pop("ownerReferences", None)

        try:
            self.store.mutate(POD, sts.namespace, name_of(pod), change)
        except errors.ApiError as exc:
            if exc.reason != "NotFound":
                raise

    # --- revisions -----------------------------------------------------------------------

    def _revisions(self, sts: SetView) -> list[Obj]:
        """ListRevisions + AdoptOrphanRevisions, sorted by revision number."""
        owned: list[Obj] = []
        for revision in self.store.list(REVISION, sts.namespace):
            ref = controller_ref(revision)
            if ref is not None:
                if ref.get("uid") == sts.uid:
                    owned.append(revision)
                continue
            if sts.deleting or not sts.selects(labels_of(revision)):
                continue
            adopted = self._adopt(sts, REVISION, revision)
            if adopted is not None:
                owned.append(adopted)
        owned.sort(
            key=lambda r: (revision_number(r), str(meta_of(r).get("creationTimestamp")), name_of(r))
        )
        return owned
