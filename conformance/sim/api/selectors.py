"""Label and field selectors as the API server evaluates `labelSelector` and `fieldSelector`.

Parsing follows k8s.io/apimachinery/pkg/labels and pkg/fields, so a selector that kubectl
or the Python client sends is accepted, rejected and rendered as a real server would.
Objects are plain dicts (the JSON the API serves); the server maps `SelectorError` to
400 BadRequest and decides which fields a kind supports (see `FieldSelector.fields`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FieldRequirement",
    "FieldSelector",
    "LabelSelector",
    "Requirement",
    "SelectorError",
    "field_value",
    "from_label_selector_object",
    "parse_field_selector",
    "parse_label_selector",
    "to_string",
]


class SelectorError(ValueError):
    """A selector that does not parse or validate; the server answers 400 BadRequest."""


# --- label keys and values (k8s.io/apimachinery/pkg/util/validation) ------------------

_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_NAME_HINT = (
    "must be 63 characters or less, begin and end with an alphanumeric character, "
    "and contain only alphanumerics, '-', '_' or '.'"
)


def _validate_key(key: str) -> None:
    """Qualified name: optional DNS-subdomain prefix and '/', then a name of <= 63 chars."""
    parts = key.split("/")
    if len(parts) > 2:
        raise SelectorError(f"invalid label key {key!r}: at most one '/' is allowed")
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            raise SelectorError(f"invalid label key {key!r}: prefix part must be non-empty")
        if len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix):
            raise SelectorError(
                f"invalid label key {key!r}: prefix must be a lowercase DNS subdomain"
            )
    if not name:
        raise SelectorError(f"invalid label key {key!r}: name part must be non-empty")
    if len(name) > 63 or not _NAME.match(name):
        raise SelectorError(f"invalid label key {key!r}: name part {_NAME_HINT}")


def _validate_value(value: str) -> None:
    if value and (len(value) > 63 or not _NAME.match(value)):
        raise SelectorError(f"invalid label value {value!r}: {_NAME_HINT}")


# --- label selectors ------------------------------------------------------------------

# Operators as k8s.io/apimachinery/pkg/selection spells them.
EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "=", "==", "!="
IN, NOT_IN, EXISTS, DOES_NOT_EXIST, GT, LT = "in", "notin", "exists", "!", "gt", "lt"
_SET_OPS = (IN, NOT_IN)
_EXACT_OPS = (EQUALS, DOUBLE_EQUALS, NOT_EQUALS)


@dataclass(frozen=True)
class Requirement:
    """One term of a label selector, e.g. `app=web` or `tier notin (cache)`."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _validate_key(self.key)
        n = len(self.values)
        if self.operator in _SET_OPS and n == 0:
            raise SelectorError(f"{self.key}: for 'in', 'notin' operators, values can't be empty")
        if self.operator in _EXACT_OPS and n != 1:
            raise SelectorError(f"{self.key}: exact-match operators need exactly one value")
        if self.operator in (EXISTS, DOES_NOT_EXIST) and n:
            raise SelectorError(f"{self.key}: values must be empty for exists and !")
        if self.operator in (GT, LT):
            if n != 1 or not re.fullmatch(r"[-+]?\d+", self.values[0]):
                raise SelectorError(f"{self.key}: 'gt', 'lt' need exactly one integer value")
        elif self.operator not in (*_SET_OPS, *_EXACT_OPS, EXISTS, DOES_NOT_EXIST):
            raise SelectorError(f"{self.key}: unknown operator {self.operator!r}")
        else:
            for value in self.values:
                _validate_value(value)

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator in (EQUALS, DOUBLE_EQUALS, IN):
            return present and value in self.values
        if self.operator in (NOT_EQUALS, NOT_IN):
            return not present or value not in self.values
        if self.operator == EXISTS:
            return present
        if self.operator == DOES_NOT_EXIST:
            return not present
        if value is None:  # gt / lt below
            return False
        try:
            number = int(value)
        except ValueError:  # a label that is not an integer never matches, as upstream
            return False
        bound = int(self.values[0])
        return number > bound if self.operator == GT else number < bound

    def __str__(self) -> str:
        if self.operator == EXISTS:
            return self.key
        if self.operator == DOES_NOT_EXIST:
            return f"!{self.key}"
        values = ",".join(sorted(self.values))
        if self.operator in _SET_OPS:
            return f"{self.key} {self.operator} ({values})"
        op = {GT: ">", LT: "<"}.get(self.operator, self.operator)
        return f"{self.key}{op}{values}"


