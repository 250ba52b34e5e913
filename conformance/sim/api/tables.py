"""meta.k8s.io/v1 Table output, as kube-apiserver 1.32 renders it for ``kubectl get``.

A port of the server-side printers (kubernetes pkg/printers/internalversion/printers.go)
for the served kinds. The API server always prints with ``Wide: true``: every row carries
the ``-o wide`` cells too, and kubectl hides the columns whose ``priority`` is 1. Kinds
without a printer get the apiserver's default convertor (``Name``, ``Created At``).

Each row's ``object`` is, by ``includeObject``: ``Metadata`` (the default) a
``PartialObjectMetadata`` with the full ObjectMeta; ``Object`` the whole object (kubectl
``--sort-by`` relies on it); ``None`` null.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from conformance.sim.api.kinds import Kind

Obj = dict[str, Any]
Cells = list[Any]

# Column descriptions: the API types' doc strings (SwaggerDoc) the real printers use.
_DOCS: dict[str, str] = {
    "ObjectMeta.name": (
        "Name must be unique within a namespace. Is required when creating resources, "
        "although some resources may allow a client to request the generation of an "
        "appropriate name automatically. Name is primarily intended for creation idempotence "
        "and configuration definition. Cannot be updated. More info: "
        "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
    ),
    "ObjectMeta.creationTimestamp": (
        "CreationTimestamp is a timestamp representing the server time when this object was "
        "created. It is not guaranteed to be set in happens-before order across separate "
        "operations. Clients may not set this value. It is represented in RFC3339 form and "
        "is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
        "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
    ),
    "PodStatus.podIP": (
        "podIP address allocated to the pod. Routable at least within the cluster. Empty if "
        "not yet allocated."
    ),
    "PodSpec.nodeName": (
        "NodeName indicates in which node this pod is scheduled. If empty, this pod is a "
        "candidate for scheduling by the scheduler defined in schedulerName. Once this field "
        "is set, the kubelet for this node becomes responsible for the lifecycle of this "
        "pod. This field should not be used to express a desire for the pod to be scheduled "
        "on a specific node. "
        "https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename"
    ),
    "PodStatus.nominatedNodeName": (
        "nominatedNodeName is set only when this pod preempts other pods on the node, but it "
        "cannot be scheduled right away as preemption victims receive their graceful "
        "termination periods. This field does not guarantee that the pod will be scheduled "
        "on this node. Scheduler may decide to place the pod elsewhere if other nodes become "
        "available sooner. Scheduler may also decide to give the resources on this node to a "
        "higher priority pod that is created after preemption. As a result, this field may "
        "be different than PodSpec.nodeName when the pod is scheduled."
    ),
    "PodSpec.readinessGates": (
        "If specified, all readiness gates will be evaluated for pod readiness. A pod is "
        "ready when all its containers are ready AND all conditions specified in the "
        'readiness gates have status equal to "True" More info: '
        "https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates"
    ),
    "ServiceSpec.type": (
        "type determines how the Service is exposed. Defaults to ClusterIP. Valid options "
        'are ExternalName, ClusterIP, NodePort, and LoadBalancer. "ClusterIP" allocates a '
        "cluster-internal IP address for load-balancing to endpoints. Endpoints are "
        "determined by the selector or if that is not specified, by manual construction of "
        'an Endpoints object or EndpointSlice objects. If clusterIP is "None", no virtual IP '
        "is allocated and the endpoints are published as a set of endpoints rather than a "
        'virtual IP. "NodePort" builds on ClusterIP and allocates a port on every node which '
        'routes to the same endpoints as the clusterIP. "LoadBalancer" builds on NodePort '
        "and creates an external load-balancer (if supported in the current cloud) which "
        'routes to the same endpoints as the clusterIP. "ExternalName" aliases this service '
        "to the specified externalName. Several other fields do not apply to ExternalName "
        "services. More info: "
        "https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types"
    ),
    "ServiceSpec.clusterIP": (
        "clusterIP is the IP address of the service and is usually assigned randomly. If an "
        "address is specified manually, is in-range (as per system configuration), and is "
        "not in use, it will be allocated to the service; otherwise creation of the service "
        "will fail. This field may not be changed through updates unless the type field is "
        "also being changed to ExternalName (which requires this field to be blank) or the "
        "type field is being changed from ExternalName (in which case this field may "
        'optionally be specified, as describe above).\n\nValid values are "None", empty string '
        '(""), or a valid IP address. Setting this to "None" makes a "headless service" (no '
        "virtual IP), which is useful when direct endpoint connections are preferred and "
        "proxying is not required.\n\nOnly applies to types ClusterIP, NodePort, and "
        "LoadBalancer. If this field is specified when creating a Service of type "
        "ExternalName, creation will fail. This field will be wiped when updating a Service "
        "to type ExternalName. More info: "
        "https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies"
    ),
    "ServiceSpec.externalIPs": (
        "externalIPs is a list of IP addresses for which nodes in the cluster will also "
        "accept traffic for this service.  These IPs are not managed by Kubernetes.  The "
        "user is responsible for ensuring that traffic arrives at a node with this IP.  A "
        "common example is external load-balancers that are not part of the Kubernetes "
        "system."
    ),
    "ServiceSpec.ports": (
        "The list of ports that are exposed by this service. More info: "
        "https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies"
    ),
    "ServiceSpec.selector": (
        "Route service traffic to pods with label keys and values matching this selector. If "
        "empty or not present, the service is assumed to have an external process managing "
        "its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, "
        "NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: "
        "https://kubernetes.io/docs/concepts/services-networking/service/"
    ),
    "Endpoints.subsets": (
        "The set of all endpoints is the union of all subsets. Addresses are placed into "
        "subsets according to the IPs they share. A single address with multiple ports, some "
        "of which are ready and some of which are not (because they come from different "
        "containers) will result in the address being displayed in different subsets for the "
        "different ports. No address will appear in both Addresses and NotReadyAddresses in "
        "the same subset. Sets of addresses and ports that comprise a service."
    ),
    "NodeSystemInfo.kubeletVersion": "Kubelet Version reported by the node.",
    "NodeStatus.addresses": (
        "List of addresses reachable to the node. Queried from cloud provider, if available. "
        "More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: "
        "This field is declared as mergeable, but the merge key is not sufficiently unique, "
        "which can cause data corruption when it is merged. Callers should instead use a "
        "full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers "
        "should assume that addresses can change during the lifetime of a Node. However, "
        "there are some exceptions where this may not be possible, such as Pods that inherit "
        "a Node's address in its own status or consumers of the downward API (status.hostIP)."
    ),
    "NodeSystemInfo.osImage": (
        "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."
    ),
    "NodeSystemInfo.kernelVersion": (
        "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."
    ),
    "NodeSystemInfo.containerRuntimeVersion": (
        "ContainerRuntime Version reported by the node through runtime remote API (e.g. "
        "containerd://1.4.2)."
    ),
    "Event.lastTimestamp": (
        "The time at which the most recent occurrence of this event was recorded."
    ),
    "Event.type": "Type of this event (Normal, Warning), new types could be added in the future",
    "Event.reason": (
        "This should be a short, machine understandable string that gives the reason for the "
        "transition into the object's current status."
    ),
    "Event.involvedObject": "The object that this event is about.",
    "ObjectReference.fieldPath": (
        "If referring to a piece of an object instead of an entire object, this string "
        "should contain a valid JSON/Go field access statement, such as "
        "desiredState.manifest.containers[2]. For example, if the object reference is to a "
        'container within a pod, this would take on a value like: "spec.containers{name}" '
        '(where "name" refers to the name of the container that triggered the event) or if '
        'no container name is specified "spec.containers[2]" (container with index 2 in this '
        "pod). This syntax is chosen only to have some well-defined way of referencing a "
        "part of an object."
    ),
    "Event.source": (
        "The component reporting this event. Should be a short machine understandable string."
    ),
    "Event.message": "A human-readable description of the status of this operation.",
    "Event.firstTimestamp": (
        "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)"
    ),
    "Event.count": "The number of times this event has occurred.",
    "PersistentVolumeSpec.capacity": (
        "capacity is the description of the persistent volume's resources and capacity. More "
        "info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity"
    ),
    "PersistentVolumeSpec.accessModes": (
        "accessModes contains all ways the volume can be mounted. More info: "
        "https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes"
    ),
    "PersistentVolumeSpec.persistentVolumeReclaimPolicy": (
        "persistentVolumeReclaimPolicy defines what happens to a persistent volume when "
        "released from its claim. Valid options are Retain (default for manually created "
        "PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), "
        "and Recycle (deprecated). Recycle must be supported by the volume plugin underlying "
        "this PersistentVolume. More info: "
        "https://kubernetes.io/docs/concepts/storage/persistent-volumes#reclaiming"
    ),
    "PersistentVolumeStatus.phase": (
        "phase indicates if a volume is available, bound to a claim, or released by a claim. "
        "More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase"
    ),
    "PersistentVolumeSpec.claimRef": (
        "claimRef is part of a bi-directional binding between PersistentVolume and "
        "PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName is the "
        "authoritative bind between PV and PVC. More info: "
        "https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding"
    ),
    "PersistentVolumeStatus.reason": (
        "reason is a brief CamelCase string that describes any failure and is meant for "
        "machine parsing and tidy display in the CLI."
    ),
    "PersistentVolumeSpec.volumeMode": (
        "volumeMode defines if a volume is intended to be used with a formatted filesystem "
        "or to remain in raw block state. Value of Filesystem is implied when not included "
        "in spec."
    ),
    "PersistentVolumeClaimStatus.phase": (
        "phase represents the current phase of PersistentVolumeClaim."
    ),
    "PersistentVolumeClaimSpec.volumeName": (
        "volumeName is the binding reference to the PersistentVolume backing this claim."
    ),
    "PersistentVolumeClaimStatus.capacity": (
        "capacity represents the actual resources of the underlying volume."
    ),
    "PersistentVolumeClaimStatus.accessModes": (
        "accessModes contains the actual access modes the volume backing the PVC has. More "
        "info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1"
    ),
    "PersistentVolumeClaimSpec.volumeMode": (
        "volumeMode defines what type of volume is required by the claim. Value of "
        "Filesystem is implied when not included in claim spec."
    ),
    "ConfigMap.data": (
        "Data contains the configuration data. Each key must consist of alphanumeric "
        "characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the "
        "BinaryData field. The keys stored in Data must not overlap with the keys in the "
        "BinaryData field, this is enforced during validation process."
    ),
    "StorageClass.provisioner": "provisioner indicates the type of the provisioner.",
    "StorageClass.reclaimPolicy": (
        "reclaimPolicy controls the reclaimPolicy for dynamically provisioned "
        "PersistentVolumes of this storage class. Defaults to Delete."
    ),
    "StorageClass.volumeBindingMode": (
        "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and "
        "bound.  When unset, VolumeBindingImmediate is used. This field is only honored by "
        "servers that enable the VolumeScheduling feature."
    ),
    "StorageClass.allowVolumeExpansion": (
        "allowVolumeExpansion shows whether the storage class allow volume expand."
    ),
    "ControllerRevision.revision": (
        "Revision indicates the revision of the state represented by Data."
    ),
}


def _col(
    name: str, description: str, *, type_: str = "string", fmt: str = "", priority: int = 0
) -> Obj:
    return {
        "name": name,
        "type": type_,
        "format": fmt,
        "description": description,
        "priority": priority,
    }


_NAME = _col("Name", _DOCS["ObjectMeta.name"], fmt="name")
_AGE = _col("Age", _DOCS["ObjectMeta.creationTimestamp"])
_CONTAINERS = _col("Containers", "Names of each container in the template.", priority=1)
_IMAGES = _col("Images", "Images referenced by each container in the template.", priority=1)

# --- time ---------------------------------------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (``Time`` or ``MicroTime``) as an aware datetime, or None."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def human_duration(d: timedelta) -> str:
    """apimachinery's duration.HumanDuration: 5s, 3m2s, 41m, 5h3m, 2d3h, 400d, 2y10d."""
    microseconds = d // timedelta(microseconds=1)
    seconds = int(microseconds / 1_000_000)  # truncates toward zero, like Go's int()
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        s = seconds % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def _aware(now: datetime) -> datetime:
    return now if now.tzinfo is not None else now.replace(tzinfo=timezone.utc)


