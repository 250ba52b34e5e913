"""OpenAPI v3 documents, checked the way kubectl 1.32 reads them.

kubectl's query-parameter verifier (``supportsQueryParamV3``) and its patcher
(``gvkSupportsPatchOpenAPIV3``) are mirrored here so that a document kubectl would reject
or misuse fails a test.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from conformance.sim.api import openapi
from conformance.sim.api.kinds import KINDS, group_versions


def _doc_for(group: str, version: str) -> dict[str, Any]:
    document = openapi.openapi_v3_document(group, version)
    assert document is not None
    return document


def _patch_ops_for(document: dict[str, Any], gvk: dict[str, str]) -> list[dict[str, Any]]:
    ops = []
    for item in document["paths"].values():
        op = item.get("patch")
        if op and op.get("x-kubernetes-group-version-kind") == gvk:
            ops.append(op)
    return ops


def kubectl_supports_field_validation(document: dict[str, Any], gvk: dict[str, str]) -> bool:
    """kubectl's supportsQueryParamV3: the first PATCH for the GVK must list the param."""
    for op in _patch_ops_for(document, gvk):
        return any(p.get("name") == "fieldValidation" for p in op.get("parameters", []))
    return False


def kubectl_uses_v3_for_strategic_patch(document: dict[str, Any], gvk: dict[str, str]) -> bool:
    """kubectl's gvkSupportsPatchOpenAPIV3."""
    for op in _patch_ops_for(document, gvk):
        content = (op.get("requestBody") or {}).get("content") or {}
        return "application/strategic-merge-patch+json" in content
    return False


def test_root_lists_every_served_group_version_with_a_hashed_url() -> None:
    root = openapi.openapi_v3_root()
    expected = {(f"apis/{g}/{v}" if g else f"api/{v}") for g, v in group_versions()}
    assert set(root["paths"]) == expected
    for key, entry in root["paths"].items():
        url = entry["serverRelativeURL"]
        assert url.startswith(f"/openapi/v3/{key}?hash=")
        group, version = ("", key.split("/")[1]) if key.startswith("api/") else key.split("/")[1:]
        assert url.split("hash=")[1] == openapi.document_hash(_doc_for(group, version))
        assert len(url.split("hash=")[1]) == 128


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_every_kind_has_a_patch_operation_with_its_gvk_and_field_validation(kind: Any) -> None:
    document = _doc_for(kind.group, kind.version)
    gvk = {"group": kind.group, "kind": kind.kind, "version": kind.version}
    assert _patch_ops_for(document, gvk), f"no PATCH operation for {gvk}"
    assert all(
        any(p["name"] == "fieldValidation" for p in op["parameters"])
        for op in _patch_ops_for(document, gvk)
    )
    assert kubectl_supports_field_validation(document, gvk)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_kubectl_falls_back_to_builtin_patch_metadata(kind: Any) -> None:
    # Without full schemas, a strategic-merge request body would make kubectl compute the
    # re-apply patch from a schema that is not there.
    document = _doc_for(kind.group, kind.version)
    gvk = {"group": kind.group, "kind": kind.kind, "version": kind.version}
    assert not kubectl_uses_v3_for_strategic_patch(document, gvk)
    assert "schemas" not in document.get("components", {})


def test_scale_subresource_patch_carries_the_autoscaling_scale_gvk() -> None:
    document = _doc_for("apps", "v1")
    item = document["paths"]["/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}/scale"]
    assert item["patch"]["x-kubernetes-group-version-kind"] == {
        "group": "autoscaling",
        "kind": "Scale",
        "version": "v1",
    }
    assert item["patch"]["operationId"] == "patchAppsV1NamespacedStatefulSetScale"


def test_paths_and_operation_ids_follow_the_real_naming() -> None:
    core = _doc_for("", "v1")
    pods = core["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]
    assert pods["get"]["operationId"] == "readCoreV1NamespacedPod"
    assert pods["patch"]["x-kubernetes-action"] == "patch"
    assert core["paths"]["/api/v1/namespaces/{namespace}/pods"]["get"]["operationId"] == (
        "listCoreV1NamespacedPod"
    )
    assert core["paths"]["/api/v1/pods"]["get"]["operationId"] == "listCoreV1PodForAllNamespaces"
    assert core["paths"]["/api/v1/nodes/{name}"]["put"]["operationId"] == "replaceCoreV1Node"
    exec_item = core["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/exec"]
    assert exec_item["get"]["operationId"] == "connectCoreV1GetNamespacedPodExec"
    storage = _doc_for("storage.k8s.io", "v1")
    assert storage["paths"]["/apis/storage.k8s.io/v1/storageclasses"]["delete"]["operationId"] == (
        "deleteStorageV1CollectionStorageClass"
    )
    assert "/apis/storage.k8s.io/v1/namespaces/{namespace}/storageclasses" not in storage["paths"]


@pytest.mark.parametrize(("group", "version"), group_versions())
def test_operation_ids_are_unique_and_documents_are_json(group: str, version: str) -> None:
    document = _doc_for(group, version)
    ids = [
        op["operationId"]
        for item in document["paths"].values()
        for method, op in item.items()
        if method != "parameters"
    ]
    assert len(ids) == len(set(ids))
    assert json.loads(json.dumps(document)) == document


@pytest.mark.parametrize(("group", "version"), group_versions())
def test_documents_are_valid_openapi_3(group: str, version: str) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(_doc_for(group, version))


def test_unknown_group_versions_have_no_document() -> None:
    assert openapi.openapi_v3_document("apps", "v1beta1") is None
    assert openapi.openapi_v3_document("batch", "v1") is None
    assert openapi.openapi_v3_document("", "v2") is None


def test_document_hash_changes_with_content() -> None:
    document = _doc_for("apps", "v1")
    changed = json.loads(json.dumps(document))
    changed["info"]["version"] = "v0"
    assert openapi.document_hash(document) != openapi.document_hash(changed)
    assert openapi.document_hash(document) == openapi.document_hash(_doc_for("apps", "v1"))
