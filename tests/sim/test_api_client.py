"""The official Python client against the simulated cluster: every call the harness makes."""

from __future__ import annotations

import json

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from conformance.waits import Seen, wait_for
from tests.sim import manifests
from tests.sim.conftest import Sim


def _deploy(sim: Sim, namespace: str, **kwargs: object) -> None:
    sim.core.create_namespaced_service(namespace, manifests.service())
    sim.apps.create_namespaced_stateful_set(namespace, manifests.statefulset(**kwargs))  # type: ignore[arg-type]


def _ready(count: int):  # type: ignore[no-untyped-def]
    def predicate(seen: Seen[client.V1Pod]) -> bool:
        ready = [
            pod
            for pod in seen.items()
            if pod.status.phase == "Running"
            and not pod.metadata.deletion_timestamp
            and any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
        ]
        return len(ready) == count and len(seen.objects) == count

    return predicate


def test_version_and_discovery(sim: Sim) -> None:
    version = client.VersionApi(sim.api).get_code()
    assert (version.major, version.minor) == ("1", "32")
    assert "v1" in client.CoreApi(sim.api).get_api_versions().versions
    groups = {g.name for g in client.ApisApi(sim.api).get_api_versions().groups}
    assert {"apps", "storage.k8s.io"} <= groups
    resources = {r.name for r in sim.apps.get_api_resources().resources}
    assert {"statefulsets", "statefulsets/scale", "statefulsets/status"} <= resources


def test_nodes_are_ready_with_internal_ips(sim: Sim) -> None:
    nodes = sim.core.list_node().items
    assert len(nodes) == 3
    for node in nodes:
        ready = [c for c in node.status.conditions if c.type == "Ready"]
        assert [c.status for c in ready] == ["True"]
        assert any(a.type == "InternalIP" for a in node.status.addresses)


def test_one_storage_class_is_default(sim: Sim) -> None:
    defaults = [
        sc.metadata.name
        for sc in sim.storage.list_storage_class().items
        if (sc.metadata.annotations or {}).get("storageclass.kubernetes.io/is-default-class")
        == "true"
    ]
    assert len(defaults) == 1


def test_statefulset_creates_pods_in_order_and_binds_claims(sim: Sim, namespace: str) -> None:
    since = sim.core.list_namespaced_pod(namespace).metadata.resource_version
    _deploy(sim, namespace, replicas=3)
    seen = wait_for(
        sim.core.list_namespaced_pod,
        _ready(3),
        timeout=30,
        what="3 ready pods",
        since=since,
        namespace=namespace,
    )
    added = [name for kind, name in seen.events if kind == "ADDED"]
    assert added == ["web-0", "web-1", "web-2"]
    claims = sim.core.list_namespaced_persistent_volume_claim(namespace).items
    assert sorted(c.metadata.name for c in claims) == ["data-web-0", "data-web-1", "data-web-2"]
    for claim in claims:
        assert claim.status.phase == "Bound"
        assert claim.spec.volume_name == f"pvc-{claim.metadata.uid}"
        assert claim.metadata.labels == {"app": "web"}
    pod = sim.core.read_namespaced_pod("web-1", namespace)
    assert (pod.spec.hostname, pod.spec.subdomain) == ("web-1", "web")
    assert pod.metadata.labels["statefulset.kubernetes.io/pod-name"] == "web-1"
    assert pod.metadata.labels["apps.kubernetes.io/pod-index"] == "1"
    sts = sim.apps.read_namespaced_stateful_set("web", namespace)
    assert sts.status.ready_replicas == 3
    assert sts.status.observed_generation == sts.metadata.generation


