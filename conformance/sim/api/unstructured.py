"""Helpers over decoded JSON objects, reading them as Go's decoder sees them.

Defaulting and validation walk client-sent dicts in which any field may be missing,
null or of the wrong type; these helpers make "unset" mean what it means upstream
(missing, null or ``""``) and never raise on a malformed shape.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

Obj = dict[str, Any]


def is_unset(d: Mapping[str, Any], key: str) -> bool:
    """Unset as Go sees it after decoding: missing, null, or the empty string."""
    value = d.get(key)
    return value is None or value == ""


def set_default(d: Obj, key: str, value: object) -> None:
    """Set ``d[key]`` unless the client gave a value (see :func:`is_unset`)."""
    if is_unset(d, key):
        d[key] = value


def child(parent: Obj, key: str) -> Obj:
    """parent[key] as a dict, created empty when missing or null."""
    value = parent.get(key)
    if not isinstance(value, dict):
        value = {}
        parent[key] = value
    return value


def as_dict(value: object) -> Obj:
    """The value if it is a dict, else an empty one (a malformed field reads as unset)."""
    return value if isinstance(value, dict) else {}


def dicts(value: object) -> Iterator[Obj]:
    """The dict items of a list field, skipping malformed entries."""
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield item


def as_str(value: object) -> str:
    """The value if it is a string, else ``""``."""
    return value if isinstance(value, str) else ""
