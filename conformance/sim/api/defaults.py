"""Defaulting, admission and validation as the real kube-apiserver applies them.

``apply_defaults`` mutates an object the way the v1 defaulting functions
(k8s.io/kubernetes/pkg/apis/{core,apps,storage}/v1/defaults.go), the registry strategies'
PrepareForCreate and the standard admission plugins (ServiceAccount, Priority,
DefaultTolerationSeconds) would, so ``kubectl get -o yaml`` and ``describe`` look real and
the official Python client's pydantic models deserialize every response.

``validate`` returns the field errors upstream validation
(pkg/apis/{core,apps,storage}/validation) would raise, worded as
k8s.io/apimachinery/pkg/util/validation/field words them; ``invalid_message`` turns them
into the text of a 422 Invalid Status (``errors.NewInvalid``).

``parse_quantity`` and ``format_quantity`` handle resource.Quantity strings in bytes.

Deliberate differences from upstream are marked "divergence" below.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from fractions import Fraction
from typing import Any

from conformance.sim.api.kinds import Kind

Obj = dict[str, Any]


# --- quantities --------------------------------------------------------------------------

_QUANTITY = re.compile(
    r"^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$"
)
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
QUANTITY_REGEX_ERROR = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)


def _quantity(text: object) -> Fraction:
    """The exact value of a quantity (a string, or a JSON number as clients may send)."""
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ValueError(QUANTITY_REGEX_ERROR)
    match = _QUANTITY.match(str(text))
    if match is None:
        raise ValueError(QUANTITY_REGEX_ERROR)
    sign, number, suffix = match.group(1), match.group(2), match.group(3) or ""
    value = Fraction(number)
    if suffix in _BINARY:
        value *= 1024 ** _BINARY[suffix]
    elif suffix in _DECIMAL:
        value *= Fraction(10) ** _DECIMAL[suffix]
    else:  # decimal exponent, e.g. 1e9
        value *= Fraction(10) ** int(suffix[1:])
    return -value if sign == "-" else value


def parse_quantity(text: str) -> int:
    """A quantity in bytes (``"1Gi"`` -> 1073741824), rounded up away from zero like
    ``Quantity.Value()``. Accepts Ki..Ei, n u m k M G T P E, exponents, plain and decimal
    numbers (``"1.5Gi"``); raises ValueError for anything else."""
    value = _quantity(text)
    return math.ceil(value) if value >= 0 else -math.ceil(-value)


def format_quantity(n: int) -> str:
    """The shortest exact binary form: 1073741824 -> ``"1Gi"``, 1536 -> ``"1536"``."""
    if n == 0:
        return "0"
    sign = "-" if n < 0 else ""
    magnitude = abs(n)
    for suffix, power in sorted(_BINARY.items(), key=lambda item: -item[1]):
        unit = 1024**power
        if magnitude % unit == 0:
            return f"{sign}{magnitude // unit}{suffix}"
    return f"{sign}{magnitude}"


# --- field errors ------------------------------------------------------------------------


class Cause(dict[str, str]):
    """A metav1.StatusCause as JSON: ``reason`` (the field.ErrorType, e.g.
    ``FieldValueRequired``), ``message`` (its ErrorBody) and ``field`` (the path)."""


def _cause(reason: str, message: str, path: str) -> Cause:
    return Cause(reason=reason, message=message, field=path)


class GoRepr(str):
    """A bad value already rendered the way Go's %#v / String() prints it."""


def _go(value: object) -> str:
    """A bad value as field.Error.ErrorBody prints it (strings %q, maps and slices %#v)."""
    if isinstance(value, GoRepr):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        items = ", ".join(f"{_go(str(k))}:{_go(v)}" for k, v in sorted(value.items()))
        return f"map[string]string{{{items}}}"
    if isinstance(value, (list, tuple)):
        return "[]string{" + ", ".join(_go(v) for v in value) + "}"
    return str(value)


def field_required(path: str, detail: str = "") -> Cause:
    message = "Required value" + (f": {detail}" if detail else "")
    return _cause("FieldValueRequired", message, path)


def field_forbidden(path: str, detail: str) -> Cause:
    message = "Forbidden" + (f": {detail}" if detail else "")
    return _cause("FieldValueForbidden", message, path)


def field_invalid(path: str, value: object, detail: str) -> Cause:
    message = f"Invalid value: {_go(value)}" + (f": {detail}" if detail else "")
    return _cause("FieldValueInvalid", message, path)


def field_not_supported(path: str, value: object, supported: Iterable[str]) -> Cause:
    quoted = ", ".join(json.dumps(s) for s in supported)
    message = f"Unsupported value: {_go(value)}" + (
        f": supported values: {quoted}" if quoted else ""
    )
    return _cause("FieldValueNotSupported", message, path)


def field_duplicate(path: str, value: object) -> Cause:
    return _cause("FieldValueDuplicate", f"Duplicate value: {_go(value)}", path)


def field_not_found(path: str, value: object) -> Cause:
    return _cause("FieldValueNotFound", f"Not found: {_go(value)}", path)


def qualified_kind(kind: Kind) -> str:
    """``StatefulSet.apps``, ``StorageClass.storage.k8s.io``, ``Pod`` (schema.GroupKind)."""
    return f"{kind.kind}.{kind.group}" if kind.group else kind.kind


def invalid_message(kind: Kind, name: str, causes: Iterable[Cause]) -> str:
    """The message of a 422 Invalid Status, as errors.NewInvalid builds it: one cause
    reads ``Kind.group "name" is invalid: field: message``; several are deduplicated and
    joined as ``[c1, c2]``."""
    texts: list[str] = []
    for cause in causes:
        text = f"{cause['field']}: {cause['message']}"
        if text not in texts:
            texts.append(text)
    head = f'{qualified_kind(kind)} "{name}" is invalid'
    if not texts:
        return head
    if len(texts) == 1:
        return f"{head}: {texts[0]}"
    return f"{head}: [{', '.join(texts)}]"


def invalid_status(kind: Kind, name: str, causes: Sequence[Cause]) -> Obj:
    """The whole metav1.Status body of a 422 Invalid answer."""
    details: Obj = {"name": name, "kind": kind.kind, "causes": [dict(c) for c in causes]}
    if kind.group:
        details["group"] = kind.group
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": invalid_message(kind, name, causes),
        "reason": "Invalid",
        "details": details,
        "code": 422,
    }


# --- small dict helpers ------------------------------------------------------------------


def _unset(d: Mapping[str, Any], key: str) -> bool:
    """Unset as Go sees it after decoding: missing, null, or the empty string."""
    value = d.get(key)
    return value is None or value == ""


def _default(d: Obj, key: str, value: object) -> None:
    if _unset(d, key):
        d[key] = value


def _child(parent: Obj, key: str) -> Obj:
    """parent[key] as a dict, created empty when missing or null."""
    value = parent.get(key)
    if not isinstance(value, dict):
        value = {}
        parent[key] = value
    return value


def _dict(value: object) -> Obj:
    return value if isinstance(value, dict) else {}


def _dicts(value: object) -> Iterator[Obj]:
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield item


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


# --- defaulting ---------------------------------------------------------------------------

# SetDefaults_* in pkg/apis/core/v1/defaults.go and the declarative +default markers
DEFAULT_TERMINATION_GRACE_PERIOD = 30
DEFAULT_MODE = 0o644  # secret, configMap, downwardAPI, projected volumes
DEFAULT_TOLERATION_SECONDS = 300
SYSTEM_PRIORITIES = {"system-cluster-critical": 2000000000, "system-node-critical": 2000001000}
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

VOLUME_SOURCES = (
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
)
PERSISTENT_VOLUME_SOURCES = (
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "hostPath",
    "glusterfs",
    "nfs",
    "rbd",
    "iscsi",
    "cinder",
    "cephfs",
    "fc",
    "flocker",
    "flexVolume",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "local",
    "storageos",
    "csi",
)