def translate_timestamp_since(value: Any, now: datetime) -> str:
    """The AGE cell: ``<unknown>`` for a missing timestamp, else :func:`human_duration`."""
    ts = parse_time(value)
    if ts is None:
        return "<unknown>"
    return human_duration(_aware(now) - ts)


# --- small helpers ------------------------------------------------------------------------


def _get(obj: Any, *path: str) -> Any:
    cur = obj
    for key in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(key)
    return cur


def _dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return 0
    return 0


def _meta(obj: Obj) -> Obj:
    return _dict(obj.get("metadata"))


def _age(obj: Obj, now: datetime) -> str:
    return translate_timestamp_since(_meta(obj).get("creationTimestamp"), now)


def _quantity(value: Any) -> str:
    """A stored quantity as printed; Go prints a missing (zero) quantity as ``0``."""
    if isinstance(value, bool) or value is None:
        return "0"
    if isinstance(value, (int, float)):
        return str(value)
    return str(value) or "0"


def format_labels(labels: Any) -> str:
    """labels.FormatLabels: ``k=v`` pairs sorted by key, ``<none>`` when empty."""
    pairs = _dict(labels)
    if not pairs:
        return "<none>"
    return ",".join(f"{k}={pairs[k]}" for k in sorted(pairs))


_ACCESS_MODES = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)


