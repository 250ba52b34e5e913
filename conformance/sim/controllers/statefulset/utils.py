"""Identity of a StatefulSet and its members, after upstream's stateful_set_utils.go.

Pure functions on plain objects: ordinals and names, the set as read with the API
server's defaults (:class:`SetView`), ControllerRevision data and hashing, the pod a
revision makes for an ordinal, the claims named from the templates, and whether a
claim's owner references follow the retention policy. Nothing here writes to the store.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from conformance.sim.api.selectors import SelectorError, from_label_selector_object
from conformance.sim.api.store import Obj, kind_named, parse_rfc3339

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

_POD_NAME = re.compile(r"^(.*)-([0-9]+)$")
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand
_MAX_INT32 = 2**31 - 1


# --- small helpers on plain objects -------------------------------------------------------


def meta_of(obj: Obj) -> dict[str, Any]:
    value: dict[str, Any] = obj.get("metadata") or {}
    return value


def labels_of(obj: Obj) -> dict[str, str]:
    value: dict[str, str] = meta_of(obj).get("labels") or {}
    return value


def uid_of(obj: Obj) -> str:
    return str(meta_of(obj).get("uid") or "")


def name_of(obj: Obj) -> str:
    return str(meta_of(obj).get("name") or "")


def terminating(obj: Obj) -> bool:
    return bool(meta_of(obj).get("deletionTimestamp"))


def owner_refs(obj: Obj) -> list[dict[str, Any]]:
    value: list[dict[str, Any]] = meta_of(obj).get("ownerReferences") or []
    return value


def controller_ref(obj: Obj) -> dict[str, Any] | None:
    for ref in owner_refs(obj):
        if ref.get("controller"):
            return ref
    return None


def new_controller_ref(owner: Obj, api_version: str, kind: str) -> dict[str, Any]:
    """metav1.NewControllerRef: controller and blockOwnerDeletion both true."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name_of(owner),
        "uid": uid_of(owner),
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


def ordinal_of(pod: Obj) -> int:
    return parent_and_ordinal(name_of(pod))[1]