def test_scale_subresource_and_patch(sim: Sim, namespace: str) -> None:
    _deploy(sim, namespace, replicas=1)
    wait_for(sim.core.list_namespaced_pod, _ready(1), timeout=30, namespace=namespace)
    scale = sim.apps.patch_namespaced_stateful_set_scale(
        "web", namespace, {"spec": {"replicas": 2}}
    )
    assert scale.spec.replicas == 2
    wait_for(sim.core.list_namespaced_pod, _ready(2), timeout=30, namespace=namespace)
    read = sim.apps.read_namespaced_stateful_set_scale("web", namespace)
    assert read.status.selector == "app=web"
    patched = sim.apps.patch_namespaced_stateful_set(
        "web", namespace, {"metadata": {"labels": {"tier": "db"}}}
    )
    assert patched.metadata.labels == {"tier": "db"}
    json_patched = sim.apps.patch_namespaced_stateful_set(
        "web", namespace, [{"op": "replace", "path": "/spec/replicas", "value": 1}]
    )
    assert json_patched.spec.replicas == 1


def test_errors_are_status_objects(sim: Sim, namespace: str) -> None:
    with pytest.raises(ApiException) as missing:
        sim.core.read_namespaced_pod("nope", namespace)
    assert missing.value.status == 404
    assert '"reason":"NotFound"' in missing.value.body.replace(" ", "")
    sim.core.create_namespaced_config_map(
        namespace, {"metadata": {"name": "cm"}, "data": {"a": "1"}}
    )
    with pytest.raises(ApiException) as exists:
        sim.core.create_namespaced_config_map(namespace, {"metadata": {"name": "cm"}})
    assert exists.value.status == 409
    assert "AlreadyExists" in exists.value.body
    current = sim.core.read_namespaced_config_map("cm", namespace)
    current.data = {"a": "2"}
    sim.core.replace_namespaced_config_map("cm", namespace, current)
    current.data = {"a": "3"}  # still carries the old resourceVersion
    with pytest.raises(ApiException) as stale:
        sim.core.replace_namespaced_config_map("cm", namespace, current)
    assert stale.value.status == 409
    assert "Conflict" in stale.value.body
    with pytest.raises(ApiException) as invalid:
        sim.core.create_namespaced_config_map(namespace, {"metadata": {"name": "Bad_Name"}})
    assert invalid.value.status == 422
    body = manifests.statefulset()
    del body["spec"]["selector"]  # the client's models refuse this, so send it raw
    response = sim.api.call_api(
        "POST",
        f"{sim.api.configuration.host}/apis/apps/v1/namespaces/{namespace}/statefulsets",
        header_params={
            "Content-Type": "application/json",
            "Authorization": sim.api.configuration.api_key["BearerToken"],
        },
        body=body,
    )
    status = json.loads(response.read())
    assert response.status == 422
    assert status["reason"] == "Invalid"
    assert status["details"]["causes"][0]["field"] == "spec.selector"


def test_label_and_field_selectors(sim: Sim, namespace: str) -> None:
    for name, tier in (("a", "db"), ("b", "web"), ("c", "db")):
        sim.core.create_namespaced_config_map(
            namespace, {"metadata": {"name": name, "labels": {"tier": tier}}}
        )

    def names(**kwargs: str) -> list[str]:
        items = sim.core.list_namespaced_config_map(namespace, **kwargs).items
        return sorted(i.metadata.name for i in items)

    assert names(label_selector="tier=db") == ["a", "c"]
    assert names(label_selector="tier!=db") == ["b"]
    assert names(label_selector="tier in (web)") == ["b"]
    assert names(label_selector="!tier") == []
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector="metadata.name!=b", label_selector="tier") == ["a", "c"]
    # a request line far beyond aiohttp's default 8 KiB, as kube-apiserver accepts (1 MiB)
    many = ",".join(f"value-{i:05d}" for i in range(3000))
    assert names(label_selector=f"tier in (db,{many})") == ["a", "c"]


def test_watch_resumes_from_resource_version_and_expires(sim: Sim, namespace: str) -> None:
    listed = sim.core.list_namespaced_config_map(namespace)
    sim.core.create_namespaced_config_map(namespace, {"metadata": {"name": "w1"}})
    sim.core.create_namespaced_config_map(namespace, {"metadata": {"name": "w2"}})
    events = []
    for event in watch.Watch().stream(
        sim.core.list_namespaced_config_map,
        namespace,
        resource_version=listed.metadata.resource_version,
        timeout_seconds=2,
    ):
        events.append((event["type"], event["object"].metadata.name))
        if len(events) == 2:
            break
    assert events == [("ADDED", "w1"), ("ADDED", "w2")]
    with pytest.raises(ApiException) as expired:
        for _ in watch.Watch().stream(
            sim.core.list_namespaced_config_map, namespace, resource_version="1", timeout_seconds=1
        ):
            pass
    assert expired.value.status == 410