def access_modes_string(modes: Any) -> str:
    """helper.GetAccessModesAsString: RWO,ROX,RWX,RWOP in that order, deduplicated."""
    present = set(_list(modes))
    return ",".join(short for long, short in _ACCESS_MODES if long in present)


def _layout_containers(containers: Any) -> tuple[str, str]:
    items = [_dict(c) for c in _list(containers)]
    return (
        ",".join(_str(c.get("name")) for c in items),
        ",".join(_str(c.get("image")) for c in items),
    )


def _join_host_port(host: str, port: int) -> str:
    try:
        if isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address):
            return f"[{host}]:{port}"
    except ValueError:
        if ":" in host:
            return f"[{host}]:{port}"
    return f"{host}:{port}"


# --- printers -----------------------------------------------------------------------------


def _is_restartable_init(container: Any) -> bool:
    return bool(_get(container, "restartPolicy") == "Always")


def _later(current: datetime | None, candidate: Any) -> datetime | None:
    ts = parse_time(candidate)
    if ts is not None and (current is None or current < ts):
        return ts
    return current


def _pod_reason_ready_restarts(pod: Obj, now: datetime) -> tuple[str, str, str]:
    spec = _dict(pod.get("spec"))
    status = _dict(pod.get("status"))
    init_specs = [_dict(c) for c in _list(spec.get("initContainers"))]
    init_by_name = {_str(c.get("name")): c for c in init_specs}

    restarts = 0
    restartable_init_restarts = 0
    total = len(_list(spec.get("containers")))
    ready = 0
    last_restart: datetime | None = None
    last_restartable_init_restart: datetime | None = None

    phase = _str(status.get("phase"))
    reason = _str(status.get("reason")) or phase
    for cond in _list(status.get("conditions")):
        if _get(cond, "type") == "PodScheduled" and _get(cond, "reason") == "SchedulingGated":
            reason = "SchedulingGated"

    total += sum(1 for c in init_specs if _is_restartable_init(c))

    initializing = False
    for i, raw in enumerate(_list(status.get("initContainerStatuses"))):
        cs = _dict(raw)
        count = _int(cs.get("restartCount"))
        restarts += count
        finished = _get(cs, "lastState", "terminated", "finishedAt")
        last_restart = _later(last_restart, finished)
        restartable = _is_restartable_init(init_by_name.get(_str(cs.get("name"))))
        if restartable:
            restartable_init_restarts += count
            last_restartable_init_restart = _later(last_restartable_init_restart, finished)
        state = _dict(cs.get("state"))
        terminated = state.get("terminated")
        waiting = state.get("waiting")
        if isinstance(terminated, dict) and _int(terminated.get("exitCode")) == 0:
            continue
        if restartable and cs.get("started") is True:
            if cs.get("ready") is True:
                ready += 1
            continue
        if isinstance(terminated, dict):
            if not _str(terminated.get("reason")):
                if _int(terminated.get("signal")) != 0:
                    reason = f"Init:Signal:{_int(terminated.get('signal'))}"
                else:
                    reason = f"Init:ExitCode:{_int(terminated.get('exitCode'))}"
            else:
                reason = "Init:" + _str(terminated.get("reason"))
        elif (
            isinstance(waiting, dict)
            and _str(waiting.get("reason"))
            and waiting.get("reason") != "PodInitializing"
        ):
            reason = "Init:" + _str(waiting.get("reason"))
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    initialized = any(
        _get(c, "type") == "Initialized" and _get(c, "status") == "True"
        for c in _list(status.get("conditions"))
    )
    if not initializing or initialized:
        restarts = restartable_init_restarts
        last_restart = last_restartable_init_restart
        has_running = False
        for raw in reversed(_list(status.get("containerStatuses"))):
            cs = _dict(raw)
            restarts += _int(cs.get("restartCount"))
            last_restart = _later(last_restart, _get(cs, "lastState", "terminated", "finishedAt"))
            state = _dict(cs.get("state"))
            waiting = state.get("waiting")
            terminated = state.get("terminated")
            if isinstance(waiting, dict) and _str(waiting.get("reason")):
                reason = _str(waiting.get("reason"))
            elif isinstance(terminated, dict) and _str(terminated.get("reason")):
                reason = _str(terminated.get("reason"))
            elif isinstance(terminated, dict):
                if _int(terminated.get("signal")) != 0:
                    reason = f"Signal:{_int(terminated.get('signal'))}"
                else:
                    reason = f"ExitCode:{_int(terminated.get('exitCode'))}"
            elif cs.get("ready") is True and isinstance(state.get("running"), dict):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(
                _get(c, "type") == "Ready" and _get(c, "status") == "True"
                for c in _list(status.get("conditions"))
            )
            reason = "Running" if pod_ready else "NotReady"

    deleting = _meta(pod).get("deletionTimestamp") is not None
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"

    restarts_str = str(restarts)
    if restarts != 0 and last_restart is not None:
        restarts_str = f"{restarts} ({human_duration(_aware(now) - last_restart)} ago)"
    return reason, f"{ready}/{total}", restarts_str


