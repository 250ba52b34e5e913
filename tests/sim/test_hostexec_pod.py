"""The harness's HostExec pod (``conformance.nodes.podshell``) on the kernel-backed simulator.

A privileged, hostPID, hostNetwork pod with the node's / at /rootfs, created through
the official client, reaches the node through the API's exec as
``nsenter --mount=/rootfs/proc/1/ns/mnt -- sh -c CMD``: what it prints is what SSH to
that node prints. Deleting it stops it promptly and leaves nothing on the node.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.stream import stream

from conformance.nodes.pod import CONTAINER, host_exec_pod, nsenter_argv
from conformance.sim.kernel.pods import ENV_MARK
from conformance.waits import Seen, wait_for
from tests.sim.conftest import (
    KUBECTL,
    Kubectl,
    Sim,
    kernel_sim_with_classes,
    needs_kernel_nodes,
    new_namespace,
)
from tests.sim.test_kernel_nodes import deploy, node_shell, on_node

pytestmark = needs_kernel_nodes

PROBE = "lsscsi -d; cat /proc/self/mountinfo"
NODE_PS = "ps -e -o pid=,args="


@pytest.fixture(scope="module")
def kernel_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    yield from kernel_sim_with_classes(tmp_path_factory, "hostexec-sim")


@pytest.fixture
def ns(kernel_sim: Sim) -> Iterator[str]:
    yield from new_namespace(kernel_sim, "hx")


def exec_argv(sim: Sim, namespace: str, pod: str, argv: list[str]) -> tuple[int, str, str]:
    """Exec through the API with the official client's stream(): (exit code, stdout, stderr)."""
    session = stream(
        sim.core.connect_get_namespaced_pod_exec,
        pod,
        namespace,
        container=CONTAINER,
        command=argv,
        stderr=True,
        stdout=True,
        stdin=False,
        tty=False,
        _preload_content=False,
    )
    session.run_forever(timeout=30)
    return session.returncode, session.read_stdout(), session.read_stderr()


def _running(name: str):  # type: ignore[no-untyped-def]
    def predicate(seen: Seen[client.V1Pod]) -> bool:
        pod = seen.objects.get(name)
        return bool(pod and pod.status.phase == "Running")

    return predicate


