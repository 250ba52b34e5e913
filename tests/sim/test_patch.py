"""Merge, JSON and strategic merge patches, with upstream strategicpatch test cases."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from conformance.sim.api.patch import (
    MERGE_KEYS,
    PatchError,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
    merge_keys_for,
)

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def statefulset() -> dict[str, Any]:
    """A StatefulSet as the server stores it after `kubectl apply` (defaults filled in)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {
            "name": "web",
            "namespace": "demo",
            "uid": "5f0c-uid",
            "generation": 1,
            "resourceVersion": "41",
            "annotations": {LAST_APPLIED: '{"apiVersion":"apps/v1","kind":"StatefulSet"}'},
            "finalizers": ["example.com/keep"],
        },
        "spec": {
            "replicas": 1,
            "serviceName": "web",
            "selector": {"matchLabels": {"app": "web"}},
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx:1.27",
                            "ports": [{"containerPort": 80, "name": "web", "protocol": "TCP"}],
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                            "resources": {"requests": {"cpu": "10m"}},
                            "terminationMessagePolicy": "File",
                        }
                    ],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 30,
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "storageClassName": "datera",
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                }
            ],
        },
        "status": {"replicas": 1, "readyReplicas": 1, "observedGeneration": 1},
    }


def kubectl_reapply_patch() -> dict[str, Any]:
    """The body kubectl 1.32 sends on re-apply (reference/kubectl-protocol.md, section 2)."""
    new_config = {"apiVersion": "apps/v1", "kind": "StatefulSet", "spec": {"replicas": 2}}
    return {
        "metadata": {"annotations": {LAST_APPLIED: json.dumps(new_config)}},
        "spec": {
            "replicas": 2,
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "nginx"}],
                    "containers": [{"image": "nginx:1.28", "name": "nginx"}],
                }
            },
        },
    }


def smp(obj: dict[str, Any], patch: dict[str, Any], kind: str = "StatefulSet") -> dict[str, Any]:
    return apply_strategic_merge_patch(obj, patch, kind)


def names(items: list[dict[str, Any]], key: str = "name") -> list[Any]:
    return [item[key] for item in items]


def has_directive(value: Any) -> bool:
    if isinstance(value, dict):
        return any(k.startswith("$") or has_directive(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_directive(v) for v in value)
    return False


# --- strategic merge: kubectl's re-apply ------------------------------------------------


def test_kubectl_reapply_patch_updates_image_and_replicas_and_keeps_the_rest() -> None:
    live = statefulset()
    patch = kubectl_reapply_patch()
    out = smp(live, patch)

    assert out["spec"]["replicas"] == 2
    [nginx] = out["spec"]["template"]["spec"]["containers"]
    assert nginx == {
        **statefulset()["spec"]["template"]["spec"]["containers"][0],
        "image": "nginx:1.28",
    }
    assert (
        out["metadata"]["annotations"][LAST_APPLIED]
        == patch["metadata"]["annotations"][LAST_APPLIED]
    )
    assert out["spec"]["volumeClaimTemplates"] == statefulset()["spec"]["volumeClaimTemplates"]
    assert out["spec"]["updateStrategy"] == statefulset()["spec"]["updateStrategy"]
    assert out["status"] == statefulset()["status"]
    assert out["metadata"]["finalizers"] == ["example.com/keep"]
    assert not has_directive(out)
    assert live == statefulset(), "the live object must not be mutated"
    assert patch == kubectl_reapply_patch(), "the patch must not be mutated"


def test_kubectl_reapply_keeps_a_container_added_by_someone_else_after_its_own() -> None:
    live = statefulset()
    live["spec"]["template"]["spec"]["containers"].insert(
        0, {"name": "sidecar", "image": "busybox"}
    )
    out = smp(live, kubectl_reapply_patch())
    containers = out["spec"]["template"]["spec"]["containers"]
    assert names(containers) == ["sidecar", "nginx"]
    assert containers[0] == {"name": "sidecar", "image": "busybox"}
    assert containers[1]["image"] == "nginx:1.28"


def test_kubectl_reapply_on_a_pod_uses_the_pod_paths() -> None:
    pod = {"spec": copy.deepcopy(statefulset()["spec"]["template"]["spec"])}
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "nginx"}],
            "containers": [{"image": "nginx:1.28", "name": "nginx"}],
        }
    }
    out = smp(pod, patch, "Pod")
    [nginx] = out["spec"]["containers"]
    assert nginx["image"] == "nginx:1.28"
    assert nginx["ports"][0]["containerPort"] == 80


