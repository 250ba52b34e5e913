"""Every conformance check can fail: each simulator fault makes its targeted check fail,
with a message naming the broken property; transient faults at modest rates do not."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, run

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("sshd", path="/usr/sbin:/usr/bin") is None,
    reason="the suites run against kernel-backed simulated nodes: root and openssh-server "
    "(CI runs as root)",
)

# fault -> (suite test to run, what its failure must say)
TARGETS: dict[str, tuple[str, str]] = {
    "unordered-scale": (
        "suites/test_scaling.py::test_scale_up_creates_the_new_ordinals_in_order",
        "OrderedReady scale-up created web-3, web-2; expected web-2, web-3 in that order",
    ),
    "claims-deleted-despite-retain": (
        "suites/test_scaling.py",
        "claim data-web-3 of removed pod web-3 was deleted, but whenScaled is Retain",
    ),
    "wrong-claim-binding": (
        "suites/test_provisioning.py::test_each_pod_mounts_its_own_claim",
        "web-0 mounts claim data-web-1, expected data-web-0",
    ),
    "hostname-drift": (
        "suites/test_identity.py",
        "web-1: hostname is 'web-1-",
    ),
    "data-loss-on-reattach": (
        "suites/test_identity.py",
        "web-1: /data/identity.bin cannot be read",
    ),
    "wrong-fstype": (
        "suites/test_container_mounts.py::test_the_volume_is_mounted_at_the_mount_path_read_write",
        "/data is ext4 in the container, expected xfs",
    ),
    "no-scsi-device": (
        "suites/test_node_storage.py",
        "no lsscsi device has major:minor",
    ),
    "missing-data-mount": (
        "suites/test_container_mounts.py::test_the_volume_is_mounted_at_the_mount_path_read_write",
        "nothing is mounted at /data in the container",
    ),
    "readonly-data-mount": (
        "suites/test_container_mounts.py::test_the_volume_is_mounted_at_the_mount_path_read_write",
        "/data is mounted read-only in the container",
    ),
    "stale-kubelet-mount": (
        "suites/test_scaling.py",
        "is gone but its kubelet mount /var/lib/kubelet/pods/",
    ),
    "dns-missing": (
        "suites/test_identity.py",
        "the DNS record web-1.web of web-1 does not resolve",
    ),
}


def inventory_with(tmp_path: Path, faults: dict[str, float | None]) -> Path:
    """inventories/sim.yaml, one xfs SCSI entry, OrderedReady only, with faults switched on."""
    data = yaml.safe_load((ROOT / "inventories" / "sim.yaml").read_text())
    data["cluster"]["sim"]["faults"] = faults
    data["storage"] = data["storage"][:1]
    data["workload"]["pod_management_policy"] = ["OrderedReady"]
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def run_suites(
    inventory: Path, *targets: str, extra_env: dict[str, str] | None = None
) -> tuple[int, str]:
    """A conformance run of its own (not sharing this session's run id)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_")}
    env.update(extra_env or {})
    result = run(
        sys.executable,
        "-m",
        "pytest",
        *targets,
        "-p",
        "no:cacheprovider",
        "-q",
        "--conformance-inventory",
        str(inventory),
        "-o",
        "addopts=",
        "--tb=short",
        env=env,
        timeout=600,
    )
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize("fault", sorted(TARGETS))
def test_the_targeted_check_fails_naming_the_property(fault: str, tmp_path: Path) -> None:
    target, message = TARGETS[fault]
    code, output = run_suites(inventory_with(tmp_path, {fault: None}), target)
    assert code == 1, f"expected failed checks (exit 1), got {code}:\n{output[-3000:]}"
    assert message in output, f"{fault}: no failure saying {message!r}:\n{output[-3000:]}"


def test_the_checks_pass_without_faults(tmp_path: Path) -> None:
    """The same targets pass on a healthy simulator, so the failures above are the faults'."""
    targets = sorted({target.split("::")[0] for target, _ in TARGETS.values()})
    code, output = run_suites(inventory_with(tmp_path, {}), *targets)
    assert code == 0, output[-3000:]


def test_transient_faults_at_modest_rates_do_not_fail_the_suites(tmp_path: Path) -> None:
    faults = {"api-5xx": 0.03, "api-429": 0.03, "watch-drop": 3.0, "ssh-drop": 0.05}
    code, output = run_suites(
        inventory_with(tmp_path, faults),
        "suites/test_provisioning.py",
        "suites/test_node_storage.py",
        "suites/test_container_mounts.py",
        "suites/test_identity.py",
    )
    assert code == 0, output[-3000:]


def test_a_parallel_run_passes_and_leaves_nothing_behind(tmp_path: Path) -> None:
    """`-n 4`: four workers, each with its own simulator; afterwards nothing of them is left."""
    from conformance.sim.kernel import cleanup

    runs = tmp_path / "sim-runs"
    code, output = run_suites(
        inventory_with(tmp_path, {}),
        "suites/test_provisioning.py",
        "suites/test_container_mounts.py",
        "-n",
        "4",
        extra_env={"CONFORMANCE_SIM_STATE_ROOT": str(runs)},
    )
    assert code == 0, output[-3000:]
    left = sorted(map(str, runs.iterdir())) if runs.exists() else []
    assert left == [], f"simulator state left behind: {left}"
    leftovers = cleanup.find_leftovers(state_dirs=[runs], include_live=True)
    assert leftovers.empty, "\n".join(leftovers.lines())
