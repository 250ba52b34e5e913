"""Disruption as the real components behave: `kubectl cordon` / `kubectl drain` evict through
the pods/eviction subresource and the StatefulSet re-creates the pod elsewhere; `systemctl
restart kubelet` on a kernel-backed node restarts its kubelet, which adopts the running
pods and their mounts."""

from __future__ import annotations

from collections.abc import Iterator

import paramiko
import pytest
from kubernetes import client

from conformance.sim.cli import _admin
from conformance.waits import Seen, wait_for
from tests.sim import manifests
from tests.sim.conftest import (
    Kubectl,
    Sim,
    kernel_sim_with_classes,
    needs_kernel_nodes,
    new_namespace,
)
from tests.sim.test_kernel_nodes import deploy, in_pod, node_shell


def ok(result) -> str:  # type: ignore[no-untyped-def]
    assert result.returncode == 0, f"kubectl failed ({result.returncode}):\n{result.stderr}"
    return str(result.stdout)


def _back_elsewhere(name: str, old_uid: str, avoid: str):  # type: ignore[no-untyped-def]
    def predicate(seen: Seen[client.V1Pod]) -> bool:
        pod = seen.objects.get(name)
        return (
            pod is not None
            and pod.metadata.uid != old_uid
            and pod.spec.node_name not in (None, avoid)
            and any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
        )

    return predicate


def test_kubectl_cordon_drain_uncordon(kubectl: Kubectl, sim: Sim, namespace: str) -> None:
    documents = manifests.as_yaml(manifests.service(), manifests.statefulset(replicas=2))
    ok(kubectl("apply", "-n", namespace, "-f", "-", stdin=documents))
    ok(kubectl("rollout", "status", "-n", namespace, "sts/web", "--timeout=60s", timeout=90))
    old = sim.core.read_namespaced_pod("web-1", namespace)
    node = old.spec.node_name

    assert f"node/{node} cordoned" in ok(kubectl("cordon", node))
    assert sim.core.read_node(node).spec.unschedulable is True
    row = next(line for line in ok(kubectl("get", "nodes")).splitlines() if line.startswith(node))
    assert "Ready,SchedulingDisabled" in row.split()

    # kubectl drain evicts every pod of the node; other tests' pods may share it, so this
    # one selects by a label only web-1 carries
    sim.core.patch_namespaced_pod(
        "web-1", namespace, {"metadata": {"labels": {"drain-test": namespace}}}
    )
    drained = ok(
        kubectl(
            "drain",
            node,
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            f"--pod-selector=drain-test={namespace}",
            "--timeout=60s",
            timeout=90,
        )
    )
    assert f"node/{node} already cordoned" in drained
    assert f"evicting pod {namespace}/web-1" in drained
    assert "pod/web-1 evicted" in drained
    assert f"node/{node} drained" in drained
    wait_for(
        sim.core.list_namespaced_pod,
        _back_elsewhere("web-1", old.metadata.uid, node),
        timeout=60,
        namespace=namespace,
    )
    events = sim.core.list_namespaced_event(namespace).items
    assert any(e.reason == "Killing" and e.involved_object.name == "web-1" for e in events)

    assert f"node/{node} uncordoned" in ok(kubectl("uncordon", node))
    assert not sim.core.read_node(node).spec.unschedulable


def test_an_eviction_must_name_its_pod(sim: Sim, namespace: str) -> None:
    sim.core.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": "lonely"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        },
    )
    body = client.V1Eviction(metadata=client.V1ObjectMeta(name="other", namespace=namespace))
    with pytest.raises(client.ApiException) as raised:
        sim.core.create_namespaced_pod_eviction("lonely", namespace, body)
    assert raised.value.status == 400
    assert "name in URL does not match name in Eviction object" in raised.value.body
    body.metadata.name = "lonely"
    sim.core.create_namespaced_pod_eviction("lonely", namespace, body)
    assert sim.core.read_namespaced_pod("lonely", namespace).metadata.deletion_timestamp


# --- systemctl on kernel-backed nodes --------------------------------------------------------

kernel = needs_kernel_nodes


@pytest.fixture(scope="module")
def ksim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    yield from kernel_sim_with_classes(tmp_path_factory, "ksim-restart")


@pytest.fixture
def kns(ksim: Sim) -> Iterator[str]:
    yield from new_namespace(ksim, "r")


def run(ssh: paramiko.SSHClient, command: str) -> tuple[int, str, str]:
    _, stdout, stderr = ssh.exec_command(command, timeout=60)
    out = stdout.read().decode()
    return stdout.channel.recv_exit_status(), out, stderr.read().decode()


def kubelet_mount(ssh: paramiko.SSHClient, uid: str) -> str:
    """The mountinfo line of the pod's kubelet volume mount (its mount ID first)."""
    code, out, _ = run(ssh, "cat /proc/self/mountinfo")
    assert code == 0
    lines = [line for line in out.splitlines() if f"/pods/{uid}/volumes/" in line]
    assert len(lines) == 1, out
    return lines[0]