# --- strategic merge: $setElementOrder and list order (upstream patch_test.go) ---------------


def test_set_element_order_reorders_without_content_changes() -> None:
    live = {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}}
    patch = {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}}
    out = smp(live, patch, "Pod")
    assert out["spec"]["containers"] == [{"name": "b", "image": "y"}, {"name": "a", "image": "x"}]


def test_set_element_order_places_new_items_and_keeps_server_fields() -> None:
    # upstream "merge lists of maps" (three-way result)
    live = {"spec": {"volumes": [{"name": "1", "other": "a"}, {"name": "2", "value": 2}]}}
    patch = {
        "spec": {
            "$setElementOrder/volumes": [{"name": n} for n in ("4", "1", "2", "3")],
            "volumes": [{"name": "4", "value": 4}, {"name": "3", "value": 3}],
        }
    }
    out = smp(live, patch, "Pod")
    assert out["spec"]["volumes"] == [
        {"name": "4", "value": 4},
        {"name": "1", "other": "a"},
        {"name": "2", "value": 2},
        {"name": "3", "value": 3},
    ]


def test_set_element_order_ignores_names_that_match_nothing() -> None:
    # upstream "$setElementOrder contains item that is not present in the list to be merged"
    live = {"spec": {"containers": [{"name": "1"}, {"name": "3"}]}}
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "3"}, {"name": "2"}, {"name": "1"}],
            "containers": [{"name": "3", "image": "c"}, {"name": "1", "image": "a"}],
        }
    }
    out = smp(live, patch, "Pod")
    assert out["spec"]["containers"] == [{"name": "3", "image": "c"}, {"name": "1", "image": "a"}]


def test_set_element_order_interleaves_server_only_items_by_live_position() -> None:
    live = {"spec": {"containers": [{"name": n} for n in ("a", "b", "c")]}}
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "x"}, {"name": "b"}],
            "containers": [{"name": "x"}],
        }
    }
    out = smp(live, patch, "Pod")
    assert names(out["spec"]["containers"]) == ["x", "a", "b", "c"]


def test_set_element_order_must_agree_with_the_patch_list() -> None:
    # upstream "should check if order in $setElementOrder and patch list match"
    live = {"spec": {"containers": [{"name": n} for n in ("1", "3", "2")]}}
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": n} for n in ("1", "2", "3")],
            "containers": [{"name": "3", "image": "c"}, {"name": "1", "image": "a"}],
        }
    }
    with pytest.raises(PatchError, match="doesn't match"):
        smp(live, patch, "Pod")


def test_without_set_element_order_the_patch_order_wins() -> None:
    # upstream "preserve the order from the patch in a merging list" 1 and 2
    live = {"spec": {"containers": [{"name": "1"}, {"name": "2", "image": "b"}, {"name": "3"}]}}
    patch: dict[str, Any] = {
        "spec": {"containers": [{"name": "3", "image": "c"}, {"name": "1", "image": "a"}]}
    }
    out = smp(live, patch, "Pod")
    assert out["spec"]["containers"] == [
        {"name": "2", "image": "b"},
        {"name": "3", "image": "c"},
        {"name": "1", "image": "a"},
    ]
    patch["spec"]["containers"].append({"name": "2", "tty": True})
    out = smp(live, patch, "Pod")
    assert names(out["spec"]["containers"]) == ["3", "1", "2"]
    assert out["spec"]["containers"][2] == {"name": "2", "image": "b", "tty": True}


# --- strategic merge: $patch ------------------------------------------------------------


def test_patch_delete_on_a_list_item_removes_every_match() -> None:
    # upstream "de-duplicate entries in a merging list" shape, on env vars
    live = {
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "env": [
                        {"name": "A", "value": "1"},
                        {"name": "B", "value": "2"},
                        {"name": "B", "value": "3"},
                    ],
                }
            ]
        }
    }
    patch = {"spec": {"containers": [{"name": "c", "env": [{"name": "B", "$patch": "delete"}]}]}}
    out = smp(live, patch, "Pod")
    assert out["spec"]["containers"][0]["env"] == [{"name": "A", "value": "1"}]


