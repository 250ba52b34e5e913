"""The simulated nodes on the real kernel, as the harness will see them: SSH, lsscsi, mounts, exec.

Reproduces the seed example (a Datera iSCSI volume on xfs behind the datera~iscsi
flexvolume plugin dir) end to end, proves data survives what it must survive, and
shows each node-level fault breaks what it names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import paramiko
import pytest
from kubernetes import client
from kubernetes.stream import stream

from conformance.waits import Seen, wait_for
from tests.sim import manifests
from tests.sim.conftest import (
    KUBECTL,
    Kubectl,
    Sim,
    kernel_sim_with_classes,
    needs_kernel_nodes,
    new_namespace,
)

pytestmark = needs_kernel_nodes


@pytest.fixture(scope="module")
def kernel_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    yield from kernel_sim_with_classes(tmp_path_factory, "ksim")


@pytest.fixture
def ns(kernel_sim: Sim) -> Iterator[str]:
    yield from new_namespace(kernel_sim, "k")


@pytest.fixture
def faults(kernel_sim: Sim) -> Iterator[Callable[..., None]]:
    """Switch node faults on for one test; all are cleared afterwards."""
    from conformance.sim.cli import _admin

    state = kernel_sim.running.state_dir

    def switch(**settings: float | None) -> None:
        _admin(
            state, "PUT", "/sim/v1/faults", {k.replace("_", "-"): v for k, v in settings.items()}
        )

    yield switch
    _admin(state, "DELETE", "/sim/v1/faults")


def _ready(count: int):  # type: ignore[no-untyped-def]
    def predicate(seen: Seen[client.V1Pod]) -> bool:
        ready = [
            p
            for p in seen.items()
            if p.status.phase == "Running"
            and not p.metadata.deletion_timestamp
            and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
        ]
        return len(ready) == count == len(seen.objects)

    return predicate


def deploy(sim: Sim, namespace: str, replicas: int = 1, storage_class: str = "datera-gold") -> None:
    sim.core.create_namespaced_service(namespace, manifests.service())
    body = manifests.statefulset(
        replicas=replicas, claim="pv-claim", size="100Gi", storage_class=storage_class
    )
    sim.apps.create_namespaced_stateful_set(namespace, body)
    wait_for(sim.core.list_namespaced_pod, _ready(replicas), timeout=60, namespace=namespace)


def node_shell(sim: Sim, pod: client.V1Pod) -> paramiko.SSHClient:
    """SSH to the pod's node as the harness does: strict host keys, the sim's client key."""
    node = sim.core.read_node(pod.spec.node_name)
    address = next(a.address for a in node.status.addresses if a.type == "InternalIP")
    state = sim.running.state_dir
    ssh = paramiko.SSHClient()
    ssh.load_host_keys(str(state / "known_hosts"))
    ssh.set_missing_host_key_policy(paramiko.RejectPolicy())
    ssh.connect(
        address,
        username="root",
        key_filename=str(state / "id_ed25519"),
        timeout=10,
        allow_agent=False,
        look_for_keys=False,
    )
    return ssh


def on_node(ssh: paramiko.SSHClient, command: str) -> str:
    _, stdout, stderr = ssh.exec_command(command, timeout=30)
    out = stdout.read().decode()
    code = stdout.channel.recv_exit_status()
    assert code == 0, f"{command} exited {code}: {stderr.read().decode()}"
    return out


def in_pod(sim: Sim, namespace: str, pod: str, command: str) -> tuple[int, str]:
    """Exec through the API with the official client (WebSocket v5/v4), returning the exit code."""
    session = stream(
        sim.core.connect_get_namespaced_pod_exec,
        pod,
        namespace,
        command=["sh", "-c", command],
        stderr=True,
        stdout=True,
        stdin=False,
        tty=False,
        _preload_content=False,
    )
    session.run_forever(timeout=30)
    code = session.returncode  # before read_all(), which also drops the status channel
    return code, session.read_all()


def test_the_seed_shape_on_node_and_in_pod(kernel_sim: Sim, ns: str) -> None:
    deploy(kernel_sim, ns)
    pod = kernel_sim.core.read_namespaced_pod("web-0", ns)
    claim = kernel_sim.core.read_namespaced_persistent_volume_claim("pv-claim-web-0", ns)
    pv = claim.spec.volume_name
    ssh = node_shell(kernel_sim, pod)
    try:
        assert on_node(ssh, "hostname").strip() == pod.spec.node_name
        lsscsi = on_node(ssh, "lsscsi -d")
        line = next(ln for ln in lsscsi.splitlines() if "DATERA" in ln)
        assert line.split()[1:4] == ["disk", "DATERA", "IBLOCK"]
        device, majmin = line.split()[-2:]
        mounts = on_node(ssh, "mount")
        path = f"/var/lib/kubelet/pods/{pod.metadata.uid}/volumes/datera~iscsi/{pv}"
        assert f"{device} on {path} type xfs" in mounts
        code, inside = in_pod(kernel_sim, ns, "web-0", "mount; cat /proc/self/mountinfo")
        assert code == 0
        assert f"{device} on /data type xfs" in inside
        assert any(
            f" {majmin.strip('[]')} " in ln and " /data " in ln for ln in inside.splitlines()
        )
        code, _ = in_pod(kernel_sim, ns, "web-0", "echo seed-data > /data/hello && sync")
        assert code == 0
        assert on_node(ssh, f"cat {path}/hello").strip() == "seed-data"
    finally:
        ssh.close()


def test_exec_exit_codes_and_hostname(kernel_sim: Sim, ns: str) -> None:
    deploy(kernel_sim, ns)
    assert in_pod(kernel_sim, ns, "web-0", "hostname") == (0, "web-0\n")
    code, _ = in_pod(kernel_sim, ns, "web-0", "exit 3")
    assert code == 3


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on the PATH")
def test_kubectl_exec_and_logs(kernel_sim: Sim, ns: str, tmp_path: Path) -> None:
    deploy(kernel_sim, ns)
    kubectl = Kubectl(kernel_sim.running.kubeconfig, tmp_path)
    result = kubectl("exec", "-n", ns, "web-0", "--", "mount")
    assert result.returncode == 0, result.stderr
    assert " on /data type xfs " in result.stdout
    failed = kubectl("exec", "-n", ns, "web-0", "--", "sh", "-c", "exit 7")
    assert failed.returncode == 7
    assert kubectl("logs", "-n", ns, "web-0").returncode == 0


def test_data_survives_pod_deletion_and_scale_to_zero(kernel_sim: Sim, ns: str) -> None:
    deploy(kernel_sim, ns)
    assert in_pod(kernel_sim, ns, "web-0", "echo kept > /data/f && sync")[0] == 0
    kernel_sim.core.delete_namespaced_pod("web-0", ns)
    old_uid = kernel_sim.core.read_namespaced_pod("web-0", ns).metadata.uid

    def recreated(seen: Seen[client.V1Pod]) -> bool:
        pod = seen.objects.get("web-0")
        return bool(pod and pod.metadata.uid != old_uid and _ready(1)(seen))

    wait_for(kernel_sim.core.list_namespaced_pod, recreated, timeout=60, namespace=ns)
    assert in_pod(kernel_sim, ns, "web-0", "cat /data/f") == (0, "kept\n")
    kernel_sim.apps.patch_namespaced_stateful_set_scale("web", ns, {"spec": {"replicas": 0}})
    wait_for(kernel_sim.core.list_namespaced_pod, lambda s: not s.objects, timeout=60, namespace=ns)
    kernel_sim.apps.patch_namespaced_stateful_set_scale("web", ns, {"spec": {"replicas": 1}})
    wait_for(kernel_sim.core.list_namespaced_pod, _ready(1), timeout=60, namespace=ns)
    assert in_pod(kernel_sim, ns, "web-0", "cat /data/f") == (0, "kept\n")


def test_data_survives_statefulset_recreation_under_retain(kernel_sim: Sim, ns: str) -> None:
    deploy(kernel_sim, ns)
    assert in_pod(kernel_sim, ns, "web-0", "echo again > /data/f && sync")[0] == 0
    kernel_sim.apps.delete_namespaced_stateful_set("web", ns, propagation_policy="Foreground")
    wait_for(kernel_sim.core.list_namespaced_pod, lambda s: not s.objects, timeout=60, namespace=ns)
    wait_for(
        kernel_sim.apps.list_namespaced_stateful_set,
        lambda s: not s.objects,
        timeout=60,
        namespace=ns,
    )
    body = manifests.statefulset(
        replicas=1, claim="pv-claim", size="100Gi", storage_class="datera-gold"
    )
    kernel_sim.apps.create_namespaced_stateful_set(ns, body)
    wait_for(kernel_sim.core.list_namespaced_pod, _ready(1), timeout=60, namespace=ns)
    assert in_pod(kernel_sim, ns, "web-0", "cat /data/f") == (0, "again\n")


def test_peers_resolve_through_the_headless_service(kernel_sim: Sim, ns: str) -> None:
    deploy(kernel_sim, ns, replicas=2)
    code, out = in_pod(kernel_sim, ns, "web-0", "getent hosts web-1.web")
    assert code == 0
    assert "web-1.web" in out


# --- node-level faults ----------------------------------------------------------------


def test_fault_wrong_fstype(kernel_sim: Sim, ns: str, faults) -> None:  # type: ignore[no-untyped-def]
    faults(wrong_fstype=None)
    deploy(kernel_sim, ns)
    assert " on /data type ext4 " in in_pod(kernel_sim, ns, "web-0", "mount")[1]


def test_fault_no_scsi_device(kernel_sim: Sim, ns: str, faults) -> None:  # type: ignore[no-untyped-def]
    faults(no_scsi_device=None)
    deploy(kernel_sim, ns)
    pod = kernel_sim.core.read_namespaced_pod("web-0", ns)
    ssh = node_shell(kernel_sim, pod)
    try:
        uid = pod.metadata.uid
        line = next(ln for ln in on_node(ssh, "mount").splitlines() if uid in ln)
        device = line.split()[0]
        assert device.startswith("/dev/sd")
        assert device not in on_node(ssh, "lsscsi")
    finally:
        ssh.close()


def test_fault_missing_data_mount(kernel_sim: Sim, ns: str, faults) -> None:  # type: ignore[no-untyped-def]
    faults(missing_data_mount=None)
    deploy(kernel_sim, ns)
    assert " on /data " not in in_pod(kernel_sim, ns, "web-0", "mount")[1]


def test_fault_readonly_data_mount(kernel_sim: Sim, ns: str, faults) -> None:  # type: ignore[no-untyped-def]
    faults(readonly_data_mount=None)
    deploy(kernel_sim, ns)
    code, out = in_pod(kernel_sim, ns, "web-0", "touch /data/x")
    assert code != 0
    assert "Read-only file system" in out


def test_fault_data_loss_on_reattach(kernel_sim: Sim, ns: str, faults) -> None:  # type: ignore[no-untyped-def]
    deploy(kernel_sim, ns)
    assert in_pod(kernel_sim, ns, "web-0", "echo precious > /data/f && sync")[0] == 0
    faults(data_loss_on_reattach=None)
    kernel_sim.apps.patch_namespaced_stateful_set_scale("web", ns, {"spec": {"replicas": 0}})
    wait_for(kernel_sim.core.list_namespaced_pod, lambda s: not s.objects, timeout=60, namespace=ns)
    kernel_sim.apps.patch_namespaced_stateful_set_scale("web", ns, {"spec": {"replicas": 1}})
    wait_for(kernel_sim.core.list_namespaced_pod, _ready(1), timeout=60, namespace=ns)
    code, _ = in_pod(kernel_sim, ns, "web-0", "test -e /data/f")
    assert code == 1


def test_fault_stale_kubelet_mount(kernel_sim: Sim, ns: str, faults) -> None:  # type: ignore[no-untyped-def]
    faults(stale_kubelet_mount=None)
    deploy(kernel_sim, ns)
    pod = kernel_sim.core.read_namespaced_pod("web-0", ns)
    kernel_sim.apps.patch_namespaced_stateful_set_scale("web", ns, {"spec": {"replicas": 0}})
    wait_for(kernel_sim.core.list_namespaced_pod, lambda s: not s.objects, timeout=60, namespace=ns)
    ssh = node_shell(kernel_sim, pod)
    try:
        assert f"/var/lib/kubelet/pods/{pod.metadata.uid}/" in on_node(ssh, "mount")
    finally:
        ssh.close()


def test_fault_dns_missing(kernel_sim: Sim, ns: str, faults) -> None:  # type: ignore[no-untyped-def]
    faults(dns_missing=None)
    deploy(kernel_sim, ns, replicas=2)
    code, _ = in_pod(kernel_sim, ns, "web-0", "getent hosts web-1.web")
    assert code != 0


def test_fault_corrupt_writes(kernel_sim: Sim, ns: str, faults) -> None:  # type: ignore[no-untyped-def]
    deploy(kernel_sim, ns)
    payload = "conformance-payload-0123456789"
    assert in_pod(kernel_sim, ns, "web-0", f"printf %s {payload} > /data/before && sync")[0] == 0
    assert in_pod(kernel_sim, ns, "web-0", "cat /data/before") == (0, payload)

    faults(corrupt_writes=None)
    assert in_pod(kernel_sim, ns, "web-0", f"printf %s {payload} > /data/after && sync")[0] == 0
    code, back = in_pod(kernel_sim, ns, "web-0", "cat /data/after")
    assert code == 0
    assert len(back) == len(payload)
    flipped = [i for i, (got, put) in enumerate(zip(back, payload, strict=True)) if got != put]
    assert flipped == [len(payload) // 2], back
    assert ord(back[flipped[0]]) ^ ord(payload[flipped[0]]) == 1, "one bit flipped"
    assert in_pod(kernel_sim, ns, "web-0", "cat /data/after") == (0, back), (
        "reading changes nothing"
    )
    assert in_pod(kernel_sim, ns, "web-0", "cat /data/before") == (0, payload), "unwritten: intact"
    pod = kernel_sim.core.read_namespaced_pod("web-0", ns)
    pv = kernel_sim.core.read_namespaced_persistent_volume_claim("pv-claim-web-0", ns)
    path = f"/var/lib/kubelet/pods/{pod.metadata.uid}/volumes/datera~iscsi/{pv.spec.volume_name}"
    ssh = node_shell(kernel_sim, pod)
    try:
        assert on_node(ssh, f"cat {path}/after") == back, "the disk holds the corrupted data"
    finally:
        ssh.close()


def test_fault_ssh_drop(kernel_sim: Sim, ns: str, faults) -> None:  # type: ignore[no-untyped-def]
    deploy(kernel_sim, ns)
    pod = kernel_sim.core.read_namespaced_pod("web-0", ns)
    faults(ssh_drop=1.0)
    ssh = node_shell(kernel_sim, pod)
    try:
        with pytest.raises((paramiko.SSHException, EOFError, OSError)):
            _run_until_dropped(ssh)
    finally:
        ssh.close()


def _run_until_dropped(ssh: paramiko.SSHClient) -> None:
    for _ in range(50):
        _, stdout, _ = ssh.exec_command("sleep 0.1; echo ok", timeout=10)
        if stdout.read() != b"ok\n":
            raise EOFError("session dropped")


@pytest.mark.parametrize(
    ("storage_class", "step"),
    [("datera-gold", "SetUp"), (None, "MountDevice")],
    ids=["flexvolume", "csi"],
)
def test_fault_mount_fails(  # type: ignore[no-untyped-def]
    kernel_sim: Sim, ns: str, faults, storage_class: str | None, step: str
) -> None:
    """The pod waits in ContainerCreating and says why, as a kubelet whose mount fails."""
    from conformance.sim.cli import _admin

    faults(mount_fails=None)
    kernel_sim.core.create_namespaced_service(ns, manifests.service())
    body = manifests.statefulset(replicas=1, claim="pv-claim", storage_class=storage_class)
    kernel_sim.apps.create_namespaced_stateful_set(ns, body)
    prefix = f"MountVolume.{step} failed for volume "

    def failed_mount(seen: Seen[client.CoreV1Event]) -> bool:
        return any(
            e.type == "Warning"
            and e.reason == "FailedMount"
            and e.involved_object.name == "web-0"
            and (e.message or "").startswith(prefix)
            and (e.count or 0) >= 2  # retried, and the retries counted on one event
            for e in seen.items()
        )

    seen = wait_for(kernel_sim.core.list_namespaced_event, failed_mount, timeout=30, namespace=ns)
    event = next(e for e in seen.items() if e.reason == "FailedMount")
    pv = kernel_sim.core.read_namespaced_persistent_volume_claim("pv-claim-web-0", ns).spec
    assert event.message.startswith(f'{prefix}"{pv.volume_name}" : ')
    assert "mount failed: exit status 32\nMounting command: mount\n" in event.message
    assert "(fault mount-fails)" in event.message
    assert event.source.component == "kubelet"
    pod = kernel_sim.core.read_namespaced_pod("web-0", ns)
    assert pod.status.container_statuses[0].state.waiting.reason == "ContainerCreating"
    _admin(kernel_sim.running.state_dir, "DELETE", "/sim/v1/faults")  # the driver recovers
    wait_for(kernel_sim.core.list_namespaced_pod, _ready(1), timeout=60, namespace=ns)


def test_a_container_that_exits_is_restarted_after_a_back_off(kernel_sim: Sim, ns: str) -> None:
    """The kubelet notices the container's end, restarts it, then backs off (events too)."""
    pod = {
        "metadata": {"name": "crash"},
        "spec": {
            "containers": [
                {"name": "crash", "image": "busybox:1.36", "command": ["sh", "-c", "exit 3"]}
            ]
        },
    }
    kernel_sim.core.create_namespaced_pod(ns, pod)

    def crash_looping(seen: Seen[client.V1Pod]) -> bool:
        for item in seen.items():
            status = (item.status.container_statuses or [None])[0]
            waiting = status.state.waiting if status is not None else None
            if waiting is not None and waiting.reason == "CrashLoopBackOff":
                return bool(status.restart_count >= 2)
        return False

    wait_for(kernel_sim.core.list_namespaced_pod, crash_looping, timeout=30, namespace=ns)
    status = kernel_sim.core.read_namespaced_pod("crash", ns).status.container_statuses[0]
    assert status.last_state.terminated.exit_code == 3
    assert status.last_state.terminated.reason == "Error"
    assert status.state.waiting.message.startswith("back-off ")
    assert "restarting failed container=crash pod=crash_" in status.state.waiting.message
    events = kernel_sim.core.list_namespaced_event(ns).items
    backoff = [e for e in events if e.reason == "BackOff"]
    assert backoff
    assert backoff[0].message.startswith("Back-off restarting failed container crash in pod ")
    assert backoff[0].involved_object.field_path == "spec.containers{crash}"
