"""The StatefulSet controller, after kube-controller-manager's pkg/controller/statefulset.

One reconcile is one ``sync`` of upstream's StatefulSetController: claim the pods
(adopt orphans that match the selector, release owned pods that no longer do), pick
the current and update ControllerRevisions, then run ``UpdateStatefulSet`` of
stateful_set_control.go: create missing ordinals (claims first, then the pod), recreate
failed pods, enforce identity and the claim retention policy, delete condemned ordinals,
roll pods to the update revision, and write the status through the status subresource.

OrderedReady ("monotonic" upstream) stops at the first pod that is not Running and
Ready or is terminating; Parallel ("burst") acts on every ordinal in one pass. The
faults of conformance.sim.faults that concern this controller are read at the moment
of acting, so switching them at run time takes effect on the next reconcile:

- ``unordered-scale``: OrderedReady creates missing ordinals highest first without
  waiting for readiness, and scale-down deletes the condemned pods lowest first, at once;
- ``claims-deleted-despite-retain``: claims of scaled-down pods and of deleted sets are
  deleted whatever the retention policy says;
- ``wrong-claim-binding``: the pod of ordinal n mounts the claim of ordinal
  (n + 1) % replicas (the claims of both ordinals are still created);
- ``hostname-drift``: a pod created again for an ordinal this controller created
  before gets ``spec.hostname`` ``<set>-<ordinal>-<5 random characters>``.

Not modelled: maxUnavailable (KEP-961, alpha), the StatefulSetStartOrdinal and
PodIndexLabel feature gates (both treated as on), rewriting the volumes of existing
pods (the real API rejects pod spec changes anyway).
"""

from __future__ import annotations

import copy
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from conformance.sim.api import errors
from conformance.sim.api.kinds import Kind
from conformance.sim.api.selectors import SelectorError, from_label_selector_object
from conformance.sim.api.store import Event, Obj, Store, key_of, kind_named, parse_rfc3339
from conformance.sim.controllers.base import Controller, QueueKey
from conformance.sim.controllers.events import record
from conformance.sim.faults import ActiveFaults

STATEFUL_SET = kind_named("StatefulSet")
POD = kind_named("Pod")
CLAIM = kind_named("PersistentVolumeClaim")
REVISION = kind_named("ControllerRevision")

COMPONENT = "statefulset-controller"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = "controller-revision-hash"

RETAIN = "Retain"
DELETE = "Delete"

UNORDERED_SCALE = "unordered-scale"
CLAIMS_DELETED = "claims-deleted-despite-retain"
WRONG_CLAIM = "wrong-claim-binding"
HOSTNAME_DRIFT = "hostname-drift"

_POD_NAME = re.compile(r"^(.*)-([0-9]+)$")
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand
_MAX_INT32 = 2**31 - 1


# --- small helpers on plain objects -------------------------------------------------------


def _meta(obj: Obj) -> dict[str, Any]:
    value: dict[str, Any] = obj.get("metadata") or {}
    return value


def _labels(obj: Obj) -> dict[str, str]:
    value: dict[str, str] = _meta(obj).get("labels") or {}
    return value


def _uid(obj: Obj) -> str:
    return str(_meta(obj).get("uid") or "")


def _name(obj: Obj) -> str:
    return str(_meta(obj).get("name") or "")


def _terminating(obj: Obj) -> bool:
    return bool(_meta(obj).get("deletionTimestamp"))


def _owner_refs(obj: Obj) -> list[dict[str, Any]]:
    value: list[dict[str, Any]] = _meta(obj).get("ownerReferences") or []
    return value


def _controller_ref(obj: Obj) -> dict[str, Any] | None:
    for ref in _owner_refs(obj):
        if ref.get("controller"):
            return ref
    return None


def _new_controller_ref(owner: Obj, api_version: str, kind: str) -> dict[str, Any]:
    """metav1.NewControllerRef: controller and blockOwnerDeletion both true."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": _name(owner),
        "uid": _uid(owner),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def parent_and_ordinal(name: str) -> tuple[str, int]:
    """getParentNameAndOrdinal: ``web-2`` -> ("web", 2); no ordinal -> ("", -1)."""
    match = _POD_NAME.match(name)
    if match is None:
        return "", -1
    ordinal = int(match.group(2))
    return match.group(1), ordinal if ordinal <= _MAX_INT32 else -1


def _ordinal(pod: Obj) -> int:
    return parent_and_ordinal(_name(pod))[1]


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def _ready_condition(pod: Obj) -> dict[str, Any] | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            value: dict[str, Any] = condition
            return value
    return None


def running_and_ready(pod: Obj) -> bool:
    """isRunningAndReady: phase Running and the Ready condition True."""
    condition = _ready_condition(pod)
    return _phase(pod) == "Running" and condition is not None and condition.get("status") == "True"


def _available(pod: Obj, min_ready_seconds: int, now: datetime) -> bool:
    """podutil.IsPodAvailable: Ready for at least minReadySeconds."""
    if not running_and_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    condition = _ready_condition(pod) or {}
    try:
        since = parse_rfc3339(str(condition.get("lastTransitionTime") or ""))
    except ValueError:
        return True
    return since + timedelta(seconds=min_ready_seconds) <= now


def _unavailable(pod: Obj | None, min_ready_seconds: int, now: datetime) -> bool:
    """isUnavailable: not created, terminating, or not (yet) available."""
    return pod is None or _terminating(pod) or not _available(pod, min_ready_seconds, now)


def _go_json(value: Any) -> bytes:
    """encoding/json output: sorted map keys, compact, HTML characters escaped."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text.encode()