def test_patch_delete_on_a_list_item_needs_the_merge_key() -> None:
    live = {"spec": {"containers": [{"name": "c"}]}}
    with pytest.raises(PatchError, match="merge key: name"):
        smp(live, {"spec": {"containers": [{"$patch": "delete"}]}}, "Pod")


def test_patch_replace_marker_in_a_list_replaces_the_whole_list() -> None:
    live = {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b"}]}}
    patch = {"spec": {"containers": [{"name": "c", "image": "z"}, {"$patch": "replace"}]}}
    out = smp(live, patch, "Pod")
    assert out["spec"]["containers"] == [{"name": "c", "image": "z"}]
    out = smp(live, {"spec": {"containers": [{"$patch": "replace"}]}}, "Pod")
    assert out["spec"]["containers"] == []  # upstream "delete all items from merging list"


def test_patch_replace_on_a_map_replaces_it() -> None:
    live = {"spec": {"nodeSelector": {"zone": "a", "disk": "ssd"}, "hostname": "h"}}
    patch = {"spec": {"nodeSelector": {"zone": "b", "$patch": "replace"}}}
    out = smp(live, patch, "Pod")
    assert out["spec"] == {"nodeSelector": {"zone": "b"}, "hostname": "h"}


def test_patch_delete_on_a_map_empties_it() -> None:
    # upstream "delete map from nested map": the key stays, with an empty map
    live = {"spec": {"nodeSelector": {"zone": "a"}, "hostname": "h"}}
    out = smp(live, {"spec": {"nodeSelector": {"$patch": "delete"}}}, "Pod")
    assert out["spec"] == {"nodeSelector": {}, "hostname": "h"}


def test_patch_merge_is_the_default_merge() -> None:
    live = {"spec": {"nodeSelector": {"zone": "a"}, "containers": [{"name": "c", "image": "x"}]}}
    patch = {
        "spec": {
            "nodeSelector": {"disk": "ssd", "$patch": "merge"},
            "containers": [{"name": "c", "tty": True, "$patch": "merge"}],
        }
    }
    out = smp(live, patch, "Pod")
    assert out["spec"]["nodeSelector"] == {"zone": "a", "disk": "ssd"}
    assert out["spec"]["containers"] == [{"name": "c", "image": "x", "tty": True}]


@pytest.mark.parametrize(
    "patch",
    [
        {"spec": {"nodeSelector": {"$patch": "bogus"}}},
        {"spec": {"containers": [{"name": "c", "$patch": "bogus"}]}},
    ],
)
def test_unknown_patch_type_is_an_error(patch: dict[str, Any]) -> None:
    live = {"spec": {"nodeSelector": {"a": "b"}, "containers": [{"name": "c"}]}}
    with pytest.raises(PatchError, match="unknown patch type"):
        smp(live, patch, "Pod")


# --- strategic merge: $retainKeys -----------------------------------------------------------


def test_retain_keys_switches_a_volume_source() -> None:
    # what kubectl sends when a volume changes from emptyDir to a claim
    live = {
        "spec": {
            "volumes": [
                {"name": "data", "emptyDir": {}},
                {"name": "cache", "emptyDir": {"medium": "Memory"}},
            ]
        }
    }
    patch = {
        "spec": {
            "$setElementOrder/volumes": [{"name": "data"}, {"name": "cache"}],
            "volumes": [
                {
                    "$retainKeys": ["name", "persistentVolumeClaim"],
                    "name": "data",
                    "persistentVolumeClaim": {"claimName": "data-web-0"},
                }
            ],
        }
    }
    out = smp(live, patch, "Pod")
    assert out["spec"]["volumes"] == [
        {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}},
        {"name": "cache", "emptyDir": {"medium": "Memory"}},
    ]


def test_retain_keys_clears_unlisted_live_keys_and_allows_nulls() -> None:
    live = {"spec": {"strategy": {"type": "Recreate", "rollingUpdate": {"x": 1}, "extra": 1}}}
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "extra": None}}}
    out = smp(live, patch, "Deployment")
    assert out["spec"]["strategy"] == {"type": "Recreate"}


