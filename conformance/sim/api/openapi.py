"""OpenAPI v3 documents: the root index and one document per served group-version.

What kubectl 1.32 uses them for (measured, see shared/reference/kubectl-protocol.md):

- ``kubectl apply``/``create`` with validation on look, per object, for a ``patch``
  operation carrying the object's ``x-kubernetes-group-version-kind`` and a
  ``fieldValidation`` query parameter. Found: kubectl skips client-side validation and
  sends ``fieldValidation=Strict``, so the server validates. Every served kind gets one.
- A re-apply computes its strategic merge patch from the v3 document only if the
  kind's ``patch`` operation declares an ``application/strategic-merge-patch+json``
  request body; it then needs the kind's full schema from ``components.schemas``.

Decision: paths and operations only, **no component schemas and no patch request
bodies**. Without a strategic-merge request body kubectl falls back (``/openapi/v2``
404s harmlessly) to the patch metadata compiled into kubectl from the Go types - the
very merge keys and strategies (``containers`` by ``name``, ``$setElementOrder``,
``$retainKeys``) that the real schemas carry - so re-apply patches come out exactly as
against a real cluster. Generated schemas would not: the installed Python client has
field names and types but none of the ``x-kubernetes-patch-merge-key`` /
``x-kubernetes-patch-strategy`` / list-type extensions, so kubectl would treat every list
as atomic, and a skeletal schema is known to break patching outright ("unable to find api
field"). Left out as a consequence: ``kubectl explain`` (needs schemas) has nothing to show.

Operations other than ``patch`` (list, create, deletecollection, read, replace, delete,
the status/scale subresources, log and exec) are listed the way kube-openapi names them,
with their query parameters, so the documents look like the real ones to a reader; their
responses carry descriptions but no schema references.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from conformance.sim.api.discovery import subresource_info, version_info
from conformance.sim.api.kinds import KINDS, Kind, group_versions

_STRING = {"type": "string", "uniqueItems": True}
_INT = {"type": "integer", "uniqueItems": True}
_BOOL = {"type": "boolean", "uniqueItems": True}

_PARAM_DOCS: dict[str, tuple[str, dict[str, Any]]] = {
    "pretty": (
        "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent "
        "indicates a browser or command-line HTTP tool (curl and wget).",
        _STRING,
    ),
    "dryRun": (
        "When present, indicates that modifications should not be persisted. An invalid or "
        "unrecognized dryRun directive will result in an error response and no further "
        "processing of the request. Valid values are: - All: all dry run stages will be "
        "processed",
        _STRING,
    ),
    "fieldManager": (
        "fieldManager is a name associated with the actor or entity that is making these "
        "changes. The value must be less than or 128 characters long, and only contain "
        "printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.",
        _STRING,
    ),
    "fieldValidation": (
        "fieldValidation instructs the server on how to handle objects in the request "
        "(POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: "
        "This will ignore any unknown fields that are silently dropped from the object, and "
        "will ignore all but the last duplicate field that the decoder encounters. This is "
        "the default behavior prior to v1.23. - Warn: This will send a warning via the "
        "standard warning response header for each unknown field that is dropped from the "
        "object, and for each duplicate field that is encountered. The request will still "
        "succeed if there are no other errors, and will only persist the last of any "
        "duplicate fields. This is the default in v1.23+ - Strict: This will fail the "
        "request with a BadRequest error if any unknown fields would be dropped from the "
        "object, or if any duplicate fields are present. The error returned from the server "
        "will contain all unknown and duplicate fields encountered.",
        _STRING,
    ),
    "force": (
        'Force is going to "force" Apply requests. It means user will re-acquire conflicting '
        "fields owned by other people. Force flag must be unset for non-apply patch requests.",
        _BOOL,
    ),
    "gracePeriodSeconds": (
        "The duration in seconds before the object should be deleted. Value must be "
        "non-negative integer. The value zero indicates delete immediately.",
        _INT,
    ),
    "ignoreStoreReadErrorWithClusterBreakingPotential": (
        "if set to true, it will trigger an unsafe deletion of the resource in case the "
        "normal deletion flow fails with a corrupt object error.",
        _BOOL,
    ),
    "orphanDependents": (
        "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. "
        "Should the dependent objects be orphaned.",
        _BOOL,
    ),
    "propagationPolicy": (
        "Whether and how garbage collection will be performed. Either this field or "
        "OrphanDependents may be set, but not both. Acceptable values are: 'Orphan' - orphan "
        "the dependents; 'Background' - allow the garbage collector to delete the dependents "
        "in the background; 'Foreground' - a cascading policy that deletes all dependents in "
        "the foreground.",
        _STRING,
    ),
    "allowWatchBookmarks": (
        'allowWatchBookmarks requests watch events with type "BOOKMARK".',
        _BOOL,
    ),
    "continue": (
        "The continue option should be set when retrieving more results from the server.",
        _STRING,
    ),
    "fieldSelector": (
        "A selector to restrict the list of returned objects by their fields. Defaults to "
        "everything.",
        _STRING,
    ),
    "labelSelector": (
        "A selector to restrict the list of returned objects by their labels. Defaults to "
        "everything.",
        _STRING,
    ),
    "limit": ("limit is a maximum number of responses to return for a list call.", _INT),
    "resourceVersion": (
        "resourceVersion sets a constraint on what resource versions a request may be served from.",
        _STRING,
    ),
    "resourceVersionMatch": (
        "resourceVersionMatch determines how resourceVersion is applied to list calls.",
        _STRING,
    ),
    "sendInitialEvents": (
        "`sendInitialEvents=true` may be set together with `watch=true`.",
        _BOOL,
    ),
    "timeoutSeconds": (
        "Timeout for the list/watch call. This limits the duration of the call, regardless "
        "of any activity or inactivity.",
        _INT,
    ),
    "watch": (
        "Watch for changes to the described resources and return them as a stream of add, "
        "update, and remove notifications.",
        _BOOL,
    ),
    "container": ("The container for which to stream logs or run the command.", _STRING),
    "command": ("Command is the remote command to execute. argv array.", _STRING),
    "stdin": ("Redirect the standard input stream of the pod for this call.", _BOOL),
    "stdout": ("Redirect the standard output stream of the pod for this call.", _BOOL),
    "stderr": ("Redirect the standard error stream of the pod for this call.", _BOOL),
    "tty": ("TTY if true indicates that a tty will be allocated for the exec call.", _BOOL),
    "follow": ("Follow the log stream of the pod.", _BOOL),
    "limitBytes": (
        "If set, the number of bytes to read from the server before terminating the log output.",
        _INT,
    ),
    "previous": ("Return previous terminated container logs.", _BOOL),
    "sinceSeconds": (
        "A relative time in seconds before the current time from which to show logs.",
        _INT,
    ),
    "tailLines": (
        "If set, the number of lines from the end of the logs to show.",
        _INT,
    ),
    "timestamps": (
        "If true, add an RFC3339 or RFC3339Nano timestamp at the beginning of every line of "
        "log output.",
        _BOOL,
    ),
    "insecureSkipTLSVerifyBackend": (
        "insecureSkipTLSVerifyBackend indicates that the apiserver should not confirm the "
        "validity of the serving certificate of the backend it is connecting to.",
        _BOOL,
    ),
}

_LIST_QUERY = (
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
)
_WRITE_QUERY = ("dryRun", "fieldManager", "fieldValidation")
_PATCH_QUERY = ("dryRun", "fieldManager", "fieldValidation", "force")
_DELETE_QUERY = (
    "dryRun",
    "gracePeriodSeconds",
    "ignoreStoreReadErrorWithClusterBreakingPotential",
    "orphanDependents",
    "propagationPolicy",
)
_LOG_QUERY = (
    "container",
    "follow",
    "insecureSkipTLSVerifyBackend",
    "limitBytes",
    "previous",
    "sinceSeconds",
    "tailLines",
    "timestamps",
)
_EXEC_QUERY = ("command", "container", "stderr", "stdin", "stdout", "tty")


def _query(name: str) -> dict[str, Any]:
    description, schema = _PARAM_DOCS[name]
    return {"name": name, "in": "query", "description": description, "schema": dict(schema)}


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "description": description,
        "required": True,
        "schema": dict(_STRING),
    }


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "kind": kind, "version": version}


def _group_word(group: str) -> str:
    """kube-openapi's operation-id group: "" -> Core, storage.k8s.io -> Storage."""
    if not group:
        return "Core"
    first = group.split(".")[0]
    return "".join(part[:1].upper() + part[1:] for part in first.split("-"))


