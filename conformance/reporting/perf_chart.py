"""fio's figures as a picture: per job, one bar per pod for IOPS and one for p99 latency,
each scaled to the job's largest value, the figure written beside it (an SVG attached to
the performance check, so the report shows it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

ROW = 20
LABEL = 150
BAR = 200
GAP = 40
WIDTH = LABEL + 2 * (BAR + GAP) + 60


def svg(figures: Mapping[str, Sequence[Mapping[str, Any]]], title: str) -> str:
    """``figures``: pod -> its figures as dicts (job, direction, iops, p99_ms...)."""
    rows = [(pod, f) for pod, found in sorted(figures.items()) for f in found]
    if not rows:
        return ""
    peak_iops = {f["job"]: 0.0 for _, f in rows}
    peak_p99 = dict(peak_iops)
    for _, f in rows:
        peak_iops[f["job"]] = max(peak_iops[f["job"]], f["iops"] or 0.0)
        peak_p99[f["job"]] = max(peak_p99[f["job"]], f["p99_ms"] or 0.0)
    height = ROW * (len(rows) + 3)
    left_bars, right_bars = LABEL, LABEL + BAR + GAP
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        'font-family="sans-serif" font-size="11">',
        f'<text x="8" y="14" font-weight="bold">{escape(title)}</text>',
        f'<text x="{left_bars}" y="{ROW + 12}">IOPS</text>',
        f'<text x="{right_bars}" y="{ROW + 12}">p99 latency (ms)</text>',
    ]
    for row, (pod, f) in enumerate(rows, start=2):
        y = ROW * row + 4
        parts.append(f'<text x="8" y="{y + 11}">{escape(pod)} {escape(f["job"])}</text>')
        for x0, value, peak, color, text in (
            (left_bars, f["iops"] or 0.0, peak_iops[f["job"]], "#2e6fb7", f"{f['iops']:.0f}"),
            (
                right_bars,
                f["p99_ms"] or 0.0,
                peak_p99[f["job"]],
                "#c77c02",
                "-" if f["p99_ms"] is None else f"{f['p99_ms']:.2f}",
            ),
        ):
            width = BAR * value / peak if peak else 0.0
            parts.append(
                f'<rect x="{x0}" y="{y}" width="{width:.1f}" height="{ROW - 6}" fill="{color}"/>'
            )
            parts.append(f'<text x="{x0 + width + 4:.1f}" y="{y + 11}">{text}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