def _print_pod(pod: Obj, now: datetime) -> Cells:
    spec = _dict(pod.get("spec"))
    status = _dict(pod.get("status"))
    reason, ready, restarts = _pod_reason_ready_restarts(pod, now)
    ips = _list(status.get("podIPs"))
    pod_ip = _str(_get(ips[0], "ip")) if ips else _str(status.get("podIP"))
    gates = _list(spec.get("readinessGates"))
    readiness = "<none>"
    if gates:
        true_conditions = 0
        for gate in gates:
            for cond in _list(status.get("conditions")):
                if _get(cond, "type") == _get(gate, "conditionType"):
                    if _get(cond, "status") == "True":
                        true_conditions += 1
                    break
        readiness = f"{true_conditions}/{len(gates)}"
    return [
        _meta(pod).get("name", ""),
        ready,
        reason,
        restarts,
        _age(pod, now),
        pod_ip or "<none>",
        _str(spec.get("nodeName")) or "<none>",
        _str(status.get("nominatedNodeName")) or "<none>",
        readiness,
    ]


def _pod_conditions(pod: Obj) -> list[Obj] | None:
    phase = _get(pod, "status", "phase")
    if phase == "Succeeded":
        message = "The pod has completed successfully."
    elif phase == "Failed":
        message = "The pod failed."
    else:
        return None
    return [{"type": "Completed", "status": "True", "reason": phase, "message": message}]


