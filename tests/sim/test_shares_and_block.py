"""File shares, Block volumes and shell-less containers on kernel-backed simulated nodes.

A share class's claim is one filesystem for pods on different nodes (sshfs from the
simulator's share server), unless the fault share-not-shared gives each pod a local
directory; a Block claim is a raw device node in the container with the node disk's
major:minor, whose bytes outlive the pod; a container's PID is found from its node by
the containerID in the pod's status, as on a real node without a shell in the image.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from conformance.sim import lifecycle
from conformance.sim.kernel import cgroups, cleanup
from conformance.waits import Seen, wait_for
from tests.sim.conftest import (
    KUBECTL,
    Kubectl,
    Sim,
    kernel_sim_with_classes,
    new_namespace,
    start_sim,
)
from tests.sim.test_kernel_nodes import in_pod, node_shell, on_node

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0
    or shutil.which("sshd", path="/usr/sbin:/usr/bin") is None
    or shutil.which("sshfs") is None,
    reason="kernel-backed nodes need root, openssh-server and sshfs (CI runs as root)",
)

SHARE_CLASS = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "StorageClass",
    "metadata": {"name": "share"},
    "provisioner": "sshfs.sim.conformance.io",
    "parameters": {"csi.storage.k8s.io/fstype": "fuse.sshfs"},
}
BLOCK_CLASS = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "StorageClass",
    "metadata": {"name": "raw"},
    "provisioner": "csi.sim.conformance.io",
    "parameters": {"vendor": "SIM", "model": "CSI-DISK", "csi.storage.k8s.io/fstype": "ext4"},
}
RUN = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
NODES = ("sim-node-1", "sim-node-2")


@pytest.fixture(scope="module")
def kernel_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    yield from kernel_sim_with_classes(tmp_path_factory, "ssim", classes=(SHARE_CLASS, BLOCK_CLASS))


@pytest.fixture
def ns(kernel_sim: Sim) -> Iterator[str]:
    yield from new_namespace(kernel_sim, "s")


@pytest.fixture
def faults(kernel_sim: Sim) -> Iterator[Callable[..., None]]:
    from conformance.sim.cli import _admin

    state = kernel_sim.running.state_dir

    def switch(**settings: float | None) -> None:
        _admin(
            state, "PUT", "/sim/v1/faults", {k.replace("_", "-"): v for k, v in settings.items()}
        )

    yield switch
    _admin(state, "DELETE", "/sim/v1/faults")


def claim(sim: Sim, ns: str, name: str, storage_class: str, **spec: Any) -> None:
    body = {
        "metadata": {"name": name},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
            "storageClassName": storage_class,
            **spec,
        },
    }
    sim.core.create_namespaced_persistent_volume_claim(ns, body)


def pod(
    sim: Sim,
    ns: str,
    name: str,
    claim_name: str,
    *,
    node: str | None = None,
    device: str | None = None,
) -> None:
    """A pod using the claim at /data, or as a raw device at ``device``."""
    container: dict[str, Any] = {"name": "app", "image": "registry.k8s.io/pause:3.10"}
    container["command"] = RUN
    if device:
        container["volumeDevices"] = [{"name": "data", "devicePath": device}]
    else:
        container["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    spec: dict[str, Any] = {
        "terminationGracePeriodSeconds": 1,
        "containers": [container],
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}],
    }
    if node:
        spec["nodeName"] = node
    sim.core.create_namespaced_pod(ns, {"metadata": {"name": name}, "spec": spec})


def running(*names: str) -> Callable[[Seen[client.V1Pod]], bool]:
    def predicate(seen: Seen[client.V1Pod]) -> bool:
        pods = [seen.objects.get(name) for name in names]
        return all(p is not None and p.status.phase == "Running" for p in pods)

    return predicate


def wait_running(sim: Sim, ns: str, *names: str) -> dict[str, client.V1Pod]:
    seen = wait_for(sim.core.list_namespaced_pod, running(*names), timeout=60, namespace=ns)
    return {name: seen.objects[name] for name in names}


def delete_pod(sim: Sim, ns: str, name: str) -> None:
    sim.core.delete_namespaced_pod(name, ns)
    wait_for(
        sim.core.list_namespaced_pod,
        lambda seen: name not in seen.objects,
        timeout=60,
        namespace=ns,
    )


def mount_line(mountinfo: str, mount_point: str) -> list[str]:
    """The fields of the mountinfo line of ``mount_point`` (the topmost)."""
    lines = [ln.split() for ln in mountinfo.splitlines() if ln.split()[4:5] == [mount_point]]
    assert lines, f"nothing mounted at {mount_point}:\n{mountinfo}"
    return lines[-1]


def source_of(fields: list[str]) -> tuple[str, str, str]:
    """(major:minor, fs type, source) of a mountinfo line's fields."""
    dash = fields.index("-")
    return fields[2], fields[dash + 1], fields[dash + 2]


