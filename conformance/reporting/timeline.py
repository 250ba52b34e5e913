"""A picture where people would rather look than read: the pods of a set by ordinal, when
each was created, became Ready and was deleted, drawn from the watch events a suite
already records (an SVG, attached to the scaling and identity checks)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

ROW = 26
LEFT = 90
WIDTH = 640
COLORS = {"created": "#9aa5b1", "ready": "#2e9e44", "deleted": "#c0392b"}


def _ordinal(name: str) -> int:
    tail = name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 1 << 30


def svg(timeline: Sequence[tuple[float, str, str]], title: str) -> str:
    """Rows by ordinal; a grey bar while a pod exists, green from Ready, a red end mark."""
    if not timeline:
        return ""
    start = min(t for t, _, _ in timeline)
    end = max(t for t, _, _ in timeline)
    span = max(end - start, 1.0)
    names = sorted({n for _, n, _ in timeline}, key=_ordinal)

    def x(t: float) -> float:
        return LEFT + (t - start) / span * (WIDTH - LEFT - 20)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{ROW * (len(names) + 2)}" font-family="sans-serif" font-size="12">',
        f'<text x="8" y="16" font-weight="bold">{escape(title)}</text>',
    ]
    for row, name in enumerate(names, start=1):
        y = ROW * row + 8
        marks = {state: t for t, n, state in timeline if n == name}
        created = marks.get("created", start)
        gone = marks.get("deleted", end)
        parts.append(f'<text x="8" y="{y + 12}">{escape(name)}</text>')
        parts.append(
            f'<rect x="{x(created):.1f}" y="{y}" width="{max(x(gone) - x(created), 2):.1f}" '
            f'height="14" fill="{COLORS["created"]}"><title>{escape(name)} exists</title></rect>'
        )
        if "ready" in marks:
            parts.append(
                f'<rect x="{x(marks["ready"]):.1f}" y="{y}" '
                f'width="{max(x(gone) - x(marks["ready"]), 2):.1f}" height="14" '
                f'fill="{COLORS["ready"]}"><title>{escape(name)} Ready at '
                f"+{marks['ready'] - start:.1f}s</title></rect>"
            )
        if "deleted" in marks:
            parts.append(
                f'<rect x="{x(gone) - 2:.1f}" y="{y - 2}" width="4" height="18" '
                f'fill="{COLORS["deleted"]}"><title>{escape(name)} deleted at '
                f"+{gone - start:.1f}s</title></rect>"
            )
    legend_y = ROW * (len(names) + 1) + 16
    parts.append(
        f'<text x="8" y="{legend_y}">grey: exists, green: Ready, red: deleted; '
        f"{span:.1f}s in all</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts)
