"""Small SVG charts drawn on the server: no JavaScript, no CDN, nothing fetched; every text is escaped.

Two builders: :func:`line_chart` (one or more stacked panels sharing the x-axis, each with shaded bands,
reference lines, series with distinct markers and line styles, and optional interval whiskers) and
:func:`sparkline` (a small trend for a table row). Both return :class:`Svg`, a ``str`` that Django templates
insert as is (it has ``__html__``) because every text inside was escaped here.

The SVG carries no ``xmlns`` (inline SVG in HTML needs none) and no ``style`` attributes (a Content-Security-
Policy without inline styles is planned): colours are presentation attributes.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "Annotation",
    "Band",
    "Envelope",
    "Marker",
    "Panel",
    "Reference",
    "Series",
    "Svg",
    "line_chart",
    "sparkline",
]

Marker = Literal["circle", "square", "triangle", "diamond"]
Symbol = Literal["dip", "repair", "gain", "loss"]

INK = "#1b1f24"
MUTED = "#4a5561"
GRID = "#d5dbe1"
# A white outline behind small labels keeps them readable where a line crosses them.
HALO = 'stroke="#ffffff" stroke-width="3" paint-order="stroke"'


class Svg(str):
    """SVG markup whose texts are already escaped; templates output it unescaped."""

    __slots__ = ()

    def __html__(self) -> str:
        return str(self)


@dataclass(frozen=True)
class Series:
    """One line: ``points`` are (x, y); ``intervals`` (optional) are (low, high) for each point."""

    name: str
    points: tuple[tuple[float, float], ...]
    colour: str
    marker: Marker = "circle"
    dashed: bool = False
    intervals: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class Band:
    """A shaded horizontal band from ``lower`` to ``upper`` with its name written inside it."""

    lower: float
    upper: float
    label: str
    fill: str


@dataclass(frozen=True)
class Reference:
    """A horizontal reference line (a cut-off), labelled at the right of the plot."""

    value: float
    label: str
    colour: str = INK


@dataclass(frozen=True)
class Envelope:
    """A band that changes along x (an expected range): ``points`` are (x, lower, middle, upper).

    Drawn behind the series as a shaded area from lower to upper with the middle as a dashed line; named in
    the legend and in its ``<title>``.
    """

    name: str
    points: tuple[tuple[float, float, float, float], ...]
    colour: str
    fill: str


@dataclass(frozen=True)
class Annotation:
    """An event marked on a line: a dip (downward triangle below the point), a repair (a ring round the point),
    a sudden gain or loss (a thick segment from ``x_from`` to ``x``, labelled). ``title`` says it in words."""

    symbol: Symbol
    x: float
    y: float
    title: str
    colour: str = INK
    x_from: float | None = None
    y_from: float | None = None


@dataclass(frozen=True)
class Panel:
    """One plot of a chart: its own y-axis, sharing the chart's x-axis with the other panels."""

    title: str
    y_label: str
    y_min: float
    y_max: float
    series: tuple[Series, ...]
    bands: tuple[Band, ...] = ()
    references: tuple[Reference, ...] = ()
    y_ticks: tuple[float, ...] = field(default=())
    envelopes: tuple[Envelope, ...] = ()
    annotations: tuple[Annotation, ...] = ()


def _text(value: object) -> str:
    return html.escape(str(value), quote=True)


def _n(value: float) -> str:
    return f"{value:.1f}"