# --- shares -----------------------------------------------------------------------------


def test_a_share_is_one_filesystem_for_pods_on_two_nodes(kernel_sim: Sim, ns: str) -> None:
    claim(kernel_sim, ns, "shared", "share", accessModes=["ReadWriteMany"])
    pod(kernel_sim, ns, "a", "shared", node=NODES[0])
    pod(kernel_sim, ns, "b", "shared", node=NODES[1])
    pods = wait_running(kernel_sim, ns, "a", "b")
    pvc = kernel_sim.core.read_namespaced_persistent_volume_claim("shared", ns)
    pv = kernel_sim.core.read_persistent_volume(pvc.spec.volume_name)
    attributes = pv.spec.csi.volume_attributes
    assert pv.spec.access_modes == ["ReadWriteMany"]
    assert attributes["share"] == f"/exports/{pv.metadata.name}"
    assert re.fullmatch(r"10\.251\.\d+\.250", attributes["server"])
    expected_source = f"root@{attributes['server']}:{attributes['share']}"

    for name in ("a", "b"):
        code, mountinfo = in_pod(kernel_sim, ns, name, "cat /proc/self/mountinfo")
        assert code == 0
        majmin, fs_type, source = source_of(mount_line(mountinfo, "/data"))
        assert (fs_type, source) == ("fuse.sshfs", expected_source)
        assert majmin.startswith("0:"), "a share has no block device behind it"
        ssh = node_shell(kernel_sim, pods[name])
        try:
            path = (
                f"/var/lib/kubelet/pods/{pods[name].metadata.uid}/volumes/kubernetes.io~csi/"
                f"{pv.metadata.name}/mount"
            )
            on_node_line = mount_line(on_node(ssh, "cat /proc/self/mountinfo"), path)
            assert source_of(on_node_line) == (majmin, "fuse.sshfs", expected_source)
        finally:
            ssh.close()

    assert in_pod(kernel_sim, ns, "a", "echo from-a > /data/note && sync")[0] == 0
    assert in_pod(kernel_sim, ns, "b", "cat /data/note") == (0, "from-a\n")
    assert in_pod(kernel_sim, ns, "b", "echo from-b >> /data/note")[0] == 0
    assert in_pod(kernel_sim, ns, "a", "cat /data/note") == (0, "from-a\nfrom-b\n")

    delete_pod(kernel_sim, ns, "a")
    ssh = node_shell(kernel_sim, pods["a"])
    try:
        assert pods["a"].metadata.uid not in on_node(ssh, "cat /proc/self/mountinfo")
        assert on_node(ssh, "pgrep -c sshfs || true").strip() == "0", "sshfs ends with its mount"
    finally:
        ssh.close()
    assert in_pod(kernel_sim, ns, "b", "cat /data/note") == (0, "from-a\nfrom-b\n")


def test_a_share_refuses_block_mode(kernel_sim: Sim, ns: str) -> None:
    claim(kernel_sim, ns, "raw-share", "share", volumeMode="Block")

    def refused(seen: Seen[client.CoreV1Event]) -> bool:
        return any(
            e.reason == "ProvisioningFailed"
            and "Block volume capability not supported" in e.message
            for e in seen.items()
        )

    wait_for(kernel_sim.core.list_namespaced_event, refused, timeout=30, namespace=ns)
    pvc = kernel_sim.core.read_namespaced_persistent_volume_claim("raw-share", ns)
    assert pvc.status.phase == "Pending"


def test_fault_share_not_shared(kernel_sim: Sim, ns: str, faults) -> None:  # type: ignore[no-untyped-def]
    faults(share_not_shared=None)
    claim(kernel_sim, ns, "shared", "share", accessModes=["ReadWriteMany"])
    pod(kernel_sim, ns, "a", "shared", node=NODES[0])
    pod(kernel_sim, ns, "b", "shared", node=NODES[1])
    wait_running(kernel_sim, ns, "a", "b")
    pvc = kernel_sim.core.read_namespaced_persistent_volume_claim("shared", ns)
    attributes = kernel_sim.core.read_persistent_volume(pvc.spec.volume_name).spec.csi
    share_source = (
        f"root@{attributes.volume_attributes['server']}:{attributes.volume_attributes['share']}"
    )
    code, mountinfo = in_pod(kernel_sim, ns, "a", "cat /proc/self/mountinfo")
    assert code == 0
    _, fs_type, source = source_of(mount_line(mountinfo, "/data"))
    assert source != share_source
    assert fs_type != "fuse.sshfs"
    assert in_pod(kernel_sim, ns, "a", "echo from-a > /data/note")[0] == 0
    assert in_pod(kernel_sim, ns, "b", "test -e /data/note")[0] == 1, "b sees a's write"


