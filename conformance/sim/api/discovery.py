"""Version and discovery documents, as kube-apiserver 1.32 serves them.

Everything here is derived from ``kinds.KINDS``; the HTTP layer picks the form:

- ``/version``: :func:`version_info`. kubectl on our PATH is a dispatcher that runs
  ``kubectl.1.<minor>``, so the minor must be ``"32"`` to keep the built-in 1.32.
- ``/api`` and ``/apis``: aggregated discovery (APIGroupDiscoveryList v2, served with
  :data:`AGGREGATED_CONTENT_TYPE`) when the Accept header asks for it
  (:func:`wants_aggregated`, kubectl does), else the legacy ``APIVersions`` /
  ``APIGroupList`` (the official Python client asks for plain JSON).
- ``/apis/<group>`` and ``/api/v1``, ``/apis/<group>/<version>``: legacy ``APIGroup`` and
  ``APIResourceList`` (with ``pods/exec``-style subresource entries).

The legacy forms are what the official client deserializes into its pydantic models, so
they carry exactly the fields those models know (``singularName`` is required there and
is ``""`` on subresource entries, as the real server sends it).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from conformance.sim.api.kinds import KINDS, Kind, group_versions

AGGREGATED_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

# What `kubectl version -o json` shows for a stock v1.32.0 kube-apiserver.
_VERSION_INFO: dict[str, str] = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0",
    "gitCommit": "70d3cc986aa8221cd1dfb1121852688902d3bf53",
    "gitTreeState": "clean",
    "buildDate": "2024-12-11T17:59:15Z",
    "goVersion": "go1.23.3",
    "compiler": "gc",
    "platform": "linux/amd64",
}

# The address kube-apiserver advertises in serverAddressByClientCIDRs.
DEFAULT_SERVER_ADDRESS = "127.0.0.1:6443"


@dataclass(frozen=True)
class Subresource:
    """How a subresource is described in discovery.

    ``kind`` empty means the parent's kind; ``kind`` ending in ``"*"`` is prefixed with
    the parent's kind (``"*ProxyOptions"`` -> ``PodProxyOptions``); ``group``/``version``
    None mean the parent's group-version.
    """

    verbs: tuple[str, ...]
    kind: str = ""
    group: str | None = None
    version: str | None = None

    def response_kind(self, parent: Kind) -> tuple[str, str, str]:
        kind = self.kind or parent.kind
        if kind.startswith("*"):
            kind = parent.kind + kind[1:]
        group = parent.group if self.group is None else self.group
        version = parent.version if self.version is None else self.version
        return group, version, kind


# The real server's description of each subresource kube-apiserver knows.
SUBRESOURCES: dict[str, Subresource] = {
    "status": Subresource(("get", "patch", "update")),
    "scale": Subresource(("get", "patch", "update"), "Scale", "autoscaling", "v1"),
    "log": Subresource(("get",)),
    "exec": Subresource(("create", "get"), "PodExecOptions"),
    "attach": Subresource(("create", "get"), "PodAttachOptions"),
    "portforward": Subresource(("create", "get"), "PodPortForwardOptions"),
    "proxy": Subresource(
        ("create", "delete", "get", "head", "options", "patch", "update"), "*ProxyOptions"
    ),
    "binding": Subresource(("create",), "Binding"),
    "eviction": Subresource(("create",), "Eviction", "policy", "v1"),
    "ephemeralcontainers": Subresource(("get", "patch", "update")),
    "resize": Subresource(("get", "patch", "update")),
    "finalize": Subresource(("update",)),
}


def subresource_info(sub: str) -> Subresource:
    """Discovery facts for a subresource name; unknown names get get/patch/update."""
    return SUBRESOURCES.get(sub, Subresource(("get", "patch", "update")))


def storage_version_hash(kind: Kind) -> str:
    """kube-apiserver's storageVersionHash: base64(sha256("group/version/Kind")[:8])."""
    digest = hashlib.sha256(f"{kind.group}/{kind.version}/{kind.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def version_info() -> dict[str, Any]:
    """The /version body (apimachinery version.Info)."""
    return dict(_VERSION_INFO)


# --- content negotiation -----------------------------------------------------------------


def _media_ranges(accept: str) -> list[tuple[str, dict[str, str]]]:
    ranges: list[tuple[str, dict[str, str]]] = []
    for part in accept.split(","):
        pieces = [p.strip() for p in part.split(";")]
        if not pieces[0]:
            continue
        params: dict[str, str] = {}
        for piece in pieces[1:]:
            key, sep, value = piece.partition("=")
            if sep:
                params[key.strip().lower()] = value.strip().strip('"')
        ranges.append((pieces[0].lower(), params))
    return ranges


def wants_aggregated(accept_header: str) -> bool:
    """True if the Accept header asks for APIGroupDiscoveryList v2 as JSON.

    kubectl sends ``application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,
    application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,
    application/json``; the official client sends ``application/json`` and gets the
    legacy form. A range with ``q=0`` is a refusal.
    """
    for media, params in _media_ranges(accept_header):
        if media not in ("application/json", "application/*", "*/*"):
            continue
        if params.get("q", "1").strip() in ("0", "0.0", "0.00", "0.000"):
            continue
        if (
            params.get("g") == "apidiscovery.k8s.io"
            and params.get("v") == "v2"
            and params.get("as") == "APIGroupDiscoveryList"
        ):
            return True
    return False


# --- aggregated discovery (apidiscovery.k8s.io/v2) --------------------------------------


def _kinds_in(group: str, version: str) -> list[Kind]:
    return sorted(
        (k for k in KINDS if k.group == group and k.version == version),
        key=lambda k: k.plural,
    )


def _groups(core: bool) -> list[str]:
    seen: list[str] = []
    for group, _ in group_versions():
        if (group == "") == core and group not in seen:
            seen.append(group)
    return seen


def _versions_of(group: str) -> list[str]:
    return [v for g, v in group_versions() if g == group]


def _resource_discovery(kind: Kind) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": kind.plural,
        "responseKind": {"group": kind.group, "version": kind.version, "kind": kind.kind},
        "scope": "Namespaced" if kind.namespaced else "Cluster",
        "singularResource": kind.singular_name,
        "verbs": sorted(kind.verbs),
    }
    if kind.short_names:
        entry["shortNames"] = list(kind.short_names)
    if kind.categories:
        entry["categories"] = list(kind.categories)
    subs = []
    for sub in sorted(kind.subresources):
        group, version, sub_kind = subresource_info(sub).response_kind(kind)
        subs.append(
            {
                "subresource": sub,
                "responseKind": {"group": group, "version": version, "kind": sub_kind},
                "verbs": sorted(subresource_info(sub).verbs),
            }
        )
    if subs:
        entry["subresources"] = subs
    return entry


