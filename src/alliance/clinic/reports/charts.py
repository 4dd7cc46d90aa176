"""An interval chart (a forest plot) for the analytics page: one row per figure, a dot and its 95% interval.

Drawn on the server like :mod:`alliance.clinic.practice.charts` (no JavaScript, no inline styles, every text
escaped); each row's figure is also written beside it, so colour and position are never the only cue.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

from alliance.clinic.practice.charts import Svg

__all__ = ["IntervalRow", "interval_chart"]

INK, MUTED, GRID, DOT = "#1b1f24", "#4a5561", "#d5dbe1", "#0b5cad"


@dataclass(frozen=True)
class IntervalRow:
    """One figure: its label, estimate and interval (NaN: not shown) and the words written beside it."""

    label: str
    estimate: float
    low: float
    high: float
    text: str


def _t(value: object) -> str:
    return html.escape(str(value), quote=True)


def interval_chart(
    rows: Sequence[IntervalRow],
    *,
    title: str,
    description: str,
    chart_id: str,
    x_min: float = 0.0,
    x_max: float = 1.0,
    percent: bool = True,
    reference: float | None = None,
    reference_label: str = "",
) -> Svg:
    """Draw ``rows`` as dots with interval whiskers on one shared horizontal scale."""
    width, label_w, text_w, row_h, top = 640, 190, 150, 30, 34
    plot_l, plot_r = label_w, width - text_w
    height = top + row_h * max(len(rows), 1) + 28

    def px(x: float) -> float:
        x = min(max(x, x_min), x_max)
        return plot_l + (x - x_min) / (x_max - x_min) * (plot_r - plot_l)

    ticks = [x_min + (x_max - x_min) * i / 4 for i in range(5)]
    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" class="interval-chart" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" font-family="sans-serif" font-size="12">',
        f'<title id="{chart_id}-title">{_t(title)}</title>',
        f'<desc id="{chart_id}-desc">{_t(description)}</desc>',
    ]
    axis_y = top + row_h * max(len(rows), 1)
    for tick in ticks:
        x = px(tick)
        shown = f"{tick:.0%}" if percent else f"{tick:g}"
        parts.append(f'<line x1="{x:.1f}" y1="{top - 8}" x2="{x:.1f}" y2="{axis_y}" stroke="{GRID}"/>')
        parts.append(f'<text x="{x:.1f}" y="{axis_y + 16}" text-anchor="middle" fill="{MUTED}">{_t(shown)}</text>')
    if reference is not None and x_min <= reference <= x_max:
        x = px(reference)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 12}" x2="{x:.1f}" y2="{axis_y}" stroke="{INK}" stroke-dasharray="4 3">'
            f"<title>{_t(reference_label)}</title></line>"
        )
        parts.append(f'<text x="{x:.1f}" y="{top - 16}" text-anchor="middle" fill="{INK}">{_t(reference_label)}</text>')
    for index, row in enumerate(rows):
        y = top + row_h * index + row_h / 2
        parts.append(f'<text x="{label_w - 8}" y="{y + 4:.1f}" text-anchor="end" fill="{INK}">{_t(row.label)}</text>')
        parts.append(f'<text x="{plot_r + 8}" y="{y + 4:.1f}" fill="{MUTED}">{_t(row.text)}</text>')
        if not math.isnan(row.low) and not math.isnan(row.high):
            parts.append(
                f'<line x1="{px(row.low):.1f}" y1="{y:.1f}" x2="{px(row.high):.1f}" y2="{y:.1f}" stroke="{DOT}" '
                f'stroke-width="2"/>'
            )
            for end in (row.low, row.high):
                parts.append(
                    f'<line x1="{px(end):.1f}" y1="{y - 6:.1f}" x2="{px(end):.1f}" y2="{y + 6:.1f}" stroke="{DOT}" '
                    f'stroke-width="2"/>'
                )
        if not math.isnan(row.estimate):
            parts.append(
                f'<circle cx="{px(row.estimate):.1f}" cy="{y:.1f}" r="5" fill="{DOT}">'
                f"<title>{_t(row.label)}: {_t(row.text)}</title></circle>"
            )
    parts.append("</svg>")
    return Svg("".join(parts))