def test_fault_mount_fails_on_a_share(kernel_sim: Sim, ns: str, faults) -> None:  # type: ignore[no-untyped-def]
    """A share's SetUp fails in its own words (sshfs, no device); the pod waits, then
    starts once the fault is gone."""
    from conformance.sim.cli import _admin

    faults(mount_fails=None)
    claim(kernel_sim, ns, "shared", "share", accessModes=["ReadWriteMany"])
    pod(kernel_sim, ns, "a", "shared", node=NODES[0])
    prefix = "MountVolume.SetUp failed for volume "

    def failed_mount(seen: Seen[client.CoreV1Event]) -> bool:
        return any(
            e.reason == "FailedMount" and (e.message or "").startswith(prefix) for e in seen.items()
        )

    seen = wait_for(kernel_sim.core.list_namespaced_event, failed_mount, timeout=30, namespace=ns)
    event = next(e for e in seen.items() if e.reason == "FailedMount")
    pv = kernel_sim.core.read_namespaced_persistent_volume_claim("shared", ns).spec.volume_name
    assert event.message.startswith(f'{prefix}"{pv}" : mount failed: sshfs root@')
    assert "(fault mount-fails)" in event.message
    _admin(kernel_sim.running.state_dir, "DELETE", "/sim/v1/faults")
    wait_running(kernel_sim, ns, "a")


# --- block ------------------------------------------------------------------------------


def test_a_block_volume_is_a_device_whose_bytes_outlive_the_pod(kernel_sim: Sim, ns: str) -> None:
    claim(kernel_sim, ns, "raw", "raw", volumeMode="Block")
    pod(kernel_sim, ns, "db", "raw", device="/dev/xvda")
    first = wait_running(kernel_sim, ns, "db")["db"]
    pvc = kernel_sim.core.read_namespaced_persistent_volume_claim("raw", ns)
    pv_name = pvc.spec.volume_name
    assert kernel_sim.core.read_persistent_volume(pv_name).spec.volume_mode == "Block"

    code, out = in_pod(
        kernel_sim,
        ns,
        "db",
        "stat -c '%F %t:%T' /dev/xvda; grep -c xvda /proc/self/mountinfo || true",
    )
    assert code == 0
    kind, in_container = out.splitlines()[0].rsplit(" ", 1)
    assert kind == "block special file"
    assert out.splitlines()[1] == "0", "a device node, not a mount"
    ssh = node_shell(kernel_sim, first)
    try:
        uid = first.metadata.uid
        link = f"/var/lib/kubelet/pods/{uid}/volumeDevices/kubernetes.io~csi/{pv_name}"
        global_map = f"/var/lib/kubelet/plugins/kubernetes.io/csi/volumeDevices/{pv_name}/dev/{uid}"
        assert on_node(ssh, f"stat -L -c '%t:%T' {link} {global_map}").split() == [in_container] * 2
        assert on_node(ssh, f"test -L {link} && echo link").strip() == "link"
        mount_line(on_node(ssh, "cat /proc/self/mountinfo"), global_map)
        disks = on_node(ssh, "lsscsi -d")
        assert any(f"[{int(in_container.split(':')[0], 16)}:" in ln for ln in disks.splitlines())
        assert on_node(ssh, f"blkid -p {link} >/dev/null 2>&1 || echo blank").strip() == "blank"
    finally:
        ssh.close()

    payload = "raw-bytes-at-1MiB"
    write = (
        f"printf %s {payload} | dd of=/dev/xvda bs=1 seek=1048576 conv=notrunc,fsync 2>/dev/null"
    )
    assert in_pod(kernel_sim, ns, "db", write)[0] == 0
    delete_pod(kernel_sim, ns, "db")
    ssh = node_shell(kernel_sim, first)
    try:
        leftover = on_node(ssh, "cat /proc/self/mountinfo; ls /var/lib/kubelet/pods")
        assert first.metadata.uid not in leftover, "the kubelet unmapped the device"
    finally:
        ssh.close()
    pod(kernel_sim, ns, "db", "raw", device="/dev/xvda")
    wait_running(kernel_sim, ns, "db")
    read = f"dd if=/dev/xvda bs=1 skip=1048576 count={len(payload)} 2>/dev/null"
    assert in_pod(kernel_sim, ns, "db", read) == (0, payload)