def revision_hash(data: Any, collision_count: int) -> str:
    """history.HashControllerRevision: FNV-1 32 of the data and the probe, safely encoded."""
    value = 0x811C9DC5
    for byte in _go_json(data) + str(collision_count).encode():
        value = ((value * 0x01000193) & 0xFFFFFFFF) ^ byte
    return "".join(_SAFE_ALPHABET[ord(c) % len(_SAFE_ALPHABET)] for c in str(value))


def _random_suffix() -> str:
    return "".join(secrets.choice(_SAFE_ALPHABET) for _ in range(5))


# --- the set, with the defaults the API server would have applied -------------------------


@dataclass
class _Set:
    obj: Obj
    namespace: str
    name: str
    uid: str
    replicas: int
    start: int
    service_name: str
    selector: dict[str, Any] | None
    template: dict[str, Any]
    claim_templates: list[dict[str, Any]]
    parallel: bool
    update_type: str
    partition: int | None  # None when spec.updateStrategy.rollingUpdate is absent
    history_limit: int
    min_ready_seconds: int
    when_deleted: str
    when_scaled: str
    deleting: bool

    @classmethod
    def of(cls, obj: Obj) -> _Set:
        spec: dict[str, Any] = obj.get("spec") or {}
        m = _meta(obj)
        strategy = spec.get("updateStrategy") or {}
        update_type = strategy.get("type") or "RollingUpdate"
        rolling = strategy.get("rollingUpdate")
        partition: int | None = None
        if rolling is not None:
            partition = int(rolling.get("partition") or 0)
        elif update_type == "RollingUpdate":
            partition = 0  # what the API server defaults rollingUpdate to
        policy = spec.get("persistentVolumeClaimRetentionPolicy") or {}
        replicas = spec.get("replicas")
        history = spec.get("revisionHistoryLimit")
        return cls(
            obj=obj,
            namespace=str(m.get("namespace") or ""),
            name=str(m.get("name") or ""),
            uid=str(m.get("uid") or ""),
            replicas=1 if replicas is None else int(replicas),
            start=int((spec.get("ordinals") or {}).get("start") or 0),
            service_name=str(spec.get("serviceName") or ""),
            selector=spec.get("selector"),
            template=spec.get("template") or {},
            claim_templates=list(spec.get("volumeClaimTemplates") or []),
            parallel=spec.get("podManagementPolicy") == "Parallel",
            update_type=update_type,
            partition=partition,
            history_limit=10 if history is None else int(history),
            min_ready_seconds=int(spec.get("minReadySeconds") or 0),
            when_deleted=policy.get("whenDeleted") or RETAIN,
            when_scaled=policy.get("whenScaled") or RETAIN,
            deleting=bool(m.get("deletionTimestamp")),
        )

    @property
    def end(self) -> int:
        """getEndOrdinal, inclusive."""
        return self.start + self.replicas - 1

    def in_range(self, ordinal: int) -> bool:
        return self.start <= ordinal <= self.end

    def selects(self, labels: dict[str, str] | None) -> bool:
        """A nil selector selects nothing, an empty one everything (LabelSelectorAsSelector)."""
        if self.selector is None:
            return False
        try:
            return from_label_selector_object(self.selector).matches(labels or {})
        except SelectorError:
            return False

    def match_labels(self) -> dict[str, str]:
        value: dict[str, str] = (self.selector or {}).get("matchLabels") or {}
        return value

    def pod_name(self, ordinal: int) -> str:
        return f"{self.name}-{ordinal}"

    def claim_name(self, template: dict[str, Any], ordinal: int) -> str:
        return f"{_name(template)}-{self.name}-{ordinal}"

    def with_template(self, template: dict[str, Any]) -> _Set:
        """ApplyRevision: the set with the pod template a revision recorded."""
        obj = copy.deepcopy(self.obj)
        obj.setdefault("spec", {})["template"] = copy.deepcopy(template)
        return _Set.of(obj)