def heartbeat(sim: Sim, node: str) -> str:
    ready = next(c for c in sim.core.read_node(node).status.conditions if c.type == "Ready")
    return ready.last_heartbeat_time.isoformat()


@kernel
def test_systemctl_restart_kubelet_adopts_running_pods(ksim: Sim, kns: str) -> None:
    deploy(ksim, kns)
    pod = ksim.core.read_namespaced_pod("web-0", kns)
    node, uid = pod.spec.node_name, pod.metadata.uid
    assert in_pod(ksim, kns, "web-0", "echo kept > /data/kept && sync")[0] == 0
    ssh = node_shell(ksim, pod)
    try:
        mount = kubelet_mount(ssh, uid)
        assert run(ssh, "systemctl is-active kubelet") == (0, "active\n", "")
        code, _, err = run(ssh, "systemctl restart containerd")
        assert (code, err) == (
            5,
            "Failed to restart containerd.service: Unit containerd.service not found.\n",
        )

        assert run(ssh, "systemctl stop kubelet")[0] == 0
        assert run(ssh, "systemctl is-active kubelet") == (3, "inactive\n", "")
        assert run(ssh, "systemctl status kubelet")[1].splitlines()[1].split() == [
            "Active:",
            "inactive",
            "(dead)",
        ]
        stopped_at = heartbeat(ksim, node)
        assert in_pod(ksim, kns, "web-0", "cat /data/kept") == (0, "kept\n")  # still running
        assert run(ssh, "systemctl start kubelet")[0] == 0
        assert heartbeat(ksim, node) >= stopped_at

        assert run(ssh, "systemctl restart kubelet.service")[0] == 0
        after = ksim.core.read_namespaced_pod("web-0", kns)
        assert after.metadata.uid == uid
        assert after.status.container_statuses[0].restart_count == 0
        assert kubelet_mount(ssh, uid) == mount  # the same mount, not a new one
        assert in_pod(ksim, kns, "web-0", "cat /data/kept") == (0, "kept\n")
        starting = [
            e
            for e in ksim.core.list_namespaced_event("default").items
            if e.reason == "Starting" and e.involved_object.name == node
        ]
        assert starting
        assert starting[-1].message == "Starting kubelet."
    finally:
        ssh.close()


@kernel
def test_fault_kubelet_restart_kills_pods(ksim: Sim, kns: str) -> None:
    deploy(ksim, kns)
    pod = ksim.core.read_namespaced_pod("web-0", kns)
    ssh = node_shell(ksim, pod)
    state = ksim.running.state_dir
    _admin(state, "PUT", "/sim/v1/faults", {"kubelet-restart-kills-pods": None})
    try:
        before = in_pod(ksim, kns, "web-0", "cat /proc/1/stat")[1].split()[21]  # start time
        assert run(ssh, "systemctl restart kubelet")[0] == 0

        def restarted(seen: Seen[client.V1Pod]) -> bool:
            p = seen.objects.get("web-0")
            statuses = (p.status.container_statuses or []) if p is not None else []
            return bool(statuses) and statuses[0].restart_count == 1 and statuses[0].ready

        wait_for(ksim.core.list_namespaced_pod, restarted, timeout=60, namespace=kns)
        # a new container (a freed mount ID is reused, so the remount does not show there)
        assert in_pod(ksim, kns, "web-0", "cat /proc/1/stat")[1].split()[21] != before
        assert kubelet_mount(ssh, pod.metadata.uid)
    finally:
        _admin(state, "DELETE", "/sim/v1/faults")
        ssh.close()


class FakeKubelet:
    """A unit's service that records what systemctl asked of it."""

    def __init__(self) -> None:
        self.stopped: set[str] = set()
        self.calls: list[str] = []

    def running_on(self, node: str) -> bool:
        return node not in self.stopped

    async def stop_on(self, node: str) -> None:
        self.calls.append(f"stop {node}")
        self.stopped.add(node)

    async def start_on(self, node: str) -> None:
        self.calls.append(f"start {node}")
        self.stopped.discard(node)


def test_systemctl_verbs_and_answers_as_systemd_gives_them() -> None:
    import asyncio

    from conformance.sim.kernel.units import Answer, Unit, systemctl

    fake = FakeKubelet()
    served = {"kubelet": Unit("kubelet: The Kubernetes Node Agent", fake)}

    def call(*argv: str) -> Answer:
        return asyncio.run(systemctl("n1", argv, served))

    assert call("restart", "kubelet") == Answer(0)
    assert fake.calls == ["stop n1", "start n1"]
    assert call("--no-pager", "is-active", "kubelet.service") == Answer(0, "active\n")
    assert call("stop", "kubelet") == Answer(0)
    assert call("is-active", "kubelet") == Answer(3, "inactive\n")
    assert call("try-restart", "kubelet") == Answer(0)  # not running: nothing to do
    assert fake.calls == ["stop n1", "start n1", "stop n1"]
    assert call("start", "k3s-agent") == Answer(
        5, stderr="Failed to start k3s-agent.service: Unit k3s-agent.service not found.\n"
    )
    assert call("reboot") == Answer(1, stderr="Unknown command verb 'reboot'.\n")
