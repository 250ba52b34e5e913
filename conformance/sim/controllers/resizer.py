"""Volume expansion: the PersistentVolumeClaimResize admission, the resize controller
(kube-controller-manager's volume_expand with the CSI external-resizer folded in) and
the kubelet's part (NodeExpandVolume of a mounted volume).

The protocol is upstream's:

1. A user raises a bound claim's ``spec.resources.requests.storage``. Admission refuses
   it unless the claim is Bound and its class has ``allowVolumeExpansion: true``.
2. :class:`ExpandController` sees request > ``status.capacity``: for a CSI volume
   volume_expand records ``ExternalExpanding`` and the external-resizer takes over: the
   claim gets the condition ``Resizing`` and the event ``Resizing``, the backend grows
   the volume (:meth:`NodeRuntime.expand_volume`: the image, ``losetup -c``, the nodes'
   sysfs sizes), the PV's ``spec.capacity`` is raised, and the claim's condition
   becomes ``FileSystemResizePending`` (event ``FileSystemResizeRequired``). A share
   needs no node step: its claim is finished at once (``VolumeResizeSuccessful``).
3. :class:`NodeExpander` (the kubelet) grows the filesystem of a pending claim once a
   Running pod mounts it (resize2fs / xfs_growfs), records ``FileSystemResizeSuccessful``
   on the pod and the claim, sets ``status.capacity`` to the PV's and clears the
   conditions. Without a running pod it waits: a pod (re)started later triggers it,
   which is what offline expansion looks like to a user. A node that can grow the
   filesystem only unmounted (``EXPAND_IN_USE``: an ext4 volume where the simulator
   lacks CAP_SYS_RESOURCE) grows it at the pod's next mount; the claim then finishes
   once that pod runs.

Where this differs from the real components: the kubelet part grows the filesystem
right after the pod is Running, where a real kubelet grows it in MountDevice before the
container starts (offline) or at its next pod sync, up to a minute or two later
(online); one expander serves all nodes. A flexVolume PV is expanded by the in-tree
path (no ExternalExpanding, no Resizing event), which records no event on success, as
upstream. ``status.allocatedResources`` and ``allocatedResourceStatuses``
(RecoverVolumeExpansionFailure) are not kept; every sim driver expands online, so the
external-resizer's in-use handling of offline-only drivers never comes into play.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

from conformance.sim.api import errors
from conformance.sim.api.kinds import Kind
from conformance.sim.api.store import Event, Hook, Obj, Store, now_rfc3339
from conformance.sim.controllers.base import Controller, QueueKey, RuntimeController
from conformance.sim.controllers.events import record
from conformance.sim.controllers.volumes import (
    POD,
    PV,
    PVC,
    STORAGE_CLASS,
    UNDERSIZED,
    claim_class,
    pod_claims,
    quantity,
    serves,
)
from conformance.sim.faults import ActiveFaults
from conformance.sim.profiles import Timing
from conformance.sim.runtimes.base import EXPAND_IN_USE, NodeRuntime, RuntimeFailure, is_share

log = logging.getLogger(__name__)

RESIZING = "Resizing"
FS_RESIZE_PENDING = "FileSystemResizePending"
RESIZE_CONDITIONS = (RESIZING, FS_RESIZE_PENDING, "ControllerResizeError", "NodeResizeError")
VOLUME_EXPAND = "volume_expand"  # kube-controller-manager's expand controller
KUBELET = "kubelet"

NOT_BOUND = "Only bound persistent volume claims can be expanded"
NOT_RESIZABLE = (
    "only dynamically provisioned pvc can be resized and "
    "the storageclass that provisions the pvc must support resize"
)
EXTERNAL_EXPANDING = "waiting for an external controller to expand this PVC"
FS_RESIZE_PENDING_MESSAGE = (
    "Waiting for user to (re-)start a pod to finish file system resize of volume on node."
)


def _requested(claim: Obj) -> Any:
    return ((claim.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage")


def _size(value: Any) -> int:
    """Bytes of a quantity; 0 when absent or unreadable."""
    try:
        return int(quantity(value)) if value is not None else 0
    except ValueError:
        return 0


def _capacity(obj: Obj, *path: str) -> Any:
    node: Any = obj
    for part in path:
        node = (node or {}).get(part)
    return node


def _conditions(claim: Obj) -> list[dict[str, Any]]:
    return list((claim.get("status") or {}).get("conditions") or [])


def has_condition(claim: Obj, kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True" for c in _conditions(claim))


# --- admission -----------------------------------------------------------------------


def pvc_resize(store: Store) -> Hook:
    """PersistentVolumeClaimResize admission: growing a claim needs it Bound and its class
    to allow expansion (``allowVolumeExpansion: true``); otherwise 403 Forbidden with
    upstream's message. Shrinking and other updates are left to validation."""

    def admit(kind: Kind, obj: Obj, old: Obj | None) -> None:
        if kind != PVC or old is None:
            return
        if _size(_requested(obj)) <= _size(_requested(old)):
            return
        name = obj["metadata"].get("name", "")
        if (old.get("status") or {}).get("phase") != "Bound":
            raise errors.forbidden(PVC, name, NOT_BOUND)
        class_name, old_class = claim_class(obj), claim_class(old)
        storage_class = store.find(STORAGE_CLASS, None, class_name) if class_name else None
        if (
            not class_name
            or class_name != old_class
            or storage_class is None
            or storage_class.get("allowVolumeExpansion") is not True
        ):
            raise errors.forbidden(PVC, name, NOT_RESIZABLE)

    return admit