def _print_statefulset(sts: Obj, now: datetime) -> Cells:
    spec = _dict(sts.get("spec"))
    desired = _int(spec.get("replicas", 1))
    ready = _int(_get(sts, "status", "readyReplicas"))
    names, images = _layout_containers(_get(spec, "template", "spec", "containers"))
    return [_meta(sts).get("name", ""), f"{ready}/{desired}", _age(sts, now), names, images]


def _pvc_class(pvc: Obj) -> str:
    annotations = _dict(_meta(pvc).get("annotations"))
    if "volume.beta.kubernetes.io/storage-class" in annotations:
        return _str(annotations["volume.beta.kubernetes.io/storage-class"])
    return _str(_get(pvc, "spec", "storageClassName"))


def _print_pvc(pvc: Obj, now: datetime) -> Cells:
    spec = _dict(pvc.get("spec"))
    status = _dict(pvc.get("status"))
    phase = _str(status.get("phase"))
    if _meta(pvc).get("deletionTimestamp") is not None:
        phase = "Terminating"
    capacity = ""
    modes = ""
    volume_name = _str(spec.get("volumeName"))
    if volume_name:
        modes = access_modes_string(status.get("accessModes"))
        capacity = _quantity(_get(status, "capacity", "storage"))
    vac = spec.get("volumeAttributesClassName")
    mode = spec.get("volumeMode")
    return [
        _meta(pvc).get("name", ""),
        phase,
        volume_name,
        capacity,
        modes,
        _pvc_class(pvc),
        vac if isinstance(vac, str) else "<unset>",
        _age(pvc, now),
        mode if isinstance(mode, str) else "<unset>",
    ]


def _print_pv(pv: Obj, now: datetime) -> Cells:
    spec = _dict(pv.get("spec"))
    status = _dict(pv.get("status"))
    claim_ref = spec.get("claimRef")
    claim = ""
    if isinstance(claim_ref, dict):
        claim = f"{_str(claim_ref.get('namespace'))}/{_str(claim_ref.get('name'))}"
    phase = _str(status.get("phase"))
    if _meta(pv).get("deletionTimestamp") is not None:
        phase = "Terminating"
    annotations = _dict(_meta(pv).get("annotations"))
    storage_class = _str(spec.get("storageClassName"))
    if "volume.beta.kubernetes.io/storage-class" in annotations:
        storage_class = _str(annotations["volume.beta.kubernetes.io/storage-class"])
    vac = spec.get("volumeAttributesClassName")
    mode = spec.get("volumeMode")
    return [
        _meta(pv).get("name", ""),
        _quantity(_get(spec, "capacity", "storage")),
        access_modes_string(spec.get("accessModes")),
        _str(spec.get("persistentVolumeReclaimPolicy")),
        phase,
        claim,
        storage_class,
        vac if isinstance(vac, str) else "<unset>",
        _str(status.get("reason")),
        _age(pv, now),
        mode if isinstance(mode, str) else "<unset>",
    ]


_DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


def _print_storageclass(sc: Obj, now: datetime) -> Cells:
    annotations = _dict(_meta(sc).get("annotations"))
    name = _str(_meta(sc).get("name"))
    if any(annotations.get(a) == "true" for a in _DEFAULT_CLASS_ANNOTATIONS):
        name += " (default)"
    reclaim = sc.get("reclaimPolicy")
    binding = sc.get("volumeBindingMode")
    expansion = sc.get("allowVolumeExpansion")
    return [
        name,
        _str(sc.get("provisioner")),
        reclaim if isinstance(reclaim, str) else "Delete",
        binding if isinstance(binding, str) else "Immediate",
        expansion if isinstance(expansion, bool) else False,
        _age(sc, now),
    ]


