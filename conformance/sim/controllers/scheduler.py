"""The default scheduler: binds pending pods to Ready, schedulable nodes.

Filters as kube-scheduler's plugins do for what this cluster supports: scheduling
gates (a gated pod waits, PodScheduled False with reason SchedulingGated), node
readiness and unschedulable, taints and tolerations, nodeSelector, required node
affinity, VolumeRestrictions (a ReadWriteOncePod claim another pod uses), and volumes
(VolumeBinding: unbound Immediate claims make the pod wait, WaitForFirstConsumer claims
to provision need a node their class's allowedTopologies admit, get
``volume.kubernetes.io/selected-node`` and the pod waits for them to be bound on that
node; bound volumes' node affinity). Scores by spreading: the feasible node with the
fewest pods, ties by name.

Where it differs: upstream's API server sets the SchedulingGated condition when a gated
pod is created; here the scheduler sets it when it first sees the pod.

Wiring: ``Scheduler(store, timing, faults=None)``; :func:`bind_pod` is the pods/binding
subresource's effect and can serve that endpoint too.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable
from typing import Any

from conformance.sim.api import errors
from conformance.sim.api.kinds import Kind
from conformance.sim.api.store import Event, Obj, Store, kind_named, meta, now_rfc3339
from conformance.sim.controllers.base import Controller, QueueKey
from conformance.sim.controllers.events import record
from conformance.sim.controllers.volumes import (
    PV,
    PVC,
    SELECTED_NODE,
    STORAGE_CLASS,
    claim_class,
    find_matching_volume,
    node_selector_terms_match,
    pod_claims,
    volume_fits_node,
)
from conformance.sim.faults import ActiveFaults
from conformance.sim.profiles import Timing
from conformance.sim.topology import topology_terms_match

POD: Kind = kind_named("Pod")
NODE: Kind = kind_named("Node")

SCHEDULER_NAME = "default-scheduler"
NO_PROVISIONER = "kubernetes.io/no-provisioner"

NOT_READY_TAINT = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}
RWOP = "ReadWriteOncePod"
# upstream's messages (VolumeRestrictions, VolumeBinding, the pod strategy's gate condition)
RWOP_CONFLICT = (
    "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode"
)
BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
NODE_CONFLICT = "node(s) had volume node affinity conflict"
GATED = "SchedulingGated"
GATED_MESSAGE = "Scheduling is blocked due to non-empty scheduling gates"
VOLUME_AFFINITY_IGNORED = "volume-affinity-ignored"  # faults
RWOP_NOT_ENFORCED = "rwop-not-enforced"


def bind_pod(store: Store, pod: Obj, node: str) -> Obj:
    """What POST pods/<name>/binding does: set spec.nodeName and PodScheduled=True."""
    m = pod["metadata"]
    uid = m["uid"]

    def assign(obj: Obj) -> None:
        if obj["metadata"]["uid"] != uid:
            raise _gone(obj)
        obj.setdefault("spec", {})["nodeName"] = node

    store.mutate(POD, m["namespace"], m["name"], assign, subresource="binding")

    def scheduled(obj: Obj) -> None:
        set_condition(obj.setdefault("status", {}), "PodScheduled", "True")

    return store.mutate(POD, m["namespace"], m["name"], scheduled, subresource="status")


def _gone(obj: Obj) -> Exception:
    return errors.conflict(POD, obj["metadata"]["name"], "the pod was replaced")


def set_condition(
    status: dict[str, Any], type_: str, value: str, reason: str = "", message: str = ""
) -> None:
    """Set a pod/node condition, keeping lastTransitionTime when the status stays."""
    conditions: list[dict[str, Any]] = status.setdefault("conditions", [])
    for condition in conditions:
        if condition.get("type") == type_:
            if condition.get("status") != value:
                condition["lastTransitionTime"] = now_rfc3339()
            condition["status"] = value
            _reason(condition, reason, message)
            return
    condition = {
        "type": type_,
        "status": value,
        "lastProbeTime": None,
        "lastTransitionTime": now_rfc3339(),
    }
    _reason(condition, reason, message)
    conditions.append(condition)


def _reason(condition: dict[str, Any], reason: str, message: str) -> None:
    for key, value in (("reason", reason), ("message", message)):
        if value:
            condition[key] = value
        else:
            condition.pop(key, None)


def node_ready(node: Obj) -> bool:
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def _tolerates(tolerations: list[dict[str, Any]], taint: dict[str, Any]) -> bool:
    for toleration in tolerations:
        effect = toleration.get("effect") or ""
        if effect and effect != taint.get("effect"):
            continue
        key = toleration.get("key") or ""
        if toleration.get("operator") == "Exists":
            if not key or key == taint.get("key"):
                return True
        elif key == taint.get("key") and (toleration.get("value") or "") == (
            taint.get("value") or ""
        ):
            return True
    return False


def _taint_text(taint: dict[str, Any]) -> str:
    return f"{{{taint.get('key', '')}: {taint.get('value', '')}}}"


class Scheduler(Controller):
    """Keys: pods without a node; cluster changes requeue every pod still waiting."""

    name = SCHEDULER_NAME

    def __init__(self, store: Store, timing: Timing, faults: ActiveFaults | None = None) -> None:
        super().__init__(store)
        self.timing = timing
        self.faults = faults or ActiveFaults()
        self._waiting: set[QueueKey] = set()
        self._assumed: dict[str, str] = {}  # pod uid -> node chosen while volumes bind
        self._last_failure: dict[str, str] = {}  # pod uid -> FailedScheduling message

    def keys_for(self, event: Event) -> Iterable[QueueKey]:
        if event.kind == POD:
            m = event.object["metadata"]
            key = (m["namespace"], m["name"])
            if event.type != "DELETED" and _unscheduled(event.object):
                self._waiting.add(key)
                yield key
            else:
                self._waiting.discard(key)
                self._assumed.pop(m.get("uid", ""), None)
                self._last_failure.pop(m.get("uid", ""), None)
            if event.type == "DELETED":
                yield from list(self._waiting)  # a node has room again
        elif event.kind in (NODE, PV, PVC, STORAGE_CLASS):
            yield from list(self._waiting)

    def all_keys(self) -> Iterable[QueueKey]:
        for pod in self.store.list(POD, None, _unscheduled):
            yield (pod["metadata"]["namespace"], pod["metadata"]["name"])

    async def reconcile(self, key: QueueKey) -> None:
        pod = self.store.find(POD, *key)
        if pod is None or not _unscheduled(pod):
            return
        if (pod.get("spec") or {}).get("schedulerName", SCHEDULER_NAME) != SCHEDULER_NAME:
            return
        if (pod.get("spec") or {}).get("schedulingGates"):
            self._gated(pod)
            return
        delay = self.timing.delay("schedule")
        if delay:
            await asyncio.sleep(delay)  # the scheduler's own latency
            pod = self.store.find(POD, *key)
            if pod is None or not _unscheduled(pod):
                return
        self._schedule(pod)

    def _gated(self, pod: Obj) -> None:
        """A gated pod is not scheduled; its PodScheduled condition says so."""
        for condition in (pod.get("status") or {}).get("conditions") or []:
            if condition.get("type") == "PodScheduled":
                return

        def gated(obj: Obj) -> None:
            set_condition(
                obj.setdefault("status", {}), "PodScheduled", "False", GATED, GATED_MESSAGE
            )

        m = pod["metadata"]
        self.store.mutate(POD, m["namespace"], m["name"], gated, subresource="status")

    def _schedule(self, pod: Obj) -> None:
        m = pod["metadata"]
        nodes = self.store.list(NODE)
        claims, problem = self._claims(pod)
        if problem:
            self._fail(pod, len(nodes), problem)
            return
        feasible: list[Obj] = []
        reasons: Counter[str] = Counter()
        for node in nodes:
            why = self._why_not(pod, node, claims)
            if why:
                reasons[why] += 1
            else:
                feasible.append(node)
        if not feasible:
            if not nodes:
                self._fail(pod, 0, "no nodes available to schedule pods", raw=True)
            else:
                self._fail(
                    pod, len(nodes), ", ".join(f"{n} {w}" for w, n in sorted(reasons.items()))
                )
            return
        names = [node["metadata"]["name"] for node in feasible]
        delayed = [c for c in claims if not _claim_bound(c[0]) and _delayed(c[1])]
        assumed = self._assumed.get(m["uid"])
        if delayed:
            selected = {
                (c["metadata"].get("annotations") or {}).get(SELECTED_NODE) for c, _ in delayed
            }
            if assumed in names and selected == {assumed}:
                return  # waiting for the volumes to be bound on the chosen node
            chosen = next(iter(selected)) if len(selected) == 1 else None
            if chosen is not None and chosen in names:
                self._assumed[m["uid"]] = chosen  # an earlier attempt chose it already
                return
            target = self._pick(names)
            self._assumed[m["uid"]] = target
            for claim, _ in delayed:
                if (claim["metadata"].get("annotations") or {}).get(SELECTED_NODE) != target:
                    cm = claim["metadata"]

                    def select(obj: Obj, node: str = target) -> None:
                        meta(obj).setdefault("annotations", {})[SELECTED_NODE] = node

                    self.store.mutate(PVC, cm["namespace"], cm["name"], select)
            return
        target = assumed if assumed is not None and assumed in names else self._pick(names)
        self._assumed.pop(m["uid"], None)
        self._last_failure.pop(m["uid"], None)
        bind_pod(self.store, pod, target)
        record(
            self.store,
            pod,
            "Scheduled",
            f"Successfully assigned {m['namespace']}/{m['name']} to {target}",
            component=SCHEDULER_NAME,
        )

    def _claims(self, pod: Obj) -> tuple[list[tuple[Obj, Obj | None]], str]:
        """The pod's claims with their classes, or why the pod cannot be scheduled at all."""
        namespace = pod["metadata"]["namespace"]
        found: list[tuple[Obj, Obj | None]] = []
        unbound_immediate = False
        for name in pod_claims(pod):
            claim = self.store.find(PVC, namespace, name)
            if claim is None:
                return [], f'persistentvolumeclaim "{name}" not found'
            if claim["metadata"].get("deletionTimestamp"):
                return [], f'persistentvolumeclaim "{name}" is being deleted'
            class_name = claim_class(claim)
            storage_class = self.store.find(STORAGE_CLASS, None, class_name) if class_name else None
            if not _claim_bound(claim) and not _delayed(storage_class):
                unbound_immediate = True
            found.append((claim, storage_class))
        if unbound_immediate:
            return [], "pod has unbound immediate PersistentVolumeClaims"
        return found, ""

    def _why_not(self, pod: Obj, node: Obj, claims: list[tuple[Obj, Obj | None]]) -> str:
        spec = pod.get("spec") or {}
        node_spec = node.get("spec") or {}
        tolerations = spec.get("tolerations") or []
        if not node_ready(node) and not _tolerates(tolerations, NOT_READY_TAINT):
            return f"node(s) had untolerated taint {_taint_text(NOT_READY_TAINT)}"
        if node_spec.get("unschedulable"):
            unschedulable = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
            if not _tolerates(tolerations, unschedulable):
                return "node(s) were unschedulable"
        for taint in node_spec.get("taints") or []:
            if taint.get("effect") in ("NoSchedule", "NoExecute") and not _tolerates(
                tolerations, taint
            ):
                return f"node(s) had untolerated taint {_taint_text(taint)}"
        labels = node["metadata"].get("labels") or {}
        selector = spec.get("nodeSelector") or {}
        required = (
            ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
                "requiredDuringSchedulingIgnoredDuringExecution"
            )
            or {}
        ).get("nodeSelectorTerms")
        if any(labels.get(k) != v for k, v in selector.items()) or (
            required is not None and not node_selector_terms_match(required, node)
        ):
            return "node(s) didn't match Pod's node affinity/selector"
        if self._rwop_in_use(pod, claims):
            return RWOP_CONFLICT
        for claim, storage_class in claims:
            if _claim_bound(claim):
                pv = self.store.find(PV, None, claim["spec"]["volumeName"])
                if (
                    pv is not None
                    and not volume_fits_node(pv, node)
                    and not self.faults.on(VOLUME_AFFINITY_IGNORED)
                ):
                    return NODE_CONFLICT
            elif (
                str((storage_class or {}).get("provisioner") or "") == NO_PROVISIONER
                and find_matching_volume(self.store, claim, node=node) is None
            ):
                return BIND_CONFLICT
            elif _delayed(storage_class) and not topology_terms_match(
                (storage_class or {}).get("allowedTopologies"), labels
            ):
                return BIND_CONFLICT  # checkVolumeProvisions: the class does not reach the node
        return ""

    def _rwop_in_use(self, pod: Obj, claims: list[tuple[Obj, Obj | None]]) -> bool:
        """VolumeRestrictions: another scheduled pod uses one of the pod's ReadWriteOncePod
        claims (then no node fits)."""
        if self.faults.on(RWOP_NOT_ENFORCED):
            return False
        names = {
            c["metadata"]["name"]
            for c, _ in claims
            if RWOP in ((c.get("spec") or {}).get("accessModes") or [])
        }
        if not names:
            return False
        m = pod["metadata"]

        def rival(other: Obj) -> bool:
            return (
                other["metadata"].get("uid") != m.get("uid")
                and bool((other.get("spec") or {}).get("nodeName"))
                and (other.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
                and bool(names & set(pod_claims(other)))
            )

        return bool(self.store.list(POD, m["namespace"], rival))

    def _pick(self, names: list[str]) -> str:
        load: Counter[str] = Counter()
        for pod in self.store.list(
            POD, None, lambda p: bool((p.get("spec") or {}).get("nodeName"))
        ):
            if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                load[pod["spec"]["nodeName"]] += 1
        for node in self._assumed.values():
            load[node] += 1
        return min(names, key=lambda name: (load[name], name))

    def _fail(self, pod: Obj, total: int, why: str, *, raw: bool = False) -> None:
        message = (
            why
            if raw
            else (
                f"0/{total} nodes are available: {why}. preemption: 0/{total} nodes are available: "
                f"{total} Preemption is not helpful for scheduling."
            )
        )
        uid = pod["metadata"]["uid"]
        if self._last_failure.get(uid) == message:
            return
        self._last_failure[uid] = message
        self._assumed.pop(uid, None)

        def unschedulable(obj: Obj) -> None:
            set_condition(
                obj.setdefault("status", {}), "PodScheduled", "False", "Unschedulable", message
            )

        m = pod["metadata"]
        self.store.mutate(POD, m["namespace"], m["name"], unschedulable, subresource="status")
        record(
            self.store, pod, "FailedScheduling", message, component=SCHEDULER_NAME, type_="Warning"
        )


def _unscheduled(pod: Obj) -> bool:
    return (
        not (pod.get("spec") or {}).get("nodeName")
        and not pod["metadata"].get("deletionTimestamp")
        and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    )


def _claim_bound(claim: Obj) -> bool:
    return bool((claim.get("spec") or {}).get("volumeName")) and (
        (claim.get("status") or {}).get("phase") == "Bound"
    )


def _delayed(storage_class: Obj | None) -> bool:
    return (storage_class or {}).get("volumeBindingMode") == "WaitForFirstConsumer"


__all__ = ["Scheduler", "bind_pod", "node_ready", "set_condition"]
