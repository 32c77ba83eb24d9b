"""The HTML report of a load run: one self-contained file that opens offline.

``phoenix-fast report html run.json [more.json ...] -o run.html`` (several reports are
merged first, as ``report merge`` does) and ``phoenix-fast load ... --html run.html`` write
it. The page shows the run (scenario, duration, processes, versions, start time), the
summary tables, the thresholds with pass or FAIL, charts over time from the report's
``intervals`` and a latency distribution per histogram, with the percentile on a log axis
as HdrHistogram plots it.

The charts are SVG drawn here in Python (:mod:`phoenix_fast.load.svg`); the stylesheet and a
short script are inlined from ``assets/``. The script only reads the drawn charts back into
data coordinates and writes what it found (points and axis ranges per series) into the
``#render-check`` element: the browser test compares that with the report.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from html import escape
from importlib.resources import files
from pathlib import Path
from typing import Any

from phoenix_fast.load.presence import PRESENCE_NAMES
from phoenix_fast.load.report import (
    LATENCY_LEGEND,
    ReportError,
    merge_reports,
    read_report,
    saturation_line,
)
from phoenix_fast.load.scenario import redacted
from phoenix_fast.load.stats import decode_histogram
from phoenix_fast.load.svg import PALETTE, Chart, Series, render

__all__ = [
    "chart_figure",
    "distribution_charts",
    "format_time",
    "html_table",
    "page",
    "percentile_points",
    "read_reports",
    "side_color",
    "render_html",
    "time_charts",
    "write_html",
]

GENERATOR_PREFIX = "generator:"
#: A log axis cannot show zero: latencies below the histograms' resolution (1 µs) are drawn
#: at 1 µs.
FLOOR_MS = 0.001


def read_reports(paths: Sequence[str]) -> list[dict[str, Any]]:
    """The reports at ``paths``, all of one format version.

    Raises:
        ReportError: a file is unreadable or no load report, or the reports are of
            different format versions.
    """
    try:
        reports = [read_report(path) for path in paths]
    except ReportError as exc:
        raise ReportError(f"{exc} (give a report written by phoenix-fast load --report)") from None
    versions = {int(r["version"]) for r in reports}
    if len(versions) > 1:
        listed = ", ".join(f"{p} v{r['version']}" for p, r in zip(paths, reports, strict=True))
        raise ReportError(
            f"reports of different formats ({listed}): give reports of one version "
            "(re-run the older scenario with this phoenix-fast)"
        )
    return reports


# ----- the charts' data -------------------------------------------------------------------


def _per_second(rows: Sequence[Mapping[str, Any]], field: str) -> list[tuple[float, float]]:
    return [
        (float(row["t"]), int(row.get(field, 0)) / float(row["seconds"]))
        for row in rows
        if float(row.get("seconds") or 0) > 0
    ]


def _gauge(rows: Sequence[Mapping[str, Any]], field: str) -> list[tuple[float, float]]:
    return [(float(row["t"]), float(row.get(field, 0))) for row in rows]


def _latency(rows: Sequence[Mapping[str, Any]], name: str, stat: str) -> list[tuple[float, float]]:
    points = []
    for row in rows:
        figures = (row.get("latency_ms") or {}).get(name) or {}
        if figures.get("count") and stat in figures:
            points.append((float(row["t"]), max(float(figures[stat]), FLOOR_MS)))
    return points


def _interval_names(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    names: set[str] = set()
    for row in rows:
        names.update((row.get("latency_ms") or {}).keys())
    return sorted(names)


def _bands(rows: Sequence[Mapping[str, Any]]) -> list[tuple[float, float]]:
    return [
        (float(row["t"]) - float(row.get("seconds") or 0), float(row["t"]))
        for row in rows
        if row.get("saturated")
    ]


def run_span(rows: Sequence[Mapping[str, Any]]) -> tuple[float, float]:
    """The time the intervals cover: from the first one's start to the last one's end."""
    first = float(rows[0]["t"]) - float(rows[0].get("seconds") or 0)
    return max(first, 0.0), float(rows[-1]["t"])


def push_kinds(names: Iterable[str]) -> list[str]:
    """The push events among latency names (``push:ping`` gives ``ping``)."""
    kinds = {n[len("push:") :] for n in names if n.startswith("push:")}
    return sorted(k for k in kinds if not k.endswith(":service"))


def time_charts(report: Mapping[str, Any]) -> list[Chart]:
    """The charts over time of ``report``'s ``intervals`` (none without intervals)."""
    rows = list(report.get("intervals") or ())
    if not rows:
        return []
    bands = _bands(rows)
    names = _interval_names(rows)
    span = run_span(rows)
    charts = [
        Chart(
            "rates",
            "Pushes, replies and events per second",
            "per second",
            [
                Series("pushes/s", _per_second(rows, "pushes"), PALETTE[0]),
                Series("replies/s", _per_second(rows, "replies"), PALETTE[1], dashed=True),
                Series("events/s", _per_second(rows, "events"), PALETTE[2]),
            ],
            bands=bands,
            x_range=span,
        )
    ]
    for kind in push_kinds(names):
        intended, service = f"push:{kind}", f"push:{kind}:service"
        charts.append(
            Chart(
                f"latency-{intended}",
                f"push:{kind} latency: from the intended send time (solid) "
                "and from the send (service, dashed)",
                "ms (log)",
                [
                    Series(f"{intended} p50", _latency(rows, intended, "p50"), PALETTE[0]),
                    Series(f"{intended} p99", _latency(rows, intended, "p99"), PALETTE[1]),
                    Series(f"{service} p50", _latency(rows, service, "p50"), PALETTE[0], True),
                    Series(f"{service} p99", _latency(rows, service, "p99"), PALETTE[1], True),
                ],
                y_log=True,
                bands=bands,
                x_range=span,
            )
        )
    others = [n for n in names if n.startswith("event:") or n in ("join", "connect")]
    presence = [n for n in PRESENCE_NAMES if n in names]
    for chart_id, title, chosen in (
        ("latency-other", "Event ages on arrival, joins and connects", others),
        (
            "latency-presence",
            "Presence: to the first state, to one's own entry, and members' joins reaching "
            "other subscribers",
            presence,
        ),
    ):
        if chosen:
            charts.append(_p50_p99_chart(rows, chart_id, title, chosen, bands, span))
    charts.append(
        Chart(
            "connections",
            "Sockets, channels and pushes in flight (at the end of each interval)",
            "count",
            [
                Series("sockets", _gauge(rows, "sockets"), PALETTE[0]),
                Series("channels", _gauge(rows, "channels"), PALETTE[2]),
                Series("pushes in flight", _gauge(rows, "in_flight"), PALETTE[4], dashed=True),
            ],
            bands=bands,
            x_range=span,
        )
    )
    charts.append(
        Chart(
            "errors",
            "Errors, socket drops and joins per second",
            "per second",
            [
                Series("errors/s", _per_second(rows, "errors"), PALETTE[1]),
                Series("drops/s", _per_second(rows, "drops"), PALETTE[3]),
                Series("joins/s", _per_second(rows, "joins"), PALETTE[2], dashed=True),
            ],
            bands=bands,
            x_range=span,
        )
    )
    own = [n for n in names if n.startswith(GENERATOR_PREFIX)]
    if own:
        charts.append(
            Chart(
                "generator-latency",
                "This generator: event loop lag and send-time error, p99 "
                "(shaded: intervals where it was the limit)",
                "ms (log)",
                [
                    Series(f"{name} p99", _latency(rows, name, "p99"), PALETTE[k % 7])
                    for k, name in enumerate(own)
                ],
                y_log=True,
                bands=bands,
                x_range=span,
            )
        )
    if any("cpu_pct" in row for row in rows):
        charts.append(
            Chart(
                "generator-cpu",
                "This generator's CPU (% of one core; the busiest process when merged)",
                "% of a core",
                [Series("CPU %", _gauge(rows, "cpu_pct"), PALETTE[6])],
                bands=bands,
                x_range=span,
            )
        )
    return charts


