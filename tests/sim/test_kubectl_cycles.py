"""The real kubectl deletes and re-creates one StatefulSet again and again, on kernel nodes.

Each cascade mode gets six cycles of the same set in the same namespace, so each
cycle's pods reuse the names, claims and volumes of the one before (the CSI default
class: staged per node, published per pod). Every wait is kubectl's own (rollout
status, delete, wait --for=delete), each with a timeout: a pod left Terminating, or a
re-created one stuck in ContainerCreating, fails the cycle with what the namespace
shows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.sim import lifecycle
from tests.sim import manifests
from tests.sim.conftest import Kubectl, Sim, start_sim

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("sshd", path="/usr/sbin:/usr/bin") is None,
    reason="kernel-backed nodes need root and openssh-server (CI runs as root)",
)

CYCLES = 6
REPLICAS = 3
PODS = [f"pod/web-{n}" for n in range(REPLICAS)]
# the harness's container: ends at once on SIGTERM
COMMAND = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]


@pytest.fixture(scope="module")
def kernel_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    state_dir = tmp_path_factory.mktemp("cycles")
    started = start_sim(state_dir, nodes=3, runtime="kernel")
    yield started
    started.api.close()
    lifecycle.down(state_dir)


@pytest.fixture
def kubectl(kernel_sim: Sim, tmp_path: Path) -> Kubectl:
    return Kubectl(kernel_sim.running.kubeconfig, tmp_path)


def _manifests() -> str:
    sts = manifests.statefulset(replicas=REPLICAS)
    sts["spec"]["template"]["spec"]["containers"][0]["command"] = COMMAND
    return manifests.as_yaml(manifests.service(), sts)


def _ok(kubectl: Kubectl, namespace: str, step: str, result: subprocess.CompletedProcess[str]):  # type: ignore[no-untyped-def]
    if result.returncode != 0:
        state = kubectl("get", "pods,pvc", "-n", namespace, "-o", "wide").stdout
        events = kubectl("get", "events", "-n", namespace, "--sort-by=.lastTimestamp").stdout
        pytest.fail(
            f"{step}: kubectl exited {result.returncode}: {result.stderr.strip()}\n"
            f"{state}\n{events[-4000:]}"
        )
    return result.stdout


@pytest.mark.parametrize("cascade", ["foreground", "background", "orphan"])
def test_the_same_set_is_deleted_and_recreated_six_times(kubectl: Kubectl, cascade: str) -> None:
    namespace = f"cycles-{cascade}-{uuid.uuid4().hex[:6]}"
    _ok(kubectl, namespace, "create namespace", kubectl("create", "namespace", namespace))
    try:
        for cycle in range(1, CYCLES + 1):
            step = f"cycle {cycle}/{CYCLES} ({cascade})"
            applied = kubectl("apply", "-n", namespace, "-f", "-", stdin=_manifests())
            _ok(kubectl, namespace, f"{step}: apply", applied)
            rollout = kubectl(
                "rollout", "status", "-n", namespace, "sts/web", "--timeout=60s", timeout=90
            )
            _ok(kubectl, namespace, f"{step}: rollout", rollout)
            deleted = kubectl(
                "delete",
                "sts",
                "web",
                "-n",
                namespace,
                f"--cascade={cascade}",
                "--timeout=60s",
                timeout=90,
            )
            _ok(kubectl, namespace, f"{step}: delete sts", deleted)
            if cascade == "orphan":  # the pods stay, ownerless; then they go too
                left = kubectl("get", "-n", namespace, *PODS, "-o", "name")
                assert _ok(kubectl, namespace, f"{step}: orphans", left).split() == PODS
                gone = kubectl("delete", "-n", namespace, *PODS, "--wait=false")
                _ok(kubectl, namespace, f"{step}: delete pods", gone)
            waited = kubectl(
                "wait", "-n", namespace, "--for=delete", *PODS, "--timeout=60s", timeout=90
            )
            _ok(kubectl, namespace, f"{step}: pods gone", waited)
            claims = kubectl("get", "pvc", "-n", namespace, "-o", "name")
            assert _ok(kubectl, namespace, f"{step}: claims", claims).split() == [
                f"persistentvolumeclaim/data-web-{n}" for n in range(REPLICAS)
            ]
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false")