def test_deleted_pod_returns_with_same_name_and_claim(sim: Sim, namespace: str) -> None:
    _deploy(sim, namespace, replicas=2)
    wait_for(sim.core.list_namespaced_pod, _ready(2), timeout=30, namespace=namespace)
    old = sim.core.read_namespaced_pod("web-1", namespace)
    sim.core.delete_namespaced_pod("web-1", namespace)

    def replaced(seen: Seen[client.V1Pod]) -> bool:
        pod = seen.objects.get("web-1")
        return bool(pod and pod.metadata.uid != old.metadata.uid and _ready(2)(seen))

    seen = wait_for(sim.core.list_namespaced_pod, replaced, timeout=30, namespace=namespace)
    new = seen.objects["web-1"]
    claims = [
        v.persistent_volume_claim.claim_name for v in new.spec.volumes if v.persistent_volume_claim
    ]
    assert claims == ["data-web-1"]


def test_deleting_the_set_keeps_claims_and_cascades_pods(sim: Sim, namespace: str) -> None:
    _deploy(sim, namespace, replicas=2)
    wait_for(sim.core.list_namespaced_pod, _ready(2), timeout=30, namespace=namespace)
    sim.apps.delete_namespaced_stateful_set("web", namespace, propagation_policy="Foreground")
    wait_for(
        sim.core.list_namespaced_pod,
        lambda seen: not seen.objects,
        timeout=30,
        what="pods gone",
        namespace=namespace,
    )
    wait_for(
        sim.apps.list_namespaced_stateful_set,
        lambda seen: not seen.objects,
        timeout=30,
        what="set gone",
        namespace=namespace,
    )
    claims = sim.core.list_namespaced_persistent_volume_claim(namespace).items
    assert sorted(c.metadata.name for c in claims) == ["data-web-0", "data-web-1"]


def test_orphan_deletion_keeps_pods_without_owner(sim: Sim, namespace: str) -> None:
    _deploy(sim, namespace, replicas=1)
    wait_for(sim.core.list_namespaced_pod, _ready(1), timeout=30, namespace=namespace)
    sim.apps.delete_namespaced_stateful_set("web", namespace, propagation_policy="Orphan")
    wait_for(
        sim.apps.list_namespaced_stateful_set,
        lambda seen: not seen.objects,
        timeout=30,
        namespace=namespace,
    )
    pod = sim.core.read_namespaced_pod("web-0", namespace)
    assert not pod.metadata.owner_references


def test_namespace_deletion_cascades(sim: Sim) -> None:
    name = "cascade-ns"
    sim.core.create_namespace({"metadata": {"name": name}})
    _deploy(sim, name, replicas=1)
    wait_for(sim.core.list_namespaced_pod, _ready(1), timeout=30, namespace=name)
    deleting = sim.api.sanitize_for_serialization(sim.core.delete_namespace(name))
    assert deleting["status"]["phase"] == "Terminating"
    wait_for(
        sim.core.list_namespace,
        lambda seen: name not in seen.objects,
        timeout=30,
        what=f"namespace {name} gone",
    )


def test_delete_collection_by_label(sim: Sim, namespace: str) -> None:
    for name, tier in (("a", "db"), ("b", "web")):
        sim.core.create_namespaced_config_map(
            namespace, {"metadata": {"name": name, "labels": {"tier": tier}}}
        )
    sim.core.delete_collection_namespaced_config_map(namespace, label_selector="tier=db")
    left = sim.core.list_namespaced_config_map(namespace).items
    assert [cm.metadata.name for cm in left] == ["b"]