def image_tag(image: str) -> str:
    """The tag parsers.ParseImageName finds: ``latest`` when neither tag nor digest."""
    if not image:
        return ""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        return last.split(":", 1)[1]
    return "" if digest else "latest"


def _default_field_ref(holder: Obj) -> None:
    ref = holder.get("fieldRef")
    if isinstance(ref, dict):
        _default(ref, "apiVersion", "v1")


def _default_handler(handler: object) -> None:
    """HTTPGetAction path and scheme, GRPCAction service (probes and lifecycle hooks)."""
    h = _dict(handler)
    get = h.get("httpGet")
    if isinstance(get, dict):
        _default(get, "path", "/")
        _default(get, "scheme", "HTTP")
    grpc = h.get("grpc")
    if isinstance(grpc, dict) and grpc.get("service") is None:
        grpc["service"] = ""


def _default_probe(probe: object) -> None:
    if not isinstance(probe, dict):
        return
    for key, value in (
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ):
        if not probe.get(key):  # 0 counts as unset, as in SetDefaults_Probe
            probe[key] = value
    _default_handler(probe)


def _default_container(c: Obj) -> None:
    """SetDefaults_Container plus the declarative defaults below a container."""
    if _unset(c, "imagePullPolicy"):
        tag = image_tag(_str(c.get("image")))
        c["imagePullPolicy"] = "Always" if tag == "latest" else "IfNotPresent"
    _default(c, "terminationMessagePath", "/dev/termination-log")
    _default(c, "terminationMessagePolicy", "File")
    if not isinstance(c.get("resources"), dict):
        c["resources"] = {}
    for port in _dicts(c.get("ports")):
        _default(port, "protocol", "TCP")
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(c.get(key))
    lifecycle = _dict(c.get("lifecycle"))
    for key in ("postStart", "preStop"):
        _default_handler(lifecycle.get(key))
    for env in _dicts(c.get("env")):
        _default_field_ref(_dict(env.get("valueFrom")))


def _default_pvc_spec(spec: Obj) -> None:
    _default(spec, "volumeMode", "Filesystem")


def _default_volume(v: Obj) -> None:
    """SetDefaults_Volume and the volume sources' own defaults."""
    if not any(v.get(key) is not None for key in VOLUME_SOURCES):
        v["emptyDir"] = {}
    for key in ("secret", "configMap", "downwardAPI", "projected"):
        source = v.get(key)
        if isinstance(source, dict) and source.get("defaultMode") is None:
            source["defaultMode"] = DEFAULT_MODE
    host_path = v.get("hostPath")
    if isinstance(host_path, dict) and host_path.get("type") is None:
        host_path["type"] = ""
    for item in _dicts(_dict(v.get("downwardAPI")).get("items")):
        _default_field_ref(item)
    for source in _dicts(_dict(v.get("projected")).get("sources")):
        token = source.get("serviceAccountToken")
        if isinstance(token, dict) and token.get("expirationSeconds") is None:
            token["expirationSeconds"] = 3600
        for item in _dicts(_dict(source.get("downwardAPI")).get("items")):
            _default_field_ref(item)
    template = _dict(v.get("ephemeral")).get("volumeClaimTemplate")
    if isinstance(template, dict):
        _default_pvc_spec(_child(template, "spec"))
    iscsi = v.get("iscsi")
    if isinstance(iscsi, dict):
        _default(iscsi, "iscsiInterface", "default")


def _all_containers(spec: Obj) -> Iterator[Obj]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from _dicts(spec.get(key))


def _default_pod_spec(spec: Obj) -> None:
    """SetDefaults_PodSpec: what a Pod and a PodTemplateSpec (e.g. in a StatefulSet) get."""
    _default(spec, "dnsPolicy", "ClusterFirst")
    _default(spec, "restartPolicy", "Always")
    if not isinstance(spec.get("securityContext"), dict):
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = DEFAULT_TERMINATION_GRACE_PERIOD
    _default(spec, "schedulerName", "default-scheduler")
    for container in _all_containers(spec):
        _default_container(container)
    for volume in _dicts(spec.get("volumes")):
        _default_volume(volume)


def _tolerates(tolerations: Iterable[Obj], key: str) -> bool:
    """DefaultTolerationSeconds: does some toleration already cover a NoExecute taint?"""
    return any(
        (t.get("key") in (key, None, "")) and (t.get("effect") in ("NoExecute", None, ""))
        for t in tolerations
    )


def pod_qos_class(spec: Mapping[str, Any]) -> str:
    """qos.GetPodQOS over cpu and memory: BestEffort, Burstable or Guaranteed."""
    requests: dict[str, Fraction] = {}
    limits: dict[str, Fraction] = {}
    guaranteed = True
    containers = list(_dicts(spec.get("initContainers"))) + list(_dicts(spec.get("containers")))
    for c in containers:
        resources = _dict(c.get("resources"))
        for name, value in _dict(resources.get("requests")).items():
            amount = _maybe_quantity(value)
            if name in ("cpu", "memory") and amount is not None and amount > 0:
                requests[name] = requests.get(name, Fraction(0)) + amount
        found: set[str] = set()
        for name, value in _dict(resources.get("limits")).items():
            amount = _maybe_quantity(value)
            if name in ("cpu", "memory") and amount is not None and amount > 0:
                found.add(name)
                limits[name] = limits.get(name, Fraction(0)) + amount
        if found != {"cpu", "memory"}:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and any(limits.get(name) != amount for name, amount in requests.items()):
        guaranteed = False
    return "Guaranteed" if guaranteed and len(requests) == len(limits) else "Burstable"


def _maybe_quantity(value: object) -> Fraction | None:
    if value is None:
        return None
    try:
        return _quantity(value)
    except ValueError:
        return None


def _default_pod(obj: Obj, creating: bool) -> None:
    spec = _child(obj, "spec")
    _default_pod_spec(spec)
    # SetDefaults_Pod: requests default to limits, service links on, host ports on hostNetwork
    for container in list(_dicts(spec.get("containers"))) + list(
        _dicts(spec.get("initContainers"))
    ):
        resources = _child(container, "resources")
        limits = resources.get("limits")
        if isinstance(limits, dict) and limits:
            requests = _child(resources, "requests")
            for name, value in limits.items():
                requests.setdefault(name, value)
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    if spec.get("hostNetwork") is True:
        for container in _all_containers(spec):
            for port in _dicts(container.get("ports")):
                if not port.get("hostPort"):
                    port["hostPort"] = port.get("containerPort")
    if creating:
        # ServiceAccount admission (and the deprecated serviceAccount mirror of v1)
        account = _str(spec.get("serviceAccountName")) or _str(spec.get("serviceAccount"))
        _default(spec, "serviceAccountName", account or "default")
        _default(spec, "serviceAccount", spec["serviceAccountName"])
        # Priority admission
        if spec.get("priority") is None:
            spec["priority"] = SYSTEM_PRIORITIES.get(_str(spec.get("priorityClassName")), 0)
        _default(spec, "preemptionPolicy", "PreemptLowerPriority")
        # DefaultTolerationSeconds admission
        tolerations = spec.get("tolerations")
        if not isinstance(tolerations, list):
            tolerations = []
        existing = list(_dicts(tolerations))
        for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
            if not _tolerates(existing, key):
                tolerations.append(
                    {
                        "key": key,
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
                    }
                )
        spec["tolerations"] = tolerations
    status = _child(obj, "status")  # pod strategy PrepareForCreate
    _default(status, "phase", "Pending")
    _default(status, "qosClass", pod_qos_class(spec))


def _default_pvc(obj: Obj) -> None:
    _default_pvc_spec(_child(obj, "spec"))
    _default(_child(obj, "status"), "phase", "Pending")


