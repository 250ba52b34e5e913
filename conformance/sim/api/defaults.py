"""Compatibility imports for the former ``defaults`` module; new code imports from
:mod:`~conformance.sim.api.quantity`, :mod:`~conformance.sim.api.defaulting` and
:mod:`~conformance.sim.api.validation`.

Kept because code outside the simulator (``conformance/checks.py``,
``tests/test_workloads.py``) and branches in flight still import from here; remove it
once they have moved.
"""

from __future__ import annotations

from conformance.sim.api.defaulting import apply_defaults
from conformance.sim.api.defaulting.core import (
    image_tag,
    needs_cluster_ip,
    pod_qos_class,
    set_cluster_ip,
)
from conformance.sim.api.quantity import QUANTITY_REGEX_ERROR, format_quantity, parse_quantity
from conformance.sim.api.validation import validate
from conformance.sim.api.validation.core import ACCESS_MODES
from conformance.sim.api.validation.field import (
    Cause,
    GoRepr,
    field_duplicate,
    field_forbidden,
    field_invalid,
    field_not_found,
    field_not_supported,
    field_required,
    invalid_message,
    invalid_status,
    qualified_kind,
)
from conformance.sim.api.validation.meta import selector_matches
from conformance.sim.api.validation.names import (
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_label_value,
    is_qualified_name,
)

__all__ = [
    "ACCESS_MODES",
    "QUANTITY_REGEX_ERROR",
    "Cause",
    "GoRepr",
    "apply_defaults",
    "field_duplicate",
    "field_forbidden",
    "field_invalid",
    "field_not_found",
    "field_not_supported",
    "field_required",
    "format_quantity",
    "image_tag",
    "invalid_message",
    "invalid_status",
    "is_dns1035_label",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "is_label_value",
    "is_qualified_name",
    "needs_cluster_ip",
    "parse_quantity",
    "pod_qos_class",
    "qualified_kind",
    "selector_matches",
    "set_cluster_ip",
    "validate",
]
