"""Defaulting and validation of the simulated API server, checked against the official
client's models (kubernetes 37: pydantic, a missing required field raises) and the
messages upstream kube-apiserver writes."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from kubernetes.client import ApiClient

from conformance.sim.api import kinds
from conformance.sim.api.defaulting import apply_defaults
from conformance.sim.api.defaulting.core import needs_cluster_ip, pod_qos_class
from conformance.sim.api.quantity import format_quantity, parse_quantity
from conformance.sim.api.validation import Cause, invalid_message, invalid_status, validate

Obj = dict[str, Any]

POD = kinds.of("v1", "Pod")
STS = kinds.of("apps/v1", "StatefulSet")
SVC = kinds.of("v1", "Service")
PVC = kinds.of("v1", "PersistentVolumeClaim")
PV = kinds.of("v1", "PersistentVolume")
SC = kinds.of("storage.k8s.io/v1", "StorageClass")
NS = kinds.of("v1", "Namespace")
CM = kinds.of("v1", "ConfigMap")
EV = kinds.of("v1", "Event")
EP = kinds.of("v1", "Endpoints")
NODE = kinds.of("v1", "Node")
CR = kinds.of("apps/v1", "ControllerRevision")

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
LABEL_RULE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035_RULE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
    "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN_RULE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def deserialize(obj: Obj, model: str) -> Any:
    """What the official client does with a response body (ApiClient.deserialize in v37
    takes the response text, the model name and the content type)."""
    return ApiClient().deserialize(json.dumps(obj), model, "application/json")


def defaulted(kind: kinds.Kind, obj: Obj) -> Obj:
    obj = copy.deepcopy(obj)
    apply_defaults(kind, obj)
    return obj


def pairs(causes: list[Cause]) -> list[tuple[str, str]]:
    return [(c["field"], c["message"]) for c in causes]


# --- client-style objects, as kubectl apply sends them ------------------------------------

# the seed PetSet example (reference/seed-petset.yaml), converted by hand to apps/v1
SEED_SERVICE: Obj = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "test-service", "namespace": "default", "labels": {"app": "nginx"}},
    "spec": {
        "ports": [{"port": 80, "name": "web"}],
        "clusterIP": "None",
        "selector": {"app": "nginx"},
    },
}
SEED_STATEFULSET: Obj = {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "metadata": {"name": "test-petset", "namespace": "default"},
    "spec": {
        "serviceName": "test-service",
        "replicas": 2,
        "selector": {"matchLabels": {"app": "nginx"}},
        "template": {
            "metadata": {"labels": {"app": "nginx"}},
            "spec": {
                "terminationGracePeriodSeconds": 0,
                "containers": [
                    {
                        "name": "nginx",
                        "image": "gcr.io/google_containers/nginx-slim:0.8",
                        "ports": [{"containerPort": 80, "name": "web"}],
                        "volumeMounts": [{"name": "pv-claim", "mountPath": "/data"}],
                    }
                ],
            },
        },
        "volumeClaimTemplates": [
            {
                "metadata": {"name": "pv-claim"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "100Gi"}},
                },
            }
        ],
    },
}
POD_OBJ: Obj = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web-0", "namespace": "demo"},
    "spec": {
        "containers": [
            {"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}]},
            {"name": "sidecar", "image": "busybox:1.36", "command": ["sleep", "3600"]},
        ],
        "volumes": [{"name": "scratch"}, {"name": "conf", "configMap": {"name": "web-conf"}}],
    },
}
PVC_OBJ: Obj = {
    "apiVersion": "v1",
    "kind": "PersistentVolumeClaim",
    "metadata": {"name": "pv-claim-web-0", "namespace": "demo"},
    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
}
PV_OBJ: Obj = {
    "apiVersion": "v1",
    "kind": "PersistentVolume",
    "metadata": {"name": "pv-datera-0"},
    "spec": {
        "capacity": {"storage": "100Gi"},
        "accessModes": ["ReadWriteOnce"],
        "csi": {"driver": "dsp.csi.daterainc.io", "volumeHandle": "vol-0"},
    },
}
SC_OBJ: Obj = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "StorageClass",
    "metadata": {"name": "datera"},
    "provisioner": "dsp.csi.daterainc.io",
    "parameters": {"fsType": "xfs"},
}
NS_OBJ: Obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}}


# --- quantities ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1Gi", 1 << 30),
        ("100Gi", 100 << 30),
        ("1.5Gi", 3 << 29),
        ("512Mi", 512 << 20),
        ("2Ti", 2 << 40),
        ("1Ei", 1 << 60),
        ("1k", 1000),
        ("5G", 5_000_000_000),
        ("300M", 300_000_000),
        ("1e3", 1000),
        ("1073741824", 1 << 30),
        ("0", 0),
        ("0.5", 1),  # Quantity.Value() rounds up
        ("1500m", 2),
    ],
)
def test_parse_quantity(text: str, expected: int) -> None:
    assert parse_quantity(text) == expected


@pytest.mark.parametrize("text", ["", "Gi", "1 Gi", "1gi", "1GB", "abc", "1.2.3Gi", "1Gii"])
def test_parse_quantity_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="quantities must match the regular expression"):
        parse_quantity(text)


@pytest.mark.parametrize(
    ("n", "expected"),
    [(1 << 30, "1Gi"), (100 << 30, "100Gi"), (3 << 29, "1536Mi"), (1536, "1536"), (0, "0")],
)
def test_format_quantity(n: int, expected: str) -> None:
    assert format_quantity(n) == expected
    assert parse_quantity(expected) == n


# --- Pod ----------------------------------------------------------------------------------


def test_pod_defaults_visible_on_the_client_model() -> None:
    pod = deserialize(defaulted(POD, POD_OBJ), "V1Pod")
    spec = pod.spec
    assert spec.restart_policy == "Always"
    assert spec.termination_grace_period_seconds == 30
    assert spec.dns_policy == "ClusterFirst"
    assert spec.scheduler_name == "default-scheduler"
    assert spec.security_context is not None
    assert spec.enable_service_links is True
    assert spec.priority == 0
    assert spec.preemption_policy == "PreemptLowerPriority"
    assert spec.service_account_name == "default"
    nginx, sidecar = spec.containers
    assert nginx.image_pull_policy == "Always"  # untagged means :latest
    assert sidecar.image_pull_policy == "IfNotPresent"
    assert nginx.termination_message_path == "/dev/termination-log"
    assert nginx.termination_message_policy == "File"
    assert nginx.resources is not None
    assert nginx.ports[0].protocol == "TCP"
    scratch, conf = spec.volumes
    assert scratch.empty_dir is not None
    assert conf.config_map.default_mode == 420
    tolerations = {(t.key, t.operator, t.effect, t.toleration_seconds) for t in spec.tolerations}
    assert tolerations == {
        (NOT_READY, "Exists", "NoExecute", 300),
        (UNREACHABLE, "Exists", "NoExecute", 300),
    }
    assert pod.status.phase == "Pending"
    assert pod.status.qos_class == "BestEffort"


def test_pod_defaults_keep_client_values() -> None:
    obj = copy.deepcopy(POD_OBJ)
    spec = obj["spec"]
    spec.update(
        restartPolicy="Never",
        terminationGracePeriodSeconds=0,
        serviceAccountName="builder",
        enableServiceLinks=False,
        tolerations=[{"key": NOT_READY, "operator": "Exists", "effect": "NoExecute"}],
    )
    spec["containers"][0]["imagePullPolicy"] = "Never"
    apply_defaults(POD, obj)
    assert spec["restartPolicy"] == "Never"
    assert spec["terminationGracePeriodSeconds"] == 0
    assert spec["serviceAccountName"] == "builder"
    assert spec["enableServiceLinks"] is False
    assert spec["containers"][0]["imagePullPolicy"] == "Never"
    # an existing not-ready toleration is kept as is; only unreachable is added
    assert [t["key"] for t in spec["tolerations"]] == [NOT_READY, UNREACHABLE]
    assert "tolerationSeconds" not in spec["tolerations"][0]


def test_pod_defaults_are_idempotent_and_update_skips_admission() -> None:
    once = defaulted(POD, POD_OBJ)
    twice = copy.deepcopy(once)
    apply_defaults(POD, twice)
    assert twice == once
    update = copy.deepcopy(POD_OBJ)
    apply_defaults(POD, update, old=once)
    assert "tolerations" not in update["spec"]
    assert "serviceAccountName" not in update["spec"]
    assert update["spec"]["restartPolicy"] == "Always"


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("registry.local:5000/nginx", "Always"),
        ("registry.local:5000/nginx:1.25", "IfNotPresent"),
        ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
        ("nginx:1.25", "IfNotPresent"),
    ],
)
def test_image_pull_policy(image: str, policy: str) -> None:
    obj = copy.deepcopy(POD_OBJ)
    obj["spec"]["containers"][0]["image"] = image
    apply_defaults(POD, obj)
    assert obj["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_pod_probe_and_requests_defaults() -> None:
    obj = copy.deepcopy(POD_OBJ)
    container = obj["spec"]["containers"][0]
    container["readinessProbe"] = {"httpGet": {"port": 80}}
    container["resources"] = {"limits": {"cpu": "500m", "memory": "128Mi"}}
    obj["spec"]["containers"] = [container]
    pod = deserialize(defaulted(POD, obj), "V1Pod")
    probe = pod.spec.containers[0].readiness_probe
    assert (probe.timeout_seconds, probe.period_seconds) == (1, 10)
    assert (probe.success_threshold, probe.failure_threshold) == (1, 3)
    assert (probe.http_get.path, probe.http_get.scheme) == ("/", "HTTP")
    assert pod.spec.containers[0].resources.requests == {"cpu": "500m", "memory": "128Mi"}
    assert pod.status.qos_class == "Guaranteed"


@pytest.mark.parametrize(
    ("resources", "qos"),
    [
        ({}, "BestEffort"),
        ({"requests": {"memory": "64Mi"}}, "Burstable"),
        ({"requests": {"cpu": "1"}, "limits": {"cpu": "1", "memory": "1Gi"}}, "Burstable"),
        (
            {
                "requests": {"cpu": "1", "memory": "1Gi"},
                "limits": {"cpu": "1000m", "memory": "1Gi"},
            },
            "Guaranteed",
        ),
    ],
)
def test_pod_qos_class(resources: Obj, qos: str) -> None:
    assert pod_qos_class({"containers": [{"name": "a", "resources": resources}]}) == qos


# --- StatefulSet --------------------------------------------------------------------------


def test_statefulset_defaults_visible_on_the_client_model() -> None:
    sts = deserialize(defaulted(STS, SEED_STATEFULSET), "V1StatefulSet")
    spec = sts.spec
    assert spec.replicas == 2  # the client's value stays
    assert spec.pod_management_policy == "OrderedReady"
    assert spec.update_strategy.type == "RollingUpdate"
    assert spec.update_strategy.rolling_update.partition == 0
    assert spec.revision_history_limit == 10
    retention = spec.persistent_volume_claim_retention_policy
    assert (retention.when_deleted, retention.when_scaled) == ("Retain", "Retain")
    template = spec.template.spec
    assert template.termination_grace_period_seconds == 0
    assert template.restart_policy == "Always"
    assert template.dns_policy == "ClusterFirst"
    assert template.scheduler_name == "default-scheduler"
    container = template.containers[0]
    assert container.image_pull_policy == "IfNotPresent"
    assert container.ports[0].protocol == "TCP"  # describe prints "Port: 80/TCP"
    assert container.termination_message_policy == "File"
    # pod-only defaults and admission stay out of templates, as upstream
    assert template.enable_service_links is None
    assert template.tolerations is None
    claim = spec.volume_claim_templates[0]
    assert (claim.api_version, claim.kind) == ("v1", "PersistentVolumeClaim")
    assert claim.spec.volume_mode == "Filesystem"
    assert claim.status.phase == "Pending"
    assert sts.status.replicas == 0
    assert validate(STS, defaulted(STS, SEED_STATEFULSET), None) == []


def test_statefulset_defaults_replicas_and_keeps_on_delete() -> None:
    obj = copy.deepcopy(SEED_STATEFULSET)
    del obj["spec"]["replicas"]
    obj["spec"]["updateStrategy"] = {"type": "OnDelete"}
    obj["spec"]["podManagementPolicy"] = "Parallel"
    apply_defaults(STS, obj)
    assert obj["spec"]["replicas"] == 1
    assert obj["spec"]["updateStrategy"] == {"type": "OnDelete"}
    assert obj["spec"]["podManagementPolicy"] == "Parallel"
    assert validate(STS, obj, None) == []


def test_max_unavailable_is_dropped_as_without_its_alpha_gate() -> None:
    """dropStatefulSetDisabledFields: MaxUnavailableStatefulSet is off by default in 1.32."""
    obj = copy.deepcopy(SEED_STATEFULSET)
    obj["spec"]["updateStrategy"] = {
        "type": "RollingUpdate",
        "rollingUpdate": {"partition": 1, "maxUnavailable": 2},
    }
    apply_defaults(STS, obj)
    assert obj["spec"]["updateStrategy"]["rollingUpdate"] == {"partition": 1}
    stored = copy.deepcopy(obj)
    update = copy.deepcopy(obj)
    update["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"] = "50%"
    apply_defaults(STS, update, stored)
    assert "maxUnavailable" not in update["spec"]["updateStrategy"]["rollingUpdate"]
    # a set stored with the field (in use before the gate went off) keeps it on update
    stored["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"] = 2
    update["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"] = "50%"
    apply_defaults(STS, update, stored)
    assert update["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"] == "50%"


# --- Service ------------------------------------------------------------------------------


def test_headless_service_defaults() -> None:
    svc = deserialize(defaulted(SVC, SEED_SERVICE), "V1Service")
    spec = svc.spec
    assert spec.type == "ClusterIP"
    assert spec.session_affinity == "None"
    assert spec.cluster_ip == "None"
    assert spec.cluster_ips == ["None"]
    assert spec.ip_families == ["IPv4"]
    assert spec.ip_family_policy == "SingleStack"
    assert spec.internal_traffic_policy == "Cluster"
    assert spec.ports[0].protocol == "TCP"
    assert spec.ports[0].target_port == 80
    assert validate(SVC, defaulted(SVC, SEED_SERVICE), None) == []


def test_service_cluster_ip_hook_and_update_keeps_ip() -> None:
    obj = copy.deepcopy(SEED_SERVICE)
    del obj["spec"]["clusterIP"]
    obj["spec"]["ports"][0]["targetPort"] = "web"
    assert needs_cluster_ip(obj)
    plain = defaulted(SVC, obj)
    assert "clusterIP" not in plain["spec"]  # the server allocates, not the defaulter
    created = copy.deepcopy(obj)
    apply_defaults(SVC, created, allocate_cluster_ip=lambda: "10.96.0.17")
    assert created["spec"]["clusterIP"] == "10.96.0.17"
    assert created["spec"]["clusterIPs"] == ["10.96.0.17"]
    assert created["spec"]["ports"][0]["targetPort"] == "web"
    updated = copy.deepcopy(obj)  # a PUT without the allocated IP
    apply_defaults(SVC, updated, old=created)
    assert updated["spec"]["clusterIPs"] == ["10.96.0.17"]
    assert validate(SVC, updated, created) == []
    updated["spec"]["clusterIP"] = "10.96.0.99"
    updated["spec"]["clusterIPs"] = ["10.96.0.99"]
    assert pairs(validate(SVC, updated, created)) == [
        ("spec.clusterIPs[0]", 'Invalid value: []string{"10.96.0.99"}: may not change once set')
    ]


def test_headless_selectorless_service_is_dual_stack() -> None:
    obj = copy.deepcopy(SEED_SERVICE)
    del obj["spec"]["selector"]
    spec = defaulted(SVC, obj)["spec"]
    assert spec["ipFamilyPolicy"] == "RequireDualStack"
    assert spec["ipFamilies"] == ["IPv4", "IPv6"]


# --- storage ------------------------------------------------------------------------------


def test_pvc_defaults() -> None:
    pvc = deserialize(defaulted(PVC, PVC_OBJ), "V1PersistentVolumeClaim")
    assert pvc.spec.volume_mode == "Filesystem"
    assert pvc.status.phase == "Pending"
    assert pvc.spec.resources.requests == {"storage": "1Gi"}


def test_pv_defaults() -> None:
    pv = deserialize(defaulted(PV, PV_OBJ), "V1PersistentVolume")
    assert pv.spec.persistent_volume_reclaim_policy == "Retain"
    assert pv.spec.volume_mode == "Filesystem"
    assert pv.status.phase == "Pending"
    assert validate(PV, defaulted(PV, PV_OBJ), None) == []


def test_storage_class_defaults() -> None:
    sc = deserialize(defaulted(SC, SC_OBJ), "V1StorageClass")
    assert sc.reclaim_policy == "Delete"
    assert sc.volume_binding_mode == "Immediate"
    assert sc.provisioner == "dsp.csi.daterainc.io"
    obj = copy.deepcopy(SC_OBJ)
    obj["reclaimPolicy"] = "Retain"
    obj["volumeBindingMode"] = "WaitForFirstConsumer"
    apply_defaults(SC, obj)
    assert (obj["reclaimPolicy"], obj["volumeBindingMode"]) == ("Retain", "WaitForFirstConsumer")


# --- Namespace and the small kinds --------------------------------------------------------


def test_namespace_defaults() -> None:
    ns = deserialize(defaulted(NS, NS_OBJ), "V1Namespace")
    assert ns.spec.finalizers == ["kubernetes"]
    assert ns.status.phase == "Active"
    assert ns.metadata.labels == {"kubernetes.io/metadata.name": "demo"}
    # the finalizer is added on create only: the namespace controller removes it later
    finalized = defaulted(NS, NS_OBJ)
    finalized["spec"]["finalizers"] = []
    apply_defaults(NS, finalized, old=defaulted(NS, NS_OBJ))
    assert finalized["spec"]["finalizers"] == []


def test_small_kinds_deserialize() -> None:
    event = defaulted(
        EV,
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "web-0.17b3", "namespace": "demo"},
            "reason": "Scheduled",
        },
    )
    assert deserialize(event, "CoreV1Event").source is not None
    endpoints = defaulted(
        EP,
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "test-service", "namespace": "default"},
            "subsets": [{"addresses": [{"ip": "10.244.0.5"}], "ports": [{"port": 80}]}],
        },
    )
    assert deserialize(endpoints, "V1Endpoints").subsets[0].ports[0].protocol == "TCP"
    node = defaulted(
        NODE,
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "node-1"},
            "status": {"capacity": {"cpu": "2", "memory": "4Gi"}},
        },
    )
    assert deserialize(node, "V1Node").status.allocatable == {"cpu": "2", "memory": "4Gi"}
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}}
    assert deserialize(defaulted(CM, config_map), "V1ConfigMap").data == {}
    revision = {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {"name": "web-6d4cf56db6", "namespace": "demo"},
        "data": {"spec": {}},
        "revision": 1,
    }
    assert deserialize(defaulted(CR, revision), "V1ControllerRevision").revision == 1
    assert validate(CR, defaulted(CR, revision), None) == []


# --- validation on create -----------------------------------------------------------------


def _sts(**changes: Any) -> Obj:
    obj = copy.deepcopy(SEED_STATEFULSET)
    obj["metadata"]["name"] = "web"
    for path, value in changes.items():
        target = obj
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if value is None:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value
    return obj


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            _sts(spec__selector=None),
            [
                ("spec.selector", "Required value"),
                (
                    "spec.template.metadata.labels",
                    'Invalid value: map[string]string{"app":"nginx"}: '
                    "`selector` does not match template `labels`",
                ),
            ],
        ),
        (
            _sts(spec__selector={"matchLabels": {"app": "web"}}),
            [
                (
                    "spec.template.metadata.labels",
                    'Invalid value: map[string]string{"app":"nginx"}: '
                    "`selector` does not match template `labels`",
                )
            ],
        ),
        (
            _sts(spec__podManagementPolicy="Foo"),
            [
                (
                    "spec.podManagementPolicy",
                    "Invalid value: \"Foo\": must be 'OrderedReady' or 'Parallel'",
                )
            ],
        ),
        (
            _sts(spec__updateStrategy={"type": "Sometimes"}),
            [
                (
                    "spec.updateStrategy",
                    'Invalid value: apps.StatefulSetUpdateStrategy{Type:"Sometimes", '
                    "RollingUpdate:(*apps.RollingUpdateStatefulSetStrategy)(nil)}: "
                    "must be 'RollingUpdate' or 'OnDelete'",
                )
            ],
        ),
        (
            _sts(
                spec__updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": -1}}
            ),
            [
                (
                    "spec.updateStrategy.rollingUpdate.partition",
                    "Invalid value: -1: must be greater than or equal to 0",
                )
            ],
        ),
        (
            _sts(spec__replicas=-1),
            [("spec.replicas", "Invalid value: -1: must be greater than or equal to 0")],
        ),
        (
            _sts(spec__persistentVolumeClaimRetentionPolicy={"whenDeleted": "Keep"}),
            [
                (
                    "spec.persistentVolumeClaimRetentionPolicy.whenDeleted",
                    'Unsupported value: "Keep": supported values: "Retain", "Delete"',
                )
            ],
        ),
        (
            _sts(spec__template__spec__containers=[]),
            [("spec.template.spec.containers", "Required value")],
        ),
        (
            _sts(spec__template__spec__containers__0__image=None),
            [("spec.template.spec.containers[0].image", "Required value")],
        ),
        (
            _sts(spec__template__spec__containers__0__name=None),
            [("spec.template.spec.containers[0].name", "Required value")],
        ),
        (
            _sts(spec__template__spec__restartPolicy="OnFailure"),
            [
                (
                    "spec.template.spec.restartPolicy",
                    'Unsupported value: "OnFailure": supported values: "Always"',
                )
            ],
        ),
        (
            _sts(spec__volumeClaimTemplates__0__metadata={}),
            [("spec.volumeClaimTemplates[0].metadata.name", "Required value")],
        ),
        (
            _sts(metadata__name="Web"),
            [("metadata.name", f'Invalid value: "Web": {LABEL_RULE}')],
        ),
        (
            _sts(metadata__name="w" * 64),
            [("metadata.name", f'Invalid value: "{"w" * 64}": must be no more than 63 characters')],
        ),
    ],
    ids=[
        "no-selector",
        "selector-mismatch",
        "pod-management-policy",
        "update-strategy",
        "negative-partition",
        "negative-replicas",
        "retention-policy",
        "no-containers",
        "no-image",
        "no-container-name",
        "restart-policy",
        "claim-template-name",
        "uppercase-name",
        "long-name",
    ],
)
def test_statefulset_validation(obj: Obj, expected: list[tuple[str, str]]) -> None:
    apply_defaults(STS, obj)
    assert pairs(validate(STS, obj, None)) == expected


def test_invalid_message_reads_like_upstream() -> None:
    obj = _sts(spec__selector=None)
    apply_defaults(STS, obj)
    causes = validate(STS, obj, None)
    assert invalid_message(STS, "web", causes) == (
        'StatefulSet.apps "web" is invalid: [spec.selector: Required value, '
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"nginx"}: '
        "`selector` does not match template `labels`]"
    )
    assert invalid_message(STS, "web", causes[:1]) == (
        'StatefulSet.apps "web" is invalid: spec.selector: Required value'
    )
    assert (
        invalid_message(POD, "p", causes[:1] * 2)
        == 'Pod "p" is invalid: spec.selector: Required value'
    )
    assert invalid_message(SC, "x", []) == 'StorageClass.storage.k8s.io "x" is invalid'
    status = invalid_status(STS, "web", causes)
    assert status["code"] == 422
    assert status["reason"] == "Invalid"
    assert status["details"] == {
        "name": "web",
        "group": "apps",
        "kind": "StatefulSet",
        "causes": [dict(c) for c in causes],
    }
    assert causes[0] == {
        "reason": "FieldValueRequired",
        "message": "Required value",
        "field": "spec.selector",
    }


def _pod(spec_changes: Obj) -> Obj:
    obj = copy.deepcopy(POD_OBJ)
    obj["spec"].update(spec_changes)
    return obj


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (_pod({"containers": []}), [("spec.containers", "Required value")]),
        (
            _pod({"containers": [{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]}),
            [("spec.containers[1].name", 'Duplicate value: "a"')],
        ),
        (
            _pod({"containers": [{"name": "a"}]}),
            [("spec.containers[0].image", "Required value")],
        ),
        (
            _pod({"containers": [{"image": "x"}]}),
            [("spec.containers[0].name", "Required value")],
        ),
        (
            _pod(
                {"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 70000}]}]}
            ),
            [
                (
                    "spec.containers[0].ports[0].containerPort",
                    "Invalid value: 70000: must be between 1 and 65535, inclusive",
                )
            ],
        ),
        (
            _pod(
                {
                    "containers": [
                        {
                            "name": "a",
                            "image": "x",
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                        }
                    ]
                }
            ),
            [("spec.containers[0].volumeMounts[0].name", 'Not found: "data"')],
        ),
        (
            _pod({"restartPolicy": "Sometimes"}),
            [
                (
                    "spec.restartPolicy",
                    'Unsupported value: "Sometimes": '
                    'supported values: "Always", "OnFailure", "Never"',
                )
            ],
        ),
    ],
    ids=[
        "no-containers",
        "duplicate-name",
        "no-image",
        "no-name",
        "port-range",
        "mount",
        "restart",
    ],
)
def test_pod_validation(obj: Obj, expected: list[tuple[str, str]]) -> None:
    apply_defaults(POD, obj)
    assert pairs(validate(POD, obj, None)) == expected


def _block_pod(*devices: Obj, mounts: list[Obj] | None = None) -> Obj:
    container: Obj = {"name": "db", "image": "x", "volumeDevices": list(devices)}
    if mounts is not None:
        container["volumeMounts"] = mounts
    return _pod(
        {
            "containers": [container],
            "volumes": [
                {"name": "raw", "persistentVolumeClaim": {"claimName": "raw-web-0"}},
                {"name": "scratch", "emptyDir": {}},
            ],
        }
    )


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (_block_pod({"name": "raw", "devicePath": "/dev/xvda"}), []),
        (
            _block_pod({"name": "gone", "devicePath": "/dev/xvda"}),
            [("spec.containers[0].volumeDevices[0].name", 'Not found: "gone"')],
        ),
        (
            _block_pod({"name": "scratch", "devicePath": "/dev/xvda"}),
            [
                (
                    "spec.containers[0].volumeDevices[0].name",
                    'Invalid value: "scratch": can only use volume source type of '
                    "PersistentVolumeClaim or Ephemeral for block mode",
                )
            ],
        ),
        (
            _block_pod({"name": "raw"}),
            [("spec.containers[0].volumeDevices[0].devicePath", "Required value")],
        ),
        (
            _block_pod({"name": "raw", "devicePath": "/dev/../xvda"}),
            [
                (
                    "spec.containers[0].volumeDevices[0].devicePath",
                    "Invalid value: \"/dev/../xvda\": can not contain backsteps ('..')",
                )
            ],
        ),
        (
            _block_pod(
                {"name": "raw", "devicePath": "/dev/xvda"},
                {"name": "raw", "devicePath": "/dev/xvda"},
            ),
            [
                (
                    "spec.containers[0].volumeDevices[1].name",
                    'Invalid value: "raw": must be unique',
                ),
                (
                    "spec.containers[0].volumeDevices[1].devicePath",
                    'Invalid value: "/dev/xvda": must be unique',
                ),
            ],
        ),
        (
            _block_pod(
                {"name": "raw", "devicePath": "/data"},
                mounts=[{"name": "raw", "mountPath": "/data"}],
            ),
            [
                (
                    "spec.containers[0].volumeMounts[0].name",
                    'Invalid value: "raw": must not already exist in volumeDevices',
                ),
                (
                    "spec.containers[0].volumeMounts[0].mountPath",
                    'Invalid value: "/data": must not already exist as a path in volumeDevices',
                ),
                (
                    "spec.containers[0].volumeDevices[0].name",
                    'Invalid value: "raw": must not already exist in volumeMounts',
                ),
                (
                    "spec.containers[0].volumeDevices[0].devicePath",
                    'Invalid value: "/data": must not already exist as a path in volumeMounts',
                ),
            ],
        ),
    ],
    ids=["valid", "no-volume", "not-a-claim", "no-path", "backsteps", "twice", "also-mounted"],
)
def test_volume_devices_validation(obj: Obj, expected: list[tuple[str, str]]) -> None:
    """ValidateVolumeDevices: a claim's volume, once, at a clean path, never also mounted."""
    apply_defaults(POD, obj)
    assert pairs(validate(POD, obj, None)) == expected