def _tag(kind: Kind) -> str:
    return f"{(kind.group.split('.')[0] or 'core').replace('-', '')}_{kind.version}"


def _responses(*codes: tuple[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {code: {"description": text} for code, text in codes}
    out["401"] = {"description": "Unauthorized"}
    return out


def _operation(
    kind: Kind,
    action: str,
    op_id: str,
    description: str,
    query: tuple[str, ...],
    responses: dict[str, Any],
    gvk: dict[str, str],
) -> dict[str, Any]:
    return {
        "tags": [_tag(kind)],
        "description": description,
        "operationId": op_id,
        "parameters": [_query(q) for q in query],
        "responses": responses,
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
    }


def _paths_for(kind: Kind) -> dict[str, Any]:
    gv_word = _group_word(kind.group) + kind.version[:1].upper() + kind.version[1:]
    scope = "Namespaced" if kind.namespaced else ""
    base = kind.group_version_path
    coll = f"{base}/{kind.plural}"
    if kind.namespaced:
        coll = f"{base}/namespaces/{{namespace}}/{kind.plural}"
    item = f"{coll}/{{name}}"
    gvk = _gvk(kind.group, kind.version, kind.kind)
    ns_param = [
        _path_param("namespace", "object name and auth scope, such as for teams and projects")
    ]
    scope_params = ns_param if kind.namespaced else []
    name_param = _path_param("name", f"name of the {kind.kind}")
    ok = _responses(("200", "OK"))
    written = _responses(("200", "OK"), ("201", "Created"))
    created = _responses(("200", "OK"), ("201", "Created"), ("202", "Accepted"))
    deleted = _responses(("200", "OK"), ("202", "Accepted"))

    def op(
        action: str,
        verb: str,
        what: str,
        desc: str,
        query: tuple[str, ...],
        resp: Any,
        g: dict[str, str] = gvk,
    ) -> dict[str, Any]:
        return _operation(kind, action, f"{verb}{gv_word}{what}", desc, query, resp, g)

    paths: dict[str, Any] = {}
    collection: dict[str, Any] = {
        "get": op(
            "list",
            "list",
            f"{scope}{kind.kind}",
            f"list or watch objects of kind {kind.kind}",
            _LIST_QUERY,
            ok,
        ),
        "post": op(
            "post", "create", f"{scope}{kind.kind}", f"create a {kind.kind}", _WRITE_QUERY, created
        ),
        "delete": op(
            "deletecollection",
            "delete",
            f"Collection{scope}{kind.kind}",
            f"delete collection of {kind.kind}",
            _DELETE_QUERY + _LIST_QUERY,
            ok,
        ),
        "parameters": [*scope_params, _query("pretty")],
    }
    paths[coll] = collection
    paths[item] = {
        "get": op("get", "read", f"{scope}{kind.kind}", f"read the specified {kind.kind}", (), ok),
        "put": op(
            "put",
            "replace",
            f"{scope}{kind.kind}",
            f"replace the specified {kind.kind}",
            _WRITE_QUERY,
            written,
        ),
        "delete": op(
            "delete",
            "delete",
            f"{scope}{kind.kind}",
            f"delete a {kind.kind}",
            _DELETE_QUERY,
            deleted,
        ),
        "patch": op(
            "patch",
            "patch",
            f"{scope}{kind.kind}",
            f"partially update the specified {kind.kind}",
            _PATCH_QUERY,
            written,
        ),
        "parameters": [name_param, *scope_params, _query("pretty")],
    }
    for sub in sorted(kind.subresources):
        group, version, sub_kind = subresource_info(sub).response_kind(kind)
        sub_gvk = _gvk(group, version, sub_kind)
        what = f"{scope}{kind.kind}{sub[:1].upper()}{sub[1:]}"
        path = f"{item}/{sub}"
        if sub in ("status", "scale"):
            paths[path] = {
                "get": op(
                    "get", "read", what, f"read {sub} of the specified {kind.kind}", (), ok, sub_gvk
                ),
                "put": op(
                    "put",
                    "replace",
                    what,
                    f"replace {sub} of the specified {kind.kind}",
                    _WRITE_QUERY,
                    written,
                    sub_gvk,
                ),
                "patch": op(
                    "patch",
                    "patch",
                    what,
                    f"partially update {sub} of the specified {kind.kind}",
                    _PATCH_QUERY,
                    written,
                    sub_gvk,
                ),
                "parameters": [name_param, *scope_params, _query("pretty")],
            }
        elif sub == "log":
            paths[path] = {
                "get": op(
                    "get",
                    "read",
                    what,
                    f"read log of the specified {kind.kind}",
                    _LOG_QUERY,
                    ok,
                    sub_gvk,
                ),
                "parameters": [name_param, *scope_params, _query("pretty")],
            }
        elif sub == "exec":
            connect = f"{scope}{kind.kind}Exec"
            paths[path] = {
                "get": op(
                    "connect",
                    "connect",
                    "Get" + connect,
                    f"connect GET requests to exec of {kind.kind}",
                    _EXEC_QUERY,
                    ok,
                    sub_gvk,
                ),
                "post": op(
                    "connect",
                    "connect",
                    "Post" + connect,
                    f"connect POST requests to exec of {kind.kind}",
                    _EXEC_QUERY,
                    ok,
                    sub_gvk,
                ),
                "parameters": [name_param, *scope_params],
            }
        elif sub in ("binding", "eviction"):
            paths[path] = {
                "post": op(
                    "post",
                    "create",
                    what,
                    f"create {sub} of a {kind.kind}",
                    _WRITE_QUERY,
                    created,
                    sub_gvk,
                ),
                "parameters": [name_param, *scope_params, _query("pretty")],
            }
    if kind.namespaced:
        paths[f"{base}/{kind.plural}"] = {
            "get": op(
                "list",
                "list",
                f"{kind.kind}ForAllNamespaces",
                f"list or watch objects of kind {kind.kind}",
                (),
                ok,
            ),
            "parameters": [_query(q) for q in sorted((*_LIST_QUERY, "pretty"))],
        }
    return paths


def _info() -> dict[str, str]:
    return {"title": "Kubernetes", "version": version_info()["gitVersion"]}


def openapi_v3_document(group: str, version: str) -> dict[str, Any] | None:
    """The document for one group-version (``""``, ``"v1"`` for the core group), or None."""
    if (group, version) not in group_versions():
        return None
    paths: dict[str, Any] = {}
    for kind in sorted(KINDS, key=lambda k: k.plural):
        if (kind.group, kind.version) == (group, version):
            paths.update(_paths_for(kind))
    return {"openapi": "3.0.0", "info": _info(), "paths": dict(sorted(paths.items()))}


def _doc_key(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def document_hash(document: dict[str, Any]) -> str:
    """Upper-case hex SHA-512 of the document, as kube-apiserver puts in ``?hash=``."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha512(canonical.encode()).hexdigest().upper()


def openapi_v3_root() -> dict[str, Any]:
    """The /openapi/v3 index: one ``serverRelativeURL`` per served group-version."""
    paths: dict[str, Any] = {}
    for group, version in group_versions():
        document = openapi_v3_document(group, version)
        assert document is not None
        key = _doc_key(group, version)
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={document_hash(document)}"}
    return {"paths": paths}