def _group_discovery(group: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"creationTimestamp": None}
    if group:
        metadata = {"name": group, "creationTimestamp": None}
    return {
        "metadata": metadata,
        "versions": [
            {
                "version": version,
                "resources": [_resource_discovery(k) for k in _kinds_in(group, version)],
                "freshness": "Current",
            }
            for version in _versions_of(group)
        ],
    }


def aggregated_discovery(core: bool) -> dict[str, Any]:
    """APIGroupDiscoveryList v2 for /api (core=True) or /apis (core=False)."""
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": [_group_discovery(g) for g in _groups(core)],
    }


# --- legacy discovery -------------------------------------------------------------------


def api_versions(server_address: str = DEFAULT_SERVER_ADDRESS) -> dict[str, Any]:
    """APIVersions for /api."""
    return {
        "kind": "APIVersions",
        "versions": _versions_of(""),
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group_version_for_discovery(group: str, version: str) -> dict[str, str]:
    return {"groupVersion": f"{group}/{version}", "version": version}


def api_group(group: str) -> dict[str, Any]:
    """APIGroup for /apis/<group> (the caller 404s groups that are not served)."""
    versions = [_group_version_for_discovery(group, v) for v in _versions_of(group)]
    body: dict[str, Any] = {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": versions,
    }
    if versions:
        body["preferredVersion"] = versions[0]
    return body


def api_group_list() -> dict[str, Any]:
    """APIGroupList for /apis."""
    groups = []
    for group in _groups(core=False):
        entry = api_group(group)
        del entry["kind"], entry["apiVersion"]
        groups.append(entry)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _api_resource(kind: Kind) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": kind.plural,
        "singularName": kind.singular_name,
        "namespaced": kind.namespaced,
        "kind": kind.kind,
        "verbs": sorted(kind.verbs),
    }
    if kind.short_names:
        entry["shortNames"] = list(kind.short_names)
    if kind.categories:
        entry["categories"] = list(kind.categories)
    entry["storageVersionHash"] = storage_version_hash(kind)
    return entry


def _api_subresource(kind: Kind, sub: str) -> dict[str, Any]:
    info = subresource_info(sub)
    group, version, sub_kind = info.response_kind(kind)
    entry: dict[str, Any] = {
        "name": f"{kind.plural}/{sub}",
        "singularName": "",
        "namespaced": kind.namespaced,
    }
    if (group, version) != (kind.group, kind.version):
        entry["group"] = group
        entry["version"] = version
    entry["kind"] = sub_kind
    entry["verbs"] = sorted(info.verbs)
    return entry


def api_resource_list(group: str, version: str) -> dict[str, Any]:
    """APIResourceList for /api/v1 or /apis/<group>/<version>.

    Resources are sorted by name, so each ``pods/<sub>`` entry follows ``pods``. The core
    list has no ``apiVersion`` field, as on the real server.
    """
    resources: list[dict[str, Any]] = []
    for kind in _kinds_in(group, version):
        resources.append(_api_resource(kind))
        resources.extend(_api_subresource(kind, sub) for sub in sorted(kind.subresources))
    body: dict[str, Any] = {"kind": "APIResourceList"}
    if group:
        body["apiVersion"] = "v1"
    body["groupVersion"] = f"{group}/{version}" if group else version
    body["resources"] = resources
    return body
