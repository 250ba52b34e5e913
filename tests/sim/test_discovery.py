"""Version and discovery documents of the simulated API server.

The legacy forms are fed through the official client's own deserializer (pydantic models
that reject missing required fields), the aggregated form through its v2 discovery models.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from kubernetes.client import ApiClient

from conformance.sim.api import discovery
from conformance.sim.api.kinds import KINDS, Kind, group_versions

KUBECTL_ACCEPT = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
    "application/json"
)


def deserialize(body: dict[str, Any], model: str) -> Any:
    return ApiClient().deserialize(json.dumps(body), model, "application/json")


def by_kind(kind: str) -> Kind:
    return next(k for k in KINDS if k.kind == kind)


# --- /version -----------------------------------------------------------------------------


def test_version_reports_1_32_so_the_kubectl_dispatcher_keeps_its_builtin_1_32() -> None:
    info = discovery.version_info()
    assert (info["major"], info["minor"]) == ("1", "32")
    assert re.fullmatch(r"v1\.32\.\d+", info["gitVersion"])
    assert info["platform"] == "linux/amd64"


def test_version_deserializes_into_the_official_client_model() -> None:
    model = deserialize(discovery.version_info(), "VersionInfo")
    assert model.git_version == "v1.32.0"
    assert model.go_version.startswith("go1.")


def test_version_info_is_a_fresh_copy() -> None:
    discovery.version_info()["minor"] = "30"
    assert discovery.version_info()["minor"] == "32"


# --- content negotiation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (KUBECTL_ACCEPT, True),
        ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", True),
        ("application/json; as=APIGroupDiscoveryList; v=v2; g=apidiscovery.k8s.io", True),
        ("application/json", False),
        ("application/json, */*", False),
        ("", False),
        ("*/*", False),
        ("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList", False),
        (
            "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
            False,
        ),
        ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;q=0", False),
    ],
)
def test_wants_aggregated(accept: str, expected: bool) -> None:
    assert discovery.wants_aggregated(accept) is expected


def test_aggregated_content_type_is_exactly_what_kubectl_requires() -> None:
    assert discovery.AGGREGATED_CONTENT_TYPE == (
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    )


# --- aggregated discovery -----------------------------------------------------------------


def _aggregated_resources() -> dict[tuple[str, str, str], dict[str, Any]]:
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for core in (True, False):
        for item in discovery.aggregated_discovery(core)["items"]:
            group = item["metadata"].get("name", "")
            for version in item["versions"]:
                for resource in version["resources"]:
                    found[(group, version["version"], resource["resource"])] = resource
    return found


def test_every_served_kind_is_in_aggregated_discovery_with_its_scope_and_names() -> None:
    resources = _aggregated_resources()
    assert len(resources) == len(KINDS)
    for kind in KINDS:
        entry = resources[(kind.group, kind.version, kind.plural)]
        assert entry["scope"] == ("Namespaced" if kind.namespaced else "Cluster"), kind
        assert entry["responseKind"] == {
            "group": kind.group,
            "version": kind.version,
            "kind": kind.kind,
        }
        assert entry["singularResource"] == kind.singular_name
        assert entry.get("shortNames", []) == list(kind.short_names)
        assert entry.get("categories", []) == list(kind.categories)
        assert set(entry["verbs"]) == set(kind.verbs)
        assert [s["subresource"] for s in entry.get("subresources", [])] == sorted(
            kind.subresources
        )


def test_aggregated_core_and_groups_are_split_like_api_and_apis() -> None:
    core = discovery.aggregated_discovery(core=True)
    groups = discovery.aggregated_discovery(core=False)
    assert core["kind"] == groups["kind"] == "APIGroupDiscoveryList"
    assert core["apiVersion"] == "apidiscovery.k8s.io/v2"
    assert len(core["items"]) == 1
    assert "name" not in core["items"][0]["metadata"]
    names = [item["metadata"]["name"] for item in groups["items"]]
    assert names == ["apps", "storage.k8s.io"]
    assert all(v["freshness"] == "Current" for i in groups["items"] for v in i["versions"])


def test_aggregated_subresources_carry_their_own_response_kinds() -> None:
    resources = _aggregated_resources()
    sts = {s["subresource"]: s for s in resources[("apps", "v1", "statefulsets")]["subresources"]}
    assert sts["scale"]["responseKind"] == {
        "group": "autoscaling",
        "version": "v1",
        "kind": "Scale",
    }
    assert sts["scale"]["verbs"] == ["get", "patch", "update"]
    assert sts["status"]["responseKind"]["kind"] == "StatefulSet"
    pods = {s["subresource"]: s for s in resources[("", "v1", "pods")]["subresources"]}
    assert pods["exec"]["responseKind"]["kind"] == "PodExecOptions"
    assert pods["exec"]["verbs"] == ["create", "get"]
    assert pods["log"]["verbs"] == ["get"]
    assert pods["eviction"]["responseKind"] == {
        "group": "policy",
        "version": "v1",
        "kind": "Eviction",
    }


@pytest.mark.parametrize("core", [True, False])
def test_aggregated_discovery_deserializes_into_the_client_v2_models(core: bool) -> None:
    model = deserialize(discovery.aggregated_discovery(core), "V2APIGroupDiscoveryList")
    resources = [r.resource for item in model.items for v in item.versions for r in v.resources]
    assert "pods" in resources if core else "statefulsets" in resources


def test_aggregated_resources_are_sorted_by_name() -> None:
    for core in (True, False):
        for item in discovery.aggregated_discovery(core)["items"]:
            for version in item["versions"]:
                names = [r["resource"] for r in version["resources"]]
                assert names == sorted(names)


# --- legacy discovery ---------------------------------------------------------------------


def test_api_versions_deserializes_and_lists_v1() -> None:
    model = deserialize(discovery.api_versions(), "V1APIVersions")
    assert model.versions == ["v1"]
    assert model.server_address_by_client_cidrs[0].client_cidr == "0.0.0.0/0"


def test_api_group_list_has_every_non_core_group_with_its_preferred_version() -> None:
    body = discovery.api_group_list()
    model = deserialize(body, "V1APIGroupList")
    groups = {g.name: g for g in model.groups}
    expected = {g for g, _ in group_versions() if g}
    assert set(groups) == expected
    assert groups["apps"].preferred_version.group_version == "apps/v1"
    assert all("kind" not in g for g in body["groups"])


def test_api_group_deserializes() -> None:
    model = deserialize(discovery.api_group("storage.k8s.io"), "V1APIGroup")
    assert [v.group_version for v in model.versions] == ["storage.k8s.io/v1"]
    assert model.kind == "APIGroup"


@pytest.mark.parametrize(("group", "version"), group_versions())
def test_api_resource_list_deserializes_for_every_group_version(group: str, version: str) -> None:
    body = discovery.api_resource_list(group, version)
    model = deserialize(body, "V1APIResourceList")
    assert model.group_version == (f"{group}/{version}" if group else version)
    names = [r.name for r in model.resources]
    assert names == sorted(names)
    top = {r.name for r in model.resources if "/" not in r.name}
    assert top == {k.plural for k in KINDS if (k.group, k.version) == (group, version)}


def test_core_resource_list_has_no_api_version_but_group_lists_do() -> None:
    assert "apiVersion" not in discovery.api_resource_list("", "v1")
    assert discovery.api_resource_list("apps", "v1")["apiVersion"] == "v1"


def test_legacy_subresource_entries() -> None:
    core = {r["name"]: r for r in discovery.api_resource_list("", "v1")["resources"]}
    apps = {r["name"]: r for r in discovery.api_resource_list("apps", "v1")["resources"]}
    assert core["pods/exec"] == {
        "name": "pods/exec",
        "singularName": "",
        "namespaced": True,
        "kind": "PodExecOptions",
        "verbs": ["create", "get"],
    }
    assert core["pods/log"]["kind"] == "Pod"
    assert core["pods/log"]["verbs"] == ["get"]
    assert core["namespaces/status"]["namespaced"] is False
    assert apps["statefulsets/scale"] == {
        "name": "statefulsets/scale",
        "singularName": "",
        "namespaced": True,
        "group": "autoscaling",
        "version": "v1",
        "kind": "Scale",
        "verbs": ["get", "patch", "update"],
    }
    assert apps["statefulsets/status"]["kind"] == "StatefulSet"
    assert "group" not in apps["statefulsets/status"]


def test_legacy_top_level_entries_carry_short_names_categories_and_hash() -> None:
    core = {r["name"]: r for r in discovery.api_resource_list("", "v1")["resources"]}
    pods = core["pods"]
    assert pods["shortNames"] == ["po"]
    assert pods["categories"] == ["all"]
    assert pods["singularName"] == "pod"
    assert pods["verbs"] == sorted(by_kind("Pod").verbs)
    assert core["endpoints"]["singularName"] == "endpoints"
    assert "shortNames" not in discovery.api_resource_list("apps", "v1")["resources"][0]


def test_storage_version_hash_matches_a_real_server() -> None:
    # Values served by a real kube-apiserver for these kinds.
    assert discovery.storage_version_hash(by_kind("Pod")) == "xPOwRZ+Yhw8="
    assert discovery.storage_version_hash(by_kind("StatefulSet")) == "H+vl74LkKdo="
