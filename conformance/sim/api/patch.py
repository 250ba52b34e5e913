"""The three PATCH flavours kubectl and the official Python client send.

- `apply_merge_patch`: application/merge-patch+json (RFC 7386), e.g. `kubectl scale`.
- `apply_json_patch`: application/json-patch+json (RFC 6902).
- `apply_strategic_merge_patch`: application/strategic-merge-patch+json, which
  `kubectl apply` sends on re-apply. No Python library implements it, so this follows
  k8s.io/apimachinery/pkg/util/strategicpatch (StrategicMergeMapPatch, the server side)
  for the directives clients send, with merge keys from one table, `MERGE_KEYS`.

Every function returns a new dict and never mutates its arguments. `PatchError` means
the patch cannot be applied; the server answers 422 (or 400 for a malformed body).

Where upstream's behaviour is an accident of Go typing, this module does the sensible
thing instead: `$patch: merge` is accepted as the default merge (upstream rejects it);
directives and nulls inside a value with nothing to merge into are applied rather than
stored (the typed decode drops them upstream); `$deleteFromPrimitiveList` on a missing
list does nothing (upstream stores the deletion list as the value); `$setElementOrder`
on an atomic list is ignored and the patch list replaces it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import json_merge_patch
import jsonpatch
import jsonpointer

__all__ = [
    "MERGE_KEYS",
    "PatchError",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_strategic_merge_patch",
    "merge_keys_for",
]


class PatchError(ValueError):
    """A patch that is malformed or cannot be applied to the object."""


def apply_merge_patch(obj: Mapping[str, Any], patch: Any) -> dict[str, Any]:
    """RFC 7386: maps merge recursively, null deletes, everything else (lists too) replaces."""
    if not isinstance(patch, Mapping):
        raise PatchError("a merge patch for an object must be a JSON object")
    result = json_merge_patch.merge(copy.deepcopy(dict(obj)), copy.deepcopy(dict(patch)))
    assert isinstance(result, dict)
    return result


def apply_json_patch(obj: Mapping[str, Any], patch_list: Any) -> dict[str, Any]:
    """RFC 6902 operations applied in order; any failing operation fails the whole patch."""
    if not isinstance(patch_list, list) or not all(isinstance(op, Mapping) for op in patch_list):
        raise PatchError("a JSON patch must be a list of operation objects")
    try:
        result = jsonpatch.apply_patch(copy.deepcopy(dict(obj)), copy.deepcopy(patch_list))
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
        raise PatchError(f"json patch: {exc}") from None
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise PatchError(f"json patch: invalid operation: {exc}") from None
    if not isinstance(result, dict):
        raise PatchError("json patch: the result is not an object")
    return result


# --- merge keys -------------------------------------------------------------------------
#
# From the patchStrategy/patchMergeKey tags of k8s.io/api. A path names a list by field
# names from the object root; list items add nothing ("spec.containers.ports" is the
# ports list of every container). The value is the merge key, "" for a list of scalars
# merged as a set. Every list not named here is atomic: the patch replaces it, as the
# real API does for tolerations, Endpoints subsets, Node taints and StatefulSet
# spec.volumeClaimTemplates (+listType=atomic, no patchStrategy in apps/v1).

_CONTAINER_LISTS = {
    "ports": "containerPort",
    "env": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
}
_POD_SPEC_LISTS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "schedulingGates": "name",
    "resourceClaims": "name",
}


def _meta(prefix: str) -> dict[str, str]:
    return {f"{prefix}finalizers": "", f"{prefix}ownerReferences": "uid"}


def _pod_spec(prefix: str) -> dict[str, str]:
    keys = {f"{prefix}{field}": key for field, key in _POD_SPEC_LISTS.items()}
    for containers in ("containers", "initContainers", "ephemeralContainers"):
        for field, key in _CONTAINER_LISTS.items():
            keys[f"{prefix}{containers}.{field}"] = key
    return keys


_CONDITIONS = {"status.conditions": "type"}

_BY_KIND: dict[str, dict[str, str]] = {
    "Pod": {
        **_pod_spec("spec."),
        **_CONDITIONS,
        "status.podIPs": "ip",
        "status.hostIPs": "ip",
    },
    "StatefulSet": {
        **_meta("spec.template.metadata."),
        **_pod_spec("spec.template.spec."),
        **_CONDITIONS,
    },
    "Service": {"spec.ports": "port", **_CONDITIONS},
    "Node": {"spec.podCIDRs": "", "status.addresses": "type", **_CONDITIONS},
    "Namespace": dict(_CONDITIONS),
    "PersistentVolumeClaim": dict(_CONDITIONS),
}
_KINDS = (
    *_BY_KIND,
    "Endpoints",
    "PersistentVolume",
    "StorageClass",
    "Event",
    "ControllerRevision",
)

MERGE_KEYS: Mapping[tuple[str, str], str] = {
    (kind, path): key
    for kind in _KINDS
    for path, key in {**_meta("metadata."), **_BY_KIND.get(kind, {})}.items()
}


def merge_keys_for(kind: str) -> dict[str, str]:
    """Path -> merge key for a kind; an unknown kind gets the ObjectMeta lists only."""
    keys = {path: key for (k, path), key in MERGE_KEYS.items() if k == kind}
    return keys or _meta("metadata.")


# --- strategic merge patch ----------------------------------------------------------------

_PATCH = "$patch"
_RETAIN = "$retainKeys"
_ORDER = "$setElementOrder/"
_DELETE_FROM = "$deleteFromPrimitiveList/"


def apply_strategic_merge_patch(obj: Mapping[str, Any], patch: Any, kind: str) -> dict[str, Any]:
    """Apply a strategic merge patch the way kube-apiserver does for `kind`."""
    if not isinstance(patch, Mapping):
        raise PatchError("a strategic merge patch must be a JSON object")
    merger = _Merger(merge_keys_for(kind))
    return merger.merge_map(copy.deepcopy(dict(obj)), copy.deepcopy(dict(patch)), "")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _same(a: Any, b: Any) -> bool:
    """JSON equality (1 == 1.0 as Go's float64s), but never true == 1."""
    return isinstance(a, bool) == isinstance(b, bool) and bool(a == b)


def _category(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    return "string" if isinstance(value, str) else "null"


def _element_kind(items: list[Any]) -> str:
    kinds = {_category(v) for v in items}
    if "list" in kinds:
        raise PatchError("lists of lists are not supported")
    if len(kinds) > 1:
        raise PatchError(f"list element types are not identical: {sorted(kinds)}")
    return kinds.pop() if kinds else "none"


def _dedupe(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if not any(_same(item, seen) for seen in out):
            out.append(item)
    return out


def _key_of(item: Any, key: str) -> Any:
    if not isinstance(item, dict):
        raise PatchError(f"expected a map in a list merged by {key!r}, got {item!r}")
    if key not in item:
        raise PatchError(f"map: {item} does not contain declared merge key: {key}")
    return item[key]


def _index(order: list[Any], item: Any, key: str) -> int | None:
    """Position of `item` in `order`, by merge key for maps and by value for scalars."""
    for i, candidate in enumerate(order):
        if key:
            if _same(_key_of(candidate, key), _key_of(item, key)):
                return i
        elif _same(candidate, item):
            return i
    return None


def _partition(merged: list[Any], by: list[Any], key: str) -> tuple[list[Any], list[Any]]:
    """Items present in `by` (the patch's own) and the rest (server-only)."""
    ours = [item for item in merged if _index(by, item, key) is not None]
    rest = [item for item in merged if _index(by, item, key) is None]
    return ours, rest


def _sort_by(items: list[Any], order: list[Any], key: str) -> list[Any]:
    def position(item: Any) -> int:
        found = _index(order, item, key)
        return len(order) if found is None else found

    return sorted(items, key=position)


def _normalize_order(
    ours: list[Any], rest: list[Any], our_order: list[Any], server_order: list[Any], key: str
) -> list[Any]:
    """Upstream normalizeElementOrder: the patch's items keep the patch's (or
    $setElementOrder's) order, server-only items keep their live order, and the two are
    interleaved by live position; a patch item with no live position goes before any
    remaining server-only item."""
    ours = _sort_by(ours, our_order, key)
    rest = _sort_by(rest, server_order, key)
    out: list[Any] = []
    i = j = 0
    while i < len(rest) and j < len(ours):
        left, right = _index(server_order, rest[i], key), _index(server_order, ours[j], key)
        if left is not None and right is not None and left < right:
            out.append(rest[i])
            i += 1
        else:
            out.append(ours[j])
            j += 1
    return out + rest[i:] + ours[j:]


class _Merger:
    """StrategicMergeMapPatch over plain dicts; `keys` maps list paths to merge keys."""

    def __init__(self, keys: Mapping[str, str]) -> None:
        self.keys = keys

    def fresh(self, value: Any, path: str) -> Any:
        """A patch value with nothing to merge into, with its directives applied (upstream
        stores it raw; the typed decode then drops `$` keys and nulls, so do that here)."""
        if isinstance(value, dict):
            return self.merge_map({}, value, path)
        if isinstance(value, list):
            return self.merge_list([], value, path)
        return value

    def merge_map(
        self, original: dict[str, Any], patch: dict[str, Any], path: str
    ) -> dict[str, Any]:
        directive = patch.pop(_PATCH, None)
        if directive == "replace":
            return self.merge_map({}, patch, path)
        if directive == "delete":
            return {}
        if directive not in (None, "merge"):
            raise PatchError(f"unknown patch type: {directive!r} in map at {path or '<root>'}")
        self.retain_keys(original, patch)
        self.set_element_orders(original, patch, path)
        deletions = {k: v for k, v in patch.items() if k.startswith(_DELETE_FROM)}
        for key, value in patch.items():
            if key in deletions:
                continue
            if key.startswith("$"):
                raise PatchError(f"unknown strategic merge patch directive {key!r}")
            child = _join(path, key)
            current = original.get(key)
            if value is None:
                original.pop(key, None)
            elif isinstance(current, dict) and isinstance(value, dict):
                original[key] = self.merge_map(current, value, child)
            elif isinstance(current, list) and isinstance(value, list):
                original[key] = self.merge_list(current, value, child)
            else:
                original[key] = self.fresh(value, child)
        for key, value in deletions.items():
            self.delete_from_primitive_list(original, key, value)
        return original

    def retain_keys(self, original: dict[str, Any], patch: dict[str, Any]) -> None:
        """`$retainKeys`: drop live keys not listed; every non-null patch key must be listed."""
        if _RETAIN not in patch:
            return
        keep = patch.pop(_RETAIN)
        if not isinstance(keep, list):
            raise PatchError("invalid patch format of retainKeys: expected a list")
        for key, value in patch.items():
            if value is None or key.startswith((_ORDER, _DELETE_FROM)) or key in keep:
                continue
            raise PatchError(f"invalid patch format of retainKeys: {key!r} is not retained")
        for key in [k for k in original if k not in keep]:
            del original[key]

    def set_element_orders(
        self, original: dict[str, Any], patch: dict[str, Any], path: str
    ) -> None:
        """`$setElementOrder/<list>`: merge the list, then order it. Items named in the
        directive take its order; live items it does not name keep their relative live
        order and are interleaved by live position (upstream mergePatchIntoOriginal).
        Names in the directive that match no item are ignored."""
        for directive in [k for k in patch if k.startswith(_ORDER)]:
            order = patch.pop(directive)
            field = directive[len(_ORDER) :]
            if not field or not isinstance(order, list):
                raise PatchError(f"invalid patch format of setElementOrder list: {directive}")
            child = _join(path, field)
            has_live, has_patch = field in original, field in patch
            live, patch_list = original.get(field), patch.pop(field, None)
            if (has_live and not isinstance(live, list)) or (
                has_patch and not isinstance(patch_list, list)
            ):
                raise PatchError(f"{child}: $setElementOrder needs a list")
            key = self.keys.get(child)
            if key is None:  # atomic list: there is no order to set, the patch replaces it
                if has_patch:
                    original[field] = self.fresh(patch_list, child)
                continue
            if not has_live and not has_patch:
                continue
            _check_order(patch_list or [], order, key)
            merged = self.merge_list(live or [], patch_list or [], child)
            ours, rest = _partition(merged, order, key)
            original[field] = _normalize_order(ours, rest, order, live or [], key)

    def merge_list(self, original: list[Any], patch: list[Any], path: str) -> list[Any]:
        key = self.keys.get(path)
        if key is None:
            return [self.fresh(item, path) for item in patch]
        if not original and not patch:
            return []
        kind = _element_kind(original + patch)
        if kind != "map":
            if key:
                raise PatchError(f"{path}: expected maps merged by {key!r}")
            merged = _dedupe(original + patch)
            ours, rest = _partition(merged, patch, key)
            return _normalize_order(ours, rest, patch, original, key)
        if not key:
            raise PatchError(f"{path}: cannot merge a list of maps without a merge key")
        original, patch = self.special_items(original, patch, key, path)
        merged = list(original)
        for item in patch:
            found = _index(merged, item, key)
            if found is None:
                merged.append(self.merge_map({}, item, path))
            else:
                merged[found] = self.merge_map(merged[found], item, path)
        ours, rest = _partition(merged, patch, key)
        return _normalize_order(ours, rest, patch, original, key)

    def special_items(
        self, original: list[Any], patch: list[Any], key: str, path: str
    ) -> tuple[list[Any], list[Any]]:
        """List items carrying `$patch`: delete removes every live item with that key,
        replace makes the other patch items the whole list, merge is the default."""
        plain: list[Any] = []
        replace = False
        for item in patch:
            directive = item.get(_PATCH)
            if directive is None:
                plain.append(item)
            elif directive == "delete":
                value = _key_of(item, key)
                original = [o for o in original if not _same(_key_of(o, key), value)]
            elif directive == "replace":
                replace = True
            elif directive == "merge":
                plain.append({k: v for k, v in item.items() if k != _PATCH})
            else:
                raise PatchError(f"unknown patch type: {directive!r} in list {path}")
        if replace:
            return [self.merge_map({}, item, path) for item in plain], []
        return original, plain

    def delete_from_primitive_list(
        self, original: dict[str, Any], directive: str, value: Any
    ) -> None:
        """`$deleteFromPrimitiveList/<list>`: remove these scalars from the live list."""
        field = directive[len(_DELETE_FROM) :]
        if not field or not isinstance(value, list):
            raise PatchError(f"invalid patch format of primitive list: {directive}")
        live = original.get(field)
        if live is None:  # nothing to delete from (upstream would store the list itself)
            return
        if not isinstance(live, list) or _element_kind(live + value) in ("map", "list"):
            raise PatchError(f"{directive}: the list must hold scalars")
        original[field] = [v for v in live if not any(_same(v, d) for d in value)]


def _check_order(patch_list: list[Any], order: list[Any], key: str) -> None:
    """Patch items (bar deletions) must appear in $setElementOrder, in the same order."""
    items = [i for i in patch_list if not (isinstance(i, dict) and _PATCH in i)]
    p = 0
    for entry in order:
        if p < len(items) and (
            _same(_key_of(items[p], key), _key_of(entry, key)) if key else _same(items[p], entry)
        ):
            p += 1
    if p < len(items):
        raise PatchError(
            f"the order in patch list {patch_list} doesn't match $setElementOrder list {order}"
        )
