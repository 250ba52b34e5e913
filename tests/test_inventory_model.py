"""Inventory semantics: defaults, environment overrides, the parameter matrix."""

from __future__ import annotations

import pytest

from conformance import inventory as inv

MINIMAL = """
cluster: {kubeconfig: /etc/kube/config, context: lab}
nodes: {access: ssh}
storage:
  - {name: gold, storage_class: gold}
"""


def test_environment_supplies_ssh_user_key_and_bastion() -> None:
    loaded = inv.parse(
        MINIMAL,
        env={
            "KUBE_SSH_USER": "qa",
            "KUBE_SSH_KEY_PATH": "/keys/id",
            "KUBE_SSH_BASTION": "jump:2222",
        },
    )
    ssh = loaded.nodes.ssh
    assert ssh is not None
    assert (ssh.user, ssh.key_file) == ("qa", "/keys/id")
    assert ssh.bastion is not None
    assert (ssh.bastion.host, ssh.bastion.port) == ("jump", 2222)


def test_ssh_without_user_fails_until_the_environment_gives_one() -> None:
    with pytest.raises(inv.InventoryError) as caught:
        inv.parse(MINIMAL, env={})
    assert [p.path for p in caught.value.problems] == ["nodes.ssh"]


def test_kubeconfig_environment_overrides_a_real_cluster_but_not_the_sim() -> None:
    real = inv.parse(
        MINIMAL,
        env={
            "KUBECONFIG": "/ci/kubeconfig:/other",
            "KUBE_SSH_USER": "qa",
            "KUBE_SSH_KEY_PATH": "/k",
        },
    )
    assert real.cluster.kubeconfig == "/ci/kubeconfig"
    sim = inv.parse(
        "cluster: {sim: {}}\nstorage: [{name: a, provisioner: x}]\n", env={"KUBECONFIG": "/ci/k"}
    )
    assert sim.cluster.kubeconfig is None
    assert sim.cluster.sim is not None


def test_home_is_expanded_in_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/qa")
    loaded = inv.parse(
        "cluster: {kubeconfig: ~/.kube/config}\nstorage: [{name: a, storage_class: a}]\n"
    )
    assert loaded.cluster.kubeconfig == "/home/qa/.kube/config"


def test_switch_fault_takes_no_number() -> None:
    with pytest.raises(inv.InventoryError) as caught:
        inv.parse(
            "cluster: {sim: {faults: {wrong-fstype: 0.5}}}\nstorage: [{name: a, provisioner: x}]\n"
        )
    assert caught.value.problems[0].path == "cluster.sim.faults.wrong-fstype"
    assert "switch" in caught.value.problems[0].message


def test_parameter_matrix_and_readable_ids() -> None:
    loaded = inv.parse(
        "cluster: {sim: {}}\n"
        "storage: [{name: datera-iscsi, provisioner: x}, {name: csi, provisioner: y}]\n"
        "workload: {replicas: [2, 4], pod_management_policy: [OrderedReady, Parallel]}\n"
    )
    ids = [inv.parameter_id(*params) for params in inv.iter_parameters(loaded)]
    assert len(ids) == 8
    assert "datera-iscsi-r2-OrderedReady" in ids
    assert "csi-r4-Parallel" in ids


def test_lab_example_carries_the_seed_shape() -> None:
    loaded = inv.load(inv.DEFAULT_INVENTORY.parent / "lab-example.yaml", env={})
    entry = loaded.storage[0]
    assert (entry.expect.hardware["vendor"], entry.expect.hardware["model"]) == ("DATERA", "IBLOCK")
    assert entry.kubelet_plugin_dir == "datera~iscsi"
    assert entry.fs_type == "xfs"
    assert (loaded.workload.set_name, loaded.workload.claim_template) == ("test-petset", "pv-claim")
    assert loaded.workload.mount_path == "/data"


def test_the_seeds_scsi_names_and_the_stack_names_are_one_expectation() -> None:
    old = inv.parse(
        "cluster: {sim: {}}\nstorage: [{name: a, provisioner: x, "
        "expect: {scsi_vendor: DATERA, scsi_model: IBLOCK}}]\n"
    )
    new = inv.parse(
        "cluster: {sim: {}}\nstorage: [{name: a, provisioner: x, "
        "expect: {vendor: DATERA, model: IBLOCK}}]\n"
    )
    assert (
        old.storage[0].expect.hardware
        == new.storage[0].expect.hardware
        == {
            "vendor": "DATERA",
            "model": "IBLOCK",
        }
    )
    with pytest.raises(inv.InventoryError) as caught:
        inv.parse(
            "cluster: {sim: {}}\nstorage: [{name: a, provisioner: x, "
            "expect: {vendor: NETAPP, scsi_vendor: DATERA}}]\n"
        )
    assert caught.value.problems[0].path == "storage[0].expect.scsi_vendor"


def test_share_fs_types_and_fuse_are_accepted_block_shares_are_not() -> None:
    for fs_type in ("nfs4", "cifs", "cephfs", "fuse.sshfs"):
        entry = inv.parse(
            f"cluster: {{sim: {{}}}}\nstorage: [{{name: a, provisioner: x, fs_type: {fs_type}}}]\n"
        ).storage[0]
        assert entry.share
    with pytest.raises(inv.InventoryError) as caught:
        inv.parse(
            "cluster: {sim: {}}\nstorage: [{name: a, provisioner: x, fs_type: nfs4, "
            "volume_mode: Block}]\n"
        )
    assert caught.value.problems[0].path == "storage[0].volume_mode"
    with pytest.raises(inv.InventoryError) as caught:
        inv.parse("cluster: {sim: {}}\nstorage: [{name: a, provisioner: x, fs_type: zfs}]\n")
    assert "fuse.NAME" in caught.value.problems[0].message