@pytest.mark.parametrize(
    "directive",
    [
        {"$retainKeys": ["name"], "name": "data", "emptyDir": {}},  # emptyDir not retained
        {"$retainKeys": "name", "name": "data"},  # not a list
    ],
)
def test_bad_retain_keys_are_errors(directive: dict[str, Any]) -> None:
    live = {"spec": {"volumes": [{"name": "data"}]}}
    with pytest.raises(PatchError, match="retainKeys"):
        smp(live, {"spec": {"volumes": [directive]}}, "Pod")


# --- strategic merge: lists of scalars -------------------------------------------------------


def test_delete_from_primitive_list_with_set_element_order() -> None:
    # upstream "delete items in lists of scalars" (three-way result)
    live = {"metadata": {"finalizers": ["1", "2", "3", "4"]}}
    patch = {
        "metadata": {
            "$setElementOrder/finalizers": ["1", "2"],
            "$deleteFromPrimitiveList/finalizers": ["3"],
        }
    }
    assert smp(live, patch, "Pod")["metadata"]["finalizers"] == ["1", "2", "4"]


def test_add_and_delete_in_primitive_list() -> None:
    # upstream "add and delete items in lists of scalars"
    live = {"metadata": {"finalizers": ["1", "2", "3"]}}
    patch = {
        "metadata": {
            "$setElementOrder/finalizers": ["1", "2", "4"],
            "$deleteFromPrimitiveList/finalizers": ["3"],
            "finalizers": ["4"],
        }
    }
    assert smp(live, patch, "Pod")["metadata"]["finalizers"] == ["1", "2", "4"]


def test_delete_from_a_missing_primitive_list_is_a_no_op() -> None:
    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}}
    assert smp({"metadata": {"name": "a"}}, patch, "Pod") == {"metadata": {"name": "a"}}


@pytest.mark.parametrize(
    ("live", "patch", "expected"),
    [
        (["a", "b"], ["b", "c"], ["a", "b", "c"]),  # upstream "unique scalars when merging"
        (["a", "b", "c"], ["c", "a"], ["b", "c", "a"]),  # upstream "preserve the order ..."
        (["a", "b"], ["c"], ["c", "a", "b"]),  # a new item with no live position goes first
    ],
)
def test_finalizers_merge_as_a_set(live: list[str], patch: list[str], expected: list[str]) -> None:
    out = smp({"metadata": {"finalizers": live}}, {"metadata": {"finalizers": patch}}, "Pod")
    assert out["metadata"]["finalizers"] == expected


def test_node_pod_cidrs_merge_as_a_set() -> None:
    out = smp(
        {"spec": {"podCIDRs": ["10.0.0.0/24"]}}, {"spec": {"podCIDRs": ["fd00::/64"]}}, "Node"
    )
    assert sorted(out["spec"]["podCIDRs"]) == ["10.0.0.0/24", "fd00::/64"]


# --- strategic merge: merge keys and atomic lists --------------------------------------------


def at(path: str, value: Any) -> dict[str, Any]:
    """`at("a.b", v)` is `{"a": {"b": v}}`."""
    for part in reversed(path.split(".")):
        value = {part: value}
    assert isinstance(value, dict)
    return value


def ctr(**lists: Any) -> list[dict[str, Any]]:
    """A one-container list holding the given sub-lists."""
    return [{"name": "c", **lists}]


