"""Validation of apps/v1 kinds (pkg/apis/apps/validation): StatefulSet and
ControllerRevision."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conformance.sim.api.unstructured import as_dict, as_str, dicts
from conformance.sim.api.validation.core import validate_containers
from conformance.sim.api.validation.field import (
    Cause,
    GoRepr,
    field_forbidden,
    field_invalid,
    field_not_supported,
    field_required,
    go_repr,
)
from conformance.sim.api.validation.meta import (
    IMMUTABLE,
    nonnegative,
    render_selector,
    selector_matches,
    semantic,
    validate_annotations,
    validate_label_selector,
    validate_labels,
    validate_object_meta,
    validate_object_meta_update,
)
from conformance.sim.api.validation.names import is_dns1123_label, is_dns1123_subdomain

STATEFULSET_UPDATE_FORBIDDEN = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
    "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
    "forbidden"
)
_STATEFULSET_MUTABLE = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)
_RETENTION = ("Retain", "Delete")


def _render_rolling_update(rolling: Mapping[str, Any]) -> str:
    partition = rolling.get("partition") or 0
    return (
        f"apps.RollingUpdateStatefulSetStrategy{{Partition:{partition}, "
        "MaxUnavailable:(*intstr.IntOrString)(nil)}"
    )


def _validate_statefulset_spec(spec: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    policy = as_str(spec.get("podManagementPolicy"))
    if not policy:
        causes.append(field_required("spec.podManagementPolicy"))
    elif policy not in ("OrderedReady", "Parallel"):
        causes.append(
            field_invalid(
                "spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'"
            )
        )
    strategy = as_dict(spec.get("updateStrategy"))
    strategy_type = as_str(strategy.get("type"))
    rolling = strategy.get("rollingUpdate")
    if not strategy_type:
        causes.append(field_required("spec.updateStrategy"))
    elif strategy_type == "OnDelete":
        if rolling is not None:
            causes.append(
                field_invalid(
                    "spec.updateStrategy.rollingUpdate",
                    GoRepr(_render_rolling_update(as_dict(rolling))),
                    "only allowed for updateStrategy 'RollingUpdate'",
                )
            )
    elif strategy_type == "RollingUpdate":
        if isinstance(rolling, dict):
            causes.extend(
                nonnegative(rolling.get("partition"), "spec.updateStrategy.rollingUpdate.partition")
            )
    else:
        pointer = (
            "(*apps.RollingUpdateStatefulSetStrategy)(nil)"
            if rolling is None
            else "(*apps.RollingUpdateStatefulSetStrategy)(0xc000a1e2d0)"
        )
        rendered = GoRepr(
            f"apps.StatefulSetUpdateStrategy{{Type:{go_repr(strategy_type)}, "
            f"RollingUpdate:{pointer}}}"
        )
        causes.append(
            field_invalid("spec.updateStrategy", rendered, "must be 'RollingUpdate' or 'OnDelete'")
        )
    retention = spec.get("persistentVolumeClaimRetentionPolicy")
    if isinstance(retention, dict):
        for key in ("whenDeleted", "whenScaled"):
            value = as_str(retention.get(key))
            if value not in _RETENTION:
                causes.append(
                    field_not_supported(
                        f"spec.persistentVolumeClaimRetentionPolicy.{key}", value, _RETENTION
                    )
                )
    causes.extend(nonnegative(spec.get("replicas"), "spec.replicas"))
    causes.extend(nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds"))
    ordinals = spec.get("ordinals")
    if isinstance(ordinals, dict):
        causes.extend(nonnegative(ordinals.get("start"), "spec.ordinals.start"))

    selector = spec.get("selector")
    template = as_dict(spec.get("template"))
    template_meta = as_dict(template.get("metadata"))
    template_labels = as_dict(template_meta.get("labels"))
    if not isinstance(selector, dict):
        causes.append(field_required("spec.selector"))
        selector_ok = True  # a nil selector selects nothing: the template check fails below
    else:
        selector_causes = validate_label_selector(selector, "spec.selector")
        causes.extend(selector_causes)
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            causes.append(
                field_invalid(
                    "spec.selector",
                    render_selector(selector),
                    "empty selector is invalid for statefulset",
                )
            )
        selector_ok = not selector_causes
        if not selector_ok:
            causes.append(field_invalid("spec.selector", render_selector(selector), ""))
    if selector_ok:
        matches = isinstance(selector, dict) and selector_matches(selector, template_labels)
        empty = isinstance(selector, dict) and not (
            selector.get("matchLabels") or selector.get("matchExpressions")
        )
        if not empty and not matches:
            labels_value: object = (
                template_labels
                if template_meta.get("labels") is not None
                else GoRepr("map[string]string(nil)")
            )
            causes.append(
                field_invalid(
                    "spec.template.metadata.labels",
                    labels_value,
                    "`selector` does not match template `labels`",
                )
            )
    causes.extend(validate_labels(template_meta.get("labels"), "spec.template.labels"))
    causes.extend(
        validate_annotations(template_meta.get("annotations"), "spec.template.annotations")
    )
    template_spec = as_dict(template.get("spec"))
    # divergence: upstream leaves the template's containers to pod creation; rejecting them
    # here keeps unrunnable pods (and models without a container name) out of the sim
    causes.extend(
        validate_containers(
            template_spec.get("containers"),
            "spec.template.spec.containers",
            None,
            full=False,
            required=True,
        )
    )
    restart = as_str(template_spec.get("restartPolicy"))
    if restart != "Always":
        causes.append(field_not_supported("spec.template.spec.restartPolicy", restart, ("Always",)))
    if template_spec.get("activeDeadlineSeconds") is not None:
        causes.append(
            field_forbidden(
                "spec.template.spec.activeDeadlineSeconds",
                "activeDeadlineSeconds in StatefulSet is not Supported",
            )
        )
    # divergence: upstream does not validate claim templates until it creates the claims
    for i, claim in enumerate(dicts(spec.get("volumeClaimTemplates"))):
        path = f"spec.volumeClaimTemplates[{i}].metadata.name"
        name = as_str(as_dict(claim.get("metadata")).get("name"))
        if not name:
            causes.append(field_required(path))
        else:
            causes.extend(field_invalid(path, name, msg) for msg in is_dns1123_subdomain(name))
    return causes


def validate_statefulset(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[Cause]:
    """ValidateStatefulSet / ValidateStatefulSetUpdate."""
    spec = as_dict(obj.get("spec"))
    if old is None:
        causes = validate_object_meta(obj, is_dns1123_label)
        causes.extend(_validate_statefulset_spec(spec))
        return causes
    causes = validate_object_meta_update(obj, old)
    causes.extend(_validate_statefulset_spec(spec))
    old_spec = as_dict(old.get("spec"))
    fixed_new = {k: v for k, v in spec.items() if k not in _STATEFULSET_MUTABLE}
    fixed_old = {k: v for k, v in old_spec.items() if k not in _STATEFULSET_MUTABLE}
    if semantic(fixed_new) != semantic(fixed_old):
        causes.append(field_forbidden("spec", STATEFULSET_UPDATE_FORBIDDEN))
    return causes


def validate_controller_revision(
    obj: Mapping[str, Any], old: Mapping[str, Any] | None
) -> list[Cause]:
    """ValidateControllerRevision(Update): data is required and immutable."""
    causes = validate_object_meta(obj, is_dns1123_subdomain)
    if obj.get("data") is None:
        causes.append(field_required("data", "data is mandatory"))
    causes.extend(nonnegative(obj.get("revision"), "revision"))
    if old is not None and obj.get("data") != old.get("data"):
        causes.append(field_invalid("data", GoRepr("runtime.RawExtension{...}"), IMMUTABLE))
    return causes
