"""The checks of the static-volume, claim-template and fsGroup suites, on made-up facts;
the probe of file owners, the static PV builder and the inventory's static: section."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from conformance import checks, probes, shapes, static_volumes
from conformance import inventory as inv
from conformance.observe import Owned, VolumeViews, Written

UID = "6b99bd2a-628e-11e6-8463-0cc47ab41442"
KUBELET = f"/var/lib/kubelet/pods/{UID}/volumes/kubernetes.io~csi"


def claim(volume: str | None, phase: str = "Bound") -> Any:
    return SimpleNamespace(
        spec=SimpleNamespace(volume_name=volume), status=SimpleNamespace(phase=phase)
    )


# --- static volumes ----------------------------------------------------------------------


def test_pre_bound_volumes_must_go_to_their_own_claims() -> None:
    expected = {"data-web-0": "pv-0", "data-web-1": "pv-1"}
    assert (
        checks.bound_as_pre_bound(
            {"data-web-0": claim("pv-0"), "data-web-1": claim("pv-1")}, expected
        )
        == []
    )
    crossed = {"data-web-0": claim("pv-1"), "data-web-1": claim(None, "Pending")}
    assert checks.bound_as_pre_bound(crossed, expected) == [
        "claim data-web-0 is bound to pv-1, expected pv-0 (pre-bound to it by claimRef)",
        "claim data-web-1 is Pending, not Bound; the static PV pv-1 was pre-bound to it "
        "by claimRef",
    ]


def test_selected_volumes_come_from_the_pool_one_claim_each() -> None:
    pool = {"pv-0", "pv-1"}
    label = "conformance.io/static-pool=ns"
    names = ["data-web-0", "data-web-1"]
    good = {"data-web-0": claim("pv-1"), "data-web-1": claim("pv-0")}
    assert checks.bound_in_pool(good, names, pool, label) == []
    bad = {"data-web-0": claim("pv-2"), "data-web-1": claim("pv-2")}
    assert checks.bound_in_pool(bad, names, pool, label) == [
        "claim data-web-0 is bound to pv-2, which its selector conformance.io/static-pool=ns "
        "does not select (the pool is pv-0, pv-1)",
        "claim data-web-1 is bound to pv-2, which its selector conformance.io/static-pool=ns "
        "does not select (the pool is pv-0, pv-1)",
        "claims data-web-0, data-web-1 are all bound to pv-2",
    ]


STATIC = """
cluster: {kubeconfig: /etc/kube/config}
storage:
  - name: gold
    storage_class: gold
    size: 2Gi
    static:
      pv: %s