def _revision_data(template: dict[str, Any]) -> dict[str, Any]:
    """getPatch: the strategic merge patch that restores the pod template."""
    patch = copy.deepcopy(template)
    patch["$patch"] = "replace"
    return {"spec": {"template": patch}}


def _revision_template(revision: Obj) -> dict[str, Any]:
    template = copy.deepcopy(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    value: dict[str, Any] = template
    return value


def _revision_number(revision: Obj) -> int:
    return int(revision.get("revision") or 0)


# --- claim ownership, as stateful_set_utils.go (isClaimOwnerUpToDate and friends) ---------


def _matches_ref(ref: dict[str, Any], obj: Obj, api_version: str, kind: str) -> bool:
    return (
        ref.get("apiVersion") == api_version
        and ref.get("kind") == kind
        and ref.get("name") == _name(obj)
    )


def _set_ref(ref: dict[str, Any], sts: _Set) -> bool:
    return _matches_ref(ref, sts.obj, STATEFUL_SET.api_version, STATEFUL_SET.kind)


def _pod_ref(ref: dict[str, Any], pod: Obj) -> bool:
    return _matches_ref(ref, pod, POD.api_version, POD.kind)


def _has_owner(claim: Obj, owner: Obj) -> bool:
    uid = _uid(owner)
    return bool(uid) and any(ref.get("uid") == uid for ref in _owner_refs(claim))


def _has_stale_ref(claim: Obj, owner: Obj, api_version: str, kind: str) -> bool:
    """A reference to an object of this name and kind, but another uid."""
    for ref in _owner_refs(claim):
        if _matches_ref(ref, owner, api_version, kind):
            return ref.get("uid") != _uid(owner)
    return False


def _has_unexpected_controller(claim: Obj, sts: _Set, pod: Obj) -> bool:
    if sts.when_scaled == RETAIN and sts.when_deleted == RETAIN:
        return False
    for ref in _owner_refs(claim):
        if _set_ref(ref, sts):
            if ref.get("uid") != sts.uid:
                return True
            continue
        if _pod_ref(ref, pod):
            if ref.get("uid") != _uid(pod):
                return True
            continue
        if ref.get("controller"):
            return True
    return False


def _has_non_controller_owner(claim: Obj, sts: _Set, pod: Obj) -> bool:
    uids = {sts.uid, _uid(pod)} - {""}
    return any(ref.get("uid") in uids and not ref.get("controller") for ref in _owner_refs(claim))


def claim_owner_up_to_date(claim: Obj, sts: _Set, pod: Obj) -> bool:
    """isClaimOwnerUpToDate: do the claim's references follow the retention policy?

    Retain/Retain: no reference to the set or pod; whenDeleted=Delete: the set owns the
    claim (while the pod is in range, when whenScaled=Delete too); whenScaled=Delete: the
    pod owns the claim once its ordinal is condemned. Claims held by another controller,
    or by a previous incarnation of the set or pod, are left alone.
    """
    if _has_stale_ref(claim, sts.obj, STATEFUL_SET.api_version, STATEFUL_SET.kind):
        return True
    if _has_stale_ref(claim, pod, POD.api_version, POD.kind):
        return True
    if _has_unexpected_controller(claim, sts, pod):
        return not (_has_owner(claim, sts.obj) or _has_owner(claim, pod))
    if _has_non_controller_owner(claim, sts, pod):
        return False
    set_owned = _has_owner(claim, sts.obj)
    pod_owned = _has_owner(claim, pod)
    scaled_down = not sts.in_range(_ordinal(pod))
    if sts.when_scaled == DELETE and sts.when_deleted == DELETE:
        return scaled_down != set_owned and scaled_down == pod_owned
    if sts.when_scaled == DELETE:
        return not set_owned and scaled_down == pod_owned
    if sts.when_deleted == DELETE:
        return set_owned and not pod_owned
    return not set_owned and not pod_owned


def update_claim_owner_refs(claim: Obj, sts: _Set, pod: Obj) -> None:
    """updateClaimOwnerRefForSetAndPod: scrub our references, then add what the policy asks."""
    unexpected = _has_unexpected_controller(claim, sts, pod)
    refs = [ref for ref in _owner_refs(claim) if not (_set_ref(ref, sts) or _pod_ref(ref, pod))]
    if not unexpected:
        scaled_down = not sts.in_range(_ordinal(pod))
        wanted: list[tuple[Obj, str, str]] = []
        if sts.when_scaled == DELETE and scaled_down:
            wanted.append((pod, POD.api_version, POD.kind))
        if sts.when_deleted == DELETE and not (sts.when_scaled == DELETE and scaled_down):
            wanted.append((sts.obj, STATEFUL_SET.api_version, STATEFUL_SET.kind))
        for owner, api_version, kind in wanted:
            if not any(ref.get("uid") == _uid(owner) for ref in refs):
                refs.append(_new_controller_ref(owner, api_version, kind))
    m = claim.setdefault("metadata", {})
    if refs:
        m["ownerReferences"] = refs
    else:
        m.pop("ownerReferences", None)


# --- the controller ------------------------------------------------------------------------


class _Blocked(Exception):
    """Monotonic processing must stop for this round (upstream's ``shouldExit``)."""


class StatefulSetController(Controller):
    """kube-controller-manager's statefulset-controller over the simulated store."""

    name = COMPONENT

    def __init__(self, store: Store, faults: ActiveFaults) -> None:
        super().__init__(store)
        self.faults = faults
        self._tombstones: dict[QueueKey, Obj] = {}  # deleted sets, for the claims fault
        self._created: dict[str, set[int]] = {}  # set uid -> ordinals this controller created

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
            ref = _controller_ref(event.object)
            if ref is not None and ref.get("kind") == STATEFUL_SET.kind:
                return [(key_of(event.object)[0], str(ref.get("name") or ""))]
        return ()

    def _keys_for_pod(self, event: Event) -> set[QueueKey]:
        namespace = key_of(event.object)[0]
        keys: set[QueueKey] = set()
        for pod in (event.object, event.old):
            if pod is None:
                continue
            ref = _controller_ref(pod)
            if ref is not None:
                api_version = str(ref.get("apiVersion", ""))
                if ref.get("kind") == STATEFUL_SET.kind and api_version.startswith("apps/"):
                    keys.add((namespace, str(ref.get("name") or "")))
                continue
            for obj in self.store.list(STATEFUL_SET, namespace):
                if _Set.of(obj).selects(_labels(pod)):
                    keys.add(key_of(obj))
        return keys

    def _keys_for_claim(self, claim: Obj) -> set[QueueKey]:
        namespace, claim_name = key_of(claim)
        keys: set[QueueKey] = set()
        for ref in _owner_refs(claim):
            if ref.get("kind") == STATEFUL_SET.kind:
                keys.add((namespace, str(ref.get("name") or "")))
        for obj in self.store.list(STATEFUL_SET, namespace):
            sts = _Set.of(obj)
            prefixes = [f"{_name(t)}-{sts.name}-" for t in sts.claim_templates]
            for prefix in prefixes:
                rest = claim_name[len(prefix) :]
                if claim_name.startswith(prefix) and rest.isdigit():
                    keys.add(key_of(obj))
        return keys

    def all_keys(self) -> Iterable[QueueKey]:
        return [key_of(obj) for obj in self.store.list(STATEFUL_SET)]

    # --- reconcile -----------------------------------------------------------------------

    async def reconcile(self, key: QueueKey) -> None:
        namespace, name = key
        obj = self.store.find(STATEFUL_SET, namespace, name)
        if obj is None:
            tombstone = self._tombstones.pop(key, None)
            if tombstone is not None:
                self._created.pop(_uid(tombstone), None)
                if self.faults.on(CLAIMS_DELETED):
                    self._delete_all_claims(_Set.of(tombstone))
            return
        self._tombstones.pop(key, None)
        sts = _Set.of(obj)
        revisions = self._revisions(sts)
        pods = self._claim_pods(sts)
        self._sync(sts, pods, revisions)

    def _sync(self, sts: _Set, pods: list[Obj], revisions: list[Obj]) -> None:
        current_rev, update_rev, collisions = self._current_and_update(sts, revisions)
        current_set = sts.with_template(_revision_template(current_rev))
        update_set = sts.with_template(_revision_template(update_rev))
        now = datetime.now(timezone.utc)

        replicas: list[Obj | None] = [None] * max(sts.replicas, 0)
        condemned: list[Obj] = []
        for pod in pods:
            ordinal = _ordinal(pod)
            if sts.in_range(ordinal):
                replicas[ordinal - sts.start] = pod
            elif ordinal >= 0:
                condemned.append(pod)
        condemned.sort(key=_ordinal, reverse=True)

        status = self._status(sts, pods, current_rev, update_rev, collisions, now)
        try:
            if sts.deleting:
                if self.faults.on(CLAIMS_DELETED):
                    self._delete_all_claims(sts)
                return
            self._update_pods(
                sts, current_set, update_set, current_rev, update_rev, replicas, condemned, status
            )
        except _Blocked:
            pass
        finally:
            self._write_status(sts, status)
            self._truncate_history(sts, pods, revisions, current_rev, update_rev)
        if sts.min_ready_seconds > 0 and status.get("readyReplicas", 0) != status.get(
            "availableReplicas", 0
        ):
            self.enqueue_after((sts.namespace, sts.name), float(sts.min_ready_seconds))

    def _update_pods(
        self,
        sts: _Set,
        current_set: _Set,
        update_set: _Set,
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
            if pod is not None and _unavailable(pod, sts.min_ready_seconds, now):
                first_unavailable = pod
                break

        order = range(len(replicas))
        for index in reversed(order) if unordered else order:
            replicas[index] = self._process_replica(
                sts, current_set, update_set, current_rev, update_rev, replicas, index, monotonic
            )

        for pod in condemned:
            self._fix_claim_owners(update_set, pod)

        victims = sorted(condemned, key=_ordinal) if unordered else condemned
        for pod in victims:
            self._process_condemned(sts, pod, first_unavailable, monotonic, now)

        if sts.update_type == "OnDelete":
            return
        update_min = sts.partition or 0
        for target in range(len(replicas) - 1, update_min - 1, -1):
            pod = replicas[target]
            if pod is None:
                return
            revision = _labels(pod).get(REVISION_LABEL, "")
            if revision != _name(update_rev) and not _terminating(pod):
                self._delete_pod(sts, pod)
                status["currentReplicas"] = max(status.get("currentReplicas", 0) - 1, 0)
                return
            if _unavailable(pod, sts.min_ready_seconds, now):
                return

    # --- replicas ------------------------------------------------------------------------

    def _process_replica(
        self,
        sts: _Set,
        current_set: _Set,
        update_set: _Set,
        current_rev: Obj,
        update_rev: Obj,
        replicas: list[Obj | None],
        index: int,
        monotonic: bool,
    ) -> Obj | None:
        """processReplica: returns the pod now in this slot; raises _Blocked to stop the round."""
        pod = replicas[index]
        ordinal = sts.start + index
        if pod is not None and _phase(pod) in ("Failed", "Succeeded"):
            if not _terminating(pod):
                self._delete_pod(sts, pod)
            if monotonic:
                raise _Blocked
            return pod
        if pod is None:
            # newVersionedStatefulSetPod: ordinals below the partition stay at the current revision
            use_current = sts.partition is not None and ordinal < sts.start + sts.partition
            source, revision = (
                (current_set, current_rev) if use_current else (update_set, update_rev)
            )
            if self._claims_stale(source, ordinal):
                raise _Blocked
            created = self._create_pod(source, ordinal, _name(revision))
            if monotonic:
                raise _Blocked
            return created
        if _phase(pod) in ("", "Pending") and not _terminating(pod):
            self._create_claims(sts, pod, [ordinal])
            self._fix_claim_owners(update_set, pod)
        if monotonic and (
            _terminating(pod)
            or not _available(pod, sts.min_ready_seconds, datetime.now(timezone.utc))
        ):
            raise _Blocked
        if not _terminating(pod):
            pod = self._enforce_identity(update_set, pod)
        return pod

    def _enforce_identity(self, sts: _Set, pod: Obj) -> Obj:
        """UpdateStatefulPod: restore the identity labels and the claims' retention refs."""
        self._fix_claim_owners(sts, pod)
        labels = _labels(pod)
        ordinal = _ordinal(pod)
        if labels.get(POD_NAME_LABEL) == _name(pod) and labels.get(POD_INDEX_LABEL) == str(ordinal):
            return pod

        def change(obj: Obj) -> None:
            current = obj.setdefault("metadata", {}).setdefault("labels", {})
            current[POD_NAME_LABEL] = _name(obj)
            current[POD_INDEX_LABEL] = str(ordinal)

        try:
            updated = self.store.mutate(POD, sts.namespace, _name(pod), change)
        except errors.ApiError as exc:
            self._pod_event(sts, "update", _name(pod), exc)
            raise
        self._pod_event(sts, "update", _name(pod), None)
        return updated

    def _new_pod(self, sts: _Set, ordinal: int, revision: str) -> Obj:
        """newStatefulSetPod: the template, identity, storage and revision label."""
        template = copy.deepcopy(sts.template)
        tmeta: dict[str, Any] = template.get("metadata") or {}
        name = sts.pod_name(ordinal)
        labels = dict(tmeta.get("labels") or {})
        labels[POD_NAME_LABEL] = name
        labels[POD_INDEX_LABEL] = str(ordinal)
        labels[REVISION_LABEL] = revision
        metadata: dict[str, Any] = {
            "name": name,
            "generateName": f"{sts.name}-",
            "namespace": sts.namespace,
            "labels": labels,
            "ownerReferences": [
                _new_controller_ref(sts.obj, STATEFUL_SET.api_version, STATEFUL_SET.kind)
            ],
        }
        for field in ("annotations", "finalizers"):
            if tmeta.get(field):
                metadata[field] = copy.deepcopy(tmeta[field])
        spec: dict[str, Any] = copy.deepcopy(template.get("spec") or {})
        hostname = name
        if self.faults.on(HOSTNAME_DRIFT) and ordinal in self._created.get(sts.uid, set()):
            hostname = f"{name}-{_random_suffix()}"
        spec["hostname"] = hostname
        if sts.service_name:
            spec["subdomain"] = sts.service_name
        mounted = self._mounted_ordinal(sts, ordinal)
        claim_volumes = [
            {
                "name": _name(t),
                "persistentVolumeClaim": {"claimName": sts.claim_name(t, mounted)},
            }
            for t in sts.claim_templates
        ]
        names = {_name(t) for t in sts.claim_templates}
        others = [v for v in spec.get("volumes") or [] if v.get("name") not in names]
        if claim_volumes or others:
            spec["volumes"] = claim_volumes + others
        return {"metadata": metadata, "spec": spec}

    def _mounted_ordinal(self, sts: _Set, ordinal: int) -> int:
        if self.faults.on(WRONG_CLAIM) and sts.replicas > 0:
            return sts.start + (ordinal - sts.start + 1) % sts.replicas
        return ordinal

    def _create_pod(self, sts: _Set, ordinal: int, revision: str) -> Obj:
        """CreateStatefulPod: claims first, then the pod, then the claims' retention refs."""
        pod = self._new_pod(sts, ordinal, revision)
        ordinals = [ordinal]
        mounted = self._mounted_ordinal(sts, ordinal)
        if mounted != ordinal:
            ordinals.append(mounted)
        try:
            self._create_claims(sts, pod, ordinals)
        except errors.ApiError as exc:
            self._pod_event(sts, "create", _name(pod), exc)
            raise
        try:
            created = self.store.create(POD, pod, sts.namespace)
        except errors.ApiError as exc:
            if exc.reason != "AlreadyExists":  # sunk without an event, as upstream
                self._pod_event(sts, "create", _name(pod), exc)
            raise
        self._created.setdefault(sts.uid, set()).add(ordinal)
        self._fix_claim_owners(sts, created)
        self._pod_event(sts, "create", _name(created), None)
        return created

    def _delete_pod(self, sts: _Set, pod: Obj) -> None:
        try:
            self.store.delete(POD, sts.namespace, _name(pod))
        except errors.ApiError as exc:
            if exc.reason == "NotFound":
                return
            self._pod_event(sts, "delete", _name(pod), exc)
            raise
        self._pod_event(sts, "delete", _name(pod), None)

    def _pod_event(
        self, sts: _Set, verb: str, pod_name: str, error: errors.ApiError | None
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

    def _claim_objects(self, sts: _Set, ordinal: int) -> list[Obj]:
        """getPersistentVolumeClaims: the templates named for an ordinal, with selector labels."""
        claims: list[Obj] = []
        for template in sts.claim_templates:
            claim = copy.deepcopy(template)
            for field in ("apiVersion", "kind", "status"):
                claim.pop(field, None)
            m = claim.setdefault("metadata", {})
            for volatile in ("uid", "resourceVersion", "creationTimestamp", "generation"):
                m.pop(volatile, None)
            m["name"] = sts.claim_name(template, ordinal)
            m["namespace"] = sts.namespace
            labels = dict(m.get("labels") or {})
            labels.update(sts.match_labels())
            if labels:
                m["labels"] = labels
            claims.append(claim)
        return claims

    def _create_claims(self, sts: _Set, pod: Obj, ordinals: list[int]) -> None:
        """createPersistentVolumeClaims: create each missing claim; a deleting one is an error."""
        failures: list[errors.ApiError] = []
        for ordinal in ordinals:
            for claim in self._claim_objects(sts, ordinal):
                claim_name = _name(claim)
                existing = self.store.find(CLAIM, sts.namespace, claim_name)
                if existing is not None:
                    if _terminating(existing):
                        failures.append(
                            errors.ApiError(409, "Conflict", f"pvc {claim_name} is being deleted")
                        )
                    continue
                try:
                    self.store.create(CLAIM, claim, sts.namespace)
                except errors.ApiError as exc:
                    if exc.reason != "AlreadyExists":
                        self._claim_event(sts, pod, claim_name, exc)
                    failures.append(exc)
                    continue
                self._claim_event(sts, pod, claim_name, None)
        if failures:
            raise failures[0]

    def _claim_event(
        self, sts: _Set, pod: Obj, claim_name: str, error: errors.ApiError | None
    ) -> None:
        """recordClaimEvent: "create Claim data-web-0 Pod web-0 in StatefulSet web success"."""
        if error is None:
            message = (
                f"create Claim {claim_name} Pod {_name(pod)} in StatefulSet {sts.name} success"
            )
            record(self.store, sts.obj, "SuccessfulCreate", message, component=COMPONENT)
        else:
            message = (
                f"create Claim {claim_name} for Pod {_name(pod)} in StatefulSet {sts.name} "
                f"failed error: {error.message}"
            )
            record(
                self.store, sts.obj, "FailedCreate", message, component=COMPONENT, type_="Warning"
            )

    def _claims_stale(self, sts: _Set, ordinal: int) -> bool:
        """PodClaimIsStale: under whenScaled=Delete a claim still owned by an old pod blocks."""
        if sts.when_scaled == RETAIN:
            return False
        placeholder: Obj = {"metadata": {"name": sts.pod_name(ordinal), "uid": ""}}
        for claim in self._claim_objects(sts, ordinal):
            existing = self.store.find(CLAIM, sts.namespace, _name(claim))
            if existing is not None and _has_stale_ref(
                existing, placeholder, POD.api_version, POD.kind
            ):
                return True
        return False

    def _fix_claim_owners(self, sts: _Set, pod: Obj) -> None:
        """UpdatePodClaimForRetentionPolicy for the claims of one pod."""
        for claim in self._claim_objects(sts, _ordinal(pod)):
            existing = self.store.find(CLAIM, sts.namespace, _name(claim))
            if existing is None or claim_owner_up_to_date(existing, sts, pod):
                continue
            update_claim_owner_refs(existing, sts, pod)
            self.store.update(CLAIM, existing)

    def _delete_claims(self, sts: _Set, ordinal: int) -> None:
        for claim in self._claim_objects(sts, ordinal):
            self._delete_claim(sts.namespace, _name(claim))

    def _delete_all_claims(self, sts: _Set) -> None:
        """The claims-deleted-despite-retain fault: every claim the set's templates named."""
        prefixes = [f"{_name(t)}-{sts.name}-" for t in sts.claim_templates]
        for claim in self.store.list(CLAIM, sts.namespace):
            claim_name = _name(claim)
            for prefix in prefixes:
                if claim_name.startswith(prefix) and claim_name[len(prefix) :].isdigit():
                    if not _terminating(claim):
                        self._delete_claim(sts.namespace, claim_name)
                    break

    def _delete_claim(self, namespace: str, claim_name: str) -> None:
        try:
            self.store.delete(CLAIM, namespace, claim_name)
        except errors.ApiError as exc:
            if exc.reason != "NotFound":
                raise

    # --- condemned -----------------------------------------------------------------------

    def _process_condemned(
        self, sts: _Set, pod: Obj, first_unavailable: Obj | None, monotonic: bool, now: datetime
    ) -> None:
        """processCondemned: in monotonic mode one deletion per round, highest ordinal first."""
        if _terminating(pod):
            if monotonic:
                raise _Blocked
            return
        if (
            monotonic
            and not _available(pod, sts.min_ready_seconds, now)
            and (first_unavailable is None or _name(pod) != _name(first_unavailable))
        ):
            raise _Blocked
        self._delete_pod(sts, pod)
        if self.faults.on(CLAIMS_DELETED):
            self._delete_claims(sts, _ordinal(pod))
        if monotonic:
            raise _Blocked

    # --- pods: adoption and release ------------------------------------------------------

    def _claim_pods(self, sts: _Set) -> list[Obj]:
        """ControllerRefManager.ClaimPods, filtered by isMemberOf (the pod's name pattern)."""
        owned: list[Obj] = []
        for pod in self.store.list(POD, sts.namespace):
            member = parent_and_ordinal(_name(pod))[0] == sts.name
            matches = member and sts.selects(_labels(pod))
            ref = _controller_ref(pod)
            if ref is not None:
                if ref.get("uid") != sts.uid:
                    continue
                if matches:
                    owned.append(pod)
                elif not sts.deleting:
                    self._release(sts, pod)
                continue
            if not matches or sts.deleting or _terminating(pod):
                continue
            adopted = self._adopt(sts, POD, pod)
            if adopted is not None:
                owned.append(adopted)
        return owned

    def _adopt(self, sts: _Set, kind: Kind, obj: Obj) -> Obj | None:
        uid = _uid(obj)
        fresh = self.store.find(STATEFUL_SET, sts.namespace, sts.name)
        if fresh is None or _uid(fresh) != sts.uid or _terminating(fresh):
            return None  # canAdopt: the set must still be the same live object

        def change(current: Obj) -> None:
            if _uid(current) != uid or _controller_ref(current) is not None:
                raise errors.conflict(kind, _name(current), "the object changed while adopting")
            refs = current.setdefault("metadata", {}).setdefault("ownerReferences", [])
            refs.append(_new_controller_ref(sts.obj, STATEFUL_SET.api_version, STATEFUL_SET.kind))

        try:
            adopted: Obj = self.store.mutate(kind, sts.namespace, _name(obj), change)
        except errors.ApiError as exc:
            if exc.reason == "NotFound":
                return None
            raise
        return adopted

    def _release(self, sts: _Set, pod: Obj) -> None:
        def change(current: Obj) -> None:
            m = current.setdefault("metadata", {})
            refs = [ref for ref in m.get("ownerReferences") or [] if ref.get("uid") != sts.uid]
            if refs:
                m["ownerReferences"] = refs
            else:
                m.pop("ownerReferences", None)

        try:
            self.store.mutate(POD, sts.namespace, _name(pod), change)
        except errors.ApiError as exc:
            if exc.reason != "NotFound":
                raise

    # --- revisions -----------------------------------------------------------------------

    def _revisions(self, sts: _Set) -> list[Obj]:
        """ListRevisions + AdoptOrphanRevisions, sorted by revision number."""
        owned: list[Obj] = []
        for revision in self.store.list(REVISION, sts.namespace):
            ref = _controller_ref(revision)
            if ref is not None:
                if ref.get("uid") == sts.uid:
                    owned.append(revision)
                continue
            if sts.deleting or not sts.selects(_labels(revision)):
                continue
            adopted = self._adopt(sts, REVISION, revision)
            if adopted is not None:
                owned.append(adopted)
        owned.sort(
            key=lambda r: (_revision_number(r), str(_meta(r).get("creationTimestamp")), _name(r))
        )
        return owned

    def _current_and_update(self, sts: _Set, revisions: list[Obj]) -> tuple[Obj, Obj, int]:
        """getStatefulSetRevisions: find, roll back to, or create the update revision."""
        status = sts.obj.get("status") or {}
        collisions = int(status.get("collisionCount") or 0)
        data = _revision_data(sts.template)
        next_number = _revision_number(revisions[-1]) + 1 if revisions else 1
        equal = [r for r in revisions if r.get("data") == data]
        if equal and _name(equal[-1]) == _name(revisions[-1]):
            update = revisions[-1]
        elif equal:
            number = next_number

            def bump(obj: Obj) -> None:
                obj["revision"] = number

            update = self.store.mutate(REVISION, sts.namespace, _name(equal[-1]), bump)
            revisions[revisions.index(equal[-1])] = update
        else:
            update, collisions = self._create_revision(sts, data, next_number, collisions)
            revisions.append(update)
        current = next(
            (r for r in revisions if _name(r) == status.get("currentRevision")),
            update,
        )
        return current, update, collisions

    def _create_revision(
        self, sts: _Set, data: dict[str, Any], number: int, collisions: int
    ) -> tuple[Obj, int]:
        """history.NewControllerRevision + CreateControllerRevision (collision probing)."""
        labels = dict((sts.template.get("metadata") or {}).get("labels") or {})
        labels[REVISION_LABEL] = revision_hash(data, collisions)
        metadata: dict[str, Any] = {
            "namespace": sts.namespace,
            "labels": labels,
            "ownerReferences": [
                _new_controller_ref(sts.obj, STATEFUL_SET.api_version, STATEFUL_SET.kind)
            ],
        }
        annotations = _meta(sts.obj).get("annotations")
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
        self, sts: _Set, pods: list[Obj], revisions: list[Obj], current: Obj, update: Obj
    ) -> None:
        if sts.history_limit < 0:
            return
        live = {_name(current), _name(update)} | {_labels(p).get(REVISION_LABEL, "") for p in pods}
        history = [r for r in revisions if _name(r) not in live]
        for revision in history[: max(len(history) - sts.history_limit, 0)]:
            try:
                self.store.delete(REVISION, sts.namespace, _name(revision))
            except errors.ApiError as exc:
                if exc.reason != "NotFound":
                    raise

    # --- status --------------------------------------------------------------------------

    def _status(
        self,
        sts: _Set,
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
                if _available(pod, sts.min_ready_seconds, now):
                    counts["available"] += 1
            if not _terminating(pod):
                revision = _labels(pod).get(REVISION_LABEL)
                if revision == _name(current):
                    counts["current"] += 1
                if revision == _name(update):
                    counts["updated"] += 1
        status: dict[str, Any] = {
            "observedGeneration": int(_meta(sts.obj).get("generation") or 0),
            "replicas": counts["replicas"],
            "readyReplicas": counts["ready"],
            "currentReplicas": counts["current"],
            "updatedReplicas": counts["updated"],
            "currentRevision": _name(current),
            "updateRevision": _name(update),
            "collisionCount": collisions,
            "availableReplicas": counts["available"],
        }
        return status

    def _write_status(self, sts: _Set, status: dict[str, Any]) -> None:
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
            self.store.mutate(STATEFUL_SET, sts.namespace, sts.name, change, subresource="status")
        except errors.ApiError as exc:
            if exc.reason != "NotFound":
                raise