@dataclass(frozen=True)
class LabelSelector:
    """A conjunction of requirements; no requirements selects everything."""

    requirements: tuple[Requirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        """Canonical form: requirements sorted by key, set values sorted, as upstream."""
        return ",".join(str(r) for r in sorted(self.requirements, key=lambda r: r.key))


_SPECIAL = "=!(),<>"


def _lex(text: str) -> Iterator[str]:
    """Tokens of a label selector: operators, parentheses, commas and identifiers."""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif text.startswith(("==", "!="), i):
            yield text[i : i + 2]
            i += 2
        elif ch in _SPECIAL:
            yield ch
            i += 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in _SPECIAL:
                j += 1
            yield text[i:j]
            i = j


def _is_ident(token: str | None) -> bool:
    return token is not None and token[0] not in _SPECIAL


class _LabelParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = list(_lex(text))
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str | None:
        token = self.peek()
        self.pos += 1
        return token

    def fail(self, found: str | None, expected: str) -> SelectorError:
        shown = "end of string" if found is None else found
        return SelectorError(
            f"unable to parse requirement in label selector {self.text!r}: "
            f"found {shown!r}, expected: {expected}"
        )

    def parse(self) -> LabelSelector:
        requirements: list[Requirement] = []
        if self.peek() is None:
            return LabelSelector()
        while True:
            requirements.append(self.requirement())
            token = self.take()
            if token is None:
                return LabelSelector(tuple(requirements))
            if token != ",":
                raise self.fail(token, "',' or end of string")
            if self.peek() != "!" and not _is_ident(self.peek()):
                raise self.fail(self.peek(), "identifier after ','")

    def requirement(self) -> Requirement:
        negated = self.peek() == "!"
        if negated:
            self.take()
        key = self.take()
        if not _is_ident(key) or key in (IN, NOT_IN):
            raise self.fail(key, "identifier")
        assert key is not None
        if negated or self.peek() in (None, ","):
            return self.make(key, DOES_NOT_EXIST if negated else EXISTS, ())
        op = self.take()
        ops = {"=": EQUALS, "==": DOUBLE_EQUALS, "!=": NOT_EQUALS, ">": GT, "<": LT}
        if op in (IN, NOT_IN):
            return self.make(key, op, self.set_values())
        if op is None or op not in ops:
            raise self.fail(op, "one of '=', '==', '!=', 'in', 'notin', '>', '<'")
        if self.peek() in (None, ","):
            return self.make(key, ops[op], ("",))
        value = self.take()
        if not _is_ident(value):
            raise self.fail(value, "identifier")
        assert value is not None
        return self.make(key, ops[op], (value,))

    def set_values(self) -> tuple[str, ...]:
        """`(a, b)`; empty entries count as the empty value, as upstream's `(,)` does."""
        token = self.take()
        if token != "(":
            raise self.fail(token, "'('")
        values: list[str] = []
        current = ""
        while True:
            token = self.take()
            if token == ")":
                values.append(current)
                return tuple(dict.fromkeys(values))
            if token == ",":
                values.append(current)
                current = ""
            elif _is_ident(token) and not current:
                assert token is not None
                current = token
            else:
                raise self.fail(token, "',', ')' or identifier")

    def make(self, key: str, op: str, values: tuple[str, ...]) -> Requirement:
        try:
            return Requirement(key, op, values)
        except SelectorError as exc:
            raise SelectorError(f"invalid label selector {self.text!r}: {exc}") from None


def parse_label_selector(text: str) -> LabelSelector:
    """Parse the string form (`app=web,tier in (db,cache),!canary`); '' selects all."""
    return _LabelParser(text).parse()


def from_label_selector_object(sel: Mapping[str, Any]) -> LabelSelector:
    """A metav1.LabelSelector dict (matchLabels, matchExpressions); `{}` selects all."""
    requirements: list[Requirement] = []
    match_labels = sel.get("matchLabels") or {}
    if not isinstance(match_labels, Mapping):
        raise SelectorError("matchLabels must be a map of strings")
    for key, value in match_labels.items():
        if not isinstance(value, str):
            raise SelectorError(f"matchLabels[{key}] must be a string")
        requirements.append(Requirement(str(key), EQUALS, (value,)))
    operators = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}
    for expr in sel.get("matchExpressions") or []:
        if not isinstance(expr, Mapping):
            raise SelectorError("matchExpressions items must be maps")
        op = operators.get(expr.get("operator", ""))
        if op is None:
            raise SelectorError(f"{expr.get('operator')!r} is not a valid label selector operator")
        values = expr.get("values") or []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise SelectorError("matchExpressions values must be a list of strings")
        requirements.append(Requirement(str(expr.get("key", "")), op, tuple(values)))
    return LabelSelector(tuple(requirements))