def _p50_p99_chart(
    rows: Sequence[Mapping[str, Any]],
    chart_id: str,
    title: str,
    names: Sequence[str],
    bands: list[tuple[float, float]],
    span: tuple[float, float],
) -> Chart:
    """The p99 (solid) and p50 (dashed) of each latency in ``names`` over time."""
    series = []
    for k, name in enumerate(names):
        color = PALETTE[(2 + k) % len(PALETTE)]
        series.append(Series(f"{name} p50", _latency(rows, name, "p50"), color, True))
        series.append(Series(f"{name} p99", _latency(rows, name, "p99"), color))
    return Chart(
        chart_id,
        f"{title}: p99 (solid) and p50 (dashed)",
        "ms (log)",
        series,
        y_log=True,
        bands=bands,
        x_range=span,
    )


def percentile_points(histogram: Any) -> list[tuple[float, float]]:
    """A histogram's latency (ms) by percentile, as HdrHistogram plots it: ``x`` is
    ``log10(1 / (1 - q))`` in tenths (0 is the minimum, 1 is 90%, 2 is 99%, ...) up to
    ``log10(count)``, where the last point is the maximum (values under 1 µs at 1 µs)."""
    count = histogram.get_total_count()
    if not count:
        return []
    top = math.log10(count)
    points = [(0.0, histogram.get_min_value() / 1000)]
    k = 1
    while k / 10 < top:
        x = k / 10
        points.append((x, histogram.get_value_at_percentile(100 * (1 - 10**-x)) / 1000))
        k += 1
    if top > 0:
        points.append((top, histogram.get_max_value() / 1000))
    return [(x, max(y, FLOOR_MS)) for x, y in points]


