"""Defaulting of core/v1 kinds (pkg/apis/core/v1/defaults.go and the +default markers).

Pods and pod templates, claims and volumes, Services (with their cluster IPs),
Namespaces, Events, Endpoints and Nodes; also the create-time admission a Pod gets
(ServiceAccount, Priority, DefaultTolerationSeconds) and its QoS class.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping
from fractions import Fraction
from typing import Any

from conformance.sim.api.quantity import maybe_quantity
from conformance.sim.api.unstructured import (
    Obj,
    as_dict,
    as_str,
    child,
    dicts,
    is_unset,
    set_default,
)

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
        set_default(ref, "apiVersion", "v1")


def _default_handler(handler: object) -> None:
    """HTTPGetAction path and scheme, GRPCAction service (probes and lifecycle hooks)."""
    h = as_dict(handler)
    get = h.get("httpGet")
    if isinstance(get, dict):
        set_default(get, "path", "/")
        set_default(get, "scheme", "HTTP")
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
    if is_unset(c, "imagePullPolicy"):
        tag = image_tag(as_str(c.get("image")))
        c["imagePullPolicy"] = "Always" if tag == "latest" else "IfNotPresent"
    set_default(c, "terminationMessagePath", "/dev/termination-log")
    set_default(c, "terminationMessagePolicy", "File")
    if not isinstance(c.get("resources"), dict):
        c["resources"] = {}
    for port in dicts(c.get("ports")):
        set_default(port, "protocol", "TCP")
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(c.get(key))
    lifecycle = as_dict(c.get("lifecycle"))
    for key in ("postStart", "preStop"):
        _default_handler(lifecycle.get(key))
    for env in dicts(c.get("env")):
        _default_field_ref(as_dict(env.get("valueFrom")))


def _default_pvc_spec(spec: Obj) -> None:
    set_default(spec, "volumeMode", "Filesystem")


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
    for item in dicts(as_dict(v.get("downwardAPI")).get("items")):
        _default_field_ref(item)
    for source in dicts(as_dict(v.get("projected")).get("sources")):
        token = source.get("serviceAccountToken")
        if isinstance(token, dict) and token.get("expirationSeconds") is None:
            token["expirationSeconds"] = 3600
        for item in dicts(as_dict(source.get("downwardAPI")).get("items")):
            _default_field_ref(item)
    template = as_dict(v.get("ephemeral")).get("volumeClaimTemplate")
    if isinstance(template, dict):
        _default_pvc_spec(child(template, "spec"))
    iscsi = v.get("iscsi")
    if isinstance(iscsi, dict):
        set_default(iscsi, "iscsiInterface", "default")


def _all_containers(spec: Obj) -> Iterator[Obj]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from dicts(spec.get(key))


def default_pod_spec(spec: Obj) -> None:
    """SetDefaults_PodSpec: what a Pod and a PodTemplateSpec (e.g. in a StatefulSet) get."""
    set_default(spec, "dnsPolicy", "ClusterFirst")
    set_default(spec, "restartPolicy", "Always")
    if not isinstance(spec.get("securityContext"), dict):
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = DEFAULT_TERMINATION_GRACE_PERIOD
    set_default(spec, "schedulerName", "default-scheduler")
    for container in _all_containers(spec):
        _default_container(container)
    for volume in dicts(spec.get("volumes")):
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
    containers = list(dicts(spec.get("initContainers"))) + list(dicts(spec.get("containers")))
    for c in containers:
        resources = as_dict(c.get("resources"))
        for name, value in as_dict(resources.get("requests")).items():
            amount = maybe_quantity(value)
            if name in ("cpu", "memory") and amount is not None and amount > 0:
                requests[name] = requests.get(name, Fraction(0)) + amount
        found: set[str] = set()
        for name, value in as_dict(resources.get("limits")).items():
            amount = maybe_quantity(value)
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


def default_pod(obj: Obj, creating: bool) -> None:
    """SetDefaults_Pod and the create-time admission a Pod gets (``creating``)."""
    spec = child(obj, "spec")
    default_pod_spec(spec)
    # SetDefaults_Pod: requests default to limits, service links on, host ports on hostNetwork
    for container in list(dicts(spec.get("containers"))) + list(dicts(spec.get("initContainers"))):
        resources = child(container, "resources")
        limits = resources.get("limits")
        if isinstance(limits, dict) and limits:
            requests = child(resources, "requests")
            for name, value in limits.items():
                requests.setdefault(name, value)
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    if spec.get("hostNetwork") is True:
        for container in _all_containers(spec):
            for port in dicts(container.get("ports")):
                if not port.get("hostPort"):
                    port["hostPort"] = port.get("containerPort")
    if creating:
        # ServiceAccount admission (and the deprecated serviceAccount mirror of v1)
        account = as_str(spec.get("serviceAccountName")) or as_str(spec.get("serviceAccount"))
        set_default(spec, "serviceAccountName", account or "default")
        set_default(spec, "serviceAccount", spec["serviceAccountName"])
        # Priority admission
        if spec.get("priority") is None:
            spec["priority"] = SYSTEM_PRIORITIES.get(as_str(spec.get("priorityClassName")), 0)
        set_default(spec, "preemptionPolicy", "PreemptLowerPriority")
        # DefaultTolerationSeconds admission
        tolerations = spec.get("tolerations")
        if not isinstance(tolerations, list):
            tolerations = []
        existing = list(dicts(tolerations))
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
    status = child(obj, "status")  # pod strategy PrepareForCreate
    set_default(status, "phase", "Pending")
    set_default(status, "qosClass", pod_qos_class(spec))


def default_pvc(obj: Obj) -> None:
    """SetDefaults_PersistentVolumeClaim (also for a set's claim templates)."""
    _default_pvc_spec(child(obj, "spec"))
    set_default(child(obj, "status"), "phase", "Pending")


def _ip_family(ip: str) -> str:
    return "IPv6" if ":" in ip else "IPv4"


def needs_cluster_ip(obj: Mapping[str, Any]) -> bool:
    """A Service that should get a cluster IP allocated (not ExternalName, not headless)."""
    spec = as_dict(obj.get("spec"))
    return spec.get("type", "ClusterIP") != "ExternalName" and is_unset(spec, "clusterIP")


def set_cluster_ip(obj: Obj, ip: str) -> None:
    """Record an allocated cluster IP the way the Service registry does."""
    spec = child(obj, "spec")
    spec["clusterIP"] = ip
    spec["clusterIPs"] = [ip]


def default_service(
    obj: Obj, old: Obj | None, allocate_cluster_ip: Callable[[], str] | None
) -> None:
    """SetDefaults_Service; keeps the IPs of ``old``, allocates one when asked."""
    spec = child(obj, "spec")
    set_default(spec, "sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        client_ip = child(child(spec, "sessionAffinityConfig"), "clientIP")
        if client_ip.get("timeoutSeconds") is None:
            client_ip["timeoutSeconds"] = 10800
    set_default(spec, "type", "ClusterIP")
    service_type = spec["type"]
    for port in dicts(spec.get("ports")):
        set_default(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    externally_accessible = service_type in ("NodePort", "LoadBalancer") or (
        service_type == "ClusterIP" and bool(spec.get("externalIPs"))
    )
    if externally_accessible:
        set_default(spec, "externalTrafficPolicy", "Cluster")
    if spec.get("internalTrafficPolicy") is None and service_type in (
        "NodePort",
        "LoadBalancer",
        "ClusterIP",
    ):
        spec["internalTrafficPolicy"] = "Cluster"
    if service_type == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    if service_type != "ExternalName":
        _default_service_ips(spec, as_dict(as_dict(old).get("spec")), allocate_cluster_ip)
    status = child(obj, "status")
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
    if is_unset(spec, "clusterIP") and isinstance(cluster_ips, list) and cluster_ips:
        spec["clusterIP"] = cluster_ips[0]
    elif not is_unset(spec, "clusterIP") and not cluster_ips:
        spec["clusterIPs"] = [spec["clusterIP"]]
    if is_unset(spec, "clusterIP") and allocate_cluster_ip is not None:
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
            ip = as_str(spec.get("clusterIP"))
            families = [_ip_family(ip) if ip and ip != "None" else "IPv4"]
        set_default(spec, "ipFamilyPolicy", "SingleStack")
    spec["ipFamilies"] = families


def default_namespace(obj: Obj, creating: bool) -> None:
    """The name label always; the kubernetes finalizer on create."""
    metadata = child(obj, "metadata")
    name = as_str(metadata.get("name"))
    if name:  # upstream always sets this label to the name, even over a client's value
        child(metadata, "labels")[NAMESPACE_NAME_LABEL] = name
    if creating:  # namespace strategy PrepareForCreate: the kubernetes finalizer
        finalizers = child(obj, "spec").get("finalizers")
        if not isinstance(finalizers, list):
            finalizers = []
        if "kubernetes" not in finalizers:
            finalizers.append("kubernetes")
        obj["spec"]["finalizers"] = finalizers
    set_default(child(obj, "status"), "phase", "Active")


def default_pv(obj: Obj) -> None:
    """SetDefaults_PersistentVolume."""
    spec = child(obj, "spec")
    set_default(spec, "persistentVolumeReclaimPolicy", "Retain")
    set_default(spec, "volumeMode", "Filesystem")
    host_path = spec.get("hostPath")
    if isinstance(host_path, dict) and host_path.get("type") is None:
        host_path["type"] = ""
    set_default(child(obj, "status"), "phase", "Pending")


def default_event(obj: Obj) -> None:
    # Go serializes these structs and strings even when empty
    """Fields Go serializes even when empty, so clients' models accept the event."""
    if not isinstance(obj.get("involvedObject"), dict):
        obj["involvedObject"] = {}
    if not isinstance(obj.get("source"), dict):
        obj["source"] = {}
    for key in ("reportingComponent", "reportingInstance"):
        if obj.get(key) is None:
            obj[key] = ""


def default_endpoints(obj: Obj) -> None:
    """SetDefaults_EndpointPort: protocol TCP."""
    for subset in dicts(obj.get("subsets")):
        for port in dicts(subset.get("ports")):
            set_default(port, "protocol", "TCP")


def default_node(obj: Obj) -> None:
    """allocatable defaults to capacity, as a kubelet reports it."""
    status = obj.get("status")
    if isinstance(status, dict):
        capacity = status.get("capacity")
        if status.get("allocatable") is None and isinstance(capacity, dict):
            status["allocatable"] = dict(capacity)