def _label(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else f"{value:.1f}"


def _marker(kind: Marker, x: float, y: float, colour: str, title: str) -> str:
    c = _text(colour)
    tip = f"<title>{_text(title)}</title>"
    if kind == "square":
        return f'<rect x="{_n(x - 3.5)}" y="{_n(y - 3.5)}" width="7" height="7" fill="{c}">{tip}</rect>'
    if kind == "triangle":
        pts = f"{_n(x)},{_n(y - 5)} {_n(x + 4.5)},{_n(y + 3.5)} {_n(x - 4.5)},{_n(y + 3.5)}"
        return f'<polygon points="{pts}" fill="{c}">{tip}</polygon>'
    if kind == "diamond":
        pts = f"{_n(x)},{_n(y - 5)} {_n(x + 5)},{_n(y)} {_n(x)},{_n(y + 5)} {_n(x - 5)},{_n(y)}"
        return f'<polygon points="{pts}" fill="#ffffff" stroke="{c}" stroke-width="2">{tip}</polygon>'
    return f'<circle cx="{_n(x)}" cy="{_n(y)}" r="4" fill="{c}">{tip}</circle>'


def _ticks(low: float, high: float, count: int = 5) -> tuple[float, ...]:
    """Return round tick values covering ``low``..``high``."""
    span = high - low
    if span <= 0:
        return (low,)
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return tuple(round(first + i * step, 10) for i in range(int((high - first) / step + 1e-9) + 1))


def line_chart(
    panels: Sequence[Panel],
    *,
    title: str,
    description: str,
    x_label: str,
    x_ticks: Sequence[tuple[float, str]],
    chart_id: str = "chart",
    width: int = 760,
    panel_height: int = 210,
) -> Svg:
    """Draw stacked panels that share one x-axis, with a title and description for assistive technology.

    ``x_ticks`` are (x, label) pairs: the x-axis runs from the first to the last tick (half a step of padding
    either side). Each panel shows its bands (shaded, named), reference lines (dashed, named at the right),
    series (lines with markers; a legend above the plot names each with its marker) and interval whiskers.
    """
    left, right, bottom = 58, 150, 40
    plot_width = width - left - right
    height = panel_height * len(panels) + bottom
    xs = [x for x, _ in x_ticks] or [1.0]
    x_low, x_high = min(xs), max(xs)
    pad = 0.5 if x_high > x_low else 1.0
    x_low, x_high = x_low - pad, x_high + pad

    def px(x: float) -> float:
        return left + (x - x_low) / (x_high - x_low) * plot_width

    ident = _text(chart_id)
    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" class="line-chart" font-family="system-ui, sans-serif" '
        f'font-size="12" fill="{INK}">',
        f'<title id="{ident}-title">{_text(title)}</title>',
        f'<desc id="{ident}-desc">{_text(description)}</desc>',
    ]
    for index, panel in enumerate(panels):
        top = index * panel_height
        plot_top, plot_bottom = top + 50, top + panel_height - 10
        py = _y_scale(panel, top=plot_top, bottom=plot_bottom)

        parts.append(f'<g class="panel" aria-label="{_text(panel.title)}">')
        parts.append(f'<text x="{left}" y="{top + 16}" font-weight="700" font-size="13">{_text(panel.title)}</text>')
        parts.extend(_legend(panel.series, x=left, y=top + 36, envelopes=panel.envelopes))
        band_labels = []
        for band in panel.bands:
            y1, y2 = py(band.upper), py(band.lower)
            parts.append(
                f'<rect class="band" x="{left}" y="{_n(y1)}" width="{plot_width}" height="{_n(max(y2 - y1, 0))}" '
                f'fill="{_text(band.fill)}"><title>{_text(band.label)}: {_label(band.lower)}–{_label(band.upper)}'
                f"</title></rect>"
            )
            band_labels.append(
                f'<text class="band-label" x="{left + plot_width - 4}" y="{_n((y1 + y2) / 2 + 4)}" '
                f'text-anchor="end" font-size="10" fill="{MUTED}" {HALO}>'
                f"{_text(band.label)}</text>"
            )
        if not panel.envelopes:
            parts.extend(band_labels)
        for tick in panel.y_ticks or _ticks(panel.y_min, panel.y_max):
            y = py(tick)
            parts.append(f'<line x1="{left}" x2="{left + plot_width}" y1="{_n(y)}" y2="{_n(y)}" stroke="{GRID}"/>')
            parts.append(f'<text x="{left - 6}" y="{_n(y + 4)}" text-anchor="end">{_label(tick)}</text>')
        for reference in panel.references:
            y = py(reference.value)
            parts.append(
                f'<line class="reference" x1="{left}" x2="{left + plot_width}" y1="{_n(y)}" y2="{_n(y)}" '
                f'stroke="{_text(reference.colour)}" stroke-width="1.5" stroke-dasharray="6 4"/>'
            )
            parts.append(
                f'<text class="reference-label" x="{left + plot_width + 6}" y="{_n(y + 4)}" '
                f'fill="{_text(reference.colour)}">{_text(reference.label)}</text>'
            )
        parts.append(
            f'<line x1="{left}" x2="{left}" y1="{plot_top}" y2="{plot_bottom}" stroke="{MUTED}"/>'
            f'<line x1="{left}" x2="{left + plot_width}" y1="{plot_bottom}" y2="{plot_bottom}" stroke="{MUTED}"/>'
        )
        middle = (plot_top + plot_bottom) / 2
        parts.append(
            f'<text class="y-label" x="14" y="{_n(middle)}" text-anchor="middle" '
            f'transform="rotate(-90 14 {_n(middle)})">{_text(panel.y_label)}</text>'
        )
        for envelope in panel.envelopes:
            parts.extend(_envelope(envelope, px=px, py=py))
        if panel.envelopes:
            parts.extend(band_labels)  # over the expected range, so the band names stay readable
        for series in panel.series:
            parts.extend(_series(series, px=px, py=py))
        for annotation in panel.annotations:
            parts.append(_annotation(annotation, px=px, py=py))
        if not any(series.points for series in panel.series):
            parts.append(
                f'<text x="{_n(left + plot_width / 2)}" y="{_n(middle)}" text-anchor="middle" fill="{MUTED}">'
                "No scores yet</text>"
            )
        parts.append("</g>")
    axis_y = panel_height * len(panels) - 10
    for x, label in x_ticks:
        parts.append(
            f'<text class="x-tick" x="{_n(px(x))}" y="{axis_y + 16}" text-anchor="middle">{_text(label)}</text>'
        )
    parts.append(
        f'<text class="x-label" x="{_n(left + plot_width / 2)}" y="{axis_y + 34}" text-anchor="middle">'
        f"{_text(x_label)}</text>"
    )
    parts.append("</svg>")
    return Svg("".join(parts))