def test_volume_mode_defaults_to_filesystem_and_keeps_block() -> None:
    claim = defaulted(PVC, PVC_OBJ)
    assert claim["spec"]["volumeMode"] == "Filesystem"
    block = copy.deepcopy(PVC_OBJ)
    block["spec"]["volumeMode"] = "Block"
    assert defaulted(PVC, block)["spec"]["volumeMode"] == "Block"
    assert validate(PVC, defaulted(PVC, block), None) == []
    odd = copy.deepcopy(PVC_OBJ)
    odd["spec"]["volumeMode"] = "Raw"
    assert pairs(validate(PVC, defaulted(PVC, odd), None)) == [
        ("spec.volumeMode", 'Unsupported value: "Raw": supported values: "Block", "Filesystem"')
    ]
    template = _sts()
    template["spec"]["volumeClaimTemplates"] = [
        {"metadata": {"name": "raw"}, "spec": {**PVC_OBJ["spec"], "volumeMode": "Block"}},
        {"metadata": {"name": "data"}, "spec": dict(PVC_OBJ["spec"])},
    ]
    modes = [
        c["spec"]["volumeMode"] for c in defaulted(STS, template)["spec"]["volumeClaimTemplates"]
    ]
    assert modes == ["Block", "Filesystem"]


def test_pod_name_is_a_subdomain() -> None:
    obj = defaulted(POD, POD_OBJ)
    obj["metadata"]["name"] = "web_0"
    assert pairs(validate(POD, obj, None)) == [
        ("metadata.name", f'Invalid value: "web_0": {SUBDOMAIN_RULE}')
    ]
    obj["metadata"]["name"] = "web.0"
    assert validate(POD, obj, None) == []