def test_a_claim_used_against_its_volume_mode_fails_to_mount(kernel_sim: Sim, ns: str) -> None:
    claim(kernel_sim, ns, "raw", "raw", volumeMode="Block")
    pod(kernel_sim, ns, "wrong", "raw")  # volumeMounts of a Block claim

    def failed(seen: Seen[client.CoreV1Event]) -> bool:
        return any(
            e.reason == "FailedMount"
            and "volume data has volumeMode Block, but is specified in volumeMounts" in e.message
            for e in seen.items()
        )

    wait_for(kernel_sim.core.list_namespaced_event, failed, timeout=30, namespace=ns)
    assert kernel_sim.core.read_namespaced_pod("wrong", ns).status.phase == "Pending"


# --- containers without a shell ---------------------------------------------------------


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on the PATH")
@pytest.mark.skipif(cgroups.cgroup2_root() is None, reason="no writable cgroup v2 here")
def test_a_containers_pid_is_found_on_its_node_by_container_id(
    kernel_sim: Sim, ns: str, tmp_path: Path
) -> None:
    claim(kernel_sim, ns, "data", "share", accessModes=["ReadWriteMany"])
    pod(kernel_sim, ns, "app", "data", node=NODES[0])
    app = wait_running(kernel_sim, ns, "app")["app"]
    container_id = app.status.container_statuses[0].container_id
    scheme, _, cid = container_id.partition("://")
    assert scheme == "containerd"
    assert re.fullmatch(r"[0-9a-f]{64}", cid)

    kubectl = Kubectl(kernel_sim.running.kubeconfig, tmp_path)
    shown = kubectl("exec", "-n", ns, "app", "--", "cat", "/proc/self/mountinfo")
    assert shown.returncode == 0, shown.stderr
    in_container = mount_line(shown.stdout, "/data")

    ssh = node_shell(kernel_sim, app)
    try:
        # what a harness does on a node when the image has no cat: find the PID by the ID
        found = on_node(ssh, f"grep -l {cid} /proc/[0-9]*/cgroup || true").split()
        pids = sorted({int(path.split("/")[2]) for path in found})
        assert pids, "no process of the node is in the container's cgroup"
        cgroup = on_node(ssh, f"cat /proc/{pids[0]}/cgroup")
        assert f"/cri-containerd-{cid}.scope" in cgroup
        assert "kubepods" in cgroup
        from_node = mount_line(on_node(ssh, f"cat /proc/{pids[0]}/mountinfo"), "/data")
    finally:
        ssh.close()
    assert from_node == in_container


# --- clean-up after a crash -------------------------------------------------------------


def test_sim_clean_removes_the_share_server_and_cgroups_of_a_crashed_simulator(
    tmp_path: Path,
) -> None:
    state_dir = tmp_path / "crash"
    sim = start_sim(state_dir, nodes=1, runtime="kernel")
    try:
        sim.storage.create_storage_class(SHARE_CLASS)
        claim(sim, "default", "shared", "share", accessModes=["ReadWriteMany"])
        pod(sim, "default", "a", "shared")
        app = wait_running(sim, "default", "a")["a"]
        subnet = int(app.status.host_ip.split(".")[2])
    finally:
        sim.api.close()
    os.kill(sim.running.pid, signal.SIGKILL)  # a crash: nothing gets to tidy up
    assert lifecycle.wait_exit(sim.running.pid, 10)

    found = cleanup.find_leftovers(subnets=[subnet], state_dirs=[state_dir])
    assert f"cfsim-{subnet}-share-server" in found.netns
    assert any(p.netns == f"cfsim-{subnet}-share-server" for p in found.processes)
    assert any("sshfs" in p.command for p in found.processes), "the node's sshfs"
    if cgroups.cgroup2_root() is not None:
        assert [Path(c).name for c in found.cgroups] == [f"cfsim-{subnet}-sim-node-1"]
    assert any("shares" in loop.backing_file for loop in found.loop_devices)

    report = cleanup.clean(found)
    assert report.ok, str(report)
    again = cleanup.find_leftovers(subnets=[subnet], state_dirs=[state_dir], include_live=True)
    assert again.empty, "\n".join(again.lines())
    lifecycle.remove_state(state_dir)
    assert not state_dir.exists()
