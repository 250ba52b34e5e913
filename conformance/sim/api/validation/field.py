"""Field errors (k8s.io/apimachinery/pkg/util/validation/field) and the 422 Status built
from them (errors.NewInvalid).

kubectl prints these messages verbatim and the official client raises them, so the
wording, including how Go renders a bad value, follows upstream.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

from conformance.sim.api.kinds import Kind
from conformance.sim.api.unstructured import Obj


class Cause(dict[str, str]):
    """A metav1.StatusCause as JSON: ``reason`` (the field.ErrorType, e.g.
    ``FieldValueRequired``), ``message`` (its ErrorBody) and ``field`` (the path)."""


def _cause(reason: str, message: str, path: str) -> Cause:
    return Cause(reason=reason, message=message, field=path)


class GoRepr(str):
    """A bad value already rendered the way Go's %#v / String() prints it."""


def go_repr(value: object) -> str:
    """A bad value as field.Error.ErrorBody prints it (strings %q, maps and slices %#v)."""
    if isinstance(value, GoRepr):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        items = ", ".join(f"{go_repr(str(k))}:{go_repr(v)}" for k, v in sorted(value.items()))
        return f"map[string]string{{{items}}}"
    if isinstance(value, (list, tuple)):
        return "[]string{" + ", ".join(go_repr(v) for v in value) + "}"
    return str(value)


def field_required(path: str, detail: str = "") -> Cause:
    """field.Required: ``Required value``."""
    message = "Required value" + (f": {detail}" if detail else "")
    return _cause("FieldValueRequired", message, path)


def field_forbidden(path: str, detail: str) -> Cause:
    """field.Forbidden: ``Forbidden: detail``."""
    message = "Forbidden" + (f": {detail}" if detail else "")
    return _cause("FieldValueForbidden", message, path)


def field_invalid(path: str, value: object, detail: str) -> Cause:
    """field.Invalid: ``Invalid value: <value>: detail``."""
    message = f"Invalid value: {go_repr(value)}" + (f": {detail}" if detail else "")
    return _cause("FieldValueInvalid", message, path)


def field_not_supported(path: str, value: object, supported: Iterable[str]) -> Cause:
    """field.NotSupported: ``Unsupported value`` and the supported ones."""
    quoted = ", ".join(json.dumps(s) for s in supported)
    message = f"Unsupported value: {go_repr(value)}" + (
        f": supported values: {quoted}" if quoted else ""
    )
    return _cause("FieldValueNotSupported", message, path)


def field_duplicate(path: str, value: object) -> Cause:
    """field.Duplicate: ``Duplicate value``."""
    return _cause("FieldValueDuplicate", f"Duplicate value: {go_repr(value)}", path)


def field_not_found(path: str, value: object) -> Cause:
    """field.NotFound: ``Not found``."""
    return _cause("FieldValueNotFound", f"Not found: {go_repr(value)}", path)


def qualified_kind(kind: Kind) -> str:
    """``StatefulSet.apps``, ``StorageClass.storage.k8s.io``, ``Pod`` (schema.GroupKind)."""
    return f"{kind.kind}.{kind.group}" if kind.group else kind.kind


def invalid_message(kind: Kind, name: str, causes: Iterable[Cause]) -> str:
    """The message of a 422 Invalid Status, as errors.NewInvalid builds it: one cause
    reads ``Kind.group "name" is invalid: field: message``; several are deduplicated and
    joined as ``[c1, c2]``."""
    texts: list[str] = []
    for cause in causes:
        text = f"{cause['field']}: {cause['message']}"
        if text not in texts:
            texts.append(text)
    head = f'{qualified_kind(kind)} "{name}" is invalid'
    if not texts:
        return head
    if len(texts) == 1:
        return f"{head}: {texts[0]}"
    return f"{head}: [{', '.join(texts)}]"


def invalid_status(kind: Kind, name: str, causes: Sequence[Cause]) -> Obj:
    """The whole metav1.Status body of a 422 Invalid answer."""
    details: Obj = {"name": name, "kind": kind.kind, "causes": [dict(c) for c in causes]}
    if kind.group:
        details["group"] = kind.group
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": invalid_message(kind, name, causes),
        "reason": "Invalid",
        "details": details,
        "code": 422,
    }