def _default_statefulset(obj: Obj) -> None:
    spec = _child(obj, "spec")
    _default(spec, "podManagementPolicy", "OrderedReady")
    strategy = _child(spec, "updateStrategy")
    if _unset(strategy, "type"):
        strategy["type"] = "RollingUpdate"
        if strategy.get("rollingUpdate") is None:
            strategy["rollingUpdate"] = {}
    rolling = strategy.get("rollingUpdate")
    if (
        strategy["type"] == "RollingUpdate"
        and isinstance(rolling, dict)
        and rolling.get("partition") is None
    ):
        rolling["partition"] = 0
    policy = _child(spec, "persistentVolumeClaimRetentionPolicy")
    _default(policy, "whenDeleted", "Retain")
    _default(policy, "whenScaled", "Retain")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    _default_pod_spec(_child(_child(spec, "template"), "spec"))
    for claim in _dicts(spec.get("volumeClaimTemplates")):
        _default(claim, "apiVersion", "v1")  # set by the apps/v1 conversion
        _default(claim, "kind", "PersistentVolumeClaim")
        _default_pvc(claim)
    status = _child(obj, "status")  # an empty StatefulSetStatus serializes these two
    if status.get("replicas") is None:
        status["replicas"] = 0
    if status.get("availableReplicas") is None:
        status["availableReplicas"] = 0


def _ip_family(ip: str) -> str:
    return "IPv6" if ":" in ip else "IPv4"


def needs_cluster_ip(obj: Mapping[str, Any]) -> bool:
    """A Service that should get a cluster IP allocated (not ExternalName, not headless)."""
    spec = _dict(obj.get("spec"))
    return spec.get("type", "ClusterIP") != "ExternalName" and _unset(spec, "clusterIP")


def set_cluster_ip(obj: Obj, ip: str) -> None:
    """Record an allocated cluster IP the way the Service registry does."""
    spec = _child(obj, "spec")
    spec["clusterIP"] = ip
    spec["clusterIPs"] = [ip]


