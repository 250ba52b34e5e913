"""The PV binder (kube-controller-manager's persistentvolume-controller, with the
pvc-protection and pv-protection controllers folded in) and an external provisioner.

The protocol between them is upstream's: the binder binds claims to matching static
volumes; when none matches it annotates the claim with
``volume.kubernetes.io/storage-provisioner`` and emits ExternalProvisioning; the
provisioner serving that name creates a PV pre-bound to the claim (``pvc-<claim uid>``)
and the binder completes the binding both ways. For WaitForFirstConsumer classes all
of this waits until the scheduler writes ``volume.kubernetes.io/selected-node``.

Wiring: ``store.admit`` gets :func:`default_storage_class` and
:func:`storage_protection`; run :class:`PersistentVolumeController` and
:class:`Provisioner` (each is a :class:`Controller`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
from collections.abc import Coroutine, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from conformance.sim import topology
from conformance.sim.api import errors
from conformance.sim.api.kinds import Kind
from conformance.sim.api.store import Event, Hook, Obj, Store, kind_named, meta
from conformance.sim.controllers.base import Controller, QueueKey, RuntimeController
from conformance.sim.controllers.events import record
from conformance.sim.faults import ActiveFaults
from conformance.sim.profiles import Timing
from conformance.sim.runtimes.base import NodeRuntime, RuntimeFailure
from conformance.sim.stackspec import STACK_PARAMETERS, StackParameters

log = logging.getLogger(__name__)

PV: Kind = kind_named("PersistentVolume")
PVC: Kind = kind_named("PersistentVolumeClaim")
POD: Kind = kind_named("Pod")
NODE: Kind = kind_named("Node")
STORAGE_CLASS: Kind = kind_named("StorageClass")

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
BETA_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"
PROVISIONER_FINALIZER = "external-provisioner.volume.kubernetes.io/finalizer"

SIM_PROVISIONER_SUFFIX = "sim.conformance.io"
SIM_FLEX_PROVISIONER = "sim.conformance.io/flex"
CSI_PLUGIN_DIR = "kubernetes.io~csi"
DEFAULT_FS_TYPE = "ext4"
SHARE_FS_TYPES = ("fuse.sshfs",)  # classes of these provision file shares (ReadWriteMany)
SHARE_EXPORTS = "/exports"  # where the simulator's share server keeps each volume

BINDER = "persistentvolume-controller"

NO_DEFAULT_CLASS = "no-default-class"
WRONG_CAPACITY = "pv-wrong-capacity"
UNDERSIZED = "sim.conformance.io/undersized"  # a PV the fault pv-wrong-capacity made
WFFC_IGNORED = "wffc-ignored"
TOPOLOGY_IGNORED = "topology-ignored"
STATIC_MISBOUND = "static-pv-misbound"


def serves(provisioner: str) -> bool:
    """Whether this sim's provisioner serves a StorageClass's provisioner name."""
    return provisioner.endswith(SIM_PROVISIONER_SUFFIX) or provisioner == SIM_FLEX_PROVISIONER


# --- admission --------------------------------------------------------------------


def default_storage_class(store: Store, faults: ActiveFaults | None = None) -> Hook:
    """DefaultStorageClass admission: a new claim without a class gets the default one.

    An explicit ``""`` means "no class" and stays; several defaults: the newest wins.
    Under the fault no-default-class it does nothing, as on a cluster without a default
    class (the simulator then also creates its class without the default annotation).
    """
    active = faults or ActiveFaults()

    def admit(kind: Kind, obj: Obj, old: Obj | None) -> None:
        if kind != PVC or old is not None or active.on(NO_DEFAULT_CLASS):
            return
        spec = obj.setdefault("spec", {})
        if spec.get("storageClassName") is not None:
            return
        if BETA_CLASS_ANNOTATION in (meta(obj).get("annotations") or {}):
            return
        defaults = [
            sc
            for sc in store.list(STORAGE_CLASS)
            if (sc["metadata"].get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION) == "true"
        ]
        if defaults:
            newest = max(
                defaults,
                key=lambda sc: (
                    sc["metadata"].get("creationTimestamp", ""),
                    sc["metadata"]["name"],
                ),
            )
            spec["storageClassName"] = newest["metadata"]["name"]

    return admit


def storage_protection() -> Hook:
    """StorageObjectInUseProtection admission: protection finalizers on new claims and PVs."""

    def admit(kind: Kind, obj: Obj, old: Obj | None) -> None:
        if old is not None:
            return
        finalizer = {PVC: PVC_PROTECTION, PV: PV_PROTECTION}.get(kind)
        if finalizer is None:
            return
        finalizers: list[str] = meta(obj).setdefault("finalizers", [])
        if finalizer not in finalizers:
            finalizers.append(finalizer)

    return admit


pvc_protection: Hook = storage_protection()
"""The protection admission hook as a ready instance (claims and PVs alike)."""


# --- matching helpers (shared with the scheduler) -----------------------------------

_QUANTITY = re.compile(
    r"([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?"
)
_MULTIPLIERS: dict[str, Decimal] = {
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
}


def quantity(value: Any) -> Decimal:
    """A resource.Quantity ("10Gi", "1.5G", "100m", "1e3") as a number; ValueError if not one."""
    text = str(value).strip()
    found = _QUANTITY.fullmatch(text)
    if found is None:
        raise ValueError(f"quantities must match the regular expression: {text!r}")
    number, exponent, suffix = found.groups()
    try:
        amount = Decimal(number)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only numbers
        raise ValueError(text) from exc
    if exponent:
        return amount * Decimal(10) ** int(exponent[1:])
    return amount * _MULTIPLIERS[suffix] if suffix else amount


def _storage(obj: Obj, *path: str) -> Decimal:
    node: Any = obj
    for part in path:
        node = (node or {}).get(part)
    try:
        return quantity(node) if node is not None else Decimal(0)
    except ValueError:
        return Decimal(0)


def claim_class(claim: Obj) -> str:
    """The class a claim asks for ("" for none); the beta annotation wins, as upstream."""
    annotations = claim["metadata"].get("annotations") or {}
    if BETA_CLASS_ANNOTATION in annotations:
        return str(annotations[BETA_CLASS_ANNOTATION])
    return str((claim.get("spec") or {}).get("storageClassName") or "")


def volume_class(pv: Obj) -> str:
    annotations = pv["metadata"].get("annotations") or {}
    if BETA_CLASS_ANNOTATION in annotations:
        return str(annotations[BETA_CLASS_ANNOTATION])
    return str((pv.get("spec") or {}).get("storageClassName") or "")


def _requirement_matches(labels: dict[str, str], req: dict[str, Any]) -> bool:
    key = req.get("key", "")
    operator = req.get("operator", "")
    values = [str(v) for v in req.get("values") or []]
    present = key in labels
    if operator == "In":
        return present and labels[key] in values
    if operator == "NotIn":
        return not present or labels[key] not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and len(values) == 1:
        try:
            have, want = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return have > want if operator == "Gt" else have < want
    return False


def label_selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A metav1.LabelSelector (matchLabels and matchExpressions) against labels."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    return all(_requirement_matches(labels, req) for req in selector.get("matchExpressions") or [])


def node_selector_terms_match(terms: list[dict[str, Any]] | None, node: Obj) -> bool:
    """v1.NodeSelectorTerms: any term matches; within a term, every requirement."""
    if not terms:
        return True
    labels = node["metadata"].get("labels") or {}
    fields = {"metadata.name": node["metadata"]["name"]}
    for term in terms:
        expressions = term.get("matchExpressions") or []
        field_reqs = term.get("matchFields") or []
        if not expressions and not field_reqs:
            continue  # an empty term matches nothing
        if all(_requirement_matches(labels, r) for r in expressions) and all(
            _requirement_matches(fields, r) for r in field_reqs
        ):
            return True
    return False


def volume_fits_node(pv: Obj, node: Obj) -> bool:
    """Whether a PV's spec.nodeAffinity admits the node."""
    required = ((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required")
    if not required:
        return True
    return node_selector_terms_match(required.get("nodeSelectorTerms") or [], node)


def _claim_ref_is(ref: dict[str, Any] | None, claim: Obj) -> bool:
    if not ref:
        return False
    m = claim["metadata"]
    if ref.get("namespace") != m.get("namespace") or ref.get("name") != m.get("name"):
        return False
    return not ref.get("uid") or ref.get("uid") == m.get("uid")


def find_matching_volume(
    store: Store, claim: Obj, *, node: Obj | None = None, prebound_only: bool = False
) -> Obj | None:
    """The PV a claim binds to: a volume pre-bound to it, else the smallest that fits.

    Fits = same class, same volumeMode, a superset of the access modes, capacity >=
    the request, the claim's selector, and (with ``node``) the PV's node affinity.
    """
    spec = claim.get("spec") or {}
    want_class = claim_class(claim)
    want_mode = spec.get("volumeMode") or "Filesystem"
    want_access = set(spec.get("accessModes") or [])
    request = _storage(claim, "spec", "resources", "requests", "storage")
    best: Obj | None = None
    best_size = Decimal(0)
    for pv in store.list(PV):
        pv_spec = pv.get("spec") or {}
        if pv["metadata"].get("deletionTimestamp"):
            continue
        ref = pv_spec.get("claimRef")
        prebound = _claim_ref_is(ref, claim)
        if ref and not prebound:
            continue
        if not prebound and (
            prebound_only or (pv.get("status") or {}).get("phase") not in (None, "", "Available")
        ):
            continue
        size = _storage(pv, "spec", "capacity", "storage")
        if (
            volume_class(pv) != want_class
            or (pv_spec.get("volumeMode") or "Filesystem") != want_mode
            or not want_access <= set(pv_spec.get("accessModes") or [])
            or size < request
            or not label_selector_matches(spec.get("selector"), pv["metadata"].get("labels") or {})
            or (node is not None and not volume_fits_node(pv, node))
        ):
            continue
        if prebound:
            return pv
        if best is None or size < best_size:
            best, best_size = pv, size
    return best


def misbound_volume(store: Store, claim: Obj) -> Obj | None:
    """Fault static-pv-misbound: a static PV meant for another claim (pre-bound to it by
    a claimRef without uid) or outside the claim's selector, of the claim's class, mode
    and size; the last such one. Upstream never binds these (FindMatchingVolume skips
    PVs pre-bound elsewhere and PVs the selector does not match)."""
    spec = claim.get("spec") or {}
    m = claim["metadata"]
    found: Obj | None = None
    for pv in store.list(PV):
        pv_spec = pv.get("spec") or {}
        ref = pv_spec.get("claimRef") or {}
        if (
            pv["metadata"].get("deletionTimestamp")
            or (pv["metadata"].get("annotations") or {}).get(PROVISIONED_BY)
            or ref.get("uid")
            or (ref and ref.get("namespace") != m.get("namespace"))
            or ref.get("name") == m["name"]
            or (pv.get("status") or {}).get("phase") not in (None, "", "Available")
            or volume_class(pv) != claim_class(claim)
            or (pv_spec.get("volumeMode") or "Filesystem")
            != (spec.get("volumeMode") or "Filesystem")
            or _storage(pv, "spec", "capacity", "storage")
            < _storage(claim, "spec", "resources", "requests", "storage")
        ):
            continue
        found = pv
    return found


def claim_users(store: Store, namespace: str, claim_name: str) -> list[Obj]:
    """Pods that still use a claim (not yet Succeeded or Failed)."""

    def uses(pod: Obj) -> bool:
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return False
        return claim_name in pod_claims(pod)

    return store.list(POD, namespace, uses)


def pod_claims(pod: Obj) -> list[str]:
    return [
        volume["persistentVolumeClaim"]["claimName"]
        for volume in (pod.get("spec") or {}).get("volumes") or []
        if (volume.get("persistentVolumeClaim") or {}).get("claimName")
    ]


def _set_phase(store: Store, kind: Kind, namespace: str | None, name: str, phase: str) -> None:
    def change(obj: Obj) -> None:
        obj.setdefault("status", {})["phase"] = phase

    store.mutate(kind, namespace, name, change, subresource="status")


def _remove_finalizer(store: Store, kind: Kind, namespace: str | None, name: str, fin: str) -> None:
    def change(obj: Obj) -> None:
        m = obj["metadata"]
        m["finalizers"] = [f for f in m.get("finalizers") or [] if f != fin]
        if not m["finalizers"]:
            del m["finalizers"]

    store.mutate(kind, namespace, name, change)


# --- the binder ----------------------------------------------------------------------


class PersistentVolumeController(Controller):
    """Binds claims and volumes, releases volumes, and removes protection finalizers.

    Keys: ``(namespace, name)`` of a claim, ``("", name)`` of a PV (claims always have
    a namespace, so the two never collide).
    """

    name = BINDER

    def __init__(
        self,
        store: Store,
        runtime: NodeRuntime | None = None,
        timing: Timing | None = None,
        faults: ActiveFaults | None = None,
    ) -> None:
        """``runtime`` and ``timing`` are accepted so every controller is wired alike;
        binding itself is instantaneous, as upstream, and touches no node."""
        super().__init__(store)
        self.faults = faults or ActiveFaults()
        self._said: set[tuple[str, str, str]] = set()  # (uid, reason, message) already emitted

    def keys_for(self, event: Event) -> Iterable[QueueKey]:
        obj = event.object
        m = obj["metadata"]
        if event.kind == PVC:
            yield (m["namespace"], m["name"])
            volume = (obj.get("spec") or {}).get("volumeName")
            if volume:
                yield ("", volume)
        elif event.kind == PV:
            yield ("", m["name"])
            ref = (obj.get("spec") or {}).get("claimRef")
            if ref and ref.get("namespace"):
                yield (ref["namespace"], ref.get("name", ""))
            if not ref or event.type == "DELETED":
                yield from self._unbound_claims()
        elif event.kind == STORAGE_CLASS:
            yield from self._unbound_claims()
        elif event.kind == POD and (event.type == "DELETED" or _terminal(obj)):
            for claim in pod_claims(obj):
                yield (m.get("namespace", ""), claim)

    def _unbound_claims(self) -> list[QueueKey]:
        return [
            (c["metadata"]["namespace"], c["metadata"]["name"])
            for c in self.store.list(
                PVC, None, lambda c: not (c.get("spec") or {}).get("volumeName")
            )
        ]

    def all_keys(self) -> Iterable[QueueKey]:
        for claim in self.store.list(PVC):
            yield (claim["metadata"]["namespace"], claim["metadata"]["name"])
        for pv in self.store.list(PV):
            yield ("", pv["metadata"]["name"])

    async def reconcile(self, key: QueueKey) -> None:
        namespace, name = key
        if namespace:
            self._sync_claim(namespace, name)
        else:
            self._sync_volume(name)

    def _event(self, obj: Obj, reason: str, message: str, type_: str = "Normal") -> None:
        said = (obj["metadata"].get("uid", ""), reason, message)
        if said not in self._said:
            self._said.add(said)
            record(self.store, obj, reason, message, component=BINDER, type_=type_)

    # --- claims --------------------------------------------------------------------

    def _sync_claim(self, namespace: str, name: str) -> None:
        claim = self.store.find(PVC, namespace, name)
        if claim is None:
            return
        m = claim["metadata"]
        if m.get("deletionTimestamp"):
            if PVC_PROTECTION in (m.get("finalizers") or []) and not claim_users(
                self.store, namespace, name
            ):
                _remove_finalizer(self.store, PVC, namespace, name, PVC_PROTECTION)
            return
        volume_name = (claim.get("spec") or {}).get("volumeName")
        if volume_name:
            self._sync_bound_claim(claim, volume_name)
            return
        class_name = claim_class(claim)
        storage_class = self.store.find(STORAGE_CLASS, None, class_name) if class_name else None
        delayed = _delayed(storage_class, self.faults)
        selected = (m.get("annotations") or {}).get(SELECTED_NODE)
        if delayed and not selected:
            pv = find_matching_volume(self.store, claim, prebound_only=True)
            if pv is not None:
                self._bind(pv, claim)
                return
            self._ensure_pending(claim)
            self._event(
                claim,
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding",
            )
            return
        node = self.store.find(NODE, None, selected) if selected else None
        # a volume pre-bound to the claim (a provisioned one) binds whatever its affinity,
        # as upstream's binder matches without a node; the scheduler then follows the PV
        pv = find_matching_volume(self.store, claim, prebound_only=True) or find_matching_volume(
            self.store, claim, node=node
        )
        if self.faults.on(STATIC_MISBOUND):
            pv = misbound_volume(self.store, claim) or pv
        if pv is not None:
            self._bind(pv, claim)
            return
        self._ensure_pending(claim)
        if not class_name:
            self._event(
                claim,
                "FailedBinding",
                "no persistent volumes available for this claim and no storage class is set",
            )
            return
        if storage_class is None:
            self._event(
                claim,
                "ProvisioningFailed",
                f'storageclass.storage.k8s.io "{class_name}" not found',
                "Warning",
            )
            return
        provisioner = str(storage_class.get("provisioner") or "")
        annotations = m.get("annotations") or {}
        if annotations.get(STORAGE_PROVISIONER) != provisioner:

            def annotate(obj: Obj) -> None:
                notes = meta(obj).setdefault("annotations", {})
                notes[STORAGE_PROVISIONER] = provisioner
                notes[BETA_STORAGE_PROVISIONER] = provisioner

            claim = self.store.mutate(PVC, namespace, name, annotate)
        self._event(
            claim,
            "ExternalProvisioning",
            f"Waiting for a volume to be created either by the external provisioner "
            f"'{provisioner}' or manually by the system administrator. If volume creation is "
            "delayed, please verify that the provisioner is running and correctly registered.",
        )

    def _ensure_pending(self, claim: Obj) -> None:
        if (claim.get("status") or {}).get("phase") != "Pending":
            m = claim["metadata"]
            _set_phase(self.store, PVC, m["namespace"], m["name"], "Pending")

    def _sync_bound_claim(self, claim: Obj, volume_name: str) -> None:
        m = claim["metadata"]
        pv = self.store.find(PV, None, volume_name)
        ref = ((pv or {}).get("spec") or {}).get("claimRef")
        phase = (claim.get("status") or {}).get("phase")
        if pv is not None and (not ref or _claim_ref_is(ref, claim)):
            self._bind(pv, claim)
            return
        if phase == "Bound":
            _set_phase(self.store, PVC, m["namespace"], m["name"], "Lost")
            self._event(
                claim,
                "ClaimLost",
                "Bound claim has lost its PersistentVolume. Data on the volume is lost!",
                "Warning",
            )
        elif pv is not None:
            self._event(
                claim,
                "FailedBinding",
                f'volume "{volume_name}" already bound to a different claim.',
                "Warning",
            )

    def _bind(self, pv: Obj, claim: Obj) -> None:
        """Bind both ways: the PV first (claimRef, Bound), then the claim."""
        cm = claim["metadata"]
        pv_name = pv["metadata"]["name"]
        ref = (pv.get("spec") or {}).get("claimRef") or {}
        if ref.get("uid") != cm["uid"]:

            def set_ref(obj: Obj) -> None:
                obj["spec"]["claimRef"] = {
                    "kind": "PersistentVolumeClaim",
                    "namespace": cm["namespace"],
                    "name": cm["name"],
                    "uid": cm["uid"],
                    "apiVersion": "v1",
                    "resourceVersion": cm["resourceVersion"],
                }
                if not ref:
                    meta(obj).setdefault("annotations", {})[BOUND_BY_CONTROLLER] = "yes"

            pv = self.store.mutate(PV, None, pv_name, set_ref)
        if (pv.get("status") or {}).get("phase") != "Bound":
            _set_phase(self.store, PV, None, pv_name, "Bound")
        spec = claim.get("spec") or {}
        annotations = cm.get("annotations") or {}
        if spec.get("volumeName") != pv_name or annotations.get(BIND_COMPLETED) != "yes":
            by_controller = spec.get("volumeName") != pv_name

            def set_volume(obj: Obj) -> None:
                obj.setdefault("spec", {})["volumeName"] = pv_name
                notes = meta(obj).setdefault("annotations", {})
                notes[BIND_COMPLETED] = "yes"
                if by_controller:
                    notes[BOUND_BY_CONTROLLER] = "yes"

            claim = self.store.mutate(PVC, cm["namespace"], cm["name"], set_volume)
        pv_spec = pv.get("spec") or {}
        current = claim.get("status") or {}
        status: dict[str, Any] = {
            "phase": "Bound",
            "accessModes": list(pv_spec.get("accessModes") or []),
        }
        # capacity only as the claim becomes Bound, as upstream's updateClaimStatus: once
        # bound, a PV larger than the claim's capacity is an expansion in progress
        # (the kubelet sets the claim's capacity when the filesystem has grown)
        if current.get("phase") != "Bound" or not current.get("capacity"):
            status["capacity"] = dict(pv_spec.get("capacity") or {})
        if any(current.get(k) != v for k, v in status.items()):

            def set_status(obj: Obj) -> None:
                obj.setdefault("status", {}).update(status)

            self.store.mutate(PVC, cm["namespace"], cm["name"], set_status, subresource="status")

    # --- volumes -------------------------------------------------------------------

    def _sync_volume(self, name: str) -> None:
        pv = self.store.find(PV, None, name)
        if pv is None:
            return
        phase = self._volume_phase(pv)
        m = pv["metadata"]
        if (
            m.get("deletionTimestamp")
            and PV_PROTECTION in (m.get("finalizers") or [])
            and phase != "Bound"
        ):
            _remove_finalizer(self.store, PV, None, name, PV_PROTECTION)

    def _volume_phase(self, pv: Obj) -> str | None:
        """Move a PV to the phase its claimRef and claim call for; return that phase."""
        name = pv["metadata"]["name"]
        spec = pv.get("spec") or {}
        phase: str | None = (pv.get("status") or {}).get("phase")
        ref = spec.get("claimRef")
        claim = self.store.find(PVC, ref.get("namespace"), ref.get("name", "")) if ref else None
        if not ref or not ref.get("uid") or (claim is not None and _claim_ref_is(ref, claim)):
            bound = (
                claim is not None
                and bool(ref and ref.get("uid"))
                and (claim.get("spec") or {}).get("volumeName") == name
            )
            if bound:
                return phase
            if phase not in ("Available", "Failed") or (ref and phase == "Failed"):
                _set_phase(self.store, PV, None, name, "Available")
                phase = "Available"
            if claim is not None:
                self.enqueue((claim["metadata"]["namespace"], claim["metadata"]["name"]))
            return phase
        # bound to a claim that is gone: release, then reclaim
        if phase in (None, "", "Available", "Bound", "Pending"):
            _set_phase(self.store, PV, None, name, "Released")
            phase = "Released"
        policy = spec.get("persistentVolumeReclaimPolicy") or "Retain"
        if phase != "Released" or policy == "Retain":
            return phase
        if policy == "Delete" and (pv["metadata"].get("annotations") or {}).get(PROVISIONED_BY):
            return phase  # the provisioner that made it deletes it
        _set_phase(self.store, PV, None, name, "Failed")
        if policy == "Delete":
            message = (
                f'error getting deleter volume plugin for volume "{name}": '
                "no deletable volume plugin matched"
            )
            self._event(pv, "VolumeFailedDelete", message, "Warning")
        else:
            self._event(
                pv,
                "VolumeFailedRecycle",
                f'No recycler plugin found for the volume "{name}"',
                "Warning",
            )
        return "Failed"


def _delayed(storage_class: Obj | None, faults: ActiveFaults) -> bool:
    """Whether binding waits for a pod (WaitForFirstConsumer), unless the fault
    wffc-ignored binds such claims at once."""
    waits = (storage_class or {}).get("volumeBindingMode") == "WaitForFirstConsumer"
    return waits and not faults.on(WFFC_IGNORED)


def _terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


# --- the external provisioner ---------------------------------------------------------


class Provisioner(RuntimeController):
    """An external provisioner for every StorageClass provisioner this sim serves.

    Creates the PV (and, through the runtime, its backing volume) for claims the
    binder handed over, and deletes both for released PVs with reclaimPolicy Delete.

    StorageClass parameters (all optional; a class asking for what the nodes cannot
    show is refused with a ProvisioningFailed event, as a driver answers
    InvalidArgument):

    - ``fsType`` / ``csi.storage.k8s.io/fstype``: xfs or ext4 (default ext4).
    - ``pluginDir``: a flexvolume's kubelet plugin directory (``datera~iscsi``); with
      it, or the provisioner ``sim.conformance.io/flex``, the PV is a flexVolume,
      otherwise CSI (driver = the provisioner name).
    - ``device``: what stands under the volume on the node: ``scsi`` (default; a SCSI
      disk ``sdX``), ``nvme`` (a namespace ``nvmeXn1`` of its own controller, EBS-like:
      handles ``vol-0...``, serial = the handle without its dash) or ``rbd``
      (``/dev/rbdN``; ceph-csi-like handles ending in the image's uuid).
    - ``vendor``, ``model``, ``rev``: SCSI INQUIRY identity (8/16/4 characters;
      default SIM/DISK/1.0); for NVMe ``model`` is the controller's (default "Amazon
      Elastic Block Store").
    - ``transport``: ``iscsi`` (default), ``fc`` or ``sas`` for SCSI; ``pcie``
      (default), ``tcp``, ``rdma`` or ``fc`` for NVMe; what lsblk's TRAN prints.
    - ``multipath``: a number of paths N (1-8): a dm-multipath map over N SCSI paths;
      its handles carry the LUN's WWN (``sim-san:<wwn>``). ``userFriendlyNames``:
      ``"false"`` names maps by WWID instead of ``mpatha``.
    - ``pool``: the RBD pool (default ``rbd``).

    These are copied to the PV (CSI volumeAttributes / flexvolume options), where the
    node side reads them when it attaches the volume (kernel/stacks.py).
    """

    name = "external-provisioner"

    def __init__(
        self,
        store: Store,
        runtime: NodeRuntime,
        timing: Timing,
        faults: ActiveFaults | None = None,
    ) -> None:
        super().__init__(store, runtime, timing, faults)
        self.identity = f"sim-provisioner_{secrets.token_hex(4)}"
        self._busy: dict[str, asyncio.Task[None]] = {}  # claim uid or PV name -> operation
        self._failures: dict[str, int] = {}

    def keys_for(self, event: Event) -> Iterable[QueueKey]:
        m = event.object["metadata"]
        if event.kind == PVC and event.type != "DELETED":
            yield (m["namespace"], m["name"])
        elif event.kind == PV and event.type != "DELETED":
            yield ("", m["name"])

    def all_keys(self) -> Iterable[QueueKey]:
        for claim in self.store.list(PVC):
            yield (claim["metadata"]["namespace"], claim["metadata"]["name"])
        for pv in self.store.list(PV):
            yield ("", pv["metadata"]["name"])

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            for task in self._busy.values():
                task.cancel()

    def _component(self, provisioner: str) -> str:
        return f"{provisioner}_{self.identity}"

    def _spawn(self, busy_key: str, key: QueueKey, work: Coroutine[Any, Any, None]) -> None:
        async def run() -> None:
            try:
                await work
                self._failures.pop(busy_key, None)
            except asyncio.CancelledError:
                raise
            except (errors.ApiError, RuntimeFailure) as exc:
                log.info("%s: %s failed: %s", self.name, busy_key, exc)
                self._backoff(busy_key, key)
            except Exception:  # a provisioner bug must not stop the cluster
                log.exception("%s: %s failed", self.name, busy_key)
                self._backoff(busy_key, key)
            finally:
                self._busy.pop(busy_key, None)

        self._busy[busy_key] = asyncio.create_task(run())

    def _backoff(self, busy_key: str, key: QueueKey) -> None:
        attempt = self._failures.get(busy_key, 0) + 1
        self._failures[busy_key] = attempt
        self.enqueue_after(key, min(0.05 * 2**attempt, 5.0))

    async def reconcile(self, key: QueueKey) -> None:
        namespace, name = key
        if namespace:
            self._sync_claim(namespace, name)
        else:
            self._sync_volume(name)

    def _sync_claim(self, namespace: str, name: str) -> None:
        claim = self.store.find(PVC, namespace, name)
        if claim is None:
            return
        m = claim["metadata"]
        spec = claim.get("spec") or {}
        if m.get("deletionTimestamp") or spec.get("volumeName") or m["uid"] in self._busy:
            return
        class_name = claim_class(claim)
        storage_class = self.store.find(STORAGE_CLASS, None, class_name) if class_name else None
        if storage_class is None:
            return
        provisioner = str(storage_class.get("provisioner") or "")
        annotations = m.get("annotations") or {}
        if not serves(provisioner) or annotations.get(STORAGE_PROVISIONER) != provisioner:
            return
        if _delayed(storage_class, self.faults) and not annotations.get(SELECTED_NODE):
            return
        if self.store.find(PV, None, f"pvc-{m['uid']}") is not None:
            return  # provisioned; the binder completes the binding
        if spec.get("selector"):
            record(
                self.store,
                claim,
                "ProvisioningFailed",
                "claim Selector is not supported",
                component=self._component(provisioner),
                type_="Warning",
            )
            return
        self._spawn(m["uid"], (namespace, name), self._provision(claim, storage_class))

    async def _provision(self, claim: Obj, storage_class: Obj) -> None:
        m = claim["metadata"]
        provisioner = str(storage_class["provisioner"])
        component = self._component(provisioner)
        record(
            self.store,
            claim,
            "Provisioning",
            f'External provisioner is provisioning volume for claim "{m["namespace"]}/{m["name"]}"',
            component=component,
        )
        delay = self.timing.delay("provision")
        if self.faults.on("slow-provisioning"):
            delay += self.faults.value("slow-provisioning") or 0.0
        await asyncio.sleep(delay)  # the storage backend's latency
        current = self.store.find(PVC, m["namespace"], m["name"])
        if (
            current is None
            or current["metadata"]["uid"] != m["uid"]
            or (current.get("spec") or {}).get("volumeName")
        ):
            return
        try:
            mode = (current.get("spec") or {}).get("volumeMode")
            if share_class(storage_class) and mode == "Block":  # a share has no raw device
                raise ValueError("Block volume capability not supported")
            pv = build_volume(current, storage_class)
        except ValueError as exc:  # the class asks for what its driver or the nodes cannot do
            record(
                self.store,
                current,
                "ProvisioningFailed",
                "failed to provision volume with StorageClass "
                f'"{storage_class["metadata"]["name"]}": rpc error: code = InvalidArgument '
                f"desc = {exc}",
                component=component,
                type_="Warning",
            )
            raise RuntimeFailure(str(exc)) from exc
        self._place(pv, current, storage_class)
        undersized = self.faults.on(WRONG_CAPACITY)
        if undersized:
            pv["spec"]["capacity"]["storage"] = _half(pv["spec"]["capacity"]["storage"])
            # the broken driver cannot grow it either: the resizer must not mend the fault
            meta(pv).setdefault("annotations", {})[UNDERSIZED] = "yes"
        try:
            await self.runtime.provision(pv, storage_class)
        except RuntimeFailure as exc:
            record(
                self.store,
                current,
                "ProvisioningFailed",
                "failed to provision volume with StorageClass "
                f'"{storage_class["metadata"]["name"]}": {exc}',
                component=component,
                type_="Warning",
            )
            raise
        with contextlib.suppress(errors.ApiError):  # AlreadyExists: an earlier attempt made it
            self.store.create(PV, pv)
        if undersized:
            self._name_volume(current, pv["metadata"]["name"])
        record(
            self.store,
            current,
            "ProvisioningSucceeded",
            f"Successfully provisioned volume {pv['metadata']['name']}",
            component=component,
        )

    def _place(self, pv: Obj, claim: Obj, storage_class: Obj) -> None:
        """A zonal driver's volume gets its zone's nodeAffinity (see conformance.sim.topology)."""
        provisioner = str(storage_class.get("provisioner") or "")
        if not topology.zonal(provisioner) or share_class(storage_class):
            return
        selected = (claim["metadata"].get("annotations") or {}).get(SELECTED_NODE)
        node = self.store.find(NODE, None, selected) if selected else None
        zone = topology.pick_zone(
            storage_class,
            node,
            self.store.list(NODE),
            ignore_allowed=self.faults.on(TOPOLOGY_IGNORED),
        )
        pv["spec"]["nodeAffinity"] = topology.volume_node_affinity(provisioner, zone)

    def _name_volume(self, claim: Obj, pv_name: str) -> None:
        """Fault pv-wrong-capacity: set the claim's spec.volumeName to the undersized PV.

        The binder's matching skips a PV smaller than the request even when it is
        pre-bound (upstream FindMatchingVolume checks size first), so the claim would
        just stay Pending; a claim that names its volume is bound without a size check,
        as upstream's syncUnboundClaim does, and its status.capacity copies the PV's.
        """
        m = claim["metadata"]

        def name_it(obj: Obj) -> None:
            if obj["metadata"]["uid"] == m["uid"] and not (obj.get("spec") or {}).get("volumeName"):
                obj.setdefault("spec", {})["volumeName"] = pv_name

        with contextlib.suppress(errors.ApiError):  # gone meanwhile: nothing to bind
            self.store.mutate(PVC, m["namespace"], m["name"], name_it)

    def _sync_volume(self, name: str) -> None:
        pv = self.store.find(PV, None, name)
        if pv is None or name in self._busy:
            return
        m = pv["metadata"]
        provisioner = (m.get("annotations") or {}).get(PROVISIONED_BY, "")
        if not serves(provisioner):
            return
        spec = pv.get("spec") or {}
        phase = (pv.get("status") or {}).get("phase")
        released = (
            phase in ("Released", "Failed")
            and spec.get("persistentVolumeReclaimPolicy") == "Delete"
        )
        unbound_deleting = bool(m.get("deletionTimestamp")) and phase != "Bound"
        if released or (unbound_deleting and PROVISIONER_FINALIZER in (m.get("finalizers") or [])):
            self._spawn(name, ("", name), self._delete(pv))

    async def _delete(self, pv: Obj) -> None:
        name = pv["metadata"]["name"]
        await self.runtime.delete_volume(pv)
        current = self.store.find(PV, None, name)
        if current is None:
            return
        if not current["metadata"].get("deletionTimestamp"):
            current = self.store.delete(PV, None, name)
        if PROVISIONER_FINALIZER in (current["metadata"].get("finalizers") or []):
            with contextlib.suppress(errors.ApiError):
                _remove_finalizer(self.store, PV, None, name, PROVISIONER_FINALIZER)


def _half(size: Any) -> str:
    """Half a quantity, in bytes rounded down, written with the largest exact binary suffix."""
    half = int(quantity(size) / 2)
    for suffix, power in (("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)):
        if half and half % 2**power == 0:
            return f"{half >> power}{suffix}"
    return str(half)


def _class_fs_type(storage_class: Obj) -> str:
    parameters = storage_class.get("parameters") or {}
    return str(
        parameters.get("fsType") or parameters.get("csi.storage.k8s.io/fstype") or DEFAULT_FS_TYPE
    )


def share_class(storage_class: Obj) -> bool:
    """Whether a class provisions network file shares (its fs type is a share's)."""
    return _class_fs_type(storage_class) in SHARE_FS_TYPES


def build_volume(claim: Obj, storage_class: Obj) -> Obj:
    """The PV an external provisioner creates for a claim of a class (CSI or flex style;
    a share class's PVs are CSI volumes with the share's path in their volume context,
    the runtime adding its server when it creates the share).

    Raises ValueError when the class's parameters ask for a device stack the simulated
    nodes cannot show (see :class:`Provisioner`).
    """
    m = claim["metadata"]
    spec = claim.get("spec") or {}
    provisioner = str(storage_class["provisioner"])
    parameters: dict[str, str] = {
        str(k): str(v) for k, v in (storage_class.get("parameters") or {}).items()
    }
    name = f"pvc-{m['uid']}"
    fs_type = _class_fs_type(storage_class)
    plugin_dir = parameters.get("pluginDir", "")
    stack = StackParameters.parse(parameters)
    attributes = {key: parameters[key] for key in STACK_PARAMETERS if key in parameters}
    policy = storage_class.get("reclaimPolicy") or "Delete"
    pv_spec: dict[str, Any] = {
        "capacity": {"storage": (spec.get("resources") or {}).get("requests", {}).get("storage")},
        "accessModes": list(spec.get("accessModes") or []),
        "persistentVolumeReclaimPolicy": policy,
        "storageClassName": storage_class["metadata"]["name"],
        "volumeMode": spec.get("volumeMode") or "Filesystem",
        "claimRef": {
            "kind": "PersistentVolumeClaim",
            "namespace": m["namespace"],
            "name": m["name"],
            "uid": m["uid"],
            "apiVersion": "v1",
            "resourceVersion": m.get("resourceVersion", ""),
        },
    }
    if storage_class.get("mountOptions"):
        pv_spec["mountOptions"] = list(storage_class["mountOptions"])
    flex = (plugin_dir and plugin_dir != CSI_PLUGIN_DIR) or provisioner == SIM_FLEX_PROVISIONER
    if fs_type in SHARE_FS_TYPES:  # as csi-driver-nfs: no fsType, the share in the context
        pv_spec["csi"] = {
            "driver": provisioner,
            "volumeHandle": f"sim-{m['uid']}",
            "volumeAttributes": {"share": f"{SHARE_EXPORTS}/{name}"},
        }
    elif flex:
        plugin_dir = plugin_dir or SIM_FLEX_PROVISIONER.replace("/", "~")
        vendor, _, driver = plugin_dir.partition("~")
        pv_spec["flexVolume"] = {
            "driver": f"{vendor}/{driver}" if driver else vendor,
            "fsType": fs_type,
            "options": {**attributes, "pluginDir": plugin_dir},
        }
    else:
        pv_spec["csi"] = {
            "driver": provisioner,
            "volumeHandle": stack.volume_handle(m["uid"]),
            "fsType": fs_type,
            "volumeAttributes": attributes,
        }
    finalizers = [PV_PROTECTION]
    if policy == "Delete":
        finalizers.append(PROVISIONER_FINALIZER)
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": name,
            "annotations": {PROVISIONED_BY: provisioner},
            "finalizers": finalizers,
        },
        "spec": pv_spec,
    }


__all__ = [
    "PersistentVolumeController",
    "Provisioner",
    "build_volume",
    "default_storage_class",
    "find_matching_volume",
    "label_selector_matches",
    "node_selector_terms_match",
    "pvc_protection",
    "quantity",
    "serves",
    "share_class",
    "storage_protection",
    "volume_fits_node",
]