# --- the resize controller -----------------------------------------------------------


def _set_conditions(store: Store, claim: Obj, conditions: list[str], message: str = "") -> Obj:
    """Replace the claim's resize conditions with ``conditions`` (others stay), as
    upstream's MergeResizeConditionsOfPVC does; a kept condition keeps its time."""
    uid = claim["metadata"]["uid"]

    def change(obj: Obj) -> None:
        if obj["metadata"]["uid"] != uid:
            raise errors.conflict(PVC, obj["metadata"]["name"], "the claim was replaced")
        old = _conditions(obj)
        kept = [c for c in old if c.get("type") not in RESIZE_CONDITIONS]
        for kind in conditions:
            previous = next((c for c in old if c.get("type") == kind), None)
            condition = previous or {
                "type": kind,
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": now_rfc3339(),
            }
            if kind == FS_RESIZE_PENDING and message:
                condition["message"] = message
            kept.append(condition)
        status = obj.setdefault("status", {})
        if kept:
            status["conditions"] = kept
        else:
            status.pop("conditions", None)

    m = claim["metadata"]
    return store.mutate(PVC, m["namespace"], m["name"], change, subresource="status")


def finish_resize(store: Store, claim: Obj, capacity: Any) -> Obj:
    """MarkResizeFinished / MarkFSResizeFinished: status.capacity is the new size and
    the resize conditions go."""
    uid = claim["metadata"]["uid"]

    def change(obj: Obj) -> None:
        if obj["metadata"]["uid"] != uid:
            raise errors.conflict(PVC, obj["metadata"]["name"], "the claim was replaced")
        status = obj.setdefault("status", {})
        status.setdefault("capacity", {})["storage"] = capacity
        conditions = [c for c in _conditions(obj) if c.get("type") not in RESIZE_CONDITIONS]
        if conditions:
            status["conditions"] = conditions
        else:
            status.pop("conditions", None)

    m = claim["metadata"]
    return store.mutate(PVC, m["namespace"], m["name"], change, subresource="status")


def _driver(pv: Obj) -> str:
    """The CSI driver of a PV ("" for a flexVolume or another in-tree source)."""
    return str(((pv.get("spec") or {}).get("csi") or {}).get("driver") or "")