def side_color(label: str, k: int) -> str:
    """A run's colour on a page of several: by side for a comparison (base blue, new
    orange), else one colour per run."""
    if label.startswith("base"):
        return PALETTE[0]
    if label.startswith("new"):
        return PALETTE[1]
    return PALETTE[k % len(PALETTE)]


def distribution_groups(names: Iterable[str]) -> list[list[str]]:
    """Histogram names grouped for one chart each: a push with its service time, others
    alone."""
    names = sorted(names)
    groups = []
    for name in names:
        if name.endswith(":service") and name[: -len(":service")] in names:
            continue
        service = f"{name}:service"
        groups.append([name, service] if service in names else [name])
    return groups


def distribution_charts(runs: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Chart]:
    """A latency distribution chart per histogram (a push with its service time), one
    line per run in ``runs`` (label, report)."""
    names: set[str] = set()
    for _label, report in runs:
        names.update(n for n in (report.get("histograms") or {}) if not n.startswith("size:"))
    charts = []
    for group in distribution_groups(names):
        series = []
        for k, (label, report) in enumerate(runs):
            blobs = report.get("histograms") or {}
            for j, name in enumerate(group):
                if name not in blobs:
                    continue
                shown = f"{label} {name}" if label else name
                color = side_color(label, k) if len(runs) > 1 else PALETTE[j]
                points = percentile_points(decode_histogram(blobs[name]))
                series.append(Series(shown, points, color, dashed=name.endswith(":service")))
        title = f"{group[0]} by percentile"
        if len(group) > 1:
            title += " (solid: from the intended send time; dashed: service time)"
        charts.append(
            Chart(
                f"dist-{group[0]}",
                title,
                "ms (log)",
                series,
                x_label="percentile",
                x_kind="percentile",
                y_log=True,
            )
        )
    return charts


# ----- the page ---------------------------------------------------------------------------


def _asset(name: str) -> str:
    return (files("phoenix_fast.load") / "assets" / name).read_text(encoding="utf-8")


def format_time(stamp: Any) -> str:
    """A Unix time as ``YYYY-MM-DD HH:MM:SS UTC`` ("-" if it is not one)."""
    try:
        moment = datetime.fromtimestamp(float(stamp), timezone.utc)
    except (TypeError, ValueError, OverflowError):
        return "-"
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    number = float(value)
    if number != number:
        return "-"
    if number == int(number) and abs(number) >= 100:
        return f"{int(number):,}"
    if abs(number) >= 10:
        return f"{number:,.1f}"
    return f"{number:.{digits}f}"