def _default_service(
    obj: Obj, old: Obj | None, allocate_cluster_ip: Callable[[], str] | None
) -> None:
    spec = _child(obj, "spec")
    _default(spec, "sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        client_ip = _child(_child(spec, "sessionAffinityConfig"), "clientIP")
        if client_ip.get("timeoutSeconds") is None:
            client_ip["timeoutSeconds"] = 10800
    _default(spec, "type", "ClusterIP")
    service_type = spec["type"]
    for port in _dicts(spec.get("ports")):
        _default(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    externally_accessible = service_type in ("NodePort", "LoadBalancer") or (
        service_type == "ClusterIP" and bool(spec.get("externalIPs"))
    )
    if externally_accessible:
        _default(spec, "externalTrafficPolicy", "Cluster")
    if spec.get("internalTrafficPolicy") is None and service_type in (
        "NodePort",
        "LoadBalancer",
        "ClusterIP",
    ):
        spec["internalTrafficPolicy"] = "Cluster"
    if service_type == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    if service_type != "ExternalName":
        _default_service_ips(spec, _dict(_dict(old).get("spec")), allocate_cluster_ip)
    status = _child(obj, "status")
    if not isinstance(status.get("loadBalancer"), dict):
        status["loadBalancer"] = {}


def _default_service_ips(
    spec: Obj, old_spec: Obj, allocate_cluster_ip: Callable[[], str] | None
) -> None:
    # an update that leaves out allocated values keeps them (registry patchAllocatedValues)
    if old_spec.get("type", "ClusterIP") != "ExternalName":
        for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            if not spec.get(key) and old_spec.get(key):
                spec[key] = copy.deepcopy(old_spec[key])
    cluster_ips = spec.get("clusterIPs")
    if _unset(spec, "clusterIP") and isinstance(cluster_ips, list) and cluster_ips:
        spec["clusterIP"] = cluster_ips[0]
    elif not _unset(spec, "clusterIP") and not cluster_ips:
        spec["clusterIPs"] = [spec["clusterIP"]]
    if _unset(spec, "clusterIP") and allocate_cluster_ip is not None:
        set_cluster_ip({"spec": spec}, allocate_cluster_ip())
    families = spec.get("ipFamilies")
    if not isinstance(families, list) or not families:
        families = []
    if spec.get("clusterIP") == "None" and not spec.get("selector"):
        # headless and selectorless: dual-stack unless the client said otherwise
        if spec.get("ipFamilyPolicy") is None and not families:
            spec["ipFamilyPolicy"] = "RequireDualStack"
        if not families:
            families = ["IPv4"]
        if len(families) < 2 and spec.get("ipFamilyPolicy") != "SingleStack":
            families.append("IPv6" if families[0] == "IPv4" else "IPv4")
    else:
        if not families:
            ip = _str(spec.get("clusterIP"))
            families = [_ip_family(ip) if ip and ip != "None" else "IPv4"]
        _default(spec, "ipFamilyPolicy", "SingleStack")
    spec["ipFamilies"] = families


def _default_namespace(obj: Obj, creating: bool) -> None:
    metadata = _child(obj, "metadata")
    name = _str(metadata.get("name"))
    if name:  # upstream always sets this label to the name, even over a client's value
        _child(metadata, "labels")[NAMESPACE_NAME_LABEL] = name
    if creating:  # namespace strategy PrepareForCreate: the kubernetes finalizer
        finalizers = _child(obj, "spec").get("finalizers")
        if not isinstance(finalizers, list):
            finalizers = []
        if "kubernetes" not in finalizers:
            finalizers.append("kubernetes")
        obj["spec"]["finalizers"] = finalizers
    _default(_child(obj, "status"), "phase", "Active")


def _default_pv(obj: Obj) -> None:
    spec = _child(obj, "spec")
    _default(spec, "persistentVolumeReclaimPolicy", "Retain")
    _default(spec, "volumeMode", "Filesystem")
    host_path = spec.get("hostPath")
    if isinstance(host_path, dict) and host_path.get("type") is None:
        host_path["type"] = ""
    _default(_child(obj, "status"), "phase", "Pending")


def _default_storage_class(obj: Obj) -> None:
    _default(obj, "reclaimPolicy", "Delete")
    _default(obj, "volumeBindingMode", "Immediate")


def _default_event(obj: Obj) -> None:
    # Go serializes these structs and strings even when empty
    if not isinstance(obj.get("involvedObject"), dict):
        obj["involvedObject"] = {}
    if not isinstance(obj.get("source"), dict):
        obj["source"] = {}
    for key in ("reportingComponent", "reportingInstance"):
        if obj.get(key) is None:
            obj[key] = ""


def _default_endpoints(obj: Obj) -> None:
    for subset in _dicts(obj.get("subsets")):
        for port in _dicts(subset.get("ports")):
            _default(port, "protocol", "TCP")


def _default_node(obj: Obj) -> None:
    status = obj.get("status")
    if isinstance(status, dict):
        capacity = status.get("capacity")
        if status.get("allocatable") is None and isinstance(capacity, dict):
            status["allocatable"] = dict(capacity)


def apply_defaults(
    kind: Kind,
    obj: Obj,
    old: Obj | None = None,
    *,
    allocate_cluster_ip: Callable[[], str] | None = None,
) -> None:
    """Fill in what the API server fills in, never overwriting what the client gave.

    ``old`` is the stored object on update (None on create): create-only admission
    (ServiceAccount, Priority, DefaultTolerationSeconds, the namespace finalizer) then
    does not run again, and a Service keeps the IPs it was allocated. When a Service has
    no cluster IP and ``allocate_cluster_ip`` is given, its result is recorded as
    ``clusterIP``/``clusterIPs``; pass it on create only (``needs_cluster_ip`` and
    ``set_cluster_ip`` do the same for a server that allocates elsewhere).
    """
    creating = old is None
    name = kind.kind
    if name == "Pod":
        _default_pod(obj, creating)
    elif name == "StatefulSet":
        _default_statefulset(obj)
    elif name == "Service":
        _default_service(obj, old, allocate_cluster_ip)
    elif name == "PersistentVolumeClaim":
        _default_pvc(obj)
    elif name == "PersistentVolume":
        _default_pv(obj)
    elif name == "StorageClass":
        _default_storage_class(obj)
    elif name == "Namespace":
        _default_namespace(obj, creating)
    elif name == "Event":
        _default_event(obj)
    elif name == "Endpoints":
        _default_endpoints(obj)
    elif name == "Node":
        _default_node(obj)
    # ConfigMap (SetDefaults_ConfigMap's empty map is omitted on the wire) and
    # ControllerRevision have nothing visible to default.


# --- name and label formats (k8s.io/apimachinery/pkg/util/validation) ---------------------

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + r"(\." + _DNS1123_LABEL_FMT + ")*"
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = "(" + _QUALIFIED_NAME_FMT + ")?"
_CONFIG_MAP_KEY_FMT = "[-._a-zA-Z0-9]+"
_PORT_NAME_CHARS = re.compile(r"^[-a-z0-9]+$")


def _full(fmt: str) -> re.Pattern[str]:
    return re.compile("^" + fmt + "$")


_DNS1123_LABEL = _full(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN = _full(_DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL = _full(_DNS1035_LABEL_FMT)
_QUALIFIED_NAME = _full(_QUALIFIED_NAME_FMT)
_LABEL_VALUE = _full(_LABEL_VALUE_FMT)
_CONFIG_MAP_KEY = _full(_CONFIG_MAP_KEY_FMT)


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    text = msg + " (e.g. "
    for i, example in enumerate(examples):
        if i > 0:
            text += " or "
        text += f"'{example}', "
    return text + f"regex used for validation is '{fmt}')"


def _max_len(n: int) -> str:
    return f"must be no more than {n} characters"


def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(_max_len(63))
    if not _DNS1123_LABEL.match(value):
        if _DNS1123_SUBDOMAIN.match(value):
            errs.append("must not contain dots")
        else:
            errs.append(
                _regex_error(
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                    "characters or '-', and must start and end with an alphanumeric character",
                    _DNS1123_LABEL_FMT,
                    "my-name",
                    "123-abc",
                )
            )
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append(_max_len(253))
    if not _DNS1123_SUBDOMAIN.match(value):
        errs.append(
            _regex_error(
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.', and must start and end with an alphanumeric character",
                _DNS1123_SUBDOMAIN_FMT,
                "example.com",
            )
        )
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(_max_len(63))
    if not _DNS1035_LABEL.match(value):
        errs.append(
            _regex_error(
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                "start with an alphabetic character, and end with an alphanumeric character",
                _DNS1035_LABEL_FMT,
                "my-name",
                "abc-123",
            )
        )
    return errs


_QUALIFIED_NAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character"
)


def is_qualified_name(value: str) -> list[str]:
    """Label keys, annotation keys, provisioner names: an optional DNS prefix and a name."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + msg for msg in is_dns1123_subdomain(prefix))
    else:
        return [
            "a qualified name "
            + _regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + _max_len(63))
    if not _QUALIFIED_NAME.match(name):
        errs.append(
            "name part "
            + _regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


def is_label_value(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(_max_len(63))
    if not _LABEL_VALUE.match(value):
        errs.append(
            _regex_error(
                "a valid label must be an empty string or consist of alphanumeric characters, "
                "'-', '_' or '.', and must start and end with an alphanumeric character",
                _LABEL_VALUE_FMT,
                "MyValue",
                "my_value",
                "12345",
            )
        )
    return errs


def _port_range(port: object) -> list[str]:
    if isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535:
        return []
    return ["must be between 1 and 65535, inclusive"]


def _port_name(name: str) -> list[str]:
    errs = []
    if len(name) > 15:
        errs.append(_max_len(15))
    if not _PORT_NAME_CHARS.match(name):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", name):
        errs.append("must contain at least one letter (a-z)")
    if "--" in name:
        errs.append("must not contain consecutive hyphens")
    if name and (name[0] == "-" or name[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


# --- generic validation ------------------------------------------------------------------

NameFn = Callable[[str], list[str]]
_IMMUTABLE = "field is immutable"
_NEGATIVE = "must be greater than or equal to 0"


def _nonnegative(value: object, path: str) -> list[Cause]:
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        return [field_invalid(path, value, _NEGATIVE)]
    return []


def _labels(labels: object, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for key, value in _dict(labels).items():
        causes.extend(field_invalid(path, key, msg) for msg in is_qualified_name(key))
        causes.extend(field_invalid(path, _str(value), msg) for msg in is_label_value(_str(value)))
    return causes


def _annotations(annotations: object, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for key in _dict(annotations):
        causes.extend(field_invalid(path, key, msg) for msg in is_qualified_name(key.lower()))
    return causes


def _validate_meta(obj: Mapping[str, Any], name_fn: NameFn, path: str = "metadata") -> list[Cause]:
    """ValidateObjectMeta: name (or generateName), labels, annotations."""
    meta = _dict(obj.get("metadata"))
    causes: list[Cause] = []
    generate = _str(meta.get("generateName"))
    if generate:
        masked = generate[:-1] + "a" if generate.endswith("-") else generate
        causes.extend(
            field_invalid(f"{path}.generateName", generate, msg) for msg in name_fn(masked)
        )
    name = _str(meta.get("name"))
    if not name:
        causes.append(field_required(f"{path}.name", "name or generateName is required"))
    else:
        causes.extend(field_invalid(f"{path}.name", name, msg) for msg in name_fn(name))
    causes.extend(_labels(meta.get("labels"), f"{path}.labels"))
    causes.extend(_annotations(meta.get("annotations"), f"{path}.annotations"))
    return causes


def _validate_meta_update(obj: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    new_meta, old_meta = _dict(obj.get("metadata")), _dict(old.get("metadata"))
    causes: list[Cause] = []
    for key in ("name", "namespace", "uid"):
        old_value = old_meta.get(key)
        if old_value and new_meta.get(key) and new_meta.get(key) != old_value:
            causes.append(field_invalid(f"metadata.{key}", new_meta.get(key), _IMMUTABLE))
    return causes


def _render_selector(selector: Mapping[str, Any]) -> GoRepr:
    """*metav1.LabelSelector as its generated String() prints it."""
    labels = "".join(f"{k}: {v}," for k, v in sorted(_dict(selector.get("matchLabels")).items()))
    exprs = ""
    for expr in _dicts(selector.get("matchExpressions")):
        values = " ".join(str(v) for v in expr.get("values") or [])
        exprs += (
            f"LabelSelectorRequirement{{Key:{_str(expr.get('key'))},"
            f"Operator:{_str(expr.get('operator'))},Values:[{values}],}},"
        )
    return GoRepr(
        f"&LabelSelector{{MatchLabels:map[string]string{{{labels}}},"
        f"MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}"
    )


_SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def _validate_label_selector(selector: Mapping[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, expr in enumerate(_dicts(selector.get("matchExpressions"))):
        epath = f"{path}.matchExpressions[{i}]"
        operator = _str(expr.get("operator"))
        values = expr.get("values") or []
        if operator in ("In", "NotIn"):
            if not values:
                causes.append(
                    field_required(
                        f"{epath}.values", "must be specified when `operator` is 'In' or 'NotIn'"
                    )
                )
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                causes.append(
                    field_forbidden(
                        f"{epath}.values",
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    )
                )
        else:
            causes.append(field_not_supported(f"{epath}.operator", operator, _SELECTOR_OPERATORS))
        key = _str(expr.get("key"))
        causes.extend(field_invalid(f"{epath}.key", key, msg) for msg in is_qualified_name(key))
    causes.extend(_labels(selector.get("matchLabels"), f"{path}.matchLabels"))
    return causes


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    """Whether a metav1.LabelSelector selects a label set (an empty selector selects all)."""
    for key, value in _dict(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expr in _dicts(selector.get("matchExpressions")):
        key, operator = _str(expr.get("key")), expr.get("operator")
        values = expr.get("values") or []
        if operator == "In" and (key not in labels or labels[key] not in values):
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _quantity_causes(value: object, path: str) -> list[Cause]:
    """A resource quantity that must parse and be greater than zero."""
    try:
        amount = _quantity(value)
    except ValueError:
        return [field_invalid(path, str(value), QUANTITY_REGEX_ERROR)]
    if amount <= 0:
        return [
            field_invalid(path, "0" if amount == 0 else str(value), "must be greater than zero")
        ]
    return []


def _semantic(value: object) -> object:
    """A copy where quantities under resources/capacity compare by value, like
    apiequality.Semantic.DeepEqual."""
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, item in value.items():
            if key in ("requests", "limits", "capacity") and isinstance(item, dict):
                out[key] = {k: _maybe_quantity(v) or v for k, v in item.items()}
            else:
                out[key] = _semantic(item)
        return out
    if isinstance(value, list):
        return [_semantic(item) for item in value]
    return value


def _go_field(key: str) -> str:
    return key[:1].upper() + key[1:]


def _spec_diff(type_name: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """A short stand-in for the cmp.Diff upstream appends to immutability errors."""
    lines = [f"  {type_name}{{"]
    for key in sorted(set(old) | set(new)):
        if _semantic(old.get(key)) != _semantic(new.get(key)):
            lines.append(f"- \t{_go_field(key)}: {json.dumps(old.get(key), sort_keys=True)},")
            lines.append(f"+ \t{_go_field(key)}: {json.dumps(new.get(key), sort_keys=True)},")
    lines.append("  }")
    return "\n".join(lines)


# --- pods and pod templates -------------------------------------------------------------

_PROTOCOLS = ("SCTP", "TCP", "UDP")
_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_DNS_POLICIES = ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")


def _validate_container_ports(ports: object, path: str) -> list[Cause]:
    causes: list[Cause] = []
    names: set[str] = set()
    for i, port in enumerate(_dicts(ports)):
        ppath = f"{path}[{i}]"
        name = _str(port.get("name"))
        if name:
            msgs = _port_name(name)
            if msgs:
                causes.extend(field_invalid(f"{ppath}.name", name, msg) for msg in msgs)
            elif name in names:
                causes.append(field_duplicate(f"{ppath}.name", name))
            else:
                names.add(name)
        container_port = port.get("containerPort")
        if not container_port:
            causes.append(field_required(f"{ppath}.containerPort"))
        else:
            causes.extend(
                field_invalid(f"{ppath}.containerPort", container_port, msg)
                for msg in _port_range(container_port)
            )
        protocol = _str(port.get("protocol"))
        if not protocol:
            causes.append(field_required(f"{ppath}.protocol"))
        elif protocol not in _PROTOCOLS:
            causes.append(field_not_supported(f"{ppath}.protocol", protocol, _PROTOCOLS))
    return causes


def _validate_volume_mounts(mounts: object, volumes: set[str] | None, path: str) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, mount in enumerate(_dicts(mounts)):
        mpath = f"{path}[{i}]"
        name = _str(mount.get("name"))
        if not name:
            causes.append(field_required(f"{mpath}.name"))
        if volumes is not None and name not in volumes:
            causes.append(field_not_found(f"{mpath}.name", name))
        mount_path = _str(mount.get("mountPath"))
        if not mount_path:
            causes.append(field_required(f"{mpath}.mountPath"))
        elif mount_path in seen:
            causes.append(field_invalid(f"{mpath}.mountPath", mount_path, "must be unique"))
        seen.add(mount_path)
    return causes


def _validate_containers(
    containers: object, path: str, volumes: set[str] | None, *, full: bool, required: bool
) -> list[Cause]:
    """validateContainers: each needs a DNS-label name unique in the list and an image.

    ``full`` adds what only the Pod validation checks (ports, mounts, enums);
    ``volumes`` None skips the mount-to-volume check.
    """
    causes: list[Cause] = []
    items = list(_dicts(containers))
    if not items and required:
        causes.append(field_required(path))
    names: set[str] = set()
    for i, c in enumerate(items):
        cpath = f"{path}[{i}]"
        name = _str(c.get("name"))
        if not name:
            causes.append(field_required(f"{cpath}.name"))
        else:
            causes.extend(field_invalid(f"{cpath}.name", name, m) for m in is_dns1123_label(name))
        if not _str(c.get("image")):
            causes.append(field_required(f"{cpath}.image"))
        if full:
            policy = _str(c.get("terminationMessagePolicy"))
            if not policy:
                causes.append(field_required(f"{cpath}.terminationMessagePolicy"))
            elif policy not in _TERMINATION_MESSAGE_POLICIES:
                causes.append(
                    field_not_supported(
                        f"{cpath}.terminationMessagePolicy", policy, _TERMINATION_MESSAGE_POLICIES
                    )
                )
            causes.extend(_validate_container_ports(c.get("ports"), f"{cpath}.ports"))
            causes.extend(
                _validate_volume_mounts(c.get("volumeMounts"), volumes, f"{cpath}.volumeMounts")
            )
            pull = _str(c.get("imagePullPolicy"))
            if not pull:
                causes.append(field_required(f"{cpath}.imagePullPolicy"))
            elif pull not in _PULL_POLICIES:
                causes.append(field_not_supported(f"{cpath}.imagePullPolicy", pull, _PULL_POLICIES))
        if name and name in names:
            causes.append(field_duplicate(f"{cpath}.name", name))
        elif name:
            names.add(name)
    return causes


def _validate_volumes(volumes: object, path: str) -> tuple[set[str], list[Cause]]:
    causes: list[Cause] = []
    names: set[str] = set()
    for i, volume in enumerate(_dicts(volumes)):
        vpath = f"{path}[{i}]"
        errs: list[Cause] = []
        name = _str(volume.get("name"))
        if not name:
            errs.append(field_required(f"{vpath}.name"))
        else:
            errs.extend(field_invalid(f"{vpath}.name", name, m) for m in is_dns1123_label(name))
        if name in names:
            errs.append(field_duplicate(f"{vpath}.name", name))
        sources = [key for key in VOLUME_SOURCES if volume.get(key) is not None]
        if not sources:
            errs.append(field_required(vpath, "must specify a volume type"))
        for extra in sources[1:]:
            errs.append(
                field_forbidden(f"{vpath}.{extra}", "may not specify more than 1 volume type")
            )
        claim = volume.get("persistentVolumeClaim")
        if isinstance(claim, dict) and not _str(claim.get("claimName")):
            errs.append(field_required(f"{vpath}.persistentVolumeClaim.claimName"))
        if errs:
            causes.extend(errs)
        else:
            names.add(name)
    return names, causes


def _validate_pod_spec(spec: Mapping[str, Any], path: str) -> list[Cause]:
    volumes, causes = _validate_volumes(spec.get("volumes"), f"{path}.volumes")
    causes.extend(
        _validate_containers(
            spec.get("initContainers"), f"{path}.initContainers", volumes, full=True, required=False
        )
    )
    causes.extend(
        _validate_containers(
            spec.get("containers"), f"{path}.containers", volumes, full=True, required=True
        )
    )
    restart = _str(spec.get("restartPolicy"))
    if not restart:
        causes.append(field_required(f"{path}.restartPolicy"))
    elif restart not in _RESTART_POLICIES:
        causes.append(field_not_supported(f"{path}.restartPolicy", restart, _RESTART_POLICIES))
    dns = _str(spec.get("dnsPolicy"))
    if not dns:
        causes.append(field_required(f"{path}.dnsPolicy"))
    elif dns not in _DNS_POLICIES:
        causes.append(field_not_supported(f"{path}.dnsPolicy", dns, _DNS_POLICIES))
    causes.extend(
        _nonnegative(
            spec.get("terminationGracePeriodSeconds"), f"{path}.terminationGracePeriodSeconds"
        )
    )
    causes.extend(_labels(spec.get("nodeSelector"), f"{path}.nodeSelector"))
    return causes


POD_UPDATE_FORBIDDEN = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
    "(allow it to be set to 1 if it was previously negative)"
)


def _mask_pod_spec(spec: Mapping[str, Any], old_spec: Mapping[str, Any]) -> Obj:
    masked = copy.deepcopy(dict(spec))
    for key in ("containers", "initContainers"):
        for c in _dicts(masked.get(key)):
            c.pop("image", None)
    for key in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"):
        masked.pop(key, None)
    if not old_spec.get("nodeName"):
        masked.pop("nodeName", None)  # binding (pods/binding) sets it once
    masked.pop("schedulingGates", None)  # gates may only be removed
    return masked


def _validate_pod(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    if old is not None:
        causes = _validate_meta_update(obj, old)
        causes.extend(_validate_pod_spec(spec, "spec"))
        old_spec = _dict(old.get("spec"))
        new_masked, old_masked = _mask_pod_spec(spec, old_spec), _mask_pod_spec(old_spec, old_spec)
        if _semantic(new_masked) != _semantic(old_masked):
            diff = _spec_diff("core.PodSpec", old_masked, new_masked)
            causes.append(field_forbidden("spec", f"{POD_UPDATE_FORBIDDEN}\n{diff}"))
        return causes
    causes = _validate_meta(obj, is_dns1123_subdomain)
    causes.extend(_validate_pod_spec(spec, "spec"))
    return causes


# --- apps/v1 StatefulSet --------------------------------------------------------------------

STATEFULSET_UPDATE_FORBIDDEN = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
    "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
    "forbidden"
)
_STATEFULSET_MUTABLE = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)
_RETENTION = ("Retain", "Delete")


def _render_rolling_update(rolling: Mapping[str, Any]) -> str:
    partition = rolling.get("partition") or 0
    return (
        f"apps.RollingUpdateStatefulSetStrategy{{Partition:{partition}, "
        "MaxUnavailable:(*intstr.IntOrString)(nil)}"
    )


def _validate_statefulset_spec(spec: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    policy = _str(spec.get("podManagementPolicy"))
    if not policy:
        causes.append(field_required("spec.podManagementPolicy"))
    elif policy not in ("OrderedReady", "Parallel"):
        causes.append(
            field_invalid(
                "spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'"
            )
        )
    strategy = _dict(spec.get("updateStrategy"))
    strategy_type = _str(strategy.get("type"))
    rolling = strategy.get("rollingUpdate")
    if not strategy_type:
        causes.append(field_required("spec.updateStrategy"))
    elif strategy_type == "OnDelete":
        if rolling is not None:
            causes.append(
                field_invalid(
                    "spec.updateStrategy.rollingUpdate",
                    GoRepr(_render_rolling_update(_dict(rolling))),
                    "only allowed for updateStrategy 'RollingUpdate'",
                )
            )
    elif strategy_type == "RollingUpdate":
        if isinstance(rolling, dict):
            causes.extend(
                _nonnegative(
                    rolling.get("partition"), "spec.updateStrategy.rollingUpdate.partition"
                )
            )
    else:
        pointer = (
            "(*apps.RollingUpdateStatefulSetStrategy)(nil)"
            if rolling is None
            else "(*apps.RollingUpdateStatefulSetStrategy)(0xc000a1e2d0)"
        )
        rendered = GoRepr(
            f"apps.StatefulSetUpdateStrategy{{Type:{_go(strategy_type)}, RollingUpdate:{pointer}}}"
        )
        causes.append(
            field_invalid("spec.updateStrategy", rendered, "must be 'RollingUpdate' or 'OnDelete'")
        )
    retention = spec.get("persistentVolumeClaimRetentionPolicy")
    if isinstance(retention, dict):
        for key in ("whenDeleted", "whenScaled"):
            value = _str(retention.get(key))
            if value not in _RETENTION:
                causes.append(
                    field_not_supported(
                        f"spec.persistentVolumeClaimRetentionPolicy.{key}", value, _RETENTION
                    )
                )
    causes.extend(_nonnegative(spec.get("replicas"), "spec.replicas"))
    causes.extend(_nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds"))
    ordinals = spec.get("ordinals")
    if isinstance(ordinals, dict):
        causes.extend(_nonnegative(ordinals.get("start"), "spec.ordinals.start"))

    selector = spec.get("selector")
    template = _dict(spec.get("template"))
    template_meta = _dict(template.get("metadata"))
    template_labels = _dict(template_meta.get("labels"))
    if not isinstance(selector, dict):
        causes.append(field_required("spec.selector"))
        selector_ok = True  # a nil selector selects nothing: the template check fails below
    else:
        selector_causes = _validate_label_selector(selector, "spec.selector")
        causes.extend(selector_causes)
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            causes.append(
                field_invalid(
                    "spec.selector",
                    _render_selector(selector),
                    "empty selector is invalid for statefulset",
                )
            )
        selector_ok = not selector_causes
        if not selector_ok:
            causes.append(field_invalid("spec.selector", _render_selector(selector), ""))
    if selector_ok:
        matches = isinstance(selector, dict) and selector_matches(selector, template_labels)
        empty = isinstance(selector, dict) and not (
            selector.get("matchLabels") or selector.get("matchExpressions")
        )
        if not empty and not matches:
            labels_value: object = (
                template_labels
                if template_meta.get("labels") is not None
                else GoRepr("map[string]string(nil)")
            )
            causes.append(
                field_invalid(
                    "spec.template.metadata.labels",
                    labels_value,
                    "`selector` does not match template `labels`",
                )
            )
    causes.extend(_labels(template_meta.get("labels"), "spec.template.labels"))
    causes.extend(_annotations(template_meta.get("annotations"), "spec.template.annotations"))
    template_spec = _dict(template.get("spec"))
    # divergence: upstream leaves the template's containers to pod creation; rejecting them
    # here keeps unrunnable pods (and models without a container name) out of the sim
    causes.extend(
        _validate_containers(
            template_spec.get("containers"),
            "spec.template.spec.containers",
            None,
            full=False,
            required=True,
        )
    )
    restart = _str(template_spec.get("restartPolicy"))
    if restart != "Always":
        causes.append(field_not_supported("spec.template.spec.restartPolicy", restart, ("Always",)))
    if template_spec.get("activeDeadlineSeconds") is not None:
        causes.append(
            field_forbidden(
                "spec.template.spec.activeDeadlineSeconds",
                "activeDeadlineSeconds in StatefulSet is not Supported",
            )
        )
    # divergence: upstream does not validate claim templates until it creates the claims
    for i, claim in enumerate(_dicts(spec.get("volumeClaimTemplates"))):
        path = f"spec.volumeClaimTemplates[{i}].metadata.name"
        name = _str(_dict(claim.get("metadata")).get("name"))
        if not name:
            causes.append(field_required(path))
        else:
            causes.extend(field_invalid(path, name, msg) for msg in is_dns1123_subdomain(name))
    return causes


def _validate_statefulset(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    if old is None:
        causes = _validate_meta(obj, is_dns1123_label)
        causes.extend(_validate_statefulset_spec(spec))
        return causes
    causes = _validate_meta_update(obj, old)
    causes.extend(_validate_statefulset_spec(spec))
    old_spec = _dict(old.get("spec"))
    fixed_new = {k: v for k, v in spec.items() if k not in _STATEFULSET_MUTABLE}
    fixed_old = {k: v for k, v in old_spec.items() if k not in _STATEFULSET_MUTABLE}
    if _semantic(fixed_new) != _semantic(fixed_old):
        causes.append(field_forbidden("spec", STATEFULSET_UPDATE_FORBIDDEN))
    return causes


# --- core/v1 storage ------------------------------------------------------------------------

ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
_VOLUME_MODES = ("Block", "Filesystem")
_PV_RECLAIM = ("Delete", "Recycle", "Retain")
PVC_UPDATE_FORBIDDEN = (
    "spec is immutable after creation except resources.requests and volumeAttributesClassName "
    "for bound claims"
)


def _validate_access_modes(modes: object, path: str, detail: str) -> list[Cause]:
    causes: list[Cause] = []
    items = modes if isinstance(modes, list) else []
    if not items:
        causes.append(field_required(path, detail))
    rwop = other = False
    for mode in items:
        if mode not in ACCESS_MODES:
            causes.append(field_not_supported(path, mode, ACCESS_MODES))
        elif mode == "ReadWriteOncePod":
            rwop = True
        else:
            other = True
    if rwop and other:
        causes.append(field_forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return causes


def _validate_pvc_spec(spec: Mapping[str, Any], path: str) -> list[Cause]:
    causes = _validate_access_modes(
        spec.get("accessModes"), f"{path}.accessModes", "at least 1 access mode is required"
    )
    selector = spec.get("selector")
    if isinstance(selector, dict):
        causes.extend(_validate_label_selector(selector, f"{path}.selector"))
    requests = _dict(_dict(spec.get("resources")).get("requests"))
    storage_path = f"{path}.resources[storage]"
    if requests.get("storage") is None:
        causes.append(field_required(storage_path))
    else:
        causes.extend(_quantity_causes(requests["storage"], storage_path))
    class_name = _str(spec.get("storageClassName"))
    if class_name:
        causes.extend(
            field_invalid(f"{path}.storageClassName", class_name, msg)
            for msg in is_dns1123_subdomain(class_name)
        )
    mode = spec.get("volumeMode")
    if mode is not None and mode not in _VOLUME_MODES:
        causes.append(field_not_supported(f"{path}.volumeMode", mode, _VOLUME_MODES))
    return causes


def _storage_of(resources: object, key: str) -> Fraction | None:
    return _maybe_quantity(_dict(resources).get(key))


def _validate_pvc(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    causes = _validate_meta(obj, is_dns1123_subdomain)
    if old is not None:
        causes = _validate_meta_update(obj, old) + causes
    causes.extend(_validate_pvc_spec(spec, "spec"))
    if old is None:
        return causes
    old_spec = _dict(old.get("spec"))
    new_clone, old_clone = copy.deepcopy(spec), copy.deepcopy(old_spec)
    if not old_spec.get("volumeName"):
        old_clone.pop("volumeName", None)  # the binder sets volumeName once
        new_clone.pop("volumeName", None)
    if old_spec.get("storageClassName") is None and spec.get("storageClassName"):
        new_clone.pop("storageClassName", None)  # retroactive default storage class
    bound = _dict(old.get("status")).get("phase") == "Bound"
    if bound:
        new_requests = _dict(_dict(new_clone.get("resources")).get("requests"))
        old_storage = _dict(_dict(old_spec.get("resources")).get("requests")).get("storage")
        if "storage" in new_requests or old_storage is not None:
            new_requests["storage"] = old_storage
            _child(new_clone, "resources")["requests"] = new_requests
        if new_clone.get("volumeAttributesClassName") is not None:
            new_clone["volumeAttributesClassName"] = old_spec.get("volumeAttributesClassName")
    if _semantic(new_clone) != _semantic(old_clone):
        diff = _spec_diff("core.PersistentVolumeClaimSpec", old_clone, new_clone)
        causes.append(field_forbidden("spec", f"{PVC_UPDATE_FORBIDDEN}\n{diff}"))
    new_size = _storage_of(_dict(spec.get("resources")).get("requests"), "storage")
    old_size = _storage_of(_dict(old_spec.get("resources")).get("requests"), "storage")
    status_size = _storage_of(_dict(old.get("status")).get("capacity"), "storage")
    shrinking = new_size is not None and old_size is not None and new_size < old_size
    if shrinking and new_size is not None and new_size <= (status_size or 0):
        # RecoverVolumeExpansionFailure: shrinking is allowed down to above status.capacity
        causes.append(
            field_forbidden(
                "spec.resources.requests.storage", "field can not be less than status.capacity"
            )
        )
    if spec.get("volumeMode") != old_spec.get("volumeMode"):
        causes.append(field_invalid("volumeMode", spec.get("volumeMode"), _IMMUTABLE))
    return causes


def _render_resource_list(resources: object) -> GoRepr:
    if not isinstance(resources, dict):
        return GoRepr("core.ResourceList(nil)")
    items = ", ".join(f"{json.dumps(k)}:{json.dumps(str(v))}" for k, v in sorted(resources.items()))
    return GoRepr(f"core.ResourceList{{{items}}}")


def _validate_pv_sources(spec: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    sources = [key for key in PERSISTENT_VOLUME_SOURCES if spec.get(key) is not None]
    if not sources:
        return [field_required("spec", "must specify a volume type")]
    for extra in sources[1:]:
        causes.append(field_forbidden(f"spec.{extra}", "may not specify more than 1 volume type"))
    source = sources[0]
    body = _dict(spec.get(source))
    required = {
        "hostPath": ("path",),
        "local": ("path",),
        "nfs": ("server", "path"),
        "csi": ("driver", "volumeHandle"),
    }.get(source, ())
    for key in required:
        if not _str(body.get(key)):
            causes.append(field_required(f"spec.{source}.{key}"))
    if source == "local" and not spec.get("nodeAffinity"):
        causes.append(field_required("spec.nodeAffinity", "Local volume requires node affinity"))
    return causes


def _validate_pv(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    causes = _validate_meta(obj, is_dns1123_subdomain)
    if old is not None:
        causes = _validate_meta_update(obj, old) + causes
    causes.extend(_validate_access_modes(spec.get("accessModes"), "spec.accessModes", ""))
    capacity = spec.get("capacity")
    if not capacity:
        causes.append(field_required("spec.capacity"))
    if not isinstance(capacity, dict) or "storage" not in capacity or len(capacity) > 1:
        causes.append(
            field_not_supported("spec.capacity", _render_resource_list(capacity), ("storage",))
        )
    for resource, value in _dict(capacity).items():
        causes.extend(_quantity_causes(value, f"spec.capacity[{resource}]"))
    reclaim = _str(spec.get("persistentVolumeReclaimPolicy"))
    if reclaim and reclaim not in _PV_RECLAIM:
        causes.append(
            field_not_supported("spec.persistentVolumeReclaimPolicy", reclaim, _PV_RECLAIM)
        )
    causes.extend(_validate_pv_sources(spec))
    class_name = _str(spec.get("storageClassName"))
    if class_name:
        causes.extend(
            field_invalid("spec.storageClassName", class_name, msg)
            for msg in is_dns1123_subdomain(class_name)
        )
    mode = spec.get("volumeMode")
    if mode is not None and mode not in _VOLUME_MODES:
        causes.append(field_not_supported("spec.volumeMode", mode, _VOLUME_MODES))
    if old is not None:
        old_spec = _dict(old.get("spec"))
        new_source = {k: spec.get(k) for k in PERSISTENT_VOLUME_SOURCES if spec.get(k) is not None}
        old_source = {
            k: old_spec.get(k) for k in PERSISTENT_VOLUME_SOURCES if old_spec.get(k) is not None
        }
        if new_source != old_source:
            diff = _spec_diff("core.PersistentVolumeSource", old_source, new_source)
            causes.append(
                field_forbidden(
                    "spec.persistentvolumesource",
                    f"spec.persistentvolumesource is immutable after creation\n{diff}",
                )
            )
        if mode != old_spec.get("volumeMode"):
            causes.append(field_invalid("volumeMode", mode, _IMMUTABLE))
    return causes


# --- storage.k8s.io/v1 StorageClass -----------------------------------------------------------

_SC_RECLAIM = ("Delete", "Retain")
_BINDING_MODES = ("Immediate", "WaitForFirstConsumer")


def _validate_storage_class(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[Cause]:
    if old is not None:
        causes = _validate_meta_update(obj, old)
        if _dict(obj.get("parameters")) != _dict(old.get("parameters")):
            causes.append(field_forbidden("parameters", "updates to parameters are forbidden."))
        if obj.get("provisioner") != old.get("provisioner"):
            causes.append(field_forbidden("provisioner", "updates to provisioner are forbidden."))
        if obj.get("reclaimPolicy") != old.get("reclaimPolicy"):
            causes.append(
                field_forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden.")
            )
        if obj.get("volumeBindingMode") != old.get("volumeBindingMode"):
            causes.append(
                field_invalid("volumeBindingMode", obj.get("volumeBindingMode"), _IMMUTABLE)
            )
        return causes
    causes = _validate_meta(obj, is_dns1123_subdomain)
    provisioner = _str(obj.get("provisioner"))
    if not provisioner:
        causes.append(field_required("provisioner"))
    else:
        causes.extend(
            field_invalid("provisioner", provisioner, msg)
            for msg in is_qualified_name(provisioner.lower())
        )
    parameters = _dict(obj.get("parameters"))
    if len(parameters) > 512:
        causes.append(
            field_invalid(
                "parameters", GoRepr("map[string]string{...}"), "must have at most 512 parameters"
            )
        )
    if "" in parameters:
        causes.append(field_invalid("parameters", "", "key must not be empty"))
    reclaim = obj.get("reclaimPolicy")
    if reclaim is None:
        causes.append(field_required("reclaimPolicy"))
    elif reclaim not in _SC_RECLAIM:
        causes.append(field_not_supported("reclaimPolicy", reclaim, _SC_RECLAIM))
    mode = obj.get("volumeBindingMode")
    if mode is None:
        causes.append(field_required("volumeBindingMode"))
    elif mode not in _BINDING_MODES:
        causes.append(field_not_supported("volumeBindingMode", mode, _BINDING_MODES))
    return causes


# --- core/v1 Service ------------------------------------------------------------------------------

_SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_SESSION_AFFINITIES = ("ClientIP", "None")


def _validate_target_port(target: object, path: str) -> list[Cause]:
    if isinstance(target, str):
        return [field_invalid(path, target, msg) for msg in _port_name(target)]
    if target is None:
        return []
    return [field_invalid(path, target, msg) for msg in _port_range(target)]


def _validate_service(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    causes = _validate_meta(obj, is_dns1035_label)
    if old is not None:
        causes = _validate_meta_update(obj, old) + causes
    service_type = _str(spec.get("type"))
    headless = spec.get("clusterIP") == "None"
    ports = list(_dicts(spec.get("ports")))
    if not ports and not headless and service_type != "ExternalName":
        causes.append(field_required("spec.ports"))
    if service_type not in _SERVICE_TYPES:
        causes.append(field_not_supported("spec.type", service_type, _SERVICE_TYPES))
    if service_type == "ExternalName" and not _str(spec.get("externalName")):
        causes.append(field_required("spec.externalName"))
    names: set[str] = set()
    for i, port in enumerate(ports):
        ppath = f"spec.ports[{i}]"
        name = _str(port.get("name"))
        if len(ports) > 1 and not name:
            causes.append(field_required(f"{ppath}.name"))
        elif name:
            causes.extend(field_invalid(f"{ppath}.name", name, m) for m in is_dns1123_label(name))
            if name in names:
                causes.append(field_duplicate(f"{ppath}.name", name))
            names.add(name)
        causes.extend(
            field_invalid(f"{ppath}.port", port.get("port"), msg)
            for msg in _port_range(port.get("port"))
        )
        protocol = _str(port.get("protocol"))
        if not protocol:
            causes.append(field_required(f"{ppath}.protocol"))
        elif protocol not in _PROTOCOLS:
            causes.append(field_not_supported(f"{ppath}.protocol", protocol, _PROTOCOLS))
        causes.extend(_validate_target_port(port.get("targetPort"), f"{ppath}.targetPort"))
    causes.extend(_labels(spec.get("selector"), "spec.selector"))
    affinity = _str(spec.get("sessionAffinity"))
    if affinity not in _SESSION_AFFINITIES:
        causes.append(field_not_supported("spec.sessionAffinity", affinity, _SESSION_AFFINITIES))
    if old is not None:
        old_spec = _dict(old.get("spec"))
        old_ips, new_ips = old_spec.get("clusterIPs") or [], spec.get("clusterIPs") or []
        changing_external = "ExternalName" in (service_type, old_spec.get("type"))
        if old_ips and new_ips and old_ips[0] != new_ips[0] and not changing_external:
            causes.append(field_invalid("spec.clusterIPs[0]", new_ips, "may not change once set"))
    return causes


# --- the rest -------------------------------------------------------------------------------------


def _validate_config_map(obj: Mapping[str, Any]) -> list[Cause]:
    causes = _validate_meta(obj, is_dns1123_subdomain)
    data, binary = _dict(obj.get("data")), _dict(obj.get("binaryData"))
    for section, keys in (("data", data), ("binaryData", binary)):
        for key in keys:
            msgs = []
            if len(key) > 253:
                msgs.append(_max_len(253))
            if not _CONFIG_MAP_KEY.match(key):
                msgs.append(
                    _regex_error(
                        "a valid config key must consist of alphanumeric characters, '-', '_' "
                        "or '.'",
                        _CONFIG_MAP_KEY_FMT,
                        "key.name",
                        "KEY_NAME",
                        "key-name",
                    )
                )
            if key == ".":
                msgs.append("must not be '.'")
            elif key == "..":
                msgs.append("must not be '..'")
            elif key.startswith(".."):
                msgs.append("must not start with '..'")
            causes.extend(field_invalid(f"{section}[{key}]", key, msg) for msg in msgs)
    for key in binary:
        if key in data:
            causes.append(
                field_invalid(f"binaryData[{key}]", key, "duplicate of key present in data")
            )
    return causes


def _validate_controller_revision(
    obj: Mapping[str, Any], old: Mapping[str, Any] | None
) -> list[Cause]:
    causes = _validate_meta(obj, is_dns1123_subdomain)
    if obj.get("data") is None:
        causes.append(field_required("data", "data is mandatory"))
    causes.extend(_nonnegative(obj.get("revision"), "revision"))
    if old is not None and obj.get("data") != old.get("data"):
        causes.append(field_invalid("data", GoRepr("runtime.RawExtension{...}"), _IMMUTABLE))
    return causes


def validate(kind: Kind, obj: Obj, old: Obj | None) -> list[Cause]:
    """The field errors the real API server reports for a create (``old`` None) or an
    update of an already defaulted object; empty when it would be accepted."""
    name = kind.kind
    if name == "Pod":
        return _validate_pod(obj, old)
    if name == "StatefulSet":
        return _validate_statefulset(obj, old)
    if name == "Service":
        return _validate_service(obj, old)
    if name == "PersistentVolumeClaim":
        return _validate_pvc(obj, old)
    if name == "PersistentVolume":
        return _validate_pv(obj, old)
    if name == "StorageClass":
        return _validate_storage_class(obj, old)
    if name == "ConfigMap":
        causes = _validate_config_map(obj)
    elif name == "ControllerRevision":
        causes = _validate_controller_revision(obj, old)
    elif name == "Namespace":
        causes = _validate_meta(obj, is_dns1123_label)
    else:  # Node, Endpoints, Event
        causes = _validate_meta(obj, is_dns1123_subdomain)
    if old is not None:
        causes = _validate_meta_update(obj, old) + causes
    return causes


__all__ = [
    "ACCESS_MODES",
    "QUANTITY_REGEX_ERROR",
    "Cause",
    "GoRepr",
    "apply_defaults",
    "field_duplicate",
    "field_forbidden",
    "field_invalid",
    "field_not_found",
    "field_not_supported",
    "field_required",
    "format_quantity",
    "image_tag",
    "invalid_message",
    "invalid_status",
    "is_dns1035_label",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "is_label_value",
    "is_qualified_name",
    "needs_cluster_ip",
    "parse_quantity",
    "pod_qos_class",
    "qualified_kind",
    "selector_matches",
    "set_cluster_ip",
    "validate",
]