class ExpandController(RuntimeController):
    """kube-controller-manager's volume_expand and the CSI external-resizer, for the
    classes this simulator provisions. Keys: claims."""

    name = "volume-expander"

    def __init__(
        self,
        store: Store,
        runtime: NodeRuntime,
        timing: Timing,
        faults: ActiveFaults | None = None,
    ) -> None:
        super().__init__(store, runtime, timing, faults)
        self._busy: dict[str, asyncio.Task[None]] = {}  # claim uid -> resize in flight
        self._failures: dict[str, int] = {}
        self._said: set[tuple[str, str]] = set()  # (claim uid, request) ExternalExpanding said

    def keys_for(self, event: Event) -> Iterable[QueueKey]:
        if event.kind == PVC and event.type != "DELETED":
            m = event.object["metadata"]
            yield (m["namespace"], m["name"])

    def all_keys(self) -> Iterable[QueueKey]:
        for claim in self.store.list(PVC):
            yield (claim["metadata"]["namespace"], claim["metadata"]["name"])

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            for task in self._busy.values():
                task.cancel()

    async def reconcile(self, key: QueueKey) -> None:
        claim = self.store.find(PVC, *key)
        if claim is None or claim["metadata"].get("deletionTimestamp"):
            return
        m = claim["metadata"]
        spec = claim.get("spec") or {}
        status = claim.get("status") or {}
        request = _requested(claim)
        if status.get("phase") != "Bound" or not spec.get("volumeName") or m["uid"] in self._busy:
            return
        if _size(request) <= _size(_capacity(status, "capacity", "storage")):
            return
        pv = self.store.find(PV, None, spec["volumeName"])
        if pv is None or ((pv.get("spec") or {}).get("claimRef") or {}).get("uid") != m["uid"]:
            return
        if UNDERSIZED in (pv["metadata"].get("annotations") or {}):
            return  # fault pv-wrong-capacity: a driver that got the size wrong cannot mend it
        if _size(_capacity(pv, "spec", "capacity", "storage")) >= _size(request) and (
            has_condition(claim, FS_RESIZE_PENDING)
        ):
            return  # the kubelet's turn
        class_name = claim_class(claim)
        storage_class = self.store.find(STORAGE_CLASS, None, class_name) if class_name else None
        if storage_class is None or not serves(str(storage_class.get("provisioner") or "")):
            return
        driver = _driver(pv)
        if driver and (m["uid"], str(request)) not in self._said:
            self._said.add((m["uid"], str(request)))
            record(
                self.store,
                claim,
                "ExternalExpanding",
                EXTERNAL_EXPANDING,
                component=VOLUME_EXPAND,
                type_="Warning",
            )
        self._busy[m["uid"]] = asyncio.create_task(self._resize(key, claim, pv, request))

    async def _resize(self, key: QueueKey, claim: Obj, pv: Obj, request: Any) -> None:
        uid = claim["metadata"]["uid"]
        try:
            await self._expand(claim, pv, request)
            self._failures.pop(uid, None)
        except asyncio.CancelledError:
            raise
        except (errors.ApiError, RuntimeFailure) as exc:
            log.info("%s: %s/%s: %s", self.name, *key, exc)
            attempt = self._failures.get(uid, 0) + 1
            self._failures[uid] = attempt
            self.enqueue_after(key, min(0.05 * 2**attempt, 5.0))
        except Exception:  # a controller bug must not stop the cluster
            log.exception("%s: resize of %s/%s failed", self.name, *key)
        finally:
            self._busy.pop(uid, None)
        self.enqueue(key)  # the request may have grown meanwhile

    async def _expand(self, claim: Obj, pv: Obj, request: Any) -> None:
        """The external-resizer's resizePVC: Resizing, ControllerExpandVolume, the PV's
        capacity, then FileSystemResizePending (or finished, for a share)."""
        driver = _driver(pv)
        component = f"external-resizer {driver}" if driver else VOLUME_EXPAND
        pv_name = pv["metadata"]["name"]
        claim = _set_conditions(self.store, claim, [RESIZING])
        if driver:
            record(
                self.store,
                claim,
                "Resizing",
                f"External resizer is resizing volume {pv_name}",
                component=component,
            )
        await asyncio.sleep(self.timing.delay("provision"))  # the storage backend's latency
        try:
            await self.runtime.expand_volume(pv, _size(request))
        except RuntimeFailure as exc:
            record(
                self.store,
                claim,
                "VolumeResizeFailed",
                f"resize volume {pv_name} failed: {exc}",
                component=component,
                type_="Warning",
            )
            raise

        def grow(obj: Obj) -> None:
            capacity = obj.setdefault("spec", {}).setdefault("capacity", {})
            if _size(capacity.get("storage")) < _size(request):
                capacity["storage"] = request

        self.store.mutate(PV, None, pv_name, grow)
        if is_share(pv):  # nothing to grow on a node: finished
            finish_resize(self.store, claim, request)
            record(
                self.store,
                claim,
                "VolumeResizeSuccessful",
                "Resize volume succeeded",
                component=component,
            )
            return
        claim = _set_conditions(self.store, claim, [FS_RESIZE_PENDING], FS_RESIZE_PENDING_MESSAGE)
        if driver:
            record(
                self.store,
                claim,
                "FileSystemResizeRequired",
                "Require file system resize of volume on node",
                component=component,
            )


