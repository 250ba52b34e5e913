"""Every conformance check can fail: for each test in suites/, at least one simulator fault
makes it fail with a sentence naming the broken property; without faults they all pass,
and transient faults at modest rates do not fail them.

Each fault runs once, against the suite tests it proves; the run's JUnit XML says which
test failed with which message, so a proof cannot pass on another test's failure.
"""

from __future__ import annotations

import ast
import os
import shutil
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, run

needs_nodes = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("sshd", path="/usr/sbin:/usr/bin") is None,
    reason="the suites run against kernel-backed simulated nodes: root and openssh-server "
    "(CI runs as root)",
)

SUITES = ROOT / "suites"


@dataclass(frozen=True)
class Proof:
    """A fault and the sentence a suite test's failure must contain under it."""

    fault: str
    says: str
    value: float | None = None  # the fault's value, for faults that take one
    timeouts: dict[str, float] = field(default_factory=dict)  # shorter waits for this fault
    entry: str | None = None  # the sim.yaml storage entry to run against (default: the first)


# suite test (file::function) -> the faults that make it fail, and what it must say then
PROOFS: dict[str, list[Proof]] = {
    "test_provisioning.py::test_claims_exist_and_are_bound": [
        Proof(
            "slow-provisioning",
            "claim data-web-0 is Pending, not Bound",
            value=600,
            timeouts={"pod_ready": 8},
        ),
        Proof(
            "mount-fails",
            'event Warning FailedMount Pod/web-0: MountVolume.SetUp failed for volume "pvc-',
            timeouts={"pod_ready": 10},
        ),
    ],
    "test_provisioning.py::test_volumes_have_the_declared_class_capacity_access_and_fs_type": [
        Proof("pv-wrong-capacity", "expected at least 1Gi"),
    ],
    "test_provisioning.py::test_each_pod_mounts_its_own_claim": [
        Proof("wrong-claim-binding", "web-0 mounts claim data-web-1, expected data-web-0"),
    ],
    "test_node_storage.py::test_the_kubelet_mounts_each_volume_at_its_pod_path": [
        Proof("wrong-fstype", "as ext4, expected xfs"),
    ],
    "test_node_storage.py::test_lsscsi_lists_the_expected_disk_behind_each_volume": [
        Proof("no-scsi-device", "no lsscsi device has major:minor"),
    ],
    "test_node_storage.py::test_the_device_stack_behind_each_volume_is_as_declared": [
        Proof(
            "multipath-path-down",
            "of multipath mpatha is offline, not running",
            entry="multipath-san",
        ),
        Proof(
            "wrong-serial",
            "which does not carry the PV's volumeHandle 'vol-0",
            entry="nvme-cloud",
        ),
    ],
    "test_node_storage.py::test_no_volume_is_a_directory_on_the_nodes_own_disk": [
        Proof(
            "volume-on-node-root",
            "the device that holds the node's root filesystem /",
        ),
    ],
    "test_container_mounts.py::test_the_volume_is_mounted_at_the_mount_path_read_write": [
        Proof("wrong-fstype", "web-0: /data is ext4 in the container, expected xfs"),
        Proof("missing-data-mount", "web-0: nothing is mounted at /data in the container"),
        Proof("readonly-data-mount", "web-0: /data is mounted read-only in the container"),
    ],
    "test_container_mounts.py::test_a_payload_written_with_fsync_reads_back_identical": [
        Proof("corrupt-writes", "web-0: /data/payload.bin reads back sha256"),
    ],
    "test_scaling.py::test_scale_up_creates_the_new_ordinals_in_order": [
        Proof(
            "unordered-scale",
            "OrderedReady scale-up created web-3, web-2; expected web-2, web-3 in that order",
        ),
    ],
    "test_scaling.py::test_scale_down_removes_the_highest_ordinals_first_and_keeps_claims": [
        Proof(
            "claims-deleted-despite-retain",
            "claim data-web-3 was deleted with its pod web-3 on scale-down, "
            "but whenScaled is Retain",
        ),
        Proof("stale-kubelet-mount", "web-3 is gone but its kubelet mount /var/lib/kubelet/pods/"),
    ],
    "test_identity.py::test_a_deleted_pod_returns_with_its_identity_and_data": [
        Proof("hostname-drift", "web-1: hostname is 'web-1-"),
        Proof("data-loss-on-reattach", "web-1: /data/identity.bin cannot be read"),
        Proof("dns-missing", "web-0: the DNS record web-1.web of web-1 does not resolve"),
    ],
    "test_deletion.py::test_claims_survive_set_deletion_and_reattach_with_data": [
        Proof(
            "claims-deleted-on-set-delete",
            "claim data-web-0 was deleted with the StatefulSet, but whenDeleted is Retain",
        ),
    ],
    "test_deletion.py::test_claims_go_with_the_set_under_the_delete_policy": [
        Proof(
            "claims-kept-despite-delete",
            "claim data-web-0 still exists after the StatefulSet was deleted, "
            "but whenDeleted is Delete",
            timeouts={"delete": 8},
        ),
    ],
    "test_rolling_update.py::"
    "test_a_partitioned_update_spares_the_ordinals_below_until_the_partition_is_lowered": [
        Proof("update-ignores-partition", "web-0 was replaced by the update (uid "),
        Proof(
            "update-forward-order",
            "the rolling update replaced web-1, web-2; expected web-2, web-1 "
            "(highest ordinal first)",
        ),
    ],
    "test_rolling_update.py::test_an_update_takes_down_no_more_pods_at_once_than_max_unavailable": [
        Proof(
            "update-all-at-once",
            "the rolling update had 3 pods unavailable at once (web-0, web-1, web-2); at most 1 "
            "may be (maxUnavailable was dropped by the API server",
        ),
        Proof("data-loss-on-reattach", "web-2: /data/rollout.bin cannot be read"),
    ],
    "test_retention.py::test_scale_down_keeps_or_deletes_the_removed_claims_as_when_scaled_says": [
        Proof(
            "claims-deleted-despite-retain",
            "claim data-web-1 was deleted with its pod web-1 on scale-down, "
            "but whenScaled is Retain",
        ),
        Proof(
            "claims-kept-despite-scaled-delete",
            "claim data-web-scl-1 still exists after scale-down removed its pod web-scl-1, "
            "but whenScaled is Delete",
            timeouts={"delete": 8},
        ),
    ],
    "test_retention.py::"
    "test_scale_up_reattaches_kept_claims_with_their_data_and_recreates_deleted_ones": [
        Proof("data-loss-on-reattach", "web-1: /data/retention.bin cannot be read"),
        Proof(
            "claims-kept-despite-scaled-delete",
            "claim data-web-scl-1 is still the claim it was (uid ",
            timeouts={"delete": 8},
        ),
    ],
    "test_retention.py::test_deleting_the_set_keeps_or_deletes_its_claims_as_when_deleted_says": [
        Proof(
            "claims-deleted-on-set-delete",
            "claim data-web-0 was deleted with the StatefulSet, but whenDeleted is Retain",
        ),
        Proof(
            "claims-kept-despite-delete",
            "claim data-web-del-0 still exists after the StatefulSet was deleted, "
            "but whenDeleted is Delete",
            timeouts={"delete": 8},
        ),
    ],
    "test_legacy_petset.py::test_the_converted_seed_binds_its_claims": [
        Proof(
            "no-default-class",
            "claim pv-claim-test-petset-0 is Pending, not Bound",
            timeouts={"pod_ready": 8},
        ),
    ],
    "test_legacy_petset.py::test_the_converted_seed_mounts_data_that_persists": [
        Proof(
            "no-default-class",
            "no persistent volumes available for this claim and no storage class is set",
            timeouts={"pod_ready": 8},
        ),
        Proof("missing-data-mount", "test-petset-0: nothing is mounted at /data in the container"),
    ],
    "test_block_volumes.py::test_the_device_is_in_the_container_at_its_device_path": [
        Proof(
            "missing-data-mount",
            "web-0: nothing is at /dev/xvda in the container",
            entry="sim-csi-block",
        ),
    ],
    "test_block_volumes.py::test_raw_data_at_an_offset_survives_the_pod_being_recreated": [
        Proof("data-loss-on-reattach", "reads back sha256", entry="sim-csi-block"),
    ],
    "test_performance.py::test_the_volume_performs_as_the_inventory_asks": [
        Proof(
            "slow-volume",
            ", below min_iops 1000 (storage 'datera-iscsi' performance.randwrite_4k)",
        ),
    ],
    "test_static_volumes.py::test_each_ordinal_gets_the_volume_pre_bound_to_its_claim": [
        Proof("static-pv-misbound", "-1, expected static-"),
    ],
    "test_static_volumes.py::test_the_claim_templates_selector_picks_the_sets_volumes": [
        Proof("static-pv-misbound", "which its selector conformance.io/static-pool="),
    ],
    "test_claim_templates.py::test_each_template_is_mounted_at_its_own_path_from_its_own_volume": [
        Proof("claim-templates-crossed", "web-tpl-0: /data shows"),
    ],
    "test_claim_templates.py::test_each_template_keeps_its_claim_and_data_across_pod_deletion": [
        Proof("claim-templates-crossed", "the device the kubelet mounted for claim log-web-tpl-1"),
    ],
    "test_fs_group.py::test_always_gives_the_volume_and_its_files_the_fs_group": [
        Proof("fsgroup-ignored", "web-always-0: /data is 0:0 mode 0755, expected group 2000"),
    ],
    "test_fs_group.py::test_on_root_mismatch_leaves_a_matching_volume_alone": [
        Proof("fsgroup-ignored", "web-onrootmismatch-0: /data is 0:0 mode 0755, expected group"),
    ],
    "test_shares.py::test_every_view_shows_the_share_the_pv_names": [
        Proof("share-not-shared", ", which should be the share 10.251.", entry="share"),
    ],
    "test_shares.py::test_pods_on_two_nodes_see_each_others_writes": [
        Proof("share-not-shared", "does not see what web-0 on", entry="share"),
    ],
    "test_disruption.py::test_a_kubelet_restart_keeps_pods_mounts_and_data": [
        Proof("kubelet-restart-kills-pods", ": its container restarted when the kubelet restarted"),
    ],
    "test_disruption.py::test_a_drained_nodes_pod_moves_with_its_volume_and_data": [
        Proof("stale-kubelet-mount", " but the kubelet mount of pvc-"),
    ],
    "test_expansion.py::test_a_resized_claim_grows_its_filesystem_and_keeps_the_data": [
        Proof("expansion-stalls-on-node", "claim data-web-0: the filesystem at /data in web-0 is"),
        Proof("expansion-loses-data", "web-0: /data/before-resize.bin cannot be read"),
        Proof(
            "expansion-loses-data",
            "web-0: /data/before-resize.bin cannot be read",
            entry="sim-csi-ext4",
        ),
    ],
    "test_expansion.py::test_a_resized_block_claim_grows_its_device_and_keeps_the_data": [
        Proof(
            "expansion-stalls-on-node",
            "claim data-web-0: the device at /dev/xvda in web-0 is",
            entry="sim-csi-block",
        ),
        Proof(
            "expansion-loses-data", "web-0: /dev/xvda@2048 reads back sha256", entry="sim-csi-block"
        ),
    ],
    "test_topology.py::test_claims_stay_pending_until_their_pod_is_scheduled": [
        Proof("wffc-ignored", "while its pod web-wffc-0 is not scheduled yet", entry="nvme-cloud"),
    ],
    "test_topology.py::test_volumes_stay_within_the_allowed_topologies": [
        Proof(
            "topology-ignored",
            "outside the class's allowedTopologies topology.kubernetes.io/zone in [zone-a]",
            entry="nvme-cloud",
        ),
    ],
    "test_topology.py::test_a_deleted_pod_returns_where_its_volume_reaches": [
        Proof(
            "volume-affinity-ignored",
            "which the nodeAffinity of its volume pvc-",
            entry="nvme-cloud",
        ),
    ],
    "test_topology.py::test_a_pod_its_volume_cannot_follow_stays_pending_and_says_why": [
        Proof(
            "volume-affinity-ignored",
            "does not reach, while the nodes it reaches (",
            entry="nvme-cloud",
        ),
    ],
    "test_access_modes.py::test_a_rwo_volume_is_not_mounted_on_a_second_node": [
        Proof("rwo-multi-attach", "the volume is mounted on two nodes", entry="sim-csi-ext4"),
    ],
    "test_access_modes.py::test_a_rwop_claim_admits_one_pod_only": [
        Proof("rwop-not-enforced", "ReadWriteOncePod admits one pod only", entry="sim-csi-ext4"),
    ],
}


