"""Validation of storage.k8s.io/v1 kinds (pkg/apis/storage/validation): StorageClass."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conformance.sim.api.unstructured import as_dict, as_str
from conformance.sim.api.validation.field import (
    Cause,
    GoRepr,
    field_forbidden,
    field_invalid,
    field_not_supported,
    field_required,
)
from conformance.sim.api.validation.meta import (
    IMMUTABLE,
    validate_object_meta,
    validate_object_meta_update,
)
from conformance.sim.api.validation.names import is_dns1123_subdomain, is_qualified_name

_SC_RECLAIM = ("Delete", "Retain")
_BINDING_MODES = ("Immediate", "WaitForFirstConsumer")


def validate_storage_class(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[Cause]:
    """ValidateStorageClass(Update): provisioner, parameters and policies."""
    if old is not None:
        causes = validate_object_meta_update(obj, old)
        if as_dict(obj.get("parameters")) != as_dict(old.get("parameters")):
            causes.append(field_forbidden("parameters", "updates to parameters are forbidden."))
        if obj.get("provisioner") != old.get("provisioner"):
            causes.append(field_forbidden("provisioner", "updates to provisioner are forbidden."))
        if obj.get("reclaimPolicy") != old.get("reclaimPolicy"):
            causes.append(
                field_forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden.")
            )
        if obj.get("volumeBindingMode") != old.get("volumeBindingMode"):
            causes.append(
                field_invalid("volumeBindingMode", obj.get("volumeBindingMode"), IMMUTABLE)
            )
        return causes
    causes = validate_object_meta(obj, is_dns1123_subdomain)
    provisioner = as_str(obj.get("provisioner"))
    if not provisioner:
        causes.append(field_required("provisioner"))
    else:
        causes.extend(
            field_invalid("provisioner", provisioner, msg)
            for msg in is_qualified_name(provisioner.lower())
        )
    parameters = as_dict(obj.get("parameters"))
    if len(parameters) > 512:
        causes.append(
            field_invalid(
                "parameters", GoRepr("map[string]string{...}"), "must have at most 512 parameters"
            )
        )
    if "" in parameters:
        causes.append(field_invalid("parameters", "", "key must not be empty"))
    reclaim = obj.get("reclaimPolicy")
    if reclaim is None:
        causes.append(field_required("reclaimPolicy"))
    elif reclaim not in _SC_RECLAIM:
        causes.append(field_not_supported("reclaimPolicy", reclaim, _SC_RECLAIM))
    mode = obj.get("volumeBindingMode")
    if mode is None:
        causes.append(field_required("volumeBindingMode"))
    elif mode not in _BINDING_MODES:
        causes.append(field_not_supported("volumeBindingMode", mode, _BINDING_MODES))
    return causes