def _pvc(spec: Obj) -> Obj:
    obj = copy.deepcopy(PVC_OBJ)
    obj["spec"] = spec
    return obj


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            _pvc({}),
            [
                ("spec.accessModes", "Required value: at least 1 access mode is required"),
                ("spec.resources[storage]", "Required value"),
            ],
        ),
        (
            _pvc({"accessModes": ["ReadWriteSome"], "resources": {"requests": {"storage": "1Gi"}}}),
            [
                (
                    "spec.accessModes",
                    'Unsupported value: "ReadWriteSome": supported values: "ReadOnlyMany", '
                    '"ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"',
                )
            ],
        ),
        (
            _pvc(
                {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "lots"}}}
            ),
            [
                (
                    "spec.resources[storage]",
                    'Invalid value: "lots": quantities must match the regular expression '
                    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                )
            ],
        ),
        (
            _pvc({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "0Gi"}}}),
            [("spec.resources[storage]", 'Invalid value: "0": must be greater than zero')],
        ),
    ],
    ids=["empty", "access-mode", "bad-quantity", "zero"],
)
def test_pvc_validation(obj: Obj, expected: list[tuple[str, str]]) -> None:
    apply_defaults(PVC, obj)
    assert pairs(validate(PVC, obj, None)) == expected


def test_pv_validation() -> None:
    obj = defaulted(PV, PV_OBJ)
    del obj["spec"]["capacity"]
    del obj["spec"]["accessModes"]
    del obj["spec"]["csi"]
    assert pairs(validate(PV, obj, None)) == [
        ("spec.accessModes", "Required value"),
        ("spec.capacity", "Required value"),
        (
            "spec.capacity",
            'Unsupported value: core.ResourceList(nil): supported values: "storage"',
        ),
        ("spec", "Required value: must specify a volume type"),
    ]