def html_table(head: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """A ``<table>``: ``head`` is escaped here, the cells are HTML already (escape them)."""
    out = [f'<table class="{cls}"><thead><tr>']
    out += [f"<th>{escape(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _run_section(report: Mapping[str, Any], sources: Sequence[str]) -> str:
    from phoenix_fast import __version__

    scenario = redacted(report.get("scenario") or {})
    pushes = ", ".join(
        f"{p.get('event')} {float(p.get('rate') or 0):,g}/s" for p in scenario.get("pushes") or ()
    )
    stages = scenario.get("stages") or ()
    versions = report.get("versions") or {}
    rows = [
        ("target", escape(str(scenario.get("url") or "-"))),
        ("started", format_time(report.get("started_at"))),
        ("run time", f"{float(report.get('elapsed_s') or 0):.1f} s"),
        ("ended by", escape(str(report.get("stopped_by") or "-"))),
        ("processes", str(report.get("processes", "-"))),
        (
            "sockets, channels",
            f"{scenario.get('sockets', '-')} sockets, {scenario.get('channels', '-')} "
            f"channels on {escape(repr(scenario.get('topic', '-')))}",
        ),
        ("pushes", escape(pushes or "none")),
        ("counting", escape(", ".join(scenario.get("subscribe") or ()) or "none")),
    ]
    if stages:
        rows.append(("stages", escape(json.dumps(stages))))
    if len(report.get("run_ids") or ()) > 1:
        rows.append(("runs merged", str(len(report["run_ids"]))))
    if versions:
        rows.append(("versions", escape(", ".join(f"{k} {v}" for k, v in versions.items()))))
    rows.append(("report written by", f"phoenix_fast {escape(__version__)}"))
    if sources:
        rows.append(("from", escape(", ".join(sources))))
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    details = escape(json.dumps(scenario, indent=2))
    return (
        f'<section><h2>The run</h2><table class="info">{body}</table>'
        f"<details><summary>Scenario (secrets masked)</summary><pre>{details}</pre>"
        "</details></section>"
    )


def _verdict_section(report: Mapping[str, Any]) -> str:
    from phoenix_fast.load.thresholds import ThresholdError, parse_threshold

    verdicts = list(report.get("thresholds") or ())
    saturated = saturation_line(report)
    out = ["<section><h2>Thresholds</h2>"]
    if saturated:
        out.append(f'<p class="warn"><b>Generator saturated:</b> {escape(saturated)}</p>')
    if not verdicts:
        out.append('<p class="dim">No thresholds were set (--threshold).</p></section>')
        return "".join(out)
    failed = sum(not v.get("ok") for v in verdicts)
    summary = f"{failed} of {len(verdicts)} failed" if failed else f"all {len(verdicts)} passed"
    out.append(f'<p class="{"fail" if failed else "pass"}">{summary}</p>')
    rows = []
    for verdict in verdicts:
        try:
            unit = parse_threshold(str(verdict["expr"])).unit
        except ThresholdError:
            unit = ""
        value = verdict.get("value")
        shown = "no samples" if value is None else f"{_num(value)}{unit}"
        ok = bool(verdict.get("ok"))
        rows.append(
            (
                f'<span class="{"pass" if ok else "fail"}">{"pass" if ok else "FAIL"}</span>',
                f"<code>{escape(str(verdict['expr']))}</code>",
                escape(shown),
            )
        )
    out.append(html_table(["", "threshold", "measured"], rows, "verdicts"))
    out.append("</section>")
    return "".join(out)


def _summary_section(report: Mapping[str, Any]) -> str:
    counts, rates = report.get("counts") or {}, report.get("rates_per_s") or {}
    peaks = report.get("peaks") or {}
    errors = report.get("errors") or {}
    ok, bad = counts.get("replies_ok", 0), counts.get("replies_error", 0)

    def of(name: str) -> str:
        return f"{int(counts.get(name, 0)):,}"

    def rate(name: str) -> str:
        return _num(rates.get(name), 0)

    rows = [
        (
            "sockets",
            f"{peaks.get('sockets', 0):,}",
            "",
            f"peak, of {of('sockets_planned')} planned",
        ),
        (
            "channels",
            f"{peaks.get('channels', 0):,}",
            "",
            f"peak, of {of('channels_planned')} planned",
        ),
        (
            "joins",
            of("joins_ok"),
            rate("joins"),
            f"refused {of('joins_refused')}, timed out {of('joins_timeout')}",
        ),
        (
            "pushes",
            of("pushes_sent"),
            rate("pushes"),
            f"unsent {of('pushes_unsent')}, unanswered {of('pushes_unanswered')}",
        ),
        ("replies", f"{ok + bad:,}", rate("replies"), f"ok {ok:,}, error {bad:,}"),
        ("events in", of("events_received"), rate("events"), ""),
        (
            "errors",
            f"{sum(errors.values()):,}",
            "",
            f"drops {of('socket_drops')}, reconnects {of('socket_reconnects')}",
        ),
    ]
    out = ["<section><h2>Summary</h2>"]
    out.append(html_table(["", "count", "per second", ""], rows, "counts"))
    latency = report.get("latency_ms") or {}
    columns = ["count", "min", "p50", "p90", "p99", "p99.9", "max"]
    for title, keep in (
        ("Latency (ms)", lambda n: not n.startswith(GENERATOR_PREFIX)),
        ("This generator (ms)", lambda n: n.startswith(GENERATOR_PREFIX)),
    ):
        chosen = {n: f for n, f in latency.items() if keep(n)}
        if not chosen:
            continue
        lines = [
            [f"<b>{escape(n)}</b>", f"{int(f.get('count', 0)):,}"]
            + [_num(f.get(c)) for c in columns[1:]]
            for n, f in chosen.items()
        ]
        out.append(f"<h3>{title}</h3>" + html_table(["", *columns], lines, "latency"))
        if title.startswith("Latency"):
            out.append(f'<p class="dim">{escape(LATENCY_LEGEND)}</p>')
    if errors:
        lines = [[f"{n:,}", escape(kind)] for kind, n in errors.items()]
        out.append("<h3>Errors by kind</h3>" + html_table(["count", "kind"], lines, "errors"))
    out += [f'<p class="note"><b>note:</b> {escape(str(n))}</p>' for n in report.get("notes") or ()]
    out.append("</section>")
    return "".join(out)


def chart_figure(chart: Chart) -> str:
    """A chart with its title and legend, as a ``<figure>``."""
    dash = ' stroke-dasharray="6 4"'
    legend = "".join(
        f'<span class="key"><svg width="26" height="10"><line x1="1" y1="5" x2="25" y2="5" '
        f'stroke="{s.color}"{dash if s.dashed else ""}/></svg>{escape(s.name)}</span>'
        for s in chart.series
    )
    note = f'<p class="dim">{escape(chart.note)}</p>' if chart.note else ""
    return (
        f"<figure><figcaption>{escape(chart.title)}</figcaption>{render(chart)}"
        f'<div class="legend">{legend}</div>{note}</figure>'
    )


def page(title: str, body: str) -> str:
    """A whole HTML document with the inlined stylesheet and check script."""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_asset('report.css')}</style></head><body>"
        f"<h1>{escape(title)}</h1>{body}"
        '<pre id="render-check" hidden></pre>'
        f"<script>{_asset('report.js')}</script></body></html>\n"
    )