@pytest.mark.parametrize(
    ("kind", "path", "live", "patch", "expected"),
    [
        (
            "Pod",
            "spec.containers",
            ctr(ports=[{"containerPort": 80, "name": "a"}, {"containerPort": 53}]),
            ctr(ports=[{"containerPort": 80, "protocol": "TCP"}]),
            ctr(
                ports=[{"containerPort": 80, "name": "a", "protocol": "TCP"}, {"containerPort": 53}]
            ),
        ),
        (
            "StatefulSet",
            "spec.template.spec.initContainers",
            ctr(volumeMounts=[{"mountPath": "/data", "name": "data"}]),
            ctr(volumeMounts=[{"mountPath": "/data", "readOnly": True}]),
            ctr(volumeMounts=[{"mountPath": "/data", "name": "data", "readOnly": True}]),
        ),
        (
            "Pod",
            "spec.containers",
            ctr(volumeDevices=[{"devicePath": "/dev/xvda", "name": "a"}]),
            ctr(volumeDevices=[{"devicePath": "/dev/xvda", "name": "b"}]),
            ctr(volumeDevices=[{"devicePath": "/dev/xvda", "name": "b"}]),
        ),
        (
            "StatefulSet",
            "spec.template.spec.containers",
            ctr(env=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]),
            ctr(env=[{"name": "B", "value": "3"}]),
            ctr(env=[{"name": "A", "value": "1"}, {"name": "B", "value": "3"}]),
        ),
        (
            "Pod",
            "spec.imagePullSecrets",
            [{"name": "a"}],
            [{"name": "a"}, {"name": "b"}],
            [{"name": "a"}, {"name": "b"}],
        ),
        (
            "Service",
            "spec.ports",
            [{"port": 80, "targetPort": 8080}, {"port": 443}],
            [{"port": 80, "targetPort": 9090}],
            [{"port": 80, "targetPort": 9090}, {"port": 443}],
        ),
        (
            "Pod",
            "metadata.ownerReferences",
            [{"uid": "u1", "name": "web"}, {"uid": "u2"}],
            [{"uid": "u1", "controller": True}],
            [{"uid": "u1", "name": "web", "controller": True}, {"uid": "u2"}],
        ),
        (
            "PersistentVolumeClaim",
            "status.conditions",
            [{"type": "Resizing", "status": "True"}, {"type": "Other", "status": "True"}],
            [{"type": "Resizing", "status": "False"}],
            [{"type": "Resizing", "status": "False"}, {"type": "Other", "status": "True"}],
        ),
        (
            "Node",
            "status.addresses",
            [{"type": "InternalIP", "address": "10.251.0.2"}, {"type": "Hostname", "address": "n"}],
            [{"type": "Hostname", "address": "node-1"}],
            [
                {"type": "InternalIP", "address": "10.251.0.2"},
                {"type": "Hostname", "address": "node-1"},
            ],
        ),
    ],
)
def test_lists_merge_by_their_merge_key(
    kind: str, path: str, live: list[Any], patch: list[Any], expected: list[Any]
) -> None:
    assert smp(at(path, live), at(path, patch), kind) == at(path, expected)


@pytest.mark.parametrize(
    ("kind", "path", "live", "patch"),
    [
        ("Pod", "spec.tolerations", [{"key": "a"}, {"key": "b"}], [{"key": "c"}]),
        ("Pod", "spec.containers", ctr(args=["a", "b"]), ctr(args=["z"])),
        ("Endpoints", "subsets", [{"addresses": [{"ip": "10.0.0.1"}]}], [{"addresses": []}]),
        (
            "StatefulSet",
            "spec.volumeClaimTemplates",
            [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}],
            [{"metadata": {"name": "a"}, "spec": {"storageClassName": "x"}}],
        ),
        ("Namespace", "spec.finalizers", ["kubernetes"], ["other"]),
        ("Node", "spec.taints", [{"key": "a", "effect": "NoSchedule"}], [{"key": "b"}]),
    ],
)
def test_lists_without_a_merge_key_are_replaced(
    kind: str, path: str, live: list[Any], patch: list[Any]
) -> None:
    assert smp(at(path, live), at(path, patch), kind) == at(path, patch)


def test_merge_key_table_is_per_kind_and_relative_to_the_object() -> None:
    sts, pod = merge_keys_for("StatefulSet"), merge_keys_for("Pod")
    assert sts["spec.template.spec.containers"] == "name"
    assert sts["spec.template.spec.containers.ports"] == "containerPort"
    assert "spec.volumeClaimTemplates" not in sts
    assert "spec.containers" not in sts
    assert pod["spec.containers.env"] == "name"
    assert pod["spec.initContainers"] == "name"
    assert pod["metadata.finalizers"] == ""
    assert pod["metadata.ownerReferences"] == "uid"
    assert merge_keys_for("Widget") == {
        "metadata.finalizers": "",
        "metadata.ownerReferences": "uid",
    }
    assert MERGE_KEYS[("Service", "spec.ports")] == "port"
    # a StatefulSet's template lists are not merged by Pod paths
    live = {"spec": {"containers": [{"name": "a"}]}}
    assert smp(live, {"spec": {"containers": [{"name": "b"}]}}, "StatefulSet") == {
        "spec": {"containers": [{"name": "b"}]}
    }