def test_storage_class_validation() -> None:
    obj = defaulted(SC, SC_OBJ)
    del obj["provisioner"]
    obj["volumeBindingMode"] = "Later"
    assert pairs(validate(SC, obj, None)) == [
        ("provisioner", "Required value"),
        (
            "volumeBindingMode",
            'Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer"',
        ),
    ]


def test_service_validation() -> None:
    obj = copy.deepcopy(SEED_SERVICE)
    obj["metadata"]["name"] = "1web"
    del obj["spec"]["clusterIP"]
    obj["spec"]["ports"] = []
    apply_defaults(SVC, obj)
    assert pairs(validate(SVC, obj, None)) == [
        ("metadata.name", f'Invalid value: "1web": {DNS1035_RULE}'),
        ("spec.ports", "Required value"),
    ]
    obj["metadata"]["name"] = "web"
    obj["spec"]["ports"] = [{"port": 0, "name": "a"}, {"port": 443}]
    apply_defaults(SVC, obj)
    assert pairs(validate(SVC, obj, None)) == [
        ("spec.ports[0].port", "Invalid value: 0: must be between 1 and 65535, inclusive"),
        ("spec.ports[0].targetPort", "Invalid value: 0: must be between 1 and 65535, inclusive"),
        ("spec.ports[1].name", "Required value"),
    ]


