"""The kubelets of every node (with the attach-detach controller's part), on a NodeRuntime.

One :class:`Kubelet` serves all nodes: a pod bound to a node (spec.nodeName) gets
its volumes attached, its images pulled and its containers started through the
runtime, and a status as the real kubelet writes it; a pod being deleted has its
containers stopped within the grace period, its volumes detached when no other pod
on the node uses them, and is then removed (delete with grace period 0). Pods run
concurrently, one worker task each, as the real kubelet's pod workers do.

Wiring: ``register_nodes(store, ["node-1", ...], runtime)`` then run
``Kubelet(store, runtime, timing, faults=None)``, which brings each node up in the
runtime (``add_node``) before placing anything there; :func:`set_node_ready` turns a node's Ready
condition (and the kubelet's willingness to start pods there) off and on;
:meth:`Kubelet.stop_on` / :meth:`Kubelet.start_on` stop and start one node's kubelet
process (``systemctl restart kubelet`` on the node, see kernel/units.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import platform
import time
import uuid
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from conformance.sim import topology
from conformance.sim.api import errors
from conformance.sim.api.kinds import Kind
from conformance.sim.api.store import Event, Obj, Store, kind_named, now_rfc3339
from conformance.sim.controllers.base import QueueKey, RuntimeController
from conformance.sim.controllers.events import record
from conformance.sim.controllers.scheduler import node_ready, set_condition
from conformance.sim.controllers.volumes import PV, PVC, quantity
from conformance.sim.faults import ActiveFaults
from conformance.sim.profiles import Timing
from conformance.sim.runtimes.base import (
    FAILED_ATTACH,
    FAILED_CONTAINER,
    FAILED_KILL,
    FAILED_MOUNT,
    FAILED_SANDBOX,
    RUN_CONTAINER_ERROR,
    NodeRuntime,
    PodStarted,
    PodVolume,
    RuntimeFailure,
    VolumeDevice,
    VolumeMount,
    is_share,
    volume_mode,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

POD: Kind = kind_named("Pod")
NODE: Kind = kind_named("Node")

KUBELET = "kubelet"
TEMPLATES_CROSSED = "claim-templates-crossed"
ATTACH_DETACH = "attachdetach-controller"
RWO_MULTI_ATTACH = "rwo-multi-attach"  # fault: no Multi-Attach error
KUBELET_VERSION = "v1.32.0"
NODE_SUBNET = "10.251.0"  # node n (from 1) is 10.251.0.<n+1>; .1 is the host's bridge end
POD_SUBNET = "10.244"  # node n gets the pod CIDR 10.244.<n>.0/24
STOP_TIMEOUT = 10.0  # seconds a stopping kubelet lets its pod workers finish

_CONDITION_ORDER = (
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
    "PodScheduled",
)


# --- nodes -----------------------------------------------------------------------------


def _arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine or "amd64")


def _os_image() -> str:
    try:
        return platform.freedesktop_os_release().get("PRETTY_NAME", "Linux")
    except OSError:
        return "Linux"


def _node_conditions() -> list[dict[str, Any]]:
    now = now_rfc3339()
    rows = (
        (
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    )
    return [
        {
            "type": type_,
            "status": status,
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        }
        for type_, status, reason, message in rows
    ]


def node_object(
    name: str, number: int, runtime_version: str, node_subnet: str = NODE_SUBNET
) -> Obj:
    """A Node as a freshly registered kubelet reports it (number counts from 1)."""
    arch = _arch()
    machine_id = hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()
    pod_cidr = f"{POD_SUBNET}.{number}.0/24"
    capacity = {
        "cpu": "4",
        "ephemeral-storage": "102687672Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": "16374584Ki",
        "pods": "110",
    }
    allocatable = {**capacity, "ephemeral-storage": "94636958175", "memory": "16272184Ki"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "beta.kubernetes.io/arch": arch,
                "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": arch,
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                **topology.node_labels(number),
            },
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]},
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": f"{node_subnet}.{number + 1}"},
                {"type": "Hostname", "address": name},
            ],
            "capacity": capacity,
            "allocatable": allocatable,
            "conditions": _node_conditions(),
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": arch,
                "bootID": str(uuid.uuid4()),
                "containerRuntimeVersion": runtime_version,
                "kernelVersion": platform.release(),
                "kubeProxyVersion": KUBELET_VERSION,
                "kubeletVersion": KUBELET_VERSION,
                "machineID": machine_id,
                "operatingSystem": "linux",
                "osImage": _os_image(),
                "systemUUID": str(uuid.UUID(machine_id)),
            },
            "images": [],
        },
    }


def register_nodes(
    store: Store, names: list[str], runtime: NodeRuntime, node_subnet: str = NODE_SUBNET
) -> list[Obj]:
    """Register a Node object per name (node n from 1 gets 10.251.0.<n+1>, 10.244.<n>.0/24).

    Existing Nodes are kept. The node side comes up when the :class:`Kubelet` starts:
    it calls ``runtime.add_node`` with each Node's address and pod CIDR.
    """
    nodes: list[Obj] = []
    for number, name in enumerate(names, start=1):
        existing = store.find(NODE, None, name)
        if existing is not None:
            nodes.append(existing)
            continue
        created = store.create(
            NODE, node_object(name, number, runtime.runtime_version, node_subnet)
        )
        record(store, created, "Starting", "Starting kubelet.", component=KUBELET, host=name)
        record(
            store,
            created,
            "NodeReady",
            f"Node {name} status is now: NodeReady",
            component=KUBELET,
            host=name,
        )
        nodes.append(created)
    return nodes


def node_address(node: Obj) -> str:
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") == "InternalIP":
            return str(address.get("address", ""))
    return ""


def post_node_status(store: Store, name: str) -> Obj:
    """A heartbeat: the kubelet posts its node's status (every condition's
    lastHeartbeatTime moves; statuses stay), as a starting kubelet does at once."""

    def change(node: Obj) -> None:
        now = now_rfc3339()
        for condition in node.setdefault("status", {}).setdefault("conditions", []):
            condition["lastHeartbeatTime"] = now

    return store.mutate(NODE, None, name, change, subresource="status")


def set_node_ready(store: Store, name: str, ready: bool) -> Obj:
    """Mark a node Ready, or as a node whose kubelet stopped posting status (Unknown)."""

    def change(node: Obj) -> None:
        for condition in node.setdefault("status", {}).setdefault("conditions", []):
            if condition.get("type") != "Ready":
                continue
            status, reason, message = (
                ("True", "KubeletReady", "kubelet is posting ready status")
                if ready
                else ("Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
            )
            now = now_rfc3339()
            if condition.get("status") != status:
                condition["lastTransitionTime"] = now
            condition.update(status=status, reason=reason, message=message, lastHeartbeatTime=now)

    return store.mutate(NODE, None, name, change, subresource="status")


# --- pods -------------------------------------------------------------------------------


def normalize_image(image: str) -> str:
    """An image reference as the runtime reports it: registry, repository and tag."""
    name = image
    if "@" not in name and ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    first = name.split("/", 1)[0]
    if "/" not in name:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    return name


def image_id(image: str) -> str:
    full = normalize_image(image)
    repository = full.split("@", 1)[0]
    if ":" in repository.rsplit("/", 1)[-1]:
        repository = repository.rsplit(":", 1)[0]
    return f"{repository}@sha256:{hashlib.sha256(full.encode()).hexdigest()}"


def _image_size(image: str) -> int:
    digest = hashlib.sha256(normalize_image(image).encode()).digest()
    return 10_000_000 + int.from_bytes(digest[:4], "big") % 90_000_000


def go_duration(seconds: float) -> str:
    """A duration as Go's time.Duration prints it (``512ms``, ``8.916s``, ``5m0s``,
    ``1h0m0s``), rounded to milliseconds."""
    millis = round(seconds * 1000)
    if millis == 0:
        return "0s"
    if millis < 1000:
        return f"{millis}ms"
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    text = f"{rest / 1000:.3f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    return f"{minutes}m{text}" if minutes else text


def qos_class(pod: Obj) -> str:
    spec = pod.get("spec") or {}
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    guaranteed = True
    best_effort = True
    for container in containers:
        resources = container.get("resources") or {}
        limits = resources.get("limits") or {}
        requests = {**limits, **(resources.get("requests") or {})}
        if any(k in requests or k in limits for k in ("cpu", "memory")):
            best_effort = False
        for resource in ("cpu", "memory"):
            if resource not in limits or _amount(requests.get(resource)) != _amount(
                limits[resource]
            ):
                guaranteed = False
    if best_effort:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _amount(value: Any) -> Decimal | None:
    try:
        return quantity(value) if value is not None else None
    except ValueError:
        return None


def _pull_policy(container: Obj) -> str:
    policy = container.get("imagePullPolicy")
    if policy:
        return str(policy)
    image = str(container.get("image", ""))
    tagged = "@" in image or ":" in image.rsplit("/", 1)[-1]
    return "IfNotPresent" if tagged and not image.endswith(":latest") else "Always"


def _volume_mounts(container: Obj) -> list[dict[str, Any]]:
    mounts = []
    for mount in container.get("volumeMounts") or []:
        status: dict[str, Any] = {"name": mount.get("name"), "mountPath": mount.get("mountPath")}
        if mount.get("readOnly"):
            status["readOnly"] = True
            status["recursiveReadOnly"] = "Disabled"
        mounts.append(status)
    return mounts


def _order_conditions(status: dict[str, Any]) -> None:
    rank = {name: i for i, name in enumerate(_CONDITION_ORDER)}
    status["conditions"] = sorted(
        status.get("conditions") or [], key=lambda c: rank.get(c.get("type"), len(rank))
    )


def _check_volume_mode(volume: PodVolume) -> None:
    """The volume manager's check that containers use a claim as its volumeMode says
    (desired_state_of_world_populator.go); the pod's volumes are never set up otherwise."""
    mode = volume_mode(volume.pv)
    misuse = (
        "volumeMounts"
        if volume.mounts and mode != "Filesystem"
        else "volumeDevices"
        if volume.devices and mode != "Block"
        else ""
    )
    if misuse:
        raise RuntimeFailure(
            f"Unable to attach or mount volumes: unmounted volumes=[{volume.name}], "
            f"failed to process volumes=[{volume.name}]: volume {volume.name} has volumeMode "
            f"{mode}, but is specified in {misuse}",
            reason="FailedMount",
        )