# --- strategic merge: maps, nulls, directives in new values -------------------------------


def test_null_deletes_keys_and_maps_merge() -> None:
    # upstream "add field and delete field from map" and "delete field from nested map"
    live = {"metadata": {"labels": {"app": "web", "tier": "db"}, "name": "a"}, "other": "a"}
    patch = {"metadata": {"labels": {"tier": None, "new": "x"}}, "other": None, "gone": None}
    assert smp(live, patch, "Pod") == {
        "metadata": {"labels": {"app": "web", "new": "x"}, "name": "a"}
    }


def test_new_values_have_their_directives_applied() -> None:
    live = {"spec": {"containers": [{"name": "a"}]}}
    patch = {
        "spec": {
            "affinity": {"nodeAffinity": {"x": 1, "y": None}},
            "initContainers": [
                {
                    "name": "i",
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "$patch": "delete"}],
                }
            ],
            "containers": [
                {"name": "b", "$setElementOrder/env": [{"name": "E"}], "env": [{"name": "E"}]}
            ],
        }
    }
    out = smp(live, patch, "Pod")
    assert not has_directive(out)
    assert out["spec"]["affinity"] == {"nodeAffinity": {"x": 1}}
    assert out["spec"]["initContainers"] == [{"name": "i", "env": [{"name": "A", "value": "1"}]}]
    assert names(out["spec"]["containers"]) == ["b", "a"]
    assert out["spec"]["containers"][0] == {"name": "b", "env": [{"name": "E"}]}


def test_type_change_replaces_the_value() -> None:
    out = smp({"spec": {"x": {"a": 1}, "y": [1]}}, {"spec": {"x": "s", "y": {"b": None}}}, "Pod")
    assert out == {"spec": {"x": "s", "y": {}}}