def test_headless_service_needs_no_ports() -> None:
    obj = copy.deepcopy(SEED_SERVICE)
    del obj["spec"]["ports"]
    assert validate(SVC, defaulted(SVC, obj), None) == []


def test_namespace_name_is_a_label() -> None:
    obj = defaulted(NS, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}})
    assert pairs(validate(NS, obj, None)) == [
        ("metadata.name", 'Invalid value: "a.b": must not contain dots')
    ]


# --- validation on update -----------------------------------------------------------------


def test_statefulset_update_rules() -> None:
    old = defaulted(STS, SEED_STATEFULSET)
    scaled = copy.deepcopy(old)
    scaled["spec"]["replicas"] = 5
    scaled["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    scaled["spec"]["updateStrategy"] = {"type": "OnDelete"}
    scaled["spec"]["persistentVolumeClaimRetentionPolicy"]["whenScaled"] = "Delete"
    assert validate(STS, scaled, old) == []
    grown = copy.deepcopy(old)
    grown["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] = "200Gi"
    expected = [
        (
            "spec",
            "Forbidden: updates to statefulset spec for fields other than 'replicas', "
            "'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' "
            "and 'minReadySeconds' are forbidden",
        )
    ]
    assert pairs(validate(STS, grown, old)) == expected
    renamed = copy.deepcopy(old)
    renamed["spec"]["serviceName"] = "other"
    assert pairs(validate(STS, renamed, old)) == expected


def test_pvc_update_rules() -> None:
    old = defaulted(PVC, PVC_OBJ)
    bound = copy.deepcopy(old)
    bound["spec"]["volumeName"] = "pv-datera-0"  # the binder sets it once
    assert validate(PVC, bound, old) == []
    bound["status"] = {"phase": "Bound", "capacity": {"storage": "1Gi"}}
    expanded = copy.deepcopy(bound)
    expanded["spec"]["resources"]["requests"]["storage"] = "2Gi"
    assert validate(PVC, expanded, bound) == []
    same = copy.deepcopy(bound)
    same["spec"]["resources"]["requests"]["storage"] = "1024Mi"
    assert validate(PVC, same, bound) == []
    shrunk = copy.deepcopy(bound)
    shrunk["spec"]["resources"]["requests"]["storage"] = "512Mi"
    assert pairs(validate(PVC, shrunk, bound)) == [
        ("spec.resources.requests.storage", "Forbidden: field can not be less than status.capacity")
    ]
    unbound_resize = copy.deepcopy(old)
    unbound_resize["spec"]["resources"]["requests"]["storage"] = "2Gi"
    causes = validate(PVC, unbound_resize, old)
    assert [c["field"] for c in causes] == ["spec"]
    assert causes[0]["message"].startswith(
        "Forbidden: spec is immutable after creation except resources.requests and "
        "volumeAttributesClassName for bound claims\n"
    )
    changed = copy.deepcopy(bound)
    changed["spec"]["accessModes"] = ["ReadWriteMany"]
    assert [c["field"] for c in validate(PVC, changed, bound)] == ["spec"]


def test_storage_class_update_rules() -> None:
    old = defaulted(SC, SC_OBJ)
    new = copy.deepcopy(old)
    new["allowVolumeExpansion"] = True
    assert validate(SC, new, old) == []
    new["parameters"] = {"fsType": "ext4"}
    assert pairs(validate(SC, new, old)) == [
        ("parameters", "Forbidden: updates to parameters are forbidden.")
    ]


def test_pod_update_rules() -> None:
    old = defaulted(POD, POD_OBJ)
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:1.28"
    new["spec"]["nodeName"] = "node-1"  # binding sets it once
    assert validate(POD, new, old) == []
    new["spec"]["containers"][0]["ports"][0]["containerPort"] = 8080
    causes = validate(POD, new, old)
    assert [c["field"] for c in causes] == ["spec"]
    assert causes[0]["message"].startswith(
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
    )


def test_name_is_immutable_on_update() -> None:
    old = defaulted(CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "conf"}})
    new = copy.deepcopy(old)
    new["metadata"]["name"] = "other"
    assert pairs(validate(CM, new, old)) == [
        ("metadata.name", 'Invalid value: "other": field is immutable')
    ]
    new["metadata"]["name"] = "conf"
    new["data"] = {"bad key": "x"}
    assert [c["field"] for c in validate(CM, new, old)] == ["data[bad key]"]