def suite_tests() -> list[str]:
    """Every test function in suites/, as file::function (read from the source)."""
    found = []
    for path in sorted(SUITES.glob("test_*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                found.append(f"{path.name}::{node.name}")
    return found


RunKey = tuple[str, float | None, tuple[tuple[str, float], ...], str | None]


def runs() -> dict[RunKey, list[str]]:
    """One conformance run per fault setting (and storage entry), over the suite tests it
    proves."""
    grouped: dict[RunKey, list[str]] = defaultdict(list)
    for test, proofs in PROOFS.items():
        for proof in proofs:
            timeouts = tuple(sorted(proof.timeouts.items()))
            grouped[(proof.fault, proof.value, timeouts, proof.entry)].append(test)
    return dict(grouped)


def inventory_with(
    tmp_path: Path,
    faults: dict[str, float | None],
    timeouts: dict[str, float] | None = None,
    entry: str | None = None,
) -> Path:
    """inventories/sim.yaml with one storage entry (``entry``, else the first: xfs SCSI),
    OrderedReady only, with faults switched on."""
    data = yaml.safe_load((ROOT / "inventories" / "sim.yaml").read_text())
    data["cluster"]["sim"]["faults"] = faults
    chosen = [e for e in data["storage"] if e["name"] == entry] if entry else data["storage"][:1]
    assert chosen, f"inventories/sim.yaml has no storage entry {entry!r}"
    data["storage"] = chosen
    data["workload"]["pod_management_policy"] = ["OrderedReady"]
    data["timeouts"].update(timeouts or {})
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def run_suites(
    inventory: Path, *targets: str, extra_env: dict[str, str] | None = None
) -> tuple[int, str]:
    """A conformance run of its own (not sharing this session's run id), its reports in
    a ``reports`` directory beside the inventory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_")}
    targets = (*targets, "--conformance-reports", str(inventory.parent / "reports"))
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


def outcomes(junit: Path) -> dict[str, tuple[str, str]]:
    """file::function -> (passed|failed|error|skipped, everything its report says)."""
    found: dict[str, tuple[str, str]] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        module = case.get("classname", "").rsplit(".", 1)[-1]
        name = case.get("name", "").split("[", 1)[0]
        outcome, text = "passed", ""
        for kind in ("failure", "error", "skipped"):
            element = case.find(kind)
            if element is not None:
                outcome = "failed" if kind == "failure" else kind
                text = f"{element.get('message', '')}\n{element.text or ''}"
                break
        key = f"{module}.py::{name}"
        if found.get(key, ("passed", ""))[0] == "passed":  # a failed parameter set wins
            found[key] = (outcome, text)
    return found


def test_every_suite_test_has_a_fault_that_proves_it() -> None:
    """A check nobody has seen fail is not done: a suite test without a proof fails here."""
    tests = suite_tests()
    assert tests, "no test functions found in suites/"
    missing = [test for test in tests if not PROOFS.get(test)]
    assert not missing, f"suite tests without a fault that makes them fail: {missing}"
    stale = sorted(set(PROOFS) - set(tests))
    assert not stale, f"proofs for suite tests that do not exist: {stale}"


def test_every_fault_named_is_in_the_simulators_catalog() -> None:
    from conformance.sim import faults

    named = {proof.fault for proofs in PROOFS.values() for proof in proofs}
    assert named <= set(faults.BY_NAME), sorted(named - set(faults.BY_NAME))


def _run_keys() -> list[RunKey]:
    return sorted(runs(), key=lambda key: (key[0], key[1] or 0, key[2], key[3] or ""))


@needs_nodes
@pytest.mark.parametrize(
    ("fault", "value", "timeouts", "entry"),
    _run_keys(),
    ids=[fault + (f"@{entry}" if entry else "") for fault, _, _, entry in _run_keys()],
)
def test_the_fault_fails_its_suite_tests_naming_the_property(
    fault: str,
    value: float | None,
    timeouts: tuple[tuple[str, float], ...],
    entry: str | None,
    tmp_path: Path,
) -> None:
    tests = runs()[(fault, value, timeouts, entry)]
    junit = tmp_path / "junit.xml"
    inventory = inventory_with(tmp_path, {fault: value}, dict(timeouts), entry)
    targets = sorted({f"suites/{test}" for test in tests})
    code, output = run_suites(inventory, *targets, f"--junitxml={junit}")
    assert code == 1, f"{fault}: expected failed checks (exit 1), got {code}:\n{output[-3000:]}"
    seen = outcomes(junit)
    for test in tests:
        says = next(p.says for p in PROOFS[test] if (p.fault, p.entry) == (fault, entry))
        outcome, text = seen.get(test, ("not run", ""))
        assert outcome in ("failed", "error"), f"{fault}: {test} {outcome}:\n{output[-3000:]}"
        assert says in text, f"{fault}: {test} did not say {says!r}:\n{text[-3000:]}"
    kept = list((tmp_path / "reports" / "cluster-logs").glob("*/sim.log"))
    assert kept, f"{fault}: the failed run kept no simulator log under reports/cluster-logs"


@needs_nodes
def test_the_checks_pass_without_faults(tmp_path: Path) -> None:
    """The same suites pass on a healthy simulator, so the failures above are the faults'."""
    code, output = run_suites(inventory_with(tmp_path, {}), "suites")
    assert code == 0, output[-3000:]
    assert not (tmp_path / "reports" / "cluster-logs").exists()  # a passing run keeps none


@needs_nodes
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


@needs_nodes
def test_a_parallel_run_passes_and_leaves_nothing_behind(tmp_path: Path) -> None:
    """`-n 4`: four workers, each with its own simulator; afterwards nothing of them is left."""
    from conformance.sim.kernel import cleanup

    runs_root = tmp_path / "sim-runs"
    code, output = run_suites(
        inventory_with(tmp_path, {}),
        "suites/test_provisioning.py",
        "suites/test_container_mounts.py",
        "-n",
        "4",
        extra_env={"CONFORMANCE_SIM_STATE_ROOT": str(runs_root)},
    )
    assert code == 0, output[-3000:]
    left = sorted(map(str, runs_root.iterdir())) if runs_root.exists() else []
    assert left == [], f"simulator state left behind: {left}"
    leftovers = cleanup.find_leftovers(state_dirs=[runs_root], include_live=True)
    assert leftovers.empty, "\n".join(leftovers.lines())