def phase_of(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def ready_condition(pod: Obj) -> dict[str, Any] | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            value: dict[str, Any] = condition
            return value
    return None


def running_and_ready(pod: Obj) -> bool:
    """isRunningAndReady: phase Running and the Ready condition True."""
    condition = ready_condition(pod)
    return (
        phase_of(pod) == "Running" and condition is not None and condition.get("status") == "True"
    )


def available(pod: Obj, min_ready_seconds: int, now: datetime) -> bool:
    """podutil.IsPodAvailable: Ready for at least minReadySeconds."""
    if not running_and_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    condition = ready_condition(pod) or {}
    try:
        since = parse_rfc3339(str(condition.get("lastTransitionTime") or ""))
    except ValueError:
        return True
    return since + timedelta(seconds=min_ready_seconds) <= now


def unavailable(pod: Obj | None, min_ready_seconds: int, now: datetime) -> bool:
    """isUnavailable: not created, terminating, or not (yet) available."""
    return pod is None or terminating(pod) or not available(pod, min_ready_seconds, now)


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


def random_suffix() -> str:
    return "".join(secrets.choice(_SAFE_ALPHABET) for _ in range(5))


# --- the set, with the defaults the API server would have applied -------------------------


@dataclass
class SetView:
    """A StatefulSet read once per reconcile, with the API server's defaults filled in."""

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
    def of(cls, obj: Obj) -> SetView:
        spec: dict[str, Any] = obj.get("spec") or {}
        m = meta_of(obj)
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
        return f"{name_of(template)}-{self.name}-{ordinal}"

    def with_template(self, template: dict[str, Any]) -> SetView:
        """ApplyRevision: the set with the pod template a revision recorded."""
        obj = copy.deepcopy(self.obj)
        obj.setdefault("spec", {})["template"] = copy.deepcopy(template)
        return SetView.of(obj)


def revision_data(template: dict[str, Any]) -> dict[str, Any]:
    """getPatch: the strategic merge patch that restores the pod template."""
    patch = copy.deepcopy(template)
    patch["$patch"] = "replace"
    return {"spec": {"template": patch}}


def revision_template(revision: Obj) -> dict[str, Any]:
    template = copy.deepcopy(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    value: dict[str, Any] = template
    return value


def revision_number(revision: Obj) -> int:
    return int(revision.get("revision") or 0)


# --- claim ownership, as stateful_set_utils.go (isClaimOwnerUpToDate and friends) ---------


def _matches_ref(ref: dict[str, Any], obj: Obj, api_version: str, kind: str) -> bool:
    return (
        ref.get("apiVersion") == api_version
        and ref.get("kind") == kind
        and ref.get("name") == name_of(obj)
    )


def _set_ref(ref: dict[str, Any], sts: SetView) -> bool:
    return _matches_ref(ref, sts.obj, STATEFUL_SET.api_version, STATEFUL_SET.kind)


def _pod_ref(ref: dict[str, Any], pod: Obj) -> bool:
    return _matches_ref(ref, pod, POD.api_version, POD.kind)


def has_owner(claim: Obj, owner: Obj) -> bool:
    uid = uid_of(owner)
    return bool(uid) and any(ref.get("uid") == uid for ref in owner_refs(claim))


def has_stale_ref(claim: Obj, owner: Obj, api_version: str, kind: str) -> bool:
    """A reference to an object of this name and kind, but another uid."""
    for ref in owner_refs(claim):
        if _matches_ref(ref, owner, api_version, kind):
            return ref.get("uid") != uid_of(owner)
    return False


def _has_unexpected_controller(claim: Obj, sts: SetView, pod: Obj) -> bool:
    if sts.when_scaled == RETAIN and sts.when_deleted == RETAIN:
        return False
    for ref in owner_refs(claim):
        if _set_ref(ref, sts):
            if ref.get("uid") != sts.uid:
                return True
            continue
        if _pod_ref(ref, pod):
            if ref.get("uid") != uid_of(pod):
                return True
            continue
        if ref.get("controller"):
            return True
    return False


def _has_non_controller_owner(claim: Obj, sts: SetView, pod: Obj) -> bool:
    uids = {sts.uid, uid_of(pod)} - {""}
    return any(ref.get("uid") in uids and not ref.get("controller") for ref in owner_refs(claim))


def claim_owner_up_to_date(claim: Obj, sts: SetView, pod: Obj) -> bool:
    """isClaimOwnerUpToDate: do the claim's references follow the retention policy?

    Retain/Retain: no reference to the set or pod; whenDeleted=Delete: the set owns the
    claim (while the pod is in range, when whenScaled=Delete too); whenScaled=Delete: the
    pod owns the claim once its ordinal is condemned. Claims held by another controller,
    or by a previous incarnation of the set or pod, are left alone.
    """
    if has_stale_ref(claim, sts.obj, STATEFUL_SET.api_version, STATEFUL_SET.kind):
        return True
    if has_stale_ref(claim, pod, POD.api_version, POD.kind):
        return True
    if _has_unexpected_controller(claim, sts, pod):
        return not (has_owner(claim, sts.obj) or has_owner(claim, pod))
    if _has_non_controller_owner(claim, sts, pod):
        return False
    set_owned = has_owner(claim, sts.obj)
    pod_owned = has_owner(claim, pod)
    scaled_down = not sts.in_range(ordinal_of(pod))
    if sts.when_scaled == DELETE and sts.when_deleted == DELETE:
        return scaled_down != set_owned and scaled_down == pod_owned
    if sts.when_scaled == DELETE:
        return not set_owned and scaled_down == pod_owned
    if sts.when_deleted == DELETE:
        return set_owned and not pod_owned
    return not set_owned and not pod_owned


def update_claim_owner_refs(claim: Obj, sts: SetView, pod: Obj) -> None:
    """updateClaimOwnerRefForSetAndPod: scrub our references, then add what the policy asks."""
    unexpected = _has_unexpected_controller(claim, sts, pod)
    refs = [ref for ref in owner_refs(claim) if not (_set_ref(ref, sts) or _pod_ref(ref, pod))]
    if not unexpected:
        scaled_down = not sts.in_range(ordinal_of(pod))
        wanted: list[tuple[Obj, str, str]] = []
        if sts.when_scaled == DELETE and scaled_down:
            wanted.append((pod, POD.api_version, POD.kind))
        if sts.when_deleted == DELETE and not (sts.when_scaled == DELETE and scaled_down):
            wanted.append((sts.obj, STATEFUL_SET.api_version, STATEFUL_SET.kind))
        for owner, api_version, kind in wanted:
            if not any(ref.get("uid") == uid_of(owner) for ref in refs):
                refs.append(new_controller_ref(owner, api_version, kind))
    m = claim.setdefault("metadata", {})
    if refs:
        m["ownerReferences"] = refs
    else:
        m.pop("ownerReferences", None)


# --- members made from the templates ------------------------------------------------------


def new_pod(sts: SetView, ordinal: int, revision: str, *, hostname: str, mounted: int) -> Obj:
    """newStatefulSetPod: the template, identity, storage and revision label.

    ``hostname`` is the pod's spec.hostname and ``mounted`` the ordinal whose claims it
    mounts; both are the ordinal's own unless a fault says otherwise (the caller decides).
    """
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
            new_controller_ref(sts.obj, STATEFUL_SET.api_version, STATEFUL_SET.kind)
        ],
    }
    for field in ("annotations", "finalizers"):
        if tmeta.get(field):
            metadata[field] = copy.deepcopy(tmeta[field])
    spec: dict[str, Any] = copy.deepcopy(template.get("spec") or {})
    spec["hostname"] = hostname
    if sts.service_name:
        spec["subdomain"] = sts.service_name
    claim_volumes = [
        {
            "name": name_of(t),
            "persistentVolumeClaim": {"claimName": sts.claim_name(t, mounted)},
        }
        for t in sts.claim_templates
    ]
    names = {name_of(t) for t in sts.claim_templates}
    others = [v for v in spec.get("volumes") or [] if v.get("name") not in names]
    if claim_volumes or others:
        spec["volumes"] = claim_volumes + others
    return {"metadata": metadata, "spec": spec}


def claim_objects(sts: SetView, ordinal: int) -> list[Obj]:
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
