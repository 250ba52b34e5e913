"""Which volumes get the pod's fsGroup, the identity a container runs with, and what
names a static PV's disk: the pure parts of the simulated kubelet and runtime."""

from __future__ import annotations

import subprocess
from pathlib import Path

from conformance.sim.kernel import ownership
from conformance.sim.runtimes.kernel import backing_name, container_identity


def pv(**spec: object) -> dict[str, object]:
    return {"metadata": {"name": "pv-1"}, "spec": {"accessModes": ["ReadWriteOnce"], **spec}}


def test_fs_group_applies_as_the_plugins_fs_group_policy_says() -> None:
    assert ownership.applies(pv(flexVolume={"driver": "a/b"}), block=False)
    assert ownership.applies(pv(csi={"driver": "d", "fsType": "ext4"}), block=False)
    assert not ownership.applies(pv(csi={"driver": "d"}), block=False)  # no fsType
    rwx = pv(csi={"driver": "d", "fsType": "ext4"}, accessModes=["ReadWriteMany"])
    assert not ownership.applies(rwx, block=False)  # ReadWriteOnceWithFSType
    assert not ownership.applies(pv(flexVolume={"driver": "a/b"}), block=True)
    pod = {"spec": {"securityContext": {"fsGroup": 2000}}}
    assert ownership.pod_fs_group(pod) == (2000, "Always")


def test_the_container_runs_as_its_own_or_the_pods_identity() -> None:
    spec = {
        "securityContext": {
            "runAsUser": 1,
            "runAsGroup": 2,
            "fsGroup": 3,
            "supplementalGroups": [4, 3],
        }
    }
    assert container_identity(spec, {"securityContext": {"runAsUser": 9}}) == {
        "run_as_user": 9,
        "run_as_group": 2,
        "groups": (3, 4),
    }
    assert container_identity({}, {}) == {"run_as_user": None, "run_as_group": None, "groups": ()}


def test_a_static_pvs_disk_is_named_by_the_volume_it_names() -> None:
    provisioned = {
        "metadata": {"name": "pvc-1", "annotations": {ownership_key(): "x"}},
        "spec": {"csi": {"volumeHandle": "h"}},
    }
    assert backing_name(provisioned) == "pvc-1"
    one = {"metadata": {"name": "a"}, "spec": {"csi": {"volumeHandle": "vol/1"}}}
    two = {"metadata": {"name": "b"}, "spec": {"csi": {"volumeHandle": "vol/1"}}}
    assert backing_name(one) == backing_name(two)
    assert backing_name(one).startswith("static-vol-1-")
    flex = {"metadata": {"name": "c"}, "spec": {"flexVolume": {"options": {"volumeID": "lun-7"}}}}
    assert backing_name(flex).startswith("static-lun-7-")
    assert backing_name({"metadata": {"name": "d"}, "spec": {"iscsi": {}}}) == "d"


def ownership_key() -> str:
    return "pv.kubernetes.io/provisioned-by"


def test_set_volume_ownership_script_follows_upstream(tmp_path: Path) -> None:
    """The script on a plain directory tree: the group, g+rw(x), setgid on directories,
    symlinks' targets untouched; OnRootMismatch then skips."""
    root = tmp_path / "vol"
    (root / "d").mkdir(parents=True)
    (root / "f").write_text("x")
    (root / "f").chmod(0o600)
    outside = tmp_path / "outside"
    outside.write_text("y")
    (root / "l").symlink_to(outside)
    before = outside.stat()

    def apply(policy: str) -> str:
        argv = ["sh", "-c", ownership._SCRIPT, "sh", str(root), "2000", policy, "rw"]
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()

    assert apply("OnRootMismatch") == "changed"
    for path, mode in ((root, 0o2770), (root / "d", 0o2770), (root / "f", 0o660)):
        st = path.stat()
        assert st.st_gid == 2000, path
        assert st.st_mode & mode == mode, (path, oct(st.st_mode))
    assert (outside.stat().st_gid, outside.stat().st_mode) == (before.st_gid, before.st_mode)
    assert apply("OnRootMismatch") == "skipped"
    assert apply("Always") == "changed"