@dataclass
class _PodRecord:
    """What the kubelet did for one pod (by uid) on its node."""

    uid: str
    node: str
    pod: Obj
    volumes: dict[str, Obj] = field(default_factory=dict)  # PV name -> PV as attached
    started: PodStarted | None = None
    started_at: str = ""
    mounted: bool = False  # the volume manager mounted the pod's volumes
    mount_wait_since: float | None = None  # monotonic: waiting for attach/mount since
    # the container: why it waits (reason, message), its restarts and its last exit
    waiting: tuple[str, str] | None = None
    restarts: int = 0
    last_state: dict[str, Any] = field(default_factory=dict)
    backoff: float = 0.0  # the container's next restart back-off (0: restart at once)
    backoff_wait: float = 0.0  # the back-off it waits now
    backoff_until: float = 0.0  # monotonic: no restart before
    backoff_updated: float = 0.0  # monotonic: the last failure
    watcher: asyncio.Task[None] | None = None  # waits for the container to end
    stopping: bool = False  # the kubelet stops the pod: its exit is no crash

    @property
    def in_backoff(self) -> bool:
        return time.monotonic() < self.backoff_until


def crossed(volumes: list[PodVolume]) -> list[PodVolume]:
    """Fault claim-templates-crossed: the first two claims' volumes swap mount paths (the
    second template's volume at the first's path); upstream mounts each at its own."""
    mounted = [n for n, v in enumerate(volumes) if v.mounts]
    if len(mounted) < 2:
        return volumes
    first, second = mounted[0], mounted[1]
    swapped = list(volumes)
    swapped[first] = dataclasses.replace(volumes[first], mounts=volumes[second].mounts)
    swapped[second] = dataclasses.replace(volumes[second], mounts=volumes[first].mounts)
    return swapped


