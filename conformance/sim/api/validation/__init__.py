"""Validation as the real kube-apiserver applies it, for the 422 Invalid answers.

``validate`` returns the field errors upstream validation
(pkg/apis/{core,apps,storage}/validation) would raise, worded as
k8s.io/apimachinery/pkg/util/validation/field words them (:mod:`.field`);
``invalid_message`` turns them into the text of a 422 Invalid Status
(``errors.NewInvalid``). Clients and users read those messages, so they match upstream.

Layout follows upstream: :mod:`.names` (name and label formats), :mod:`.meta` (object
metadata, label selectors, shared checks), one module per API group (:mod:`.core`,
:mod:`.apps`, :mod:`.storage`). Deliberate differences are marked "divergence".
"""

from __future__ import annotations

from conformance.sim.api.kinds import Kind
from conformance.sim.api.unstructured import Obj
from conformance.sim.api.validation.apps import validate_controller_revision, validate_statefulset
from conformance.sim.api.validation.core import (
    validate_config_map,
    validate_pod,
    validate_pv,
    validate_pvc,
    validate_service,
)
from conformance.sim.api.validation.field import Cause, invalid_message, invalid_status
from conformance.sim.api.validation.meta import validate_object_meta, validate_object_meta_update
from conformance.sim.api.validation.names import is_dns1123_label, is_dns1123_subdomain
from conformance.sim.api.validation.storage import validate_storage_class


def validate(kind: Kind, obj: Obj, old: Obj | None) -> list[Cause]:
    """The field errors the real API server reports for a create (``old`` None) or an
    update of an already defaulted object; empty when it would be accepted."""
    name = kind.kind
    if name == "Pod":
        return validate_pod(obj, old)
    if name == "StatefulSet":
        return validate_statefulset(obj, old)
    if name == "Service":
        return validate_service(obj, old)
    if name == "PersistentVolumeClaim":
        return validate_pvc(obj, old)
    if name == "PersistentVolume":
        return validate_pv(obj, old)
    if name == "StorageClass":
        return validate_storage_class(obj, old)
    if name == "ConfigMap":
        causes = validate_config_map(obj)
    elif name == "ControllerRevision":
        causes = validate_controller_revision(obj, old)
    elif name == "Namespace":
        causes = validate_object_meta(obj, is_dns1123_label)
    else:  # Node, Endpoints, Event
        causes = validate_object_meta(obj, is_dns1123_subdomain)
    if old is not None:
        causes = validate_object_meta_update(obj, old) + causes
    return causes


__all__ = ["Cause", "invalid_message", "invalid_status", "validate"]