def _marked(uid: str) -> list[int]:
    """Host processes whose environment names the pod (its runtime's unshare)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if f"{ENV_MARK}={uid}".encode() in environ:
                found.append(int(entry))
    return found


def test_host_exec_pod_sees_what_ssh_sees_and_leaves_nothing(
    kernel_sim: Sim, ns: str, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    deploy(kernel_sim, ns)
    web = kernel_sim.core.read_namespaced_pod("web-0", ns)
    node = web.spec.node_name
    pv = kernel_sim.core.read_namespaced_persistent_volume_claim("pv-claim-web-0", ns)
    kubelet_path = f"/var/lib/kubelet/pods/{web.metadata.uid}/volumes/datera~iscsi/"
    kubelet_path += pv.spec.volume_name
    ssh = node_shell(kernel_sim, web)
    try:
        mounts_before = on_node(ssh, "cat /proc/self/mountinfo")
        name = f"node-shell-{uuid.uuid4().hex[:6]}"
        kernel_sim.core.create_namespaced_pod(ns, host_exec_pod(node, name, "busybox:1.36"))
        wait_for(
            kernel_sim.core.list_namespaced_pod,
            _running(name),
            timeout=60,
            what=f"{name} running",
            namespace=ns,
        )
        shell = kernel_sim.core.read_namespaced_pod(name, ns)
        assert shell.spec.node_name == node

        code, via_pod, err = exec_argv(kernel_sim, ns, name, nsenter_argv(PROBE))
        assert code == 0, err
        via_ssh = on_node(ssh, PROBE)
        scsi_pod = [ln for ln in via_pod.splitlines() if ln.startswith("[")]
        scsi_ssh = [ln for ln in via_ssh.splitlines() if ln.startswith("[")]
        assert scsi_pod == scsi_ssh
        disk = next(ln for ln in scsi_ssh if "DATERA" in ln)
        device, majmin = disk.split()[-2:]
        assert device.startswith("/dev/sd")
        kubelet_mount = next(ln for ln in via_ssh.splitlines() if f" {kubelet_path} " in ln)
        assert f" {majmin.strip('[]')} " in kubelet_mount
        assert f" - xfs {device} " in kubelet_mount
        assert kubelet_mount in via_pod.splitlines()
        assert sorted(via_pod.splitlines()) == sorted(via_ssh.splitlines())
        if KUBECTL is not None:  # the real kubectl's exec prints the same
            kubectl = Kubectl(kernel_sim.running.kubeconfig, tmp_path)
            result = kubectl("exec", "-n", ns, name, "--", *nsenter_argv(PROBE))
            assert result.returncode == 0, result.stderr
            assert sorted(result.stdout.splitlines()) == sorted(via_ssh.splitlines())

        # The pod's processes, as the node lists them (hostPID: they are the node's).
        listed = on_node(ssh, NODE_PS)
        ours = [ln.split(None, 1) for ln in listed.splitlines() if "sleep 3600" in ln]
        commands = [args for _, args in ours]
        assert "sleep 3600" in commands, listed  # the container's sleep, its sh -c, the
        assert any(c.startswith("sh -c trap") for c in commands), listed  # pod's init...
        pids = ",".join(pid for pid, _ in ours)

        began = time.monotonic()
        kernel_sim.core.delete_namespaced_pod(name, ns)
        wait_for(
            kernel_sim.core.list_namespaced_pod,
            lambda seen: name not in seen.objects,
            timeout=30,
            what=f"{name} gone",
            namespace=ns,
        )
        took = time.monotonic() - began
        record_property("hostexec_delete_seconds", round(took, 3))
        print(f"\nHostExec pod deleted and gone in {took:.3f}s")
        # terminationGracePeriodSeconds is 1; the container exits on SIGTERM at once.
        assert took < 3, f"deleting the HostExec pod took {took:.1f}s"

        assert on_node(ssh, f"ps -p {pids} -o pid= || true") == ""
        assert "sleep 3600" not in on_node(ssh, NODE_PS)
        assert _marked(shell.metadata.uid) == []
        assert on_node(ssh, "cat /proc/self/mountinfo") == mounts_before
        pod_dir = f"/var/lib/kubelet/pods/{shell.metadata.uid}"
        assert on_node(ssh, f"test -e {pod_dir} && echo left || true") == ""
        assert shell.metadata.uid not in Path("/proc/self/mountinfo").read_text()
        # The workload is untouched.
        assert on_node(ssh, f"grep -c ' {kubelet_path} ' /proc/self/mountinfo") == "1\n"
    finally:
        ssh.close()


def test_host_path_type_check_failure_is_a_failed_mount_event(kernel_sim: Sim, ns: str) -> None:
    node = kernel_sim.core.list_node().items[0].metadata.name
    manifest = host_exec_pod(node, "bad-host-path", "busybox:1.36")
    manifest["spec"]["volumes"] = [
        {"name": "rootfs", "hostPath": {"path": "/nope", "type": "Directory"}}
    ]
    kernel_sim.core.create_namespaced_pod(ns, manifest)
    expected = (
        'MountVolume.SetUp failed for volume "rootfs" : '
        "hostPath type check failed: /nope is not a directory"
    )

    def failed_mount(seen: Seen[client.CoreV1Event]) -> bool:
        return any(
            e.reason == "FailedMount"
            and e.type == "Warning"
            and e.involved_object.name == "bad-host-path"
            and e.message == expected
            for e in seen.items()
        )

    wait_for(kernel_sim.core.list_namespaced_event, failed_mount, timeout=30, namespace=ns)
    pod = kernel_sim.core.read_namespaced_pod("bad-host-path", ns)
    assert pod.status.phase == "Pending"
    waiting = pod.status.container_statuses[0].state.waiting
    assert waiting is not None
    assert waiting.reason == "ContainerCreating"
    kernel_sim.core.delete_namespaced_pod("bad-host-path", ns)
    wait_for(
        kernel_sim.core.list_namespaced_pod,
        lambda seen: "bad-host-path" not in seen.objects,
        timeout=30,
        namespace=ns,
    )