@pytest.mark.parametrize(
    ("live", "patch", "fragment"),
    [
        (
            {"spec": {"containers": [{"name": "a"}]}},
            {"spec": {"containers": [{"image": "x"}]}},
            "does not contain declared merge key",
        ),
        (
            {"spec": {"containers": [{"name": "a"}]}},
            {"spec": {"containers": ["a"]}},
            "not identical",
        ),
        (
            {"spec": {"containers": ["a"]}},
            {"spec": {"containers": ["b"]}},
            "expected maps merged by 'name'",
        ),
        (
            {"metadata": {"finalizers": ["a"]}},
            {"metadata": {"finalizers": [["b"]]}},
            "lists of lists",
        ),
        (
            {"metadata": {"finalizers": ["a"]}},
            {"metadata": {"finalizers": [{"a": 1}]}},
            "not identical",
        ),
        (
            {"metadata": {"finalizers": [{"a": 1}]}},
            {"metadata": {"finalizers": [{"b": 1}]}},
            "without a merge key",
        ),
        ({"spec": {}}, {"spec": {"$setElementOrder/containers": {"name": "a"}}}, "setElementOrder"),
        ({"spec": {}}, {"spec": {"$setElementOrder/": []}}, "setElementOrder"),
        (
            {"metadata": {"finalizers": ["a"]}},
            {"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}},
            "primitive list",
        ),
        (
            {"spec": {"volumes": [{"name": "a"}]}},
            {"spec": {"$deleteFromPrimitiveList/volumes": [{"name": "a"}]}},
            "scalars",
        ),
        ({"spec": {}}, {"spec": {"$bogus": 1}}, "unknown strategic merge patch directive"),
    ],
)
def test_malformed_strategic_patches_raise(
    live: dict[str, Any], patch: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(PatchError) as info:
        smp(live, patch, "Pod")
    assert fragment in str(info.value)


@pytest.mark.parametrize("patch", [[{"op": "add"}], "x", None])
def test_strategic_patch_must_be_an_object(patch: Any) -> None:
    with pytest.raises(PatchError, match="must be a JSON object"):
        apply_strategic_merge_patch({}, patch, "Pod")


def test_whole_object_patch_directives() -> None:
    live = {"metadata": {"name": "a"}, "spec": {"x": 1}}
    assert smp(live, {"$patch": "replace", "spec": {"y": 2}}, "Pod") == {"spec": {"y": 2}}
    assert smp(live, {"$patch": "delete"}, "Pod") == {}


# --- JSON merge patch (RFC 7386) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [  # RFC 7386 appendix A, restricted to object targets and patches
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_rfc7386_examples(
    target: dict[str, Any], patch: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert apply_merge_patch(target, patch) == expected


def test_merge_patch_kubectl_scale_and_no_mutation() -> None:
    live = statefulset()
    patch = {"spec": {"replicas": 5}, "metadata": {"finalizers": None}}
    out = apply_merge_patch(live, patch)
    assert out["spec"]["replicas"] == 5
    assert "finalizers" not in out["metadata"]
    assert out["spec"]["template"] == live["spec"]["template"]
    assert live == statefulset()
    assert patch == {
        "spec": {"replicas": 5},
        "metadata": {"finalizers": None},
    }
    out["spec"]["template"]["spec"]["containers"].clear()
    assert live == statefulset(), "the result must not share structure with the input"


def test_merge_patch_replaces_lists_of_maps_whole() -> None:
    out = apply_merge_patch(
        statefulset(), {"spec": {"template": {"spec": {"containers": [{"name": "x"}]}}}}
    )
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "x"}]


@pytest.mark.parametrize("patch", [["a"], "x", 3, None])
def test_merge_patch_must_be_an_object(patch: Any) -> None:
    with pytest.raises(PatchError, match="JSON object"):
        apply_merge_patch({"a": 1}, patch)


# --- JSON patch (RFC 6902) --------------------------------------------------------------


def test_json_patch_operations_apply_in_order() -> None:
    live = statefulset()
    ops = [
        {"op": "test", "path": "/spec/replicas", "value": 1},
        {"op": "replace", "path": "/spec/replicas", "value": 3},
        {"op": "add", "path": "/metadata/labels", "value": {"app": "web"}},
        {"op": "add", "path": "/metadata/finalizers/-", "value": "x/y"},
        {"op": "remove", "path": "/status"},
        {"op": "copy", "from": "/metadata/name", "path": "/metadata/labels/name"},
        {"op": "move", "from": "/spec/serviceName", "path": "/spec/service"},
        {"op": "add", "path": "/metadata/annotations/example.com~1a", "value": "1"},
    ]
    out = apply_json_patch(live, ops)
    assert out["spec"]["replicas"] == 3
    assert out["metadata"]["labels"] == {"app": "web", "name": "web"}
    assert out["metadata"]["finalizers"] == ["example.com/keep", "x/y"]
    assert "status" not in out
    assert "serviceName" not in out["spec"]
    assert out["spec"]["service"] == "web"
    assert out["metadata"]["annotations"]["example.com/a"] == "1"
    assert live == statefulset()


def test_json_patch_results_do_not_share_patch_values() -> None:
    value = {"app": "web"}
    out = apply_json_patch(
        {"metadata": {}}, [{"op": "add", "path": "/metadata/labels", "value": value}]
    )
    out["metadata"]["labels"]["x"] = "y"
    assert value == {"app": "web"}


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "test", "path": "/spec/replicas", "value": 7}],  # failed test
        [{"op": "remove", "path": "/spec/nope"}],  # missing path
        [{"op": "replace", "path": "/no/such/path", "value": 1}],
        [{"op": "frobnicate", "path": "/spec"}],  # bad op
        [{"path": "/spec"}],  # no op
        [{"op": "add", "path": "/spec/x"}],  # no value
        [{"op": "add", "path": "spec", "value": 1}],  # not a pointer
        [{"op": "add", "path": "/metadata/finalizers/9", "value": "x"}],  # index out of range
        [{"op": "replace", "path": "", "value": [1]}],  # result not an object
        {"op": "add", "path": "/a", "value": 1},  # not a list
        ["add"],
    ],
)
def test_json_patch_errors_raise_patch_error(ops: Any) -> None:
    live = statefulset()
    with pytest.raises(PatchError):
        apply_json_patch(live, ops)
    assert live == statefulset()
