"""resource.Quantity strings (k8s.io/apimachinery/pkg/api/resource), exactly.

Defaulting (QoS classes), validation (sizes must parse and be positive, semantic
equality of resource lists) and the kernel runtime (sizing a volume's image) must all
read ``"1.5Gi"`` the same way the API server does, so the parsing lives here once.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

_QUANTITY = re.compile(
    r"^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$"
)
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
QUANTITY_REGEX_ERROR = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)


def exact_quantity(text: object) -> Fraction:
    """The exact value of a quantity (a string, or a JSON number as clients may send)."""
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ValueError(QUANTITY_REGEX_ERROR)
    match = _QUANTITY.match(str(text))
    if match is None:
        raise ValueError(QUANTITY_REGEX_ERROR)
    sign, number, suffix = match.group(1), match.group(2), match.group(3) or ""
    value = Fraction(number)
    if suffix in _BINARY:
        value *= 1024 ** _BINARY[suffix]
    elif suffix in _DECIMAL:
        value *= Fraction(10) ** _DECIMAL[suffix]
    else:  # decimal exponent, e.g. 1e9
        value *= Fraction(10) ** int(suffix[1:])
    return -value if sign == "-" else value


def parse_quantity(text: str) -> int:
    """A quantity in bytes (``"1Gi"`` -> 1073741824), rounded up away from zero like
    ``Quantity.Value()``. Accepts Ki..Ei, n u m k M G T P E, exponents, plain and decimal
    numbers (``"1.5Gi"``); raises ValueError for anything else."""
    value = exact_quantity(text)
    return math.ceil(value) if value >= 0 else -math.ceil(-value)


def format_quantity(n: int) -> str:
    """The shortest exact binary form: 1073741824 -> ``"1Gi"``, 1536 -> ``"1536"``."""
    if n == 0:
        return "0"
    sign = "-" if n < 0 else ""
    magnitude = abs(n)
    for suffix, power in sorted(_BINARY.items(), key=lambda item: -item[1]):
        unit = 1024**power
        if magnitude % unit == 0:
            return f"{sign}{magnitude // unit}{suffix}"
    return f"{sign}{magnitude}"


def maybe_quantity(value: object) -> Fraction | None:
    """The exact value, or None when absent or malformed (validation reports those)."""
    if value is None:
        return None
    try:
        return exact_quantity(value)
    except ValueError:
        return None
