"""The real kubectl (v1.32, on the PATH) cannot tell the simulated cluster from a real one."""

from __future__ import annotations

import json

import yaml

from conformance.waits import wait_for
from tests.sim import manifests
from tests.sim.conftest import Kubectl, Sim


def ok(result) -> str:  # type: ignore[no-untyped-def]
    assert result.returncode == 0, f"kubectl failed ({result.returncode}):\n{result.stderr}"
    return str(result.stdout)


def _apply_web(kubectl: Kubectl, namespace: str, replicas: int = 3) -> None:
    documents = manifests.as_yaml(manifests.service(), manifests.statefulset(replicas=replicas))
    out = ok(kubectl("apply", "-n", namespace, "-f", "-", stdin=documents))
    assert "service/web created" in out
    assert "statefulset.apps/web created" in out


def _rollout(kubectl: Kubectl, namespace: str) -> None:
    out = ok(kubectl("rollout", "status", "-n", namespace, "sts/web", "--timeout=60s", timeout=90))
    assert "roll out complete" in out or "partitioned roll out complete" in out


def test_get_nodes_plain_wide_yaml(kubectl: Kubectl) -> None:
    plain = ok(kubectl("get", "nodes"))
    assert plain.splitlines()[0].split()[:5] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert plain.count(" Ready ") == 3
    wide = ok(kubectl("get", "nodes", "-o", "wide"))
    assert "INTERNAL-IP" in wide.splitlines()[0]
    listed = yaml.safe_load(ok(kubectl("get", "nodes", "-o", "yaml")))
    assert listed["kind"] == "List"
    assert len(listed["items"]) == 3


def test_create_namespace_uses_protobuf(kubectl: Kubectl, sim: Sim) -> None:
    out = ok(kubectl("create", "namespace", "kubectl-made"))
    assert "namespace/kubectl-made created" in out
    assert sim.core.read_namespace("kubectl-made").status.phase == "Active"
    ok(kubectl("delete", "namespace", "kubectl-made", "--wait=true", timeout=90))


def test_apply_scale_delete_like_a_real_cluster(kubectl: Kubectl, sim: Sim, namespace: str) -> None:
    _apply_web(kubectl, namespace)
    _rollout(kubectl, namespace)
    pods = ok(kubectl("get", "pods", "-n", namespace))
    assert [line.split()[0] for line in pods.splitlines()[1:]] == ["web-0", "web-1", "web-2"]
    assert all(" Running " in line for line in pods.splitlines()[1:])
    claims = ok(kubectl("get", "pvc", "-n", namespace))
    rows = [line.split() for line in claims.splitlines()[1:]]
    assert [(row[0], row[1]) for row in rows] == [
        ("data-web-0", "Bound"),
        ("data-web-1", "Bound"),
        ("data-web-2", "Bound"),
    ]
    # Re-apply unchanged. As on a real cluster, kubectl re-sends the atomic
    # volumeClaimTemplates (the server added defaults) but the spec does not change.
    generation = ok(
        kubectl("get", "sts", "web", "-n", namespace, "-o", "jsonpath={.metadata.generation}")
    )
    documents = manifests.as_yaml(manifests.service(), manifests.statefulset(replicas=3))
    reapplied = ok(kubectl("apply", "-n", namespace, "-f", "-", stdin=documents))
    assert "service/web unchanged" in reapplied
    assert generation == ok(
        kubectl("get", "sts", "web", "-n", namespace, "-o", "jsonpath={.metadata.generation}")
    )
    ok(kubectl("scale", "-n", namespace, "sts/web", "--replicas=5"))
    _rollout(kubectl, namespace)
    assert len(ok(kubectl("get", "pods", "-n", namespace, "-o", "name")).split()) == 5
    uid_before = ok(
        kubectl("get", "pod", "web-1", "-n", namespace, "-o", "jsonpath={.metadata.uid}")
    )
    ok(kubectl("delete", "pod", "web-1", "-n", namespace, timeout=90))
    _rollout(kubectl, namespace)
    pod = json.loads(ok(kubectl("get", "pod", "web-1", "-n", namespace, "-o", "json")))
    assert pod["metadata"]["uid"] != uid_before
    claim_names = [
        v["persistentVolumeClaim"]["claimName"]
        for v in pod["spec"]["volumes"]
        if "persistentVolumeClaim" in v
    ]
    assert claim_names == ["data-web-1"]
    ok(kubectl("delete", "statefulset", "web", "-n", namespace, timeout=90))
    wait_for(
        sim.core.list_namespaced_pod,
        lambda seen: not seen.objects,
        timeout=60,
        what="pods of the deleted set gone",
        namespace=namespace,
    )
    kept = ok(kubectl("get", "pvc", "-n", namespace, "-o", "name")).split()
    assert kept == [f"persistentvolumeclaim/data-web-{i}" for i in range(5)]


def test_describe_shows_events(kubectl: Kubectl, namespace: str) -> None:
    _apply_web(kubectl, namespace, replicas=1)
    _rollout(kubectl, namespace)
    described = ok(kubectl("describe", "pod", "web-0", "-n", namespace))
    assert "Scheduled" in described
    assert "Started" in described
    assert "80/TCP" in described
    sts = ok(kubectl("describe", "sts", "web", "-n", namespace))
    assert "SuccessfulCreate" in sts


def test_watch_with_request_timeout_exits_cleanly(kubectl: Kubectl, namespace: str) -> None:
    _apply_web(kubectl, namespace, replicas=1)
    result = kubectl(
        "get",
        "pods",
        "-n",
        namespace,
        "-w",
        "--output-watch-events",
        "-o",
        "json",
        "--request-timeout=3s",
    )
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert [event["type"] for event in events] == ["ADDED"]
    assert events[0]["object"]["metadata"]["name"] == "web-0"


def test_delete_cascade_orphan_keeps_pods(kubectl: Kubectl, sim: Sim, namespace: str) -> None:
    _apply_web(kubectl, namespace, replicas=1)
    _rollout(kubectl, namespace)
    ok(kubectl("delete", "sts", "web", "-n", namespace, "--cascade=orphan", timeout=90))
    pod = sim.core.read_namespaced_pod("web-0", namespace)
    assert not pod.metadata.owner_references


def test_delete_cascade_foreground_removes_pods_first(
    kubectl: Kubectl, sim: Sim, namespace: str
) -> None:
    _apply_web(kubectl, namespace, replicas=2)
    _rollout(kubectl, namespace)
    ok(kubectl("delete", "sts", "web", "-n", namespace, "--cascade=foreground", timeout=90))
    assert sim.core.list_namespaced_pod(namespace).items == []


def test_unauthorized_without_token(kubectl: Kubectl, sim: Sim, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = yaml.safe_load(sim.running.kubeconfig.read_text())
    for user in config["users"]:
        user["user"]["token"] = "wrong"
    bad = tmp_path / "bad-kubeconfig"
    bad.write_text(yaml.safe_dump(config))
    result = Kubectl(bad, tmp_path)("get", "pods")
    assert result.returncode == 1
    assert "You must be logged in to the server" in result.stderr