def _y_scale(panel: Panel, *, top: float, bottom: float) -> Callable[[float], float]:
    """Map a panel's values to pixels (values outside its range are drawn at its edge)."""
    span = (panel.y_max - panel.y_min) or 1.0

    def py(y: float) -> float:
        clipped = min(max(y, panel.y_min), panel.y_max)
        return bottom - (clipped - panel.y_min) / span * (bottom - top)

    return py


def _legend(series: Sequence[Series], *, x: float, y: float, envelopes: Sequence[Envelope] = ()) -> list[str]:
    parts = []
    for one in series:
        dash = ' stroke-dasharray="5 3"' if one.dashed else ""
        parts.append(
            f'<g class="legend-item"><line x1="{_n(x)}" x2="{_n(x + 24)}" y1="{_n(y - 4)}" y2="{_n(y - 4)}" '
            f'stroke="{_text(one.colour)}" stroke-width="2"{dash}/>'
            + _marker(one.marker, x + 12, y - 4, one.colour, one.name)
            + f'<text x="{_n(x + 30)}" y="{_n(y)}">{_text(one.name)}</text></g>'
        )
        x += 40 + 7 * len(one.name)
    for envelope in envelopes:
        parts.append(
            f'<g class="legend-item"><rect x="{_n(x)}" y="{_n(y - 10)}" width="24" height="12" '
            f'fill="{_text(envelope.fill)}"/><line x1="{_n(x)}" x2="{_n(x + 24)}" y1="{_n(y - 4)}" y2="{_n(y - 4)}" '
            f'stroke="{_text(envelope.colour)}" stroke-width="1.5" stroke-dasharray="4 3"/>'
            f'<text x="{_n(x + 30)}" y="{_n(y)}">{_text(envelope.name)}</text></g>'
        )
        x += 40 + 7 * len(envelope.name)
    return parts


def _envelope(envelope: Envelope, *, px: Callable[[float], float], py: Callable[[float], float]) -> list[str]:
    points = sorted(envelope.points)
    if not points:
        return []
    spoken = "; ".join(
        f"session {_label(x)}: {_label(low)}–{_label(high)}, median {_label(mid)}" for x, low, mid, high in points
    )
    if len(points) == 1:  # one session: a short band around it
        only = points[0]
        points = [(only[0] - 0.3, *only[1:]), (only[0] + 0.3, *only[1:])]
    upper = " ".join(f"{_n(px(x))},{_n(py(high))}" for x, _, _, high in points)
    lower = " ".join(f"{_n(px(x))},{_n(py(low))}" for x, low, _, _ in reversed(points))
    middle = " ".join(f"{_n(px(x))},{_n(py(mid))}" for x, _, mid, _ in points)
    return [
        f'<g class="envelope" aria-label="{_text(envelope.name)}">',
        f'<polygon points="{upper} {lower}" fill="{_text(envelope.fill)}" stroke="none">'
        f"<title>{_text(envelope.name)}: {_text(spoken)}</title></polygon>",
        f'<polyline points="{middle}" fill="none" stroke="{_text(envelope.colour)}" stroke-width="1.5" '
        'stroke-dasharray="4 3"/>',
        "</g>",
    ]


