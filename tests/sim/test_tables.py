"""Table output: the columns and cells kube-apiserver 1.32 sends for ``kubectl get``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from conformance.sim.api import tables
from conformance.sim.api.kinds import KINDS, Kind

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


def ago(seconds: float) -> str:
    return (NOW - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def kind_of(name: str) -> Kind:
    return next(k for k in KINDS if k.kind == name)


def table(kind: str, *items: dict[str, Any], include: str = "Metadata") -> dict[str, Any]:
    return tables.to_table(
        kind_of(kind), list(items), include_object=include, list_rv="42", now=NOW
    )


def header(kind: str) -> list[str]:
    """Column names as kubectl prints them without -o wide."""
    return [c["name"].upper() for c in tables.columns_for(kind_of(kind)) if c["priority"] == 0]


def wide_header(kind: str) -> list[str]:
    return [c["name"].upper() for c in tables.columns_for(kind_of(kind))]


def cells(kind: str, obj: dict[str, Any]) -> list[Any]:
    rows = table(kind, obj)["rows"]
    assert len(rows) == 1
    return list(rows[0]["cells"])


def narrow(kind: str, obj: dict[str, Any]) -> list[Any]:
    columns = tables.columns_for(kind_of(kind))
    return [c for c, col in zip(cells(kind, obj), columns, strict=True) if col["priority"] == 0]


def meta(name: str, age: float = 30, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": "demo",
        "uid": f"uid-{name}",
        "resourceVersion": "7",
        "creationTimestamp": ago(age),
        **extra,
    }


# --- ages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0s"),
        (5, "5s"),
        (119, "119s"),
        (120, "2m"),
        (182, "3m2s"),
        (599, "9m59s"),
        (600, "10m"),
        (41 * 60 + 30, "41m"),
        (179 * 60, "179m"),
        (3 * 3600, "3h"),
        (5 * 3600 + 3 * 60, "5h3m"),
        (8 * 3600 + 59 * 60, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (2 * 86400 + 3 * 3600, "2d3h"),
        (8 * 86400, "8d"),
        (729 * 86400, "729d"),
        (730 * 86400, "2y"),
        (740 * 86400, "2y10d"),
        (9 * 365 * 86400, "9y"),
        (-1, "0s"),
        (-1.5, "0s"),
        (-5, "<invalid>"),
    ],
)
def test_human_duration(seconds: float, expected: str) -> None:
    assert tables.human_duration(timedelta(seconds=seconds)) == expected


def test_missing_creation_timestamp_prints_unknown() -> None:
    assert tables.translate_timestamp_since(None, NOW) == "<unknown>"
    # Fractions count and durations truncate: 23h59m59.9s is still 23h.
    assert tables.translate_timestamp_since("2024-12-31T12:00:00.123456Z", NOW) == "23h"
    assert tables.translate_timestamp_since("2024-12-31T12:00:00Z", NOW) == "24h"
    assert tables.translate_timestamp_since("not a time", NOW) == "<unknown>"


# --- table envelope -----------------------------------------------------------------------


def test_table_envelope_and_partial_object_metadata() -> None:
    pod_meta = meta("web-0", labels={"app": "web"})
    result = table("Pod", {"metadata": pod_meta, "spec": {"containers": [{"name": "c"}]}})
    assert result["kind"] == "Table"
    assert result["apiVersion"] == "meta.k8s.io/v1"
    assert result["metadata"] == {"resourceVersion": "42"}
    row = result["rows"][0]
    assert row["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": pod_meta,
    }
    assert row["object"]["metadata"] is not pod_meta
    assert "conditions" not in row


def test_include_object_object_and_none() -> None:
    pod = {"metadata": meta("web-0"), "spec": {"containers": [{"name": "c"}]}}
    full = table("Pod", pod, include="Object")["rows"][0]["object"]
    assert full["kind"] == "Pod"
    assert full["apiVersion"] == "v1"
    assert full["spec"] == pod["spec"]
    assert "kind" not in pod
    sts = {"kind": "StatefulSet", "apiVersion": "apps/v1", "metadata": meta("web")}
    assert table("StatefulSet", sts, include="Object")["rows"][0]["object"]["apiVersion"] == (
        "apps/v1"
    )
    assert table("Pod", pod, include="None")["rows"][0]["object"] is None


def test_no_headers_leaves_column_definitions_null_and_empty_lists_have_no_rows() -> None:
    kind = kind_of("Pod")
    result = tables.to_table(
        kind, [], include_object="Metadata", list_rv="", now=NOW, no_headers=True
    )
    assert result["columnDefinitions"] is None
    assert result["rows"] == []
    assert result["metadata"] == {}


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_every_served_kind_has_a_real_printer(kind: Kind) -> None:
    columns = tables.columns_for(kind)
    assert [c["name"] for c in columns] != ["Name", "Created At"]
    for column in columns:
        assert set(column) == {"name", "type", "format", "description", "priority"}
        assert column["description"]
    row = tables.to_table(
        kind, [{"metadata": meta("x")}], include_object="Metadata", list_rv="1", now=NOW
    )["rows"][0]
    assert len(row["cells"]) == len(columns)


def test_unprinted_kinds_get_the_default_convertor() -> None:
    widget = Kind("example.com", "v1", "Widget", "widgets", True)
    result = tables.to_table(
        widget,
        [{"metadata": {"name": "w", "creationTimestamp": "2024-05-06T07:08:09Z"}}],
        include_object="Metadata",
        list_rv="3",
        now=NOW,
    )
    assert [(c["name"], c["type"]) for c in result["columnDefinitions"]] == [
        ("Name", "string"),
        ("Created At", "date"),
    ]
    assert result["rows"][0]["cells"] == ["w", "2024-05-06T07:08:09Z"]


# --- pods ---------------------------------------------------------------------------------


def test_pod_columns() -> None:
    assert header("Pod") == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert wide_header("Pod")[5:] == ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"]


def running_pod(**status: Any) -> dict[str, Any]:
    return {
        "metadata": meta("web-0", age=182),
        "spec": {"nodeName": "node-1", "containers": [{"name": "nginx", "image": "nginx"}]},
        "status": {
            "phase": "Running",
            "podIP": "10.244.0.10",
            "podIPs": [{"ip": "10.244.0.10"}],
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [
                {
                    "name": "nginx",
                    "ready": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": ago(100)}},
                }
            ],
            **status,
        },
    }


def test_running_pod_row() -> None:
    assert cells("Pod", running_pod()) == [
        "web-0",
        "1/1",
        "Running",
        "0",
        "3m2s",
        "10.244.0.10",
        "node-1",
        "<none>",
        "<none>",
    ]


def test_pending_pod_is_container_creating_without_ip_or_node() -> None:
    pod = {
        "metadata": meta("web-1", age=3),
        "spec": {"containers": [{"name": "nginx"}, {"name": "side"}]},
        "status": {
            "phase": "Pending",
            "containerStatuses": [
                {
                    "name": "nginx",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"waiting": {"reason": "ContainerCreating"}},
                },
                {
                    "name": "side",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"waiting": {"reason": "ContainerCreating"}},
                },
            ],
        },
    }
    assert cells("Pod", pod) == [
        "web-1",
        "0/2",
        "ContainerCreating",
        "0",
        "3s",
        "<none>",
        "<none>",
        "<none>",
        "<none>",
    ]


def test_unscheduled_pod_is_pending() -> None:
    pod = {
        "metadata": meta("p"),
        "spec": {"containers": [{"name": "c"}]},
        "status": {"phase": "Pending"},
    }
    assert narrow("Pod", pod)[:3] == ["p", "0/1", "Pending"]


def test_deleting_pod_is_terminating() -> None:
    pod = running_pod()
    pod["metadata"]["deletionTimestamp"] = ago(1)
    assert narrow("Pod", pod)[2] == "Terminating"


def test_deleting_pod_on_a_lost_node_is_unknown() -> None:
    pod = running_pod(reason="NodeLost")
    pod["metadata"]["deletionTimestamp"] = ago(1)
    assert narrow("Pod", pod)[2] == "Unknown"


def test_completed_pod_and_its_row_condition() -> None:
    pod = running_pod(
        phase="Succeeded",
        conditions=[{"type": "Ready", "status": "False"}],
        containerStatuses=[
            {
                "name": "nginx",
                "ready": False,
                "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
            }
        ],
    )
    pod["metadata"]["deletionTimestamp"] = ago(1)  # terminal pods never show Terminating
    row = table("Pod", pod)["rows"][0]
    assert row["cells"][:3] == ["web-0", "0/1", "Completed"]
    assert row["conditions"] == [
        {
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }
    ]


def test_crash_looping_pod_shows_restarts_and_when() -> None:
    pod = running_pod(
        containerStatuses=[
            {
                "name": "nginx",
                "ready": False,
                "restartCount": 4,
                "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(75)}},
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            }
        ]
    )
    assert narrow("Pod", pod)[1:4] == ["0/1", "CrashLoopBackOff", "4 (75s ago)"]


def test_terminated_without_reason_shows_exit_code_or_signal() -> None:
    exit_pod = running_pod(
        containerStatuses=[
            {
                "name": "nginx",
                "ready": False,
                "restartCount": 0,
                "state": {"terminated": {"exitCode": 3}},
            }
        ]
    )
    assert narrow("Pod", exit_pod)[2] == "ExitCode:3"
    signal_pod = running_pod(
        containerStatuses=[
            {
                "name": "nginx",
                "ready": False,
                "restartCount": 0,
                "state": {"terminated": {"exitCode": 137, "signal": 9}},
            }
        ]
    )
    assert narrow("Pod", signal_pod)[2] == "Signal:9"


def test_init_containers() -> None:
    pod = {
        "metadata": meta("p"),
        "spec": {"initContainers": [{"name": "init"}], "containers": [{"name": "c"}]},
        "status": {
            "phase": "Pending",
            "initContainerStatuses": [
                {
                    "name": "init",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": ago(2)}},
                }
            ],
            "containerStatuses": [
                {
                    "name": "c",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"waiting": {"reason": "PodInitializing"}},
                }
            ],
        },
    }
    assert narrow("Pod", pod)[1:3] == ["0/1", "Init:0/1"]
    pod["status"]["initContainerStatuses"][0]["state"] = {"waiting": {"reason": "ImagePullBackOff"}}
    assert narrow("Pod", pod)[2] == "Init:ImagePullBackOff"
    pod["status"]["initContainerStatuses"][0]["state"] = {
        "terminated": {"exitCode": 2, "reason": "Error"}
    }
    assert narrow("Pod", pod)[2] == "Init:Error"


def test_sidecar_init_containers_count_toward_ready() -> None:
    pod = running_pod(
        initContainerStatuses=[
            {
                "name": "proxy",
                "ready": True,
                "started": True,
                "restartCount": 1,
                "state": {"running": {"startedAt": ago(50)}},
            }
        ]
    )
    pod["spec"]["initContainers"] = [{"name": "proxy", "restartPolicy": "Always"}]
    assert narrow("Pod", pod)[1:4] == ["2/2", "Running", "1"]


def test_pod_ip_falls_back_to_pod_ip_field_and_readiness_gates_count() -> None:
    pod = running_pod(
        podIPs=[],
        conditions=[
            {"type": "Ready", "status": "True"},
            {"type": "example.com/gate", "status": "True"},
        ],
    )
    pod["spec"]["readinessGates"] = [
        {"conditionType": "example.com/gate"},
        {"conditionType": "example.com/other"},
    ]
    assert cells("Pod", pod)[5:] == ["10.244.0.10", "node-1", "<none>", "1/2"]


# --- workloads ----------------------------------------------------------------------------


def test_statefulset_row() -> None:
    assert header("StatefulSet") == ["NAME", "READY", "AGE"]
    assert wide_header("StatefulSet")[3:] == ["CONTAINERS", "IMAGES"]
    sts = {
        "metadata": meta("web", age=41 * 60),
        "spec": {
            "replicas": 3,
            "template": {
                "spec": {
                    "containers": [
                        {"name": "nginx", "image": "nginx:1.27"},
                        {"name": "side", "image": "busybox"},
                    ]
                }
            },
        },
        "status": {"replicas": 3, "readyReplicas": 2},
    }
    assert cells("StatefulSet", sts) == ["web", "2/3", "41m", "nginx,side", "nginx:1.27,busybox"]
    sts["status"] = {}
    assert cells("StatefulSet", sts)[1] == "0/3"


def test_controller_revision_row() -> None:
    assert header("ControllerRevision") == ["NAME", "CONTROLLER", "REVISION", "AGE"]
    revision = {
        "metadata": meta(
            "web-5d8c",
            ownerReferences=[
                {
                    "apiVersion": "apps/v1",
                    "kind": "StatefulSet",
                    "name": "web",
                    "uid": "u",
                    "controller": True,
                }
            ],
        ),
        "revision": 2,
    }
    assert cells("ControllerRevision", revision) == ["web-5d8c", "statefulset.apps/web", 2, "30s"]
    orphan = {"metadata": meta("old"), "revision": 1}
    assert cells("ControllerRevision", orphan)[1] == "<none>"


# --- storage ------------------------------------------------------------------------------


def test_pvc_rows() -> None:
    assert header("PersistentVolumeClaim") == [
        "NAME",
        "STATUS",
        "VOLUME",
        "CAPACITY",
        "ACCESS MODES",
        "STORAGECLASS",
        "VOLUMEATTRIBUTESCLASS",
        "AGE",
    ]
    assert wide_header("PersistentVolumeClaim")[-1] == "VOLUMEMODE"
    pending = {
        "metadata": meta("data-web-0"),
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "standard",
            "resources": {"requests": {"storage": "1Gi"}},
            "volumeMode": "Filesystem",
        },
        "status": {"phase": "Pending"},
    }
    assert cells("PersistentVolumeClaim", pending) == [
        "data-web-0",
        "Pending",
        "",
        "",
        "",
        "standard",
        "<unset>",
        "30s",
        "Filesystem",
    ]
    bound = {
        "metadata": meta(
            "data-web-0", annotations={"volume.beta.kubernetes.io/storage-class": "legacy"}
        ),
        "spec": {**pending["spec"], "volumeName": "pvc-123"},
        "status": {
            "phase": "Bound",
            "accessModes": ["ReadWriteOnce"],
            "capacity": {"storage": "1Gi"},
        },
    }
    assert narrow("PersistentVolumeClaim", bound) == [
        "data-web-0",
        "Bound",
        "pvc-123",
        "1Gi",
        "RWO",
        "legacy",
        "<unset>",
        "30s",
    ]
    bound["metadata"]["deletionTimestamp"] = ago(1)
    assert narrow("PersistentVolumeClaim", bound)[1] == "Terminating"


def test_pv_row_and_access_mode_order() -> None:
    assert header("PersistentVolume") == [
        "NAME",
        "CAPACITY",
        "ACCESS MODES",
        "RECLAIM POLICY",
        "STATUS",
        "CLAIM",
        "STORAGECLASS",
        "VOLUMEATTRIBUTESCLASS",
        "REASON",
        "AGE",
    ]
    pv = {
        "metadata": {"name": "pvc-123", "creationTimestamp": ago(2 * 86400 + 3 * 3600)},
        "spec": {
            "capacity": {"storage": "10Gi"},
            "accessModes": [
                "ReadWriteOncePod",
                "ReadWriteMany",
                "ReadOnlyMany",
                "ReadWriteOnce",
                "ReadWriteOnce",
            ],
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": "standard",
            "claimRef": {"namespace": "demo", "name": "data-web-0"},
        },
        "status": {"phase": "Bound"},
    }
    assert cells("PersistentVolume", pv) == [
        "pvc-123",
        "10Gi",
        "RWO,ROX,RWX,RWOP",
        "Delete",
        "Bound",
        "demo/data-web-0",
        "standard",
        "<unset>",
        "",
        "2d3h",
        "<unset>",
    ]


def test_storage_class_default_marker_and_defaults() -> None:
    assert header("StorageClass") == [
        "NAME",
        "PROVISIONER",
        "RECLAIMPOLICY",
        "VOLUMEBINDINGMODE",
        "ALLOWVOLUMEEXPANSION",
        "AGE",
    ]
    sc = {
        "metadata": {
            "name": "standard",
            "creationTimestamp": ago(60),
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": "rancher.io/local-path",
        "volumeBindingMode": "WaitForFirstConsumer",
    }
    assert cells("StorageClass", sc) == [
        "standard (default)",
        "rancher.io/local-path",
        "Delete",
        "WaitForFirstConsumer",
        False,
        "60s",
    ]
    plain = {
        "metadata": {"name": "fast"},
        "provisioner": "p",
        "allowVolumeExpansion": True,
        "reclaimPolicy": "Retain",
    }
    assert cells("StorageClass", plain) == ["fast", "p", "Retain", "Immediate", True, "<unknown>"]


# --- cluster objects ----------------------------------------------------------------------


def test_node_row() -> None:
    assert header("Node") == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert wide_header("Node")[5:] == [
        "INTERNAL-IP",
        "EXTERNAL-IP",
        "OS-IMAGE",
        "KERNEL-VERSION",
        "CONTAINER-RUNTIME",
    ]
    node = {
        "metadata": {
            "name": "node-1",
            "creationTimestamp": ago(5 * 86400),
            "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "worker"},
        },
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": "False"},
            ],
            "addresses": [
                {"type": "Hostname", "address": "node-1"},
                {"type": "InternalIP", "address": "172.18.0.2"},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.32.0",
                "osImage": "Debian GNU/Linux 12",
                "kernelVersion": "6.1.0",
                "containerRuntimeVersion": "containerd://1.7",
            },
        },
    }
    assert cells("Node", node) == [
        "node-1",
        "NotReady,SchedulingDisabled",
        "control-plane,worker",
        "5d",
        "v1.32.0",
        "172.18.0.2",
        "<none>",
        "Debian GNU/Linux 12",
        "6.1.0",
        "containerd://1.7",
    ]
    bare = {"metadata": {"name": "n"}}
    assert cells("Node", bare) == [
        "n",
        "Unknown",
        "<none>",
        "<unknown>",
        "",
        "<none>",
        "<none>",
        "<unknown>",
        "<unknown>",
        "<unknown>",
    ]


def test_namespace_row() -> None:
    assert header("Namespace") == ["NAME", "STATUS", "AGE"]
    ns = {
        "metadata": {"name": "demo", "creationTimestamp": ago(7)},
        "status": {"phase": "Terminating"},
    }
    assert cells("Namespace", ns) == ["demo", "Terminating", "7s"]


def test_service_rows() -> None:
    assert header("Service") == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    headless = {
        "metadata": meta("web"),
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "None",
            "clusterIPs": ["None"],
            "selector": {"tier": "x", "app": "web"},
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
        },
    }
    assert cells("Service", headless) == [
        "web",
        "ClusterIP",
        "None",
        "<none>",
        "80/TCP",
        "30s",
        "app=web,tier=x",
    ]
    node_port = {
        "metadata": meta("np"),
        "spec": {
            "type": "NodePort",
            "clusterIP": "10.96.0.20",
            "ports": [
                {"port": 80, "nodePort": 30080, "protocol": "TCP"},
                {"port": 53, "protocol": "UDP"},
            ],
        },
    }
    assert cells("Service", node_port)[1:5] == [
        "NodePort",
        "10.96.0.20",
        "<none>",
        "80:30080/TCP,53/UDP",
    ]
    lb = {"metadata": meta("lb"), "spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.0.9"]}}
    assert cells("Service", lb)[2:5] == ["10.96.0.9", "<pending>", "<none>"]


def test_endpoints_rows() -> None:
    assert header("Endpoints") == ["NAME", "ENDPOINTS", "AGE"]
    ep = {
        "metadata": meta("web"),
        "subsets": [
            {
                "addresses": [{"ip": f"10.244.0.{i}"} for i in range(1, 6)],
                "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
            }
        ],
    }
    assert cells("Endpoints", ep) == [
        "web",
        "10.244.0.1:80,10.244.0.2:80,10.244.0.3:80 + 2 more...",
        "30s",
    ]
    assert cells("Endpoints", {"metadata": meta("none")})[1] == "<none>"
    v6 = {
        "metadata": meta("v6"),
        "subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 443}]}],
    }
    assert cells("Endpoints", v6)[1] == "[fd00::1]:443"


def test_event_row() -> None:
    assert header("Event") == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert wide_header("Event") == [
        "LAST SEEN",
        "TYPE",
        "REASON",
        "OBJECT",
        "SUBOBJECT",
        "SOURCE",
        "MESSAGE",
        "FIRST SEEN",
        "COUNT",
        "NAME",
    ]
    event = {
        "metadata": meta("web-0.17a"),
        "involvedObject": {
            "kind": "Pod",
            "name": "web-0",
            "namespace": "demo",
            "fieldPath": "spec.containers{nginx}",
        },
        "reason": "Pulled",
        "message": 'Container image "nginx" already present on machine\n',
        "type": "Normal",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": ago(600),
        "lastTimestamp": ago(65),
        "count": 3,
    }
    assert cells("Event", event) == [
        "65s",
        "Normal",
        "Pulled",
        "pod/web-0",
        "spec.containers{nginx}",
        "kubelet, node-1",
        'Container image "nginx" already present on machine',
        "10m",
        3,
        "web-0.17a",
    ]
    new_api = {
        "metadata": meta("e2"),
        "involvedObject": {"kind": "StatefulSet", "name": "web"},
        "eventTime": "2025-01-01T11:59:50.000000Z",
        "reportingComponent": "statefulset-controller",
        "type": "Normal",
        "reason": "SuccessfulCreate",
        "message": "create Pod web-0 in StatefulSet web successful",
    }
    row = cells("Event", new_api)
    assert row[0] == row[7] == "10s"
    assert row[3] == "statefulset/web"
    assert row[5] == "statefulset-controller"
    assert row[8] == 1


def test_configmap_row_counts_data_and_binary_data() -> None:
    assert header("ConfigMap") == ["NAME", "DATA", "AGE"]
    cm = {"metadata": meta("cfg"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}
    assert cells("ConfigMap", cm) == ["cfg", 3, "30s"]