def render_html(report: Mapping[str, Any], sources: Sequence[str] = ()) -> str:
    """The HTML page of ``report`` (``sources``: the files it came from, shown)."""
    charts = time_charts(report)
    over_time = "".join(chart_figure(c) for c in charts)
    if not charts:
        over_time = '<p class="dim">This report has no intervals (written before version 2).</p>'
    legend = (
        '<p class="dim">Each point is one interval (its end, in seconds from the start); '
        "rates divide the interval's count by its length. Shaded: intervals where this "
        "generator was the limit.</p>"
    )
    distributions = "".join(chart_figure(c) for c in distribution_charts([("", report)]))
    body = (
        _run_section(report, sources)
        + _verdict_section(report)
        + _summary_section(report)
        + f"<section><h2>Over time</h2>{legend}{over_time}</section>"
        + "<section><h2>Latency distribution</h2>"
        + '<p class="dim">Each histogram by percentile, on a log axis as HdrHistogram plots '
        "it: 90%, 99%, 99.9%, ... are equally spaced; the line ends at the maximum.</p>"
        + f"{distributions}</section>"
    )
    return page("phoenix-fast load report", body)


def write_html(path: str | Path, report: Mapping[str, Any], sources: Sequence[str] = ()) -> None:
    """Writes the HTML page of ``report`` to ``path``."""
    Path(path).write_text(render_html(report, sources), encoding="utf-8")


def html_of_files(paths: Sequence[str]) -> str:
    """The HTML page of the reports at ``paths`` (merged when there are several).

    Raises:
        ReportError: a file is not a readable report, the reports are of different
            formats, or they cannot be merged.
    """
    reports = read_reports(paths)
    report = reports[0] if len(reports) == 1 else merge_reports(reports, paths)
    return render_html(report, paths)
