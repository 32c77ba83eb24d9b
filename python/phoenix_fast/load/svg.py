"""Line charts as inline SVG, drawn in Python: no JavaScript library, so a report opens
offline, prints, and reads the same in any browser or mail preview.

A :class:`Chart` holds named series of ``(x, y)`` points. :func:`render` draws it with
axes, ticks, a grid and optional shaded bands, and records what it drew in ``data-``
attributes (the plot rectangle and the axis domains) so that a script in the page, or a
test, can read every polyline back into data coordinates.

Axes: ``x`` is linear (seconds) or ``percentile`` (HdrHistogram's plot: ``x`` is
``log10(1 / (1 - q))``, labelled 90%, 99%, 99.9%, ...); ``y`` is linear from zero or
logarithmic (whole decades).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape

__all__ = ["PALETTE", "Chart", "Series", "nice_ticks", "render"]

#: Colours that stay apart for the common kinds of colour blindness (Okabe and Ito).
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")

WIDTH, HEIGHT = 760, 250
LEFT, RIGHT, TOP, BOTTOM = 64, 14, 10, 34


@dataclass
class Series:
    """One line: a name for the legend, its points, a colour and a dash."""

    name: str
    points: list[tuple[float, float]]
    color: str = PALETTE[0]
    dashed: bool = False


@dataclass
class Chart:
    """A chart: its series, axis labels and kinds, and shaded ``bands`` (x from, x to)."""

    key: str
    title: str
    y_label: str
    series: list[Series]
    x_label: str = "seconds from the start"
    x_kind: str = "linear"
    y_log: bool = False
    bands: list[tuple[float, float]] = field(default_factory=list)
    note: str = ""
    #: The x axis's range when it is not the data's (a run's whole time span, say).
    x_range: tuple[float, float] | None = None

    @property
    def drawn(self) -> list[Series]:
        """The series that have points (a log axis drops the points at or below zero)."""
        out = []
        for series in self.series:
            points = [p for p in series.points if not self.y_log or p[1] > 0]
            if points:
                out.append(Series(series.name, points, series.color, series.dashed))
        return out


def nice_ticks(low: float, high: float, count: int = 6) -> list[float]:
    """Round tick values covering ``[low, high]`` at a 1, 2 or 5 step (about ``count``)."""
    if high <= low:
        return [low]
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _domain(chart: Chart, drawn: Sequence[Series]) -> tuple[float, float, float, float]:
    xs = [x for s in drawn for x, _ in s.points]
    ys = [y for s in drawn for _, y in s.points]
    x0, x1 = (min(xs), max(xs)) if xs else (0.0, 1.0)
    if chart.x_range is not None:
        x0, x1 = min(x0, chart.x_range[0]), max(x1, chart.x_range[1])
    if x1 <= x0:
        x0, x1 = x0 - 0.5, x0 + 0.5
    if chart.y_log:
        low = min(ys) if ys else 1.0
        high = max(ys) if ys else 10.0
        y0 = 10 ** math.floor(math.log10(low))
        y1 = 10 ** math.ceil(math.log10(high))
        if y1 <= y0:
            y1 = y0 * 10
        return x0, x1, y0, y1
    top = max(ys) if ys else 1.0
    ticks = nice_ticks(0.0, top if top > 0 else 1.0)
    y1 = ticks[-1] if ticks[-1] >= top else top
    return x0, x1, 0.0, y1 if y1 > 0 else 1.0


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 10000:
        return f"{value / 1000:g}k"
    if abs(value) >= 1:
        return f"{value:g}"
    return f"{value:.3g}"


def _percentile_label(x: float) -> str:
    pct = 100 * (1 - 10**-x)
    return f"{pct:.{max(round(x) - 2, 0)}f}%"


def render(chart: Chart) -> str:
    """The chart as an ``<svg>`` element (plus nothing else: the legend is separate)."""
    drawn = chart.drawn
    x0, x1, y0, y1 = _domain(chart, drawn)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        if chart.y_log:
            share = (math.log10(y) - math.log10(y0)) / (math.log10(y1) - math.log10(y0))
        else:
            share = (y - y0) / (y1 - y0)
        return TOP + plot_h - share * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(chart.title)}" data-chart="{escape(chart.key)}" '
        f'data-x-min="{float(x0)!r}" data-x-max="{float(x1)!r}" '
        f'data-y-min="{float(y0)!r}" data-y-max="{float(y1)!r}" '
        f'data-x-kind="{chart.x_kind}" data-y-log="{int(chart.y_log)}" '
        f'data-plot="{LEFT} {TOP} {plot_w} {plot_h}">'
    ]
    for a, b in chart.bands:
        a, b = max(a, x0), min(b, x1)
        if b > a:
            parts.append(
                f'<rect class="band" x="{px(a):.1f}" y="{TOP}" width="{px(b) - px(a):.1f}" '
                f'height="{plot_h}"><title>generator saturated</title></rect>'
            )
    parts += _y_axis(chart, y0, y1, py)
    parts += _x_axis(chart, x0, x1, px)
    parts.append(
        f'<rect class="frame" x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}"/>'
        f'<text class="label" x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 3}" '
        f'text-anchor="middle">{escape(chart.x_label)}</text>'
        f'<text class="label" transform="translate(12 {TOP + plot_h / 2:.0f}) rotate(-90)" '
        f'text-anchor="middle">{escape(chart.y_label)}</text>'
    )
    for series in drawn:
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in series.points)
        dash = ' stroke-dasharray="6 4"' if series.dashed else ""
        parts.append(
            f'<polyline data-series="{escape(series.name)}" points="{coords}" '
            f'stroke="{series.color}"{dash}><title>{escape(series.name)}</title></polyline>'
        )
        if len(series.points) <= 40:
            parts += [
                f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.2" fill="{series.color}"/>'
                for x, y in series.points
            ]
    if not drawn:
        parts.append(
            f'<text class="label" x="{LEFT + plot_w / 2:.0f}" y="{TOP + plot_h / 2:.0f}" '
            'text-anchor="middle">no samples</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _y_axis(chart: Chart, y0: float, y1: float, py: Callable[[float], float]) -> list[str]:
    if chart.y_log:
        ticks = [10.0**k for k in range(round(math.log10(y0)), round(math.log10(y1)) + 1)]
    else:
        ticks = nice_ticks(y0, y1, 5)
    parts = []
    for tick in ticks:
        y = py(tick)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{LEFT - 5}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_fmt(tick)}</text>"
        )
    return parts


def _x_axis(chart: Chart, x0: float, x1: float, px: Callable[[float], float]) -> list[str]:
    if chart.x_kind == "percentile":
        ticks = [float(k) for k in range(math.ceil(x0), math.floor(x1) + 1)]
        label: Callable[[float], str] = _percentile_label
    else:
        ticks = nice_ticks(x0, x1, 8)
        label = _fmt
    parts = []
    span = x1 - x0
    for tick in ticks:
        x = px(tick)
        # the labels at the ends stay inside the chart
        anchor = "middle"
        if tick - x0 < span * 0.03:
            anchor = "start"
        elif x1 - tick < span * 0.03:
            anchor = "end"
        parts.append(
            f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}"/>'
            f'<text class="tick" x="{x:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="{anchor}">'
            f"{label(tick)}</text>"
        )
    return parts