"""


def test_a_static_template_makes_one_pv_per_ordinal() -> None:
    source = "{csi: {driver: d.example.com, volumeHandle: 'vol-{namespace}-{ordinal}'}}"
    entry = inv.parse(STATIC % source).storage[0]
    pv = static_volumes.volume(
        entry,
        ordinal=1,
        claim="data-web-1",
        namespace="ns",
        set_name="web",
        run_id="r1",
        labels={"conformance.io/run": "r1"},
        pool="ns",
        binding=static_volumes.CLAIM_REF,
    )
    assert pv["metadata"]["name"] == "static-ns-1"
    assert pv["metadata"]["labels"][static_volumes.NAMESPACE_LABEL] == "ns"
    assert static_volumes.POOL_LABEL not in pv["metadata"]["labels"]  # claimRef: no pool
    spec = pv["spec"]
    assert spec["csi"]["volumeHandle"] == "vol-ns-1"
    assert spec["claimRef"] == {
        "kind": "PersistentVolumeClaim",
        "namespace": "ns",
        "name": "data-web-1",
    }
    assert (spec["capacity"], spec["persistentVolumeReclaimPolicy"], spec["storageClassName"]) == (
        {"storage": "2Gi"},
        "Retain",
        "",
    )


@pytest.mark.parametrize(
    ("source", "path", "says"),
    [
        (
            "{csi: {volumeHandle: 'v-{ordnal}'}}",
            "storage[0].static.pv.csi.volumeHandle",
            "unknown placeholder {ordnal}",
        ),
        (
            "{csi: {volumeHandle: v}}",
            "storage[0].static.pv.csi",
            "names the same volume for every ordinal",
        ),
        ("{capacity: {storage: 1Gi}}", "storage[0].static.pv", "give exactly one volume source"),
        (
            "{csi: {volumeHandle: '{handle}'}}",
            "storage[0].static.pv.csi.volumeHandle",
            "needs handles:",
        ),
        (
            "{csi: {volumeHandle: '{ordinal}'}, claimRef: {name: x}}",
            "storage[0].static.pv.claimRef",
            "set by the harness",
        ),
    ],
)
def test_a_bad_static_template_names_its_field(source: str, path: str, says: str) -> None:
    with pytest.raises(inv.InventoryError) as caught:
        inv.parse(STATIC % source)
    problems = caught.value.problems
    assert [p.path for p in problems] == [path]
    assert says in problems[0].message


def test_a_handles_list_caps_the_replicas() -> None:
    entry = inv.parse(
        STATIC % "{flexVolume: {driver: a/b, options: {volumeID: '{handle}'}}}"
        + "      handles: [lun-1]\n"
    ).storage[0]
    assert entry.static is not None
    assert static_volumes.handles_for(entry.static, 1) is None
    assert static_volumes.handles_for(entry.static, 2) == (
        "static.handles lists 1 pre-created volume(s), fewer than the 2 replicas"
    )


# --- claim templates --------------------------------------------------------------------


def template_views(data: str, log: str) -> list[VolumeViews]:
    node = probes.parse_mountinfo(
        f"100 1 7:4 / {KUBELET}/pv-a/mount rw,relatime - ext4 /dev/sdb rw\n"
        f"101 1 7:5 / {KUBELET}/pv-b/mount rw,relatime - ext4 /dev/sdc rw\n"
    )
    container = probes.parse_mountinfo(
        f"200 1 {data} / /data rw,relatime - ext4 /dev/sdx rw\n"
        f"201 1 {log} / /log rw,relatime - ext4 /dev/sdy rw\n"
    )
    return [
        VolumeViews("web-0", UID, "n1", c, pv, path, None, tuple(node), tuple(container))
        for c, pv, path in (("data-web-0", "pv-a", "/data"), ("log-web-0", "pv-b", "/log"))
    ]


def test_each_template_on_its_own_device_passes() -> None:
    assert checks.own_devices(template_views("7:4", "7:5")) == []


def test_crossed_templates_name_the_path_and_the_claims() -> None:
    assert checks.own_devices(template_views("7:5", "7:4")) == [
        "web-0: /data shows 7:5, the device the kubelet mounted for claim log-web-0 (pv-b), "
        "not that of claim data-web-0 (pv-a, 7:4)",
        "web-0: /log shows 7:4, the device the kubelet mounted for claim data-web-0 (pv-a), "
        "not that of claim log-web-0 (pv-b, 7:5)",
    ]


def test_two_paths_on_one_device_fail() -> None:
    problems = checks.own_devices(template_views("7:4", "7:4"))
    assert (
        problems[0]
        == "web-0: /data and /log are all on 7:4 in the container (claims data-web-0, log-web-0)"
    )


def test_a_second_template_is_a_copy_of_the_first_at_its_own_path() -> None:
    manifest: dict[str, Any] = {
        "spec": {
            "volumeClaimTemplates": [
                {"metadata": {"name": "data"}, "spec": {"storageClassName": "x"}}
            ],
            "template": {
                "spec": {"containers": [{"volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}
            },
        }
    }
    shapes.add_claim_template(manifest, "log", "/log")
    assert manifest["spec"]["volumeClaimTemplates"][1] == {
        "metadata": {"name": "log"},
        "spec": {"storageClassName": "x"},
    }
    assert manifest["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][1] == {
        "name": "log",
        "mountPath": "/log",
    }
    with pytest.raises(ValueError, match="already has a claim template 'log'"):
        shapes.add_claim_template(manifest, "log", "/x")


# --- fsGroup ---------------------------------------------------------------------------


def owned(text: str) -> Owned:
    return Owned("web-0", tuple(probes.parse_owner(text)))


def test_the_owner_probe_reads_mode_with_setgid_and_names_with_bars() -> None:
    (root, odd) = probes.parse_owner(
        "0|2000|2775|directory|/data\n1001|2000|664|regular file|/data/a|b\n"
    )
    assert (root.gid, root.mode, root.setgid, root.is_dir) == (2000, 0o2775, True, True)
    assert (odd.path, odd.uid, odd.setgid) == ("/data/a|b", 1001, False)
    assert probes.owner_command(["/data"]) == ("stat", "-c", "%u|%g|%a|%F|%n", "/data")
    with pytest.raises(probes.ProbeParseError):
        probes.parse_owner("x|y|z|directory|/data\n")


def test_the_volume_root_must_be_the_fs_groups_with_setgid() -> None:
    assert checks.fs_group_root(owned("0|2000|2775|directory|/data\n"), "/data", 2000) == []
    assert checks.fs_group_root(owned("0|0|755|directory|/data\n"), "/data", 2000) == [
        "web-0: /data is 0:0 mode 0755, expected group 2000 with group rwx and setgid "
        "(the pod's fsGroup 2000)"
    ]
    assert checks.fs_group_root(owned("0|2000|775|directory|/data\n"), "/data", 2000) != []


def test_a_file_must_carry_the_expected_owner() -> None:
    seen = owned("1001|1002|664|regular file|/data/f\n")
    assert checks.file_owned(seen, "/data/f", uid=1001, gid=1002, why="w") == []
    assert checks.file_owned(seen, "/data/f", uid=1001, gid=2000, why="Always") == [
        "web-0: /data/f is 1001:1002, expected 1001:2000 (Always)"
    ]
    assert checks.regrouped(Written("web-0", "/data/f", 1, "Operation not permitted"), 1002) == [
        "web-0: chgrp 1002 /data/f failed (exit 1): Operation not permitted"
    ]


def test_run_as_sets_the_pods_security_context() -> None:
    manifest: dict[str, Any] = {"spec": {"template": {"spec": {}}}}
    shapes.run_as(manifest, user=1001, group=1002, fs_group=2000, change_policy="OnRootMismatch")
    assert manifest["spec"]["template"]["spec"]["securityContext"] == {
        "runAsUser": 1001,
        "runAsGroup": 1002,
        "runAsNonRoot": True,
        "fsGroup": 2000,
        "fsGroupChangePolicy": "OnRootMismatch",
    }