def pod_ref(pod: Obj) -> str:
    """A pod as the kubelet's format.Pod names it: ``name_namespace(uid)``."""
    m = pod["metadata"]
    return f"{m['name']}_{m.get('namespace', '')}({m.get('uid', '')})"


def container_path(container: str) -> str:
    """The fieldPath of a container's events (kubecontainer.GenerateContainerRef)."""
    return f"spec.containers{{{container}}}"


class Kubelet(RuntimeController):
    """The kubelets of all registered nodes; keys are pods.

    A pod's start goes through the steps of the real kubelet, each reporting its failure
    as upstream does (reasons from pkg/kubelet/events, messages from the volume
    operation executor and the runtime manager): the attach-detach controller's attach
    (``FailedAttachVolume``), the volume manager's mounts (``FailedMount``, and
    ``Unable to attach or mount volumes: ...`` once the profile's ``mount_timeout``
    passed without them), the runtime's sandbox (``FailedCreatePodSandBox``) and the
    container (``Failed`` with ``Error: ...`` and the container waiting with
    ``CreateContainerError`` or ``RunContainerError``). A container that ends or cannot
    be started is restarted after the kubelet's back-off (``BackOff`` events, waiting
    ``CrashLoopBackOff``), as restartPolicy says. Events are correlated by
    :func:`conformance.sim.controllers.events.record`, so retries bump one event's count.

    Where it differs: images are pulled before the sandbox is made (upstream pulls
    after), the back-off delays come from the latency profile, and a restart makes the
    pod's namespaces anew (one container per pod, so the sandbox restarts with it).
    """

    name = KUBELET

    def __init__(
        self,
        store: Store,
        runtime: NodeRuntime,
        timing: Timing,
        faults: ActiveFaults | None = None,
    ) -> None:
        super().__init__(store, runtime, timing, faults)
        self._nodes_up: dict[str, asyncio.Task[None]] = {}  # node -> runtime.add_node
        self._records: dict[QueueKey, _PodRecord] = {}
        self._attached: dict[str, set[str]] = {}  # PV name -> nodes it is attached to
        self._images: dict[str, set[str]] = {}  # node -> images present
        self._pulling: dict[str, asyncio.Lock] = {}  # node -> its image puller (serialized)
        self._attaching: dict[str, asyncio.Lock] = {}  # PV name -> one attach at a time
        self._waiting: set[QueueKey] = set()  # pods waiting on volumes, nodes or detaches
        self._workers: dict[QueueKey, asyncio.Task[None]] = {}
        self._dirty: set[QueueKey] = set()
        self._failures: dict[QueueKey, int] = {}
        self._said: set[tuple[str, str]] = set()  # (pod uid, message) of warnings emitted
        self._stopped: set[str] = set()  # nodes whose kubelet is stopped (systemctl stop)
        self._deferred: set[QueueKey] = set()  # pods synced while their kubelet was stopped

    # --- queue ---------------------------------------------------------------------

    def keys_for(self, event: Event) -> Iterable[QueueKey]:
        if event.kind == POD:
            m = event.object["metadata"]
            key = (m["namespace"], m["name"])
            if (event.object.get("spec") or {}).get("nodeName") or key in self._records:
                yield key
            if event.type == "DELETED":
                self._waiting.discard(key)
        elif event.kind in (PVC, PV, NODE):
            yield from list(self._waiting)

    def all_keys(self) -> Iterable[QueueKey]:
        for pod in self.store.list(
            POD, None, lambda p: bool((p.get("spec") or {}).get("nodeName"))
        ):
            yield (pod["metadata"]["namespace"], pod["metadata"]["name"])
        yield from list(self._records)

    async def reconcile(self, key: QueueKey) -> None:
        if key in self._workers:
            self._dirty.add(key)
        else:
            self._workers[key] = asyncio.create_task(self._work(key))

    async def _work(self, key: QueueKey) -> None:
        """The pod worker: syncs one pod until nothing new came in; failures retry later."""
        try:
            while True:
                self._dirty.discard(key)
                try:
                    await self._sync(key)
                    self._failures.pop(key, None)
                except asyncio.CancelledError:
                    raise
                except RuntimeFailure as exc:  # reported as an event where it happened
                    log.warning("kubelet: pod %s/%s: %s: %s", *key, exc.reason, exc)
                    self._backoff(key)
                except errors.ApiError as exc:
                    log.info("kubelet: pod %s/%s: %s", *key, exc)
                    self._backoff(key)
                except Exception:  # a kubelet bug must not stop the cluster
                    log.exception("kubelet: sync of %s failed", key)
                    self._backoff(key)
                if key not in self._dirty:
                    break
        finally:
            self._workers.pop(key, None)

    def _backoff(self, key: QueueKey) -> None:
        attempt = self._failures.get(key, 0) + 1
        self._failures[key] = attempt
        self.enqueue_after(key, min(0.05 * 2**attempt, 5.0))

    async def run(self) -> None:
        try:
            for node in self.store.list(NODE):
                self._node_up(node)
            await super().run()
        finally:
            watchers = [r.watcher for r in self._records.values() if r.watcher is not None]
            for task in [*self._workers.values(), *self._nodes_up.values(), *watchers]:
                task.cancel()

    def _node_up(self, node: Obj) -> asyncio.Task[None]:
        """Bring the node side of a Node up once (retried if it failed)."""
        name = node["metadata"]["name"]
        task = self._nodes_up.get(name)
        if task is None or (task.done() and (task.cancelled() or task.exception())):
            cidr = (node.get("spec") or {}).get("podCIDR") or ""
            task = asyncio.create_task(
                self.runtime.add_node(name, address=node_address(node), pod_cidr=cidr)
            )
            self._nodes_up[name] = task
        return task

    def _wake_waiting(self) -> None:
        for key in list(self._waiting):
            self.enqueue(key)

    def _event(
        self,
        pod: Obj,
        reason: str,
        message: str,
        type_: str = "Normal",
        *,
        container: str = "",
    ) -> None:
        node = (pod.get("spec") or {}).get("nodeName")
        record(
            self.store,
            pod,
            reason,
            message,
            component=KUBELET,
            type_=type_,
            host=node,
            field_path=container_path(container) if container else "",
        )

    # --- the kubelet process (``systemctl stop|start|restart kubelet`` on a node) ---------

    def running_on(self, node: str) -> bool:
        """Whether the node's kubelet process runs (it does unless stopped)."""
        return node not in self._stopped

    async def stop_on(self, node: str) -> None:
        """End the node's kubelet process, as ``systemctl stop kubelet`` does.

        Its pods keep running: containers belong to the runtime, mounts to the node's
        kernel. Nothing of the node is synced any more (no pod starts, status updates or
        terminations; deleted pods stay Terminating) and its PLEG stops watching the
        containers. The work a pod worker is in the middle of completes first (up to
        ``STOP_TIMEOUT``), as the real kubelet's operations end with its process.
        """
        if node in self._stopped:
            return
        self._stopped.add(node)
        for rec in self._records.values():
            if rec.node == node and rec.watcher is not None:
                rec.watcher.cancel()
                rec.watcher = None
        busy = [task for key, task in self._workers.items() if self._node_of(key) == node]
        if busy:
            await asyncio.wait(busy, timeout=STOP_TIMEOUT)
        log.info("kubelet: stopped on node %s", node)

    async def start_on(self, node: str) -> None:
        """Start the node's kubelet process again, as ``systemctl start kubelet`` does.

        It posts the node's status at once (a heartbeat, the ``Starting`` event) and
        adopts the pods still running there: their containers and volume mounts are
        kept, not restarted or remounted, as the real kubelet reconstructs its volume
        state from the pods directory and finds the containers in the runtime. Under
        fault ``kubelet-restart-kills-pods`` it restarts every container of the node
        instead (its volumes unmounted and mounted again, the restart counted).

        Where it differs: the real kubelet loses its memory and rebuilds it from the
        runtime and ``/var/lib/kubelet/pods``; this one keeps its pod records across the
        restart and checks each container is still running by watching it again.
        """
        if node not in self._stopped:
            return
        self._stopped.discard(node)
        node_obj = self.store.find(NODE, None, node)
        if node_obj is not None:
            record(
                self.store, node_obj, "Starting", "Starting kubelet.", component=KUBELET, host=node
            )
            with contextlib.suppress(errors.ApiError):
                post_node_status(self.store, node)
            record(
                self.store,
                node_obj,
                "NodeAllocatableEnforced",
                "Updated Node Allocatable limit across pods",
                component=KUBELET,
                host=node,
            )
        kill = self.faults.on("kubelet-restart-kills-pods")
        for key, rec in list(self._records.items()):
            if rec.node != node or rec.started is None:
                continue
            if kill:
                await self._restart_container(key, rec)
            elif rec.watcher is None:
                rec.watcher = asyncio.create_task(self._watch(key, rec))
        deferred = {key for key in self._deferred if self._node_of(key) in ("", node)}
        self._deferred -= deferred
        for key in deferred | {k for k, r in self._records.items() if r.node == node}:
            self.enqueue(key)
        log.info("kubelet: started on node %s", node)

    def _node_of(self, key: QueueKey) -> str:
        rec = self._records.get(key)
        if rec is not None:
            return rec.node
        pod = self.store.find(POD, *key)
        return str(((pod or {}).get("spec") or {}).get("nodeName") or "")

    async def _restart_container(self, key: QueueKey, rec: _PodRecord) -> None:
        """Kill the pod's running container and let the worker start it again (fault
        kubelet-restart-kills-pods): its volumes are unmounted and mounted anew."""
        pod = self.store.find(POD, *key)
        if pod is None or pod["metadata"]["uid"] != rec.uid:
            return
        rec.stopping = True
        if rec.watcher is not None:
            rec.watcher.cancel()
            rec.watcher = None
        try:
            await self.runtime.stop_pod(rec.node, pod, 0.0)
        except RuntimeFailure as exc:
            log.warning("kubelet: pod %s/%s: killing it on restart: %s", *key, exc)
        self._container_ended(rec, 137, "Error", "", now_rfc3339())
        rec.started = None
        rec.mounted = False
        node = self.store.find(NODE, None, rec.node)
        if node is not None:  # not Ready until the worker has started it again
            with contextlib.suppress(errors.ApiError):
                self._write_status(pod, self._pending_status(pod, node, rec))

    # --- sync ----------------------------------------------------------------------

    async def _sync(self, key: QueueKey) -> None:
        pod = self.store.find(POD, *key)
        rec = self._records.get(key)
        node_of = ((pod or {}).get("spec") or {}).get("nodeName") or (rec.node if rec else "")
        if node_of in self._stopped:  # no kubelet there: the pod waits for it to start
            self._deferred.add(key)
            return
        if rec is not None and (pod is None or pod["metadata"]["uid"] != rec.uid):
            await self._teardown(key, rec, 0.0)  # force-deleted, or replaced under the same name
        if pod is None:
            return
        spec = pod.get("spec") or {}
        node_name = spec.get("nodeName")
        if not node_name:
            return
        if pod["metadata"].get("deletionTimestamp"):
            await self._terminate(key, pod)
            return
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return
        rec = self._records.get(key)
        if rec is not None and rec.started is not None:
            return
        node = self.store.find(NODE, None, node_name)
        if node is None or not node_ready(node):
            self._waiting.add(key)
            return
        await self._node_up(node)
        await self._start(key, pod, node)

    async def _start(self, key: QueueKey, pod: Obj, node: Obj) -> None:
        m = pod["metadata"]
        node_name = node["metadata"]["name"]
        rec = self._records.setdefault(key, _PodRecord(m["uid"], node_name, pod))
        if not (pod.get("status") or {}).get("containerStatuses"):
            self._write_status(pod, self._pending_status(pod, node))
        try:
            volumes = self._resolve_volumes(pod)
        except RuntimeFailure as exc:  # a claim used against its volumeMode
            self._event(pod, exc.reason, str(exc), "Warning")
            raise
        if volumes is None:
            self._waiting.add(key)
            return
        for volume in volumes:
            if volume.pv_name in rec.volumes:
                continue
            if not await self._attach(key, pod, node_name, volume.pv):
                self._waiting.add(key)
                unattached = [v.name for v in volumes if v.pv_name not in rec.volumes]
                self._mount_timeout(key, rec, pod, unattached, unattached)
                return
            rec.volumes[volume.pv_name] = volume.pv
        self._waiting.discard(key)
        if not rec.mounted:
            await self._mount(key, rec, pod, node_name, volumes)
        if rec.in_backoff:  # the container failed a moment ago: restart it later
            self._report_backoff(key, rec, pod, node)
            return
        spec = pod.get("spec") or {}
        containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
        for container in containers:
            await self._pull(pod, node_name, container)
        current = self.store.find(POD, *key)
        if current is None or current["metadata"]["uid"] != rec.uid:
            return
        if current["metadata"].get("deletionTimestamp"):
            self._dirty.add(key)  # terminate on the next pass
            return
        main = str((spec.get("containers") or [{}])[0].get("name", ""))
        try:
            started = await self._runtime_call(
                self.runtime.start_pod(node_name, current, volumes), FAILED_SANDBOX
            )
        except RuntimeFailure as exc:
            if exc.reason == FAILED_SANDBOX:
                message = f"Failed to create pod sandbox: rpc error: code = Unknown desc = {exc}"
                self._event(current, FAILED_SANDBOX, message, "Warning")
            else:
                self._event(current, FAILED_CONTAINER, f"Error: {exc}", "Warning", container=main)
                rec.waiting = (exc.waiting, str(exc))
                if exc.waiting == RUN_CONTAINER_ERROR:  # the container exists, and exited
                    self._container_ended(rec, 128, "StartError", str(exc), now_rfc3339())
                self._write_status(current, self._pending_status(current, node, rec))
            raise
        await asyncio.sleep(self.timing.delay("container_start"))  # the runtime's latency
        rec.started = started
        rec.started_at = now_rfc3339()
        rec.pod = current
        rec.waiting = None
        rec.stopping = False
        for container in containers:
            name = container["name"]
            self._event(current, "Created", f"Created container: {name}", container=name)
            self._event(current, "Started", f"Started container {name}", container=name)
        if started.note:
            self._event(current, "EntrypointReplaced", started.note)
        self._write_status(current, self._running_status(current, node, rec))
        rec.watcher = asyncio.create_task(self._watch(key, rec))

    async def _runtime_call(self, call: Awaitable[T], reason: str) -> T:
        """Await a runtime operation; an unexpected error becomes a RuntimeFailure, so the
        caller reports it as an event instead of only logging it."""
        try:
            return await call
        except (RuntimeFailure, asyncio.CancelledError):
            raise
        except Exception as exc:
            log.exception("kubelet: the node runtime failed unexpectedly")
            raise RuntimeFailure(f"{type(exc).__name__}: {exc}", reason=reason) from exc

    async def _mount(
        self, key: QueueKey, rec: _PodRecord, pod: Obj, node: str, volumes: list[PodVolume]
    ) -> None:
        """The volume manager's part: mount the pod's volumes, or report why not."""
        try:
            await self._runtime_call(self.runtime.mount_volumes(node, pod, volumes), FAILED_MOUNT)
        except RuntimeFailure as exc:
            self._event(pod, exc.reason, str(exc), "Warning")
            if exc.reason == FAILED_MOUNT:
                names = [exc.volume] if exc.volume else [v.name for v in volumes]
                self._mount_timeout(key, rec, pod, names, [])
            raise
        rec.mounted = True
        rec.mount_wait_since = None

    def _mount_timeout(
        self,
        key: QueueKey,
        rec: _PodRecord,
        pod: Obj,
        unmounted: list[str],
        unattached: list[str],
    ) -> None:
        """``Unable to attach or mount volumes`` once the volumes took ``mount_timeout``.

        Upstream's WaitForAttachAndMount gives up after 2m3s and syncPod records this
        event; the pod worker then tries again, and so on. (Since 1.28 upstream skips the
        event when the wait was interrupted, which its own timeout also counts as; the
        simulator reports it, as kubelets up to 1.27 and most field reports show.)
        """
        now = time.monotonic()
        timeout = self.timing.profile.mount_timeout
        if rec.mount_wait_since is None:
            rec.mount_wait_since = now
        elif now - rec.mount_wait_since >= timeout:
            self._event(
                pod,
                FAILED_MOUNT,
                "Unable to attach or mount volumes: "
                f"unmounted volumes=[{' '.join(sorted(unmounted))}], "
                f"unattached volumes=[{' '.join(sorted(unattached))}], "
                "failed to process volumes=[]: timed out waiting for the condition",
                "Warning",
            )
            rec.mount_wait_since = now
        assert rec.mount_wait_since is not None
        self.enqueue_after(key, max(0.0, rec.mount_wait_since + timeout - now) + 0.01)

    def _report_backoff(self, key: QueueKey, rec: _PodRecord, pod: Obj, node: Obj) -> None:
        """A sync during the container's restart back-off: say so, come back after it."""
        spec = pod.get("spec") or {}
        main = str((spec.get("containers") or [{}])[0].get("name", ""))
        self._event(
            pod,
            "BackOff",
            f"Back-off restarting failed container {main} in pod {pod_ref(pod)}",
            "Warning",
            container=main,
        )
        rec.waiting = (
            "CrashLoopBackOff",
            f"back-off {go_duration(rec.backoff_wait)} restarting failed container={main} "
            f"pod={pod_ref(pod)}",
        )
        self._write_status(pod, self._pending_status(pod, node, rec))
        self.enqueue_after(key, max(0.0, rec.backoff_until - time.monotonic()) + 0.01)

    def _container_ended(
        self, rec: _PodRecord, code: int, reason: str, message: str, finished: str
    ) -> None:
        """Record a container's end and start its restart back-off, as the kubelet's
        doBackOff does: the first restart is at once, later ones wait 10s, 20s, ... 5m
        (the profile's ``crash_backoff`` and ``crash_backoff_max``)."""
        terminated: dict[str, Any] = {
            "exitCode": code,
            "reason": reason,
            "startedAt": rec.started_at or finished,
            "finishedAt": finished,
        }
        if message:
            terminated["message"] = message
        if rec.started is not None:
            ids = rec.started.container_ids
            main = next(iter(ids.values()), "")
            if main:
                terminated["containerID"] = main
        rec.last_state = {"terminated": terminated}
        profile = self.timing.profile
        now = time.monotonic()
        if now - rec.backoff_updated > 2 * profile.crash_backoff_max:
            rec.backoff = 0.0  # a long quiet spell forgets the back-off, as flowcontrol does
        rec.backoff_updated = now
        if rec.backoff:
            rec.backoff_until = time.monotonic() + rec.backoff
            rec.backoff_wait = rec.backoff
            rec.backoff = min(rec.backoff * 2, profile.crash_backoff_max)
        else:
            rec.backoff = profile.crash_backoff
        rec.restarts += 1

    async def _watch(self, key: QueueKey, rec: _PodRecord) -> None:
        """Wait for the pod's container to end on its own; then restart it (or not, as
        restartPolicy says)."""
        try:
            code = await self.runtime.wait_pod(rec.node, rec.pod)
        except RuntimeFailure:
            return
        if rec.stopping or self._records.get(key) is not rec:
            return  # stopped by the kubelet itself
        pod = self.store.find(POD, *key)
        if pod is None or pod["metadata"]["uid"] != rec.uid:
            return
        finished = now_rfc3339()
        log.info("kubelet: pod %s/%s: container exited with %d", *key, code)
        rec.stopping = True
        try:
            await self.runtime.stop_pod(rec.node, pod, 0.0)  # what is left of it
        except RuntimeFailure as exc:
            log.warning("kubelet: pod %s/%s: cleaning up after its exit: %s", *key, exc)
        policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
        if policy == "Never" or (policy == "OnFailure" and code == 0):
            self._write_status(pod, self._finished_status(pod, rec, code, finished))
            return
        self._container_ended(rec, code, "Error" if code else "Completed", "", finished)
        rec.started = None
        rec.mounted = False  # stop_pod unmounted its volumes
        rec.watcher = None
        self.enqueue(key)

    def _resolve_volumes(self, pod: Obj) -> list[PodVolume] | None:
        """The pod's PVC-backed volumes, or None while a claim is not bound yet."""
        spec = pod.get("spec") or {}
        containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
        volumes: list[PodVolume] = []
        for volume in spec.get("volumes") or []:
            source = volume.get("persistentVolumeClaim") or {}
            claim_name = source.get("claimName")
            if not claim_name:
                continue
            claim = self.store.find(PVC, pod["metadata"]["namespace"], claim_name)
            if claim is None or (claim.get("status") or {}).get("phase") != "Bound":
                return None
            pv = self.store.find(PV, None, (claim.get("spec") or {}).get("volumeName") or "")
            if pv is None:
                return None
            mounts = tuple(
                VolumeMount(
                    container["name"],
                    mount.get("mountPath", ""),
                    bool(mount.get("readOnly")),
                    mount.get("subPath", ""),
                )
                for container in containers
                for mount in container.get("volumeMounts") or []
                if mount.get("name") == volume.get("name")
            )
            devices = tuple(
                VolumeDevice(container["name"], device.get("devicePath", ""))
                for container in containers
                for device in container.get("volumeDevices") or []
                if device.get("name") == volume.get("name")
            )
            resolved = PodVolume(
                volume["name"],
                claim_name,
                pv["metadata"]["name"],
                mounts,
                bool(source.get("readOnly")),
                pv,
                devices,
            )
            _check_volume_mode(resolved)
            volumes.append(resolved)
        if self.faults.on(TEMPLATES_CROSSED):
            return crossed(volumes)
        return volumes

    async def _attach(self, key: QueueKey, pod: Obj, node: str, pv: Obj) -> bool:
        """Attach a PV to the node; False while another node holds it exclusively."""
        if is_share(pv):  # a CSIDriver with attachRequired false: the kubelet just mounts
            return True
        async with self._attaching.setdefault(pv["metadata"]["name"], asyncio.Lock()):
            return await self._attach_serialized(key, pod, node, pv)

    async def _attach_serialized(self, key: QueueKey, pod: Obj, node: str, pv: Obj) -> bool:
        name = pv["metadata"]["name"]
        holders = self._attached.setdefault(name, set())
        others = holders - {node}
        if others:
            users = [
                other
                for other_key, other in self._records.items()
                if other_key != key and other.node in others and name in other.volumes
            ]
            shared = set((pv.get("spec") or {}).get("accessModes") or []) & {
                "ReadWriteMany",
                "ReadOnlyMany",
            }
            if users and not shared and not self.faults.on(RWO_MULTI_ATTACH):
                same_ns = [
                    u.pod["metadata"]["name"]
                    for u in users
                    if u.pod["metadata"].get("namespace") == pod["metadata"].get("namespace")
                ]
                why = (
                    f"Volume is already used by pod(s) {', '.join(same_ns)}"
                    if same_ns
                    else "Volume is already exclusively attached to one node and can't be "
                    "attached to another"
                )
                message = f'Multi-Attach error for volume "{name}" {why}'
                if (pod["metadata"]["uid"], message) not in self._said:
                    self._said.add((pod["metadata"]["uid"], message))
                    record(
                        self.store,
                        pod,
                        FAILED_ATTACH,
                        message,
                        component=ATTACH_DETACH,
                        type_="Warning",
                    )
                return False
            if not users and not shared:
                for other_node in sorted(others):
                    await self._runtime_call(self.runtime.detach(other_node, pv), FAILED_ATTACH)
                    holders.discard(other_node)
        if node not in holders:
            await asyncio.sleep(self.timing.delay("attach"))  # the storage backend's latency
            try:
                await self._runtime_call(self.runtime.attach(node, pv), FAILED_ATTACH)
            except RuntimeFailure as exc:
                record(
                    self.store,
                    pod,
                    FAILED_ATTACH,
                    f'AttachVolume.Attach failed for volume "{name}" : {exc}',
                    component=ATTACH_DETACH,
                    type_="Warning",
                )
                raise
            holders.add(node)
            record(
                self.store,
                pod,
                "SuccessfulAttachVolume",
                f'AttachVolume.Attach succeeded for volume "{name}" ',
                component=ATTACH_DETACH,
            )
        return True

    async def _pull(self, pod: Obj, node: str, container: Obj) -> None:
        """Pull as the kubelet does by default: one image at a time per node."""
        async with self._pulling.setdefault(node, asyncio.Lock()):
            await self._pull_serialized(pod, node, container)

    async def _pull_serialized(self, pod: Obj, node: str, container: Obj) -> None:
        image = str(container.get("image", ""))
        name = str(container.get("name", ""))
        present = self._images.setdefault(node, set())
        policy = _pull_policy(container)
        if policy == "Never" or (policy == "IfNotPresent" and image in present):
            self._event(
                pod,
                "Pulled",
                f'Container image "{image}" already present on machine',
                container=name,
            )
            return
        self._event(pod, "Pulling", f'Pulling image "{image}"', container=name)
        took = self.timing.delay("image_pull")
        await asyncio.sleep(took)  # the registry's latency
        present.add(image)
        spent = go_duration(took)
        self._event(
            pod,
            "Pulled",
            f'Successfully pulled image "{image}" in {spent} ({spent} including waiting). '
            f"Image size: {_image_size(image)} bytes.",
            container=name,
        )

    # --- termination ---------------------------------------------------------------

    async def _stop(self, rec: _PodRecord, pod: Obj, grace: float) -> None:
        """Stop the pod's container and unmount its volumes (retried by the worker when
        the runtime fails, as the kubelet keeps a pod whose volumes are still mounted)."""
        rec.stopping = True
        if rec.watcher is not None:
            rec.watcher.cancel()
            rec.watcher = None
        try:
            await self._runtime_call(self.runtime.stop_pod(rec.node, pod, grace), FAILED_KILL)
        except RuntimeFailure as exc:  # the pod stays Terminating until a retry succeeds
            self._event(pod, exc.reason, str(exc), "Warning")
            raise
        rec.mounted = False

    async def _terminate(self, key: QueueKey, pod: Obj) -> None:
        m = pod["metadata"]
        rec = self._records.get(key)
        grace = float(m.get("deletionGracePeriodSeconds") or 0)
        if rec is not None:
            if rec.started is not None and not rec.stopping:
                for container in (pod.get("spec") or {}).get("containers") or []:
                    name = container["name"]
                    self._event(pod, "Killing", f"Stopping container {name}", container=name)
            await self._stop(rec, pod, grace)
            # the kubelet's own sync latency, whatever the grace period: clients such as
            # `kubectl delete pod` expect to see the terminating pod before it goes
            await asyncio.sleep(self.timing.delay("container_stop"))
            await self._detach_unused(key, rec)
            self._records.pop(key, None)
            if rec.started is not None:
                current = self.store.find(POD, *key)
                if current is not None and current["metadata"]["uid"] == m["uid"]:
                    self._write_status(current, self._terminated_status(current, rec))
        with contextlib.suppress(errors.ApiError):
            self.store.delete(
                POD, m["namespace"], m["name"], grace_period=0, preconditions={"uid": m["uid"]}
            )
        self._wake_waiting()

    async def _teardown(self, key: QueueKey, rec: _PodRecord, grace: float) -> None:
        await self._stop(rec, rec.pod, grace)
        await self._detach_unused(key, rec)
        self._records.pop(key, None)
        self._wake_waiting()

    async def _detach_unused(self, key: QueueKey, rec: _PodRecord) -> None:
        for name, pv in list(rec.volumes.items()):
            if any(
                other_key != key and other.node == rec.node and name in other.volumes
                for other_key, other in self._records.items()
            ):
                del rec.volumes[name]
                continue
            if rec.node in self._attached.get(name, set()):
                await asyncio.sleep(self.timing.delay("attach"))  # detaching takes as long
                await self._runtime_call(self.runtime.detach(rec.node, pv), "FailedDetach")
                self._attached[name].discard(rec.node)
            del rec.volumes[name]

    # --- status --------------------------------------------------------------------

    def _write_status(self, pod: Obj, status: dict[str, Any]) -> None:
        m = pod["metadata"]
        uid = m["uid"]

        def change(obj: Obj) -> None:
            if obj["metadata"]["uid"] != uid:
                raise errors.conflict(POD, m["name"], "the pod was replaced")
            obj["status"] = status

        self.store.mutate(POD, m["namespace"], m["name"], change, subresource="status")

    def _base_status(self, pod: Obj, node: Obj | None) -> dict[str, Any]:
        status: dict[str, Any] = dict(pod.get("status") or {})
        status["conditions"] = [dict(c) for c in status.get("conditions") or []]
        if node is not None:
            host = node_address(node)
            status["hostIP"] = host
            status["hostIPs"] = [{"ip": host}]
        status.setdefault("startTime", now_rfc3339())
        status["qosClass"] = qos_class(pod)
        set_condition(status, "PodScheduled", "True")
        return status

    def _pending_status(self, pod: Obj, node: Obj, rec: _PodRecord | None = None) -> dict[str, Any]:
        """Containers not running: being created, or waiting as ``rec.waiting`` says
        (``CreateContainerError``, ``CrashLoopBackOff``, ...). A pod whose container ran
        before stays in phase Running while it is restarted, as upstream."""
        spec = pod.get("spec") or {}
        status = self._base_status(pod, node)
        restarted = rec is not None and rec.restarts > 0
        status["phase"] = "Running" if restarted else "Pending"
        init = [c["name"] for c in spec.get("initContainers") or []]
        names = [c["name"] for c in spec.get("containers") or []]
        unready = f"containers with unready status: [{' '.join(names)}]"
        set_condition(status, "PodReadyToStartContainers", "True" if restarted else "False")
        if init and not restarted:
            set_condition(
                status,
                "Initialized",
                "False",
                "ContainersNotInitialized",
                f"containers with incomplete status: [{' '.join(init)}]",
            )
        else:
            set_condition(status, "Initialized", "True")
        set_condition(status, "Ready", "False", "ContainersNotReady", unready)
        set_condition(status, "ContainersReady", "False", "ContainersNotReady", unready)
        _order_conditions(status)
        creating = {"reason": "PodInitializing" if init else "ContainerCreating"}
        statuses = []
        for index, container in enumerate(spec.get("containers") or []):
            waiting: dict[str, Any] = dict(creating)
            if index == 0 and rec is not None and rec.waiting is not None:
                waiting = {"reason": rec.waiting[0], "message": rec.waiting[1]}
            statuses.append(
                self._container_status(
                    container,
                    {"waiting": waiting},
                    ready=False,
                    started=False,
                    restarts=rec.restarts if rec is not None and index == 0 else 0,
                    last_state=rec.last_state if rec is not None and index == 0 else None,
                )
            )
        status["containerStatuses"] = statuses
        if init:
            status["initContainerStatuses"] = [
                self._container_status(
                    c, {"waiting": {"reason": "PodInitializing"}}, ready=False, started=False
                )
                for c in spec.get("initContainers") or []
            ]
        return status

    def _finished_status(
        self, pod: Obj, rec: _PodRecord, code: int, finished: str
    ) -> dict[str, Any]:
        """The container ended and restartPolicy keeps it so: Succeeded or Failed."""
        spec = pod.get("spec") or {}
        status = self._base_status(pod, None)
        status["phase"] = "Succeeded" if code == 0 else "Failed"
        reason = "PodCompleted" if code == 0 else "PodFailed"
        for condition in ("PodReadyToStartContainers", "Ready", "ContainersReady"):
            set_condition(status, condition, "False", reason if "Ready" in condition else "")
        _order_conditions(status)
        ids = rec.started.container_ids if rec.started is not None else {}
        status["containerStatuses"] = [
            self._container_status(
                c,
                {
                    "terminated": {
                        "exitCode": code if index == 0 else 0,
                        "reason": ("Completed" if code == 0 else "Error") if index == 0 else "",
                        "startedAt": rec.started_at,
                        "finishedAt": finished,
                        "containerID": ids.get(c["name"], ""),
                    }
                },
                ready=False,
                started=False,
                container_id=ids.get(c["name"], ""),
                restarts=rec.restarts if index == 0 else 0,
                last_state=rec.last_state if index == 0 else None,
            )
            for index, c in enumerate(spec.get("containers") or [])
        ]
        return status

    def _running_status(self, pod: Obj, node: Obj, rec: _PodRecord) -> dict[str, Any]:
        assert rec.started is not None
        spec = pod.get("spec") or {}
        status = self._base_status(pod, node)
        status["phase"] = "Running"
        status["podIP"] = rec.started.pod_ip
        status["podIPs"] = [{"ip": rec.started.pod_ip}]
        for condition in _CONDITION_ORDER:
            set_condition(status, condition, "True")
        _order_conditions(status)
        ids = rec.started.container_ids
        status["containerStatuses"] = [
            self._container_status(
                c,
                {"running": {"startedAt": rec.started_at}},
                ready=True,
                started=True,
                container_id=ids.get(c["name"], ""),
                restarts=rec.restarts if index == 0 else 0,
                last_state=rec.last_state if index == 0 else None,
            )
            for index, c in enumerate(spec.get("containers") or [])
        ]
        if spec.get("initContainers"):
            status["initContainerStatuses"] = [
                self._container_status(
                    c,
                    {
                        "terminated": {
                            "exitCode": 0,
                            "reason": "Completed",
                            "startedAt": rec.started_at,
                            "finishedAt": rec.started_at,
                            "containerID": ids.get(c["name"], ""),
                        }
                    },
                    ready=True,
                    started=False,
                    container_id=ids.get(c["name"], ""),
                )
                for c in spec["initContainers"]
            ]
        return status

    def _terminated_status(self, pod: Obj, rec: _PodRecord) -> dict[str, Any]:
        assert rec.started is not None
        spec = pod.get("spec") or {}
        status = self._base_status(pod, None)
        status["phase"] = "Succeeded"
        for condition in ("PodReadyToStartContainers", "Ready", "ContainersReady"):
            set_condition(
                status, condition, "False", "PodCompleted" if "Ready" in condition else ""
            )
        _order_conditions(status)
        finished = now_rfc3339()
        ids = rec.started.container_ids
        status["containerStatuses"] = [
            self._container_status(
                c,
                {
                    "terminated": {
                        "exitCode": 0,
                        "reason": "Completed",
                        "startedAt": rec.started_at,
                        "finishedAt": finished,
                        "containerID": ids.get(c["name"], ""),
                    }
                },
                ready=False,
                started=False,
                container_id=ids.get(c["name"], ""),
            )
            for c in spec.get("containers") or []
        ]
        return status

    @staticmethod
    def _container_status(
        container: Obj,
        state: dict[str, Any],
        *,
        ready: bool,
        started: bool,
        container_id: str = "",
        restarts: int = 0,
        last_state: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        image = str(container.get("image", ""))
        status: dict[str, Any] = {
            "name": container["name"],
            "state": state,
            "lastState": dict(last_state or {}),
            "ready": ready,
            "restartCount": restarts,
            "image": normalize_image(image),
            "imageID": image_id(image) if container_id else "",
            "started": started,
        }
        if container_id:
            status["containerID"] = container_id
        mounts = _volume_mounts(container)
        if mounts:
            status["volumeMounts"] = mounts
        return status


__all__ = [
    "Kubelet",
    "container_path",
    "go_duration",
    "image_id",
    "node_address",
    "node_object",
    "normalize_image",
    "pod_ref",
    "post_node_status",
    "qos_class",
    "register_nodes",
    "set_node_ready",
]