def _print_node(node: Obj, now: datetime) -> Cells:
    status = _dict(node.get("status"))
    states: list[str] = []
    for cond in _list(status.get("conditions")):
        if _get(cond, "type") == "Ready":
            states = ["Ready" if _get(cond, "status") == "True" else "NotReady"]
    if not states:
        states = ["Unknown"]
    if _get(node, "spec", "unschedulable") is True:
        states.append("SchedulingDisabled")
    roles: set[str] = set()
    for key, value in _dict(_meta(node).get("labels")).items():
        if key.startswith("node-role.kubernetes.io/"):
            role = key[len("node-role.kubernetes.io/") :]
            if role:
                roles.add(role)
        elif key == "kubernetes.io/role" and value:
            roles.add(_str(value))
    info = _dict(status.get("nodeInfo"))

    def address(kind: str) -> str:
        for addr in _list(status.get("addresses")):
            if _get(addr, "type") == kind:
                return _str(_get(addr, "address"))
        return "<none>"

    return [
        _meta(node).get("name", ""),
        ",".join(states),
        ",".join(sorted(roles)) or "<none>",
        _age(node, now),
        _str(info.get("kubeletVersion")),
        address("InternalIP"),
        address("ExternalIP"),
        _str(info.get("osImage")) or "<unknown>",
        _str(info.get("kernelVersion")) or "<unknown>",
        _str(info.get("containerRuntimeVersion")) or "<unknown>",
    ]


def _print_namespace(ns: Obj, now: datetime) -> Cells:
    return [_meta(ns).get("name", ""), _str(_get(ns, "status", "phase")), _age(ns, now)]


def _service_external_ip(spec: Obj, status: Obj) -> str:
    external = [_str(ip) for ip in _list(spec.get("externalIPs"))]
    kind = spec.get("type")
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if kind == "LoadBalancer":
        ingress: set[str] = set()
        for entry in _list(_get(status, "loadBalancer", "ingress")):
            if _str(_get(entry, "ip")):
                ingress.add(_str(_get(entry, "ip")))
            elif _str(_get(entry, "hostname")):
                ingress.add(_str(_get(entry, "hostname")))
        lb = ",".join(sorted(ingress))
        if external:
            return ",".join([*(lb.split(",") if lb else []), *external])
        return lb or "<pending>"
    if kind == "ExternalName":
        return _str(spec.get("externalName"))
    return "<unknown>"


def _print_service(svc: Obj, now: datetime) -> Cells:
    spec = _dict(svc.get("spec"))
    cluster_ips = _list(spec.get("clusterIPs"))
    internal = _str(cluster_ips[0]) if cluster_ips else _str(spec.get("clusterIP"))
    ports = []
    for raw in _list(spec.get("ports")):
        port = _dict(raw)
        protocol = _str(port.get("protocol"))
        node_port = _int(port.get("nodePort"))
        if node_port > 0:
            ports.append(f"{_int(port.get('port'))}:{node_port}/{protocol}")
        else:
            ports.append(f"{_int(port.get('port'))}/{protocol}")
    # ExternalIP is clipped to 16 characters only for non-wide output; the server is wide.
    return [
        _meta(svc).get("name", ""),
        _str(spec.get("type")),
        internal or "<none>",
        _service_external_ip(spec, _dict(svc.get("status"))),
        ",".join(ports) or "<none>",
        _age(svc, now),
        format_labels(spec.get("selector")),
    ]


def format_endpoints(endpoints: Obj) -> str:
    """The ENDPOINTS cell: up to three ip:port, then `` + N more...``."""
    subsets = _list(endpoints.get("subsets"))
    if not subsets:
        return "<none>"
    shown: list[str] = []
    limit = 3
    more = False
    count = 0
    for raw in subsets:
        subset = _dict(raw)
        addresses = [_str(_get(a, "ip")) for a in _list(subset.get("addresses"))]
        ports = _list(subset.get("ports"))
        if not ports:
            count += len(addresses)
            for ip in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(ip)
            continue
        for port in ports:
            count += len(addresses)
            for ip in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(_join_host_port(ip, _int(_get(port, "port"))))
    text = ",".join(shown)
    if more:
        return f"{text} + {count - limit} more..."
    return text


def _print_endpoints(ep: Obj, now: datetime) -> Cells:
    return [_meta(ep).get("name", ""), format_endpoints(ep), _age(ep, now)]


def _print_event(ev: Obj, now: datetime) -> Cells:
    first = translate_timestamp_since(ev.get("firstTimestamp"), now)
    if parse_time(ev.get("firstTimestamp")) is None:
        first = translate_timestamp_since(ev.get("eventTime"), now)
    last = translate_timestamp_since(ev.get("lastTimestamp"), now)
    if parse_time(ev.get("lastTimestamp")) is None:
        last = first
    count = _int(ev.get("count"))
    series = ev.get("series")
    if isinstance(series, dict):
        last = translate_timestamp_since(series.get("lastObservedTime"), now)
        count = _int(series.get("count"))
    elif count == 0:
        count = 1
    involved = _dict(ev.get("involvedObject"))
    target = _str(involved.get("kind")).lower()
    if _str(involved.get("name")):
        target = f"{target}/{_str(involved.get('name'))}"
    source = _dict(ev.get("source"))
    component = _str(source.get("component")) or _str(ev.get("reportingComponent"))
    instance = _str(source.get("host")) or _str(ev.get("reportingInstance"))
    return [
        last,
        _str(ev.get("type")),
        _str(ev.get("reason")),
        target,
        _str(involved.get("fieldPath")),
        f"{component}, {instance}" if instance else component,
        _str(ev.get("message")).strip(),
        first,
        count,
        _meta(ev).get("name", ""),
    ]


