"""Validation shared by every kind: object metadata, labels and annotations, label
selectors (k8s.io/apimachinery/pkg/api/validation, pkg/apis/meta/v1/validation), and
the helpers immutability checks need (semantic equality, a diff to show)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from conformance.sim.api.quantity import QUANTITY_REGEX_ERROR, exact_quantity, maybe_quantity
from conformance.sim.api.unstructured import as_dict, as_str, dicts
from conformance.sim.api.validation.field import (
    Cause,
    GoRepr,
    field_forbidden,
    field_invalid,
    field_not_supported,
    field_required,
)
from conformance.sim.api.validation.names import is_label_value, is_qualified_name

NameFn = Callable[[str], list[str]]
IMMUTABLE = "field is immutable"
_NEGATIVE = "must be greater than or equal to 0"


def nonnegative(value: object, path: str) -> list[Cause]:
    """ValidateNonnegativeField: a negative integer is invalid."""
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        return [field_invalid(path, value, _NEGATIVE)]
    return []


def validate_labels(labels: object, path: str) -> list[Cause]:
    """ValidateLabels: qualified-name keys and label values."""
    causes: list[Cause] = []
    for key, value in as_dict(labels).items():
        causes.extend(field_invalid(path, key, msg) for msg in is_qualified_name(key))
        causes.extend(
            field_invalid(path, as_str(value), msg) for msg in is_label_value(as_str(value))
        )
    return causes


def validate_annotations(annotations: object, path: str) -> list[Cause]:
    """ValidateAnnotations: qualified-name keys (lower-cased, as upstream)."""
    causes: list[Cause] = []
    for key in as_dict(annotations):
        causes.extend(field_invalid(path, key, msg) for msg in is_qualified_name(key.lower()))
    return causes


def validate_object_meta(
    obj: Mapping[str, Any], name_fn: NameFn, path: str = "metadata"
) -> list[Cause]:
    """ValidateObjectMeta: name (or generateName), labels, annotations."""
    meta = as_dict(obj.get("metadata"))
    causes: list[Cause] = []
    generate = as_str(meta.get("generateName"))
    if generate:
        masked = generate[:-1] + "a" if generate.endswith("-") else generate
        causes.extend(
            field_invalid(f"{path}.generateName", generate, msg) for msg in name_fn(masked)
        )
    name = as_str(meta.get("name"))
    if not name:
        causes.append(field_required(f"{path}.name", "name or generateName is required"))
    else:
        causes.extend(field_invalid(f"{path}.name", name, msg) for msg in name_fn(name))
    causes.extend(validate_labels(meta.get("labels"), f"{path}.labels"))
    causes.extend(validate_annotations(meta.get("annotations"), f"{path}.annotations"))
    return causes


def validate_object_meta_update(obj: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    """ValidateObjectMetaUpdate: name, namespace and uid are immutable."""
    new_meta, old_meta = as_dict(obj.get("metadata")), as_dict(old.get("metadata"))
    causes: list[Cause] = []
    for key in ("name", "namespace", "uid"):
        old_value = old_meta.get(key)
        if old_value and new_meta.get(key) and new_meta.get(key) != old_value:
            causes.append(field_invalid(f"metadata.{key}", new_meta.get(key), IMMUTABLE))
    return causes


def render_selector(selector: Mapping[str, Any]) -> GoRepr:
    """*metav1.LabelSelector as its generated String() prints it."""
    labels = "".join(f"{k}: {v}," for k, v in sorted(as_dict(selector.get("matchLabels")).items()))
    exprs = ""
    for expr in dicts(selector.get("matchExpressions")):
        values = " ".join(str(v) for v in expr.get("values") or [])
        exprs += (
            f"LabelSelectorRequirement{{Key:{as_str(expr.get('key'))},"
            f"Operator:{as_str(expr.get('operator'))},Values:[{values}],}},"
        )
    return GoRepr(
        f"&LabelSelector{{MatchLabels:map[string]string{{{labels}}},"
        f"MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}"
    )


_SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def validate_label_selector(selector: Mapping[str, Any], path: str) -> list[Cause]:
    """ValidateLabelSelector: operators, their values, keys and labels."""
    causes: list[Cause] = []
    for i, expr in enumerate(dicts(selector.get("matchExpressions"))):
        epath = f"{path}.matchExpressions[{i}]"
        operator = as_str(expr.get("operator"))
        values = expr.get("values") or []
        if operator in ("In", "NotIn"):
            if not values:
                causes.append(
                    field_required(
                        f"{epath}.values", "must be specified when `operator` is 'In' or 'NotIn'"
                    )
                )
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                causes.append(
                    field_forbidden(
                        f"{epath}.values",
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    )
                )
        else:
            causes.append(field_not_supported(f"{epath}.operator", operator, _SELECTOR_OPERATORS))
        key = as_str(expr.get("key"))
        causes.extend(field_invalid(f"{epath}.key", key, msg) for msg in is_qualified_name(key))
    causes.extend(validate_labels(selector.get("matchLabels"), f"{path}.matchLabels"))
    return causes


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    """Whether a metav1.LabelSelector selects a label set (an empty selector selects all)."""
    for key, value in as_dict(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expr in dicts(selector.get("matchExpressions")):
        key, operator = as_str(expr.get("key")), expr.get("operator")
        values = expr.get("values") or []
        if operator == "In" and (key not in labels or labels[key] not in values):
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def quantity_causes(value: object, path: str) -> list[Cause]:
    """A resource quantity that must parse and be greater than zero."""
    try:
        amount = exact_quantity(value)
    except ValueError:
        return [field_invalid(path, str(value), QUANTITY_REGEX_ERROR)]
    if amount <= 0:
        return [
            field_invalid(path, "0" if amount == 0 else str(value), "must be greater than zero")
        ]
    return []


def semantic(value: object) -> object:
    """A copy where quantities under resources/capacity compare by value, like
    apiequality.Semantic.DeepEqual."""
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, item in value.items():
            if key in ("requests", "limits", "capacity") and isinstance(item, dict):
                out[key] = {k: maybe_quantity(v) or v for k, v in item.items()}
            else:
                out[key] = semantic(item)
        return out
    if isinstance(value, list):
        return [semantic(item) for item in value]
    return value


def _go_field(key: str) -> str:
    return key[:1].upper() + key[1:]


def spec_diff(type_name: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """A short stand-in for the cmp.Diff upstream appends to immutability errors."""
    lines = [f"  {type_name}{{"]
    for key in sorted(set(old) | set(new)):
        if semantic(old.get(key)) != semantic(new.get(key)):
            lines.append(f"- \t{_go_field(key)}: {json.dumps(old.get(key), sort_keys=True)},")
            lines.append(f"+ \t{_go_field(key)}: {json.dumps(new.get(key), sort_keys=True)},")
    lines.append("  }")
    return "\n".join(lines)