def _annotation(note: Annotation, *, px: Callable[[float], float], py: Callable[[float], float]) -> str:
    x, y = px(note.x), py(note.y)
    colour = _text(note.colour)
    tip = f"<title>{_text(note.title)}</title>"
    if note.symbol == "dip":  # a downward triangle just below the point
        pts = f"{_n(x - 6)},{_n(y + 8)} {_n(x + 6)},{_n(y + 8)} {_n(x)},{_n(y + 18)}"
        return f'<polygon class="mark-dip" points="{pts}" fill="{colour}">{tip}</polygon>'
    if note.symbol == "repair":  # a ring round the point
        return (
            f'<circle class="mark-repair" cx="{_n(x)}" cy="{_n(y)}" r="8" fill="none" stroke="{colour}" '
            f'stroke-width="2.5">{tip}</circle>'
        )
    start_x = px(note.x_from if note.x_from is not None else note.x)
    start_y = py(note.y_from if note.y_from is not None else note.y)
    word = "sudden gain" if note.symbol == "gain" else "sudden loss"
    return (
        f'<g class="mark-{note.symbol}">{tip}<line x1="{_n(start_x)}" y1="{_n(start_y)}" x2="{_n(x)}" y2="{_n(y)}" '
        f'stroke="{colour}" stroke-width="5" stroke-opacity="0.45" stroke-linecap="round"/>'
        f'<text x="{_n(x + 8)}" y="{_n(y - 8)}" font-size="10" fill="{colour}" {HALO}>{word}</text></g>'
    )


def _series(series: Series, *, px: Callable[[float], float], py: Callable[[float], float]) -> list[str]:
    colour = _text(series.colour)
    points = sorted(series.points)
    parts = [f'<g class="series" aria-label="{_text(series.name)}">']
    if series.intervals:
        for (x, _), (low, high) in zip(series.points, series.intervals, strict=True):
            if math.isnan(low) or math.isnan(high):
                continue
            cx = px(x)
            parts.append(
                f'<path class="interval" d="M{_n(cx - 4)} {_n(py(low))}H{_n(cx + 4)}M{_n(cx)} {_n(py(low))}'
                f'V{_n(py(high))}M{_n(cx - 4)} {_n(py(high))}H{_n(cx + 4)}" stroke="{colour}" fill="none"/>'
            )
    if len(points) > 1:
        dash = ' stroke-dasharray="5 3"' if series.dashed else ""
        coordinates = " ".join(f"{_n(px(x))},{_n(py(y))}" for x, y in points)
        parts.append(f'<polyline points="{coordinates}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
    for x, y in points:
        parts.append(_marker(series.marker, px(x), py(y), series.colour, f"{series.name} at {_label(x)}: {_label(y)}"))
    parts.append("</g>")
    return parts


def sparkline(
    values: Sequence[float],
    *,
    minimum: float,
    maximum: float,
    label: str,
    colour: str = "#0b5cad",
    reference: float | None = None,
    width: int = 96,
    height: int = 26,
) -> Svg:
    """Draw a small trend of ``values`` (in order) on a fixed ``minimum``..``maximum`` scale.

    The accessible name says the values in words (``label: 18, 15, 12``), so the picture is never the only
    carrier of the numbers. ``reference`` (e.g. a cut-off) is drawn as a dashed line.
    """
    pad = 3.0
    span = (maximum - minimum) or 1.0
    step = (width - 2 * pad) / max(len(values) - 1, 1)

    def py(y: float) -> float:
        return height - pad - (min(max(y, minimum), maximum) - minimum) / span * (height - 2 * pad)

    spoken = ", ".join(_label(v) for v in values) if values else "no scores yet"
    name = f"{label}: {spoken}"
    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{_text(name)}" class="sparkline">',
        f"<title>{_text(name)}</title>",
    ]
    if reference is not None:
        y = py(reference)
        parts.append(
            f'<line x1="0" x2="{width}" y1="{_n(y)}" y2="{_n(y)}" stroke="{MUTED}" stroke-width="1" '
            'stroke-dasharray="3 2"/>'
        )
    coordinates = [(pad + i * step, py(v)) for i, v in enumerate(values)]
    if len(coordinates) > 1:
        joined = " ".join(f"{_n(x)},{_n(y)}" for x, y in coordinates)
        parts.append(f'<polyline points="{joined}" fill="none" stroke="{_text(colour)}" stroke-width="1.5"/>')
    if coordinates:
        x, y = coordinates[-1]
        parts.append(f'<circle cx="{_n(x)}" cy="{_n(y)}" r="2.5" fill="{_text(colour)}"/>')
    parts.append("</svg>")
    return Svg("".join(parts))