def _print_configmap(cm: Obj, now: datetime) -> Cells:
    count = len(_dict(cm.get("data"))) + len(_dict(cm.get("binaryData")))
    return [_meta(cm).get("name", ""), count, _age(cm, now)]


def _print_controllerrevision(cr: Obj, now: datetime) -> Cells:
    controller = "<none>"
    for ref in _list(_meta(cr).get("ownerReferences")):
        if _get(ref, "controller") is True:
            api_version = _str(_get(ref, "apiVersion"))
            group = api_version.rpartition("/")[0]
            kind = _str(_get(ref, "kind"))
            group_kind = f"{kind}.{group}" if group else kind
            name = _str(_get(ref, "name"))
            controller = f"{group_kind.lower()}/{name}" if group_kind else name
            break
    return [_meta(cr).get("name", ""), controller, _int(cr.get("revision")), _age(cr, now)]


Printer = Callable[[Obj, datetime], Cells]

_PRINTERS: dict[tuple[str, str], tuple[list[Obj], Printer]] = {
    ("", "Pod"): (
        [
            _NAME,
            _col("Ready", "The aggregate readiness state of this pod for accepting traffic."),
            _col("Status", "The aggregate status of the containers in this pod."),
            _col(
                "Restarts",
                "The number of times the containers in this pod have been restarted and when "
                "the last container in this pod has restarted.",
            ),
            _AGE,
            _col("IP", _DOCS["PodStatus.podIP"], priority=1),
            _col("Node", _DOCS["PodSpec.nodeName"], priority=1),
            _col("Nominated Node", _DOCS["PodStatus.nominatedNodeName"], priority=1),
            _col("Readiness Gates", _DOCS["PodSpec.readinessGates"], priority=1),
        ],
        _print_pod,
    ),
    ("apps", "StatefulSet"): (
        [_NAME, _col("Ready", "Number of the pod with ready state"), _AGE, _CONTAINERS, _IMAGES],
        _print_statefulset,
    ),
    ("", "PersistentVolumeClaim"): (
        [
            _NAME,
            _col("Status", _DOCS["PersistentVolumeClaimStatus.phase"]),
            _col("Volume", _DOCS["PersistentVolumeClaimSpec.volumeName"]),
            _col("Capacity", _DOCS["PersistentVolumeClaimStatus.capacity"]),
            _col("Access Modes", _DOCS["PersistentVolumeClaimStatus.accessModes"]),
            _col("StorageClass", "StorageClass of the pvc"),
            _col("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
            _AGE,
            _col("VolumeMode", _DOCS["PersistentVolumeClaimSpec.volumeMode"], priority=1),
        ],
        _print_pvc,
    ),
    ("", "PersistentVolume"): (
        [
            _NAME,
            _col("Capacity", _DOCS["PersistentVolumeSpec.capacity"]),
            _col("Access Modes", _DOCS["PersistentVolumeSpec.accessModes"]),
            _col("Reclaim Policy", _DOCS["PersistentVolumeSpec.persistentVolumeReclaimPolicy"]),
            _col("Status", _DOCS["PersistentVolumeStatus.phase"]),
            _col("Claim", _DOCS["PersistentVolumeSpec.claimRef"]),
            _col("StorageClass", "StorageClass of the pv"),
            _col("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
            _col("Reason", _DOCS["PersistentVolumeStatus.reason"]),
            _AGE,
            _col("VolumeMode", _DOCS["PersistentVolumeSpec.volumeMode"], priority=1),
        ],
        _print_pv,
    ),
    ("storage.k8s.io", "StorageClass"): (
        [
            _NAME,
            _col("Provisioner", _DOCS["StorageClass.provisioner"]),
            _col("ReclaimPolicy", _DOCS["StorageClass.reclaimPolicy"]),
            _col("VolumeBindingMode", _DOCS["StorageClass.volumeBindingMode"]),
            _col("AllowVolumeExpansion", _DOCS["StorageClass.allowVolumeExpansion"]),
            _AGE,
        ],
        _print_storageclass,
    ),
    ("", "Node"): (
        [
            _NAME,
            _col("Status", "The status of the node"),
            _col("Roles", "The roles of the node"),
            _AGE,
            _col("Version", _DOCS["NodeSystemInfo.kubeletVersion"]),
            _col("Internal-IP", _DOCS["NodeStatus.addresses"], priority=1),
            _col("External-IP", _DOCS["NodeStatus.addresses"], priority=1),
            _col("OS-Image", _DOCS["NodeSystemInfo.osImage"], priority=1),
            _col("Kernel-Version", _DOCS["NodeSystemInfo.kernelVersion"], priority=1),
            _col("Container-Runtime", _DOCS["NodeSystemInfo.containerRuntimeVersion"], priority=1),
        ],
        _print_node,
    ),
    ("", "Namespace"): (
        [_NAME, _col("Status", "The status of the namespace"), _AGE],
        _print_namespace,
    ),
    ("", "Service"): (
        [
            _NAME,
            _col("Type", _DOCS["ServiceSpec.type"]),
            _col("Cluster-IP", _DOCS["ServiceSpec.clusterIP"]),
            _col("External-IP", _DOCS["ServiceSpec.externalIPs"]),
            _col("Port(s)", _DOCS["ServiceSpec.ports"]),
            _AGE,
            _col("Selector", _DOCS["ServiceSpec.selector"], priority=1),
        ],
        _print_service,
    ),
    ("", "Endpoints"): (
        [_NAME, _col("Endpoints", _DOCS["Endpoints.subsets"]), _AGE],
        _print_endpoints,
    ),
    ("", "Event"): (
        [
            _col("Last Seen", _DOCS["Event.lastTimestamp"]),
            _col("Type", _DOCS["Event.type"]),
            _col("Reason", _DOCS["Event.reason"]),
            _col("Object", _DOCS["Event.involvedObject"]),
            _col("Subobject", _DOCS["ObjectReference.fieldPath"], priority=1),
            _col("Source", _DOCS["Event.source"], priority=1),
            _col("Message", _DOCS["Event.message"]),
            _col("First Seen", _DOCS["Event.firstTimestamp"], priority=1),
            _col("Count", _DOCS["Event.count"], priority=1),
            _col("Name", _DOCS["ObjectMeta.name"], fmt="name", priority=1),
        ],
        _print_event,
    ),
    ("", "ConfigMap"): (
        [_NAME, _col("Data", _DOCS["ConfigMap.data"]), _AGE],
        _print_configmap,
    ),
    ("apps", "ControllerRevision"): (
        [
            _NAME,
            _col("Controller", "Controller of the object"),
            _col("Revision", _DOCS["ControllerRevision.revision"]),
            _AGE,
        ],
        _print_controllerrevision,
    ),
}

# The apiserver's default table convertor, for kinds without a printer.
_DEFAULT_COLUMNS = [
    _NAME,
    _col("Created At", _DOCS["ObjectMeta.creationTimestamp"], type_="date"),
]


def _default_cells(obj: Obj, now: datetime) -> Cells:
    ts = parse_time(_meta(obj).get("creationTimestamp"))
    created = "0001-01-01T00:00:00Z"
    if ts is not None:
        created = ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [_meta(obj).get("name", ""), created]


def columns_for(kind: Kind) -> list[Obj]:
    """The column definitions the real server sends for ``kind``."""
    columns, _ = _PRINTERS.get((kind.group, kind.kind), (_DEFAULT_COLUMNS, _default_cells))
    return copy.deepcopy(columns)


def row_cells(kind: Kind, obj: Obj, now: datetime) -> Cells:
    """One object's cells, wide columns included (the server always prints wide)."""
    _, printer = _PRINTERS.get((kind.group, kind.kind), (_DEFAULT_COLUMNS, _default_cells))
    return printer(obj, now)


def _row_object(kind: Kind, obj: Obj, include_object: str) -> Obj | None:
    if include_object == "None":
        return None
    if include_object == "Object":
        rest = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
        return {"kind": kind.kind, "apiVersion": kind.api_version, **copy.deepcopy(rest)}
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": copy.deepcopy(_meta(obj)),
    }


def to_table(
    kind: Kind,
    items: list[dict[str, Any]],
    *,
    include_object: str,
    list_rv: str,
    now: datetime,
    no_headers: bool = False,
    continue_token: str = "",
) -> dict[str, Any]:
    """A meta.k8s.io/v1 Table of ``items`` (one item for a single GET or a watch event).

    ``include_object`` is the request's ``includeObject`` (``Metadata`` when absent,
    ``Object``, ``None``); ``list_rv`` goes to ``metadata.resourceVersion`` (the list's,
    or the object's for a single object). ``no_headers`` leaves ``columnDefinitions``
    null, as the real server does for every watch event after the first.
    """
    metadata: dict[str, Any] = {}
    if list_rv:
        metadata["resourceVersion"] = list_rv
    if continue_token:
        metadata["continue"] = continue_token
    rows = []
    for obj in items:
        row: dict[str, Any] = {"cells": row_cells(kind, obj, now)}
        if (kind.group, kind.kind) == ("", "Pod"):
            conditions = _pod_conditions(obj)
            if conditions:
                row["conditions"] = conditions
        row["object"] = _row_object(kind, obj, include_object)
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": None if no_headers else columns_for(kind),
        "rows": rows,
    }