def to_string(sel: Mapping[str, Any]) -> str:
    """Canonical string of a metav1.LabelSelector, as in Scale `status.selector`."""
    return str(from_label_selector_object(sel))


# --- field selectors ------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    operator: str  # "=", "==" or "!="
    value: str

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")
        return f"{self.field}{self.operator}{escaped}"


def field_value(obj: Mapping[str, Any], field: str) -> str:
    """The value of a dotted field path as a selector compares it; missing is ''."""
    current: Any = obj
    for part in field.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return ""
        current = current[part]
    if isinstance(current, bool):
        return "true" if current else "false"
    if isinstance(current, int):
        return str(current)
    if isinstance(current, float):
        return str(int(current)) if current.is_integer() else str(current)
    return current if isinstance(current, str) else ""


@dataclass(frozen=True)
class FieldSelector:
    """A conjunction of field terms; no terms selects everything."""

    requirements: tuple[FieldRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def fields(self) -> frozenset[str]:
        """The field paths used, so the server can reject those a kind does not support."""
        return frozenset(r.field for r in self.requirements)

    def matches(self, obj: Mapping[str, Any], values: Mapping[str, str] | None = None) -> bool:
        """`values` overrides the dotted-path lookup for fields that are not plain paths."""
        for r in self.requirements:
            actual = values[r.field] if values and r.field in values else field_value(obj, r.field)
            if (actual == r.value) != (r.operator != "!="):
                return False
        return True

    def __str__(self) -> str:
        return ",".join(sorted(str(r) for r in self.requirements))


def _split_unescaped(text: str) -> list[str]:
    parts, start, i = [], 0, 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == ",":
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def _unescape(value: str, text: str) -> str:
    out, i = [], 0
    while i < len(value):
        ch = value[i]
        if ch == "\\":
            if i + 1 >= len(value) or value[i + 1] not in "\\,=":
                raise SelectorError(f"invalid field selector {text!r}: invalid escape sequence")
            ch = value[i + 1]
            i += 1
        elif ch in ",=":
            raise SelectorError(f"invalid field selector {text!r}: unescaped {ch!r} in value")
        out.append(ch)
        i += 1
    return "".join(out)


def parse_field_selector(text: str) -> FieldSelector:
    """Parse `metadata.name=web,status.phase!=Running`; values may escape `\\ , =`."""
    requirements: list[FieldRequirement] = []
    for term in _split_unescaped(text):
        if not term.strip():
            continue
        i, found = 0, None
        while i < len(term) and found is None:
            if term[i] == "\\":
                i += 2
                continue
            found = next((op for op in ("!=", "==", "=") if term.startswith(op, i)), None)
            if found is None:
                i += 1
        if found is None:
            raise SelectorError(
                f"invalid field selector {text!r}: can't understand {term!r} "
                "(expected field=value, field==value or field!=value)"
            )
        field = term[:i].strip()
        if not field or any(c.isspace() for c in field):
            raise SelectorError(f"invalid field selector {text!r}: bad field name {field!r}")
        value = _unescape(term[i + len(found) :].strip(), text)
        requirements.append(FieldRequirement(field, found, value))
    return FieldSelector(tuple(requirements))