# --- the kubelet's part --------------------------------------------------------------


def _running_on_node(pod: Obj) -> bool:
    return (
        (pod.get("status") or {}).get("phase") == "Running"
        and bool((pod.get("spec") or {}).get("nodeName"))
        and not pod["metadata"].get("deletionTimestamp")
    )


class NodeExpander(Controller):
    """The kubelet's NodeExpandVolume for claims pending a filesystem resize, once a
    Running pod mounts them. Keys: claims (a pod's events queue the claims it uses)."""

    name = "kubelet-volume-expander"

    def __init__(
        self,
        store: Store,
        runtime: NodeRuntime,
        timing: Timing | None = None,
        faults: ActiveFaults | None = None,
    ) -> None:
        super().__init__(store)
        self.runtime = runtime
        self._failures: dict[QueueKey, int] = {}

    def keys_for(self, event: Event) -> Iterable[QueueKey]:
        m = event.object["metadata"]
        if event.kind == PVC and event.type != "DELETED":
            if has_condition(event.object, FS_RESIZE_PENDING):
                yield (m["namespace"], m["name"])
        elif event.kind == POD and event.type != "DELETED" and _running_on_node(event.object):
            for claim in pod_claims(event.object):
                yield (m["namespace"], claim)

    def all_keys(self) -> Iterable[QueueKey]:
        for claim in self.store.list(PVC, None, lambda c: has_condition(c, FS_RESIZE_PENDING)):
            yield (claim["metadata"]["namespace"], claim["metadata"]["name"])

    async def reconcile(self, key: QueueKey) -> None:
        claim = self.store.find(PVC, *key)
        if claim is None or not has_condition(claim, FS_RESIZE_PENDING):
            return
        pv = self.store.find(PV, None, (claim.get("spec") or {}).get("volumeName") or "")
        if pv is None:
            return
        namespace, name = key
        users = sorted(
            self.store.list(
                POD, namespace, lambda p: _running_on_node(p) and name in pod_claims(p)
            ),
            key=lambda p: str(p["metadata"].get("creationTimestamp", "")),
        )
        if not users:
            return  # offline: the next pod to mount it finishes the resize
        pod = users[0]
        node = str(pod["spec"]["nodeName"])
        pv_name = pv["metadata"]["name"]
        try:
            await self.runtime.expand_filesystem(node, pod, pv)
        except RuntimeFailure as exc:
            if exc.reason == EXPAND_IN_USE:  # grows at the next mount; upstream only logs it
                log.info("%s: %s/%s: %s", self.name, *key, exc)
                return
            record(
                self.store,
                pod,
                "FileSystemResizeFailed",
                str(exc),
                component=KUBELET,
                type_="Warning",
                host=node,
            )
            attempt = self._failures.get(key, 0) + 1
            self._failures[key] = attempt
            self.enqueue_after(key, min(0.1 * 2**attempt, 10.0))
            return
        self._failures.pop(key, None)
        message = f'MountVolume.NodeExpandVolume succeeded for volume "{pv_name}" {node}'
        for involved in (pod, claim):
            record(
                self.store,
                involved,
                "FileSystemResizeSuccessful",
                message,
                component=KUBELET,
                host=node,
            )
        with contextlib.suppress(errors.ApiError):  # replaced meanwhile: nothing to finish
            finish_resize(self.store, claim, _capacity(pv, "spec", "capacity", "storage"))


__all__ = [
    "FS_RESIZE_PENDING",
    "NOT_RESIZABLE",
    "RESIZING",
    "ExpandController",
    "NodeExpander",
    "finish_resize",
    "has_condition",
    "pvc_resize",
]
