"""``phoenix-fast report compare``: a new run against a base run, with regressions marked.

The figures compared: the rates (pushes, replies, events and joins per second), each
latency's p50, p99 and max (the generator's own figures are left out: they describe the
client, not the server), and the errors (in all, per push sent, and the counts that mean
trouble: push timeouts, unsent pushes, refused joins, socket drops).

A side may hold several runs (single runs on a shared machine vary by 10-20%). The medians
of the sides are compared, and a change is a regression only when it is worse than both the
tolerance and the spread of the runs on either side (``(max - min) / median``); with one run
a side has no spread to go by and the tolerance alone decides. A figure that was zero in
the base and is not in the new runs (errors, say) is a regression whatever the tolerance.
Every figure says how many runs stand behind it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from phoenix_fast.load.cli_error import fail as _fail
from phoenix_fast.load.scenario import comparable

__all__ = ["Comparison", "Row", "compare", "figures", "run_compare"]

GENERATOR_PREFIX = "generator:"
RATES = ("pushes", "replies", "events", "joins")
LATENCY_STATS = ("p50", "p99", "max")
#: Counts where more is worse.
TROUBLE = ("push_timeouts", "pushes_unsent", "joins_refused", "socket_drops")


@dataclass(frozen=True)
class Figure:
    """One figure of a run: its value, unit, and which way is better."""

    value: float
    unit: str
    higher_is_better: bool


def figures(report: Mapping[str, Any]) -> dict[str, Figure]:
    """The comparable figures of one report, by name."""
    out: dict[str, Figure] = {}
    rates = report.get("rates_per_s") or {}
    for name in RATES:
        if name in rates:
            out[f"{name}/s"] = Figure(float(rates[name]), "/s", True)
    for name, summary in sorted((report.get("latency_ms") or {}).items()):
        if name.startswith(GENERATOR_PREFIX) or not summary.get("count"):
            continue
        for stat in LATENCY_STATS:
            if stat in summary:
                out[f"{name} {stat}"] = Figure(float(summary[stat]), "ms", False)
    counts = report.get("counts") or {}
    errors = float(sum((report.get("errors") or {}).values()))
    out["errors"] = Figure(errors, "", False)
    sent = float(counts.get("pushes_sent", 0))
    if sent:
        out["errors per push"] = Figure(100 * errors / sent, "%", False)
    for name in TROUBLE:
        out[name] = Figure(float(counts.get(name, 0)), "", False)
    return out


@dataclass
class Row:
    """One figure compared: each side's values, medians, the change and the verdict."""

    name: str
    unit: str
    higher_is_better: bool
    base: list[float]
    new: list[float]
    base_median: float | None
    new_median: float | None
    #: (new - base) / base in percent; None when a side lacks the figure, inf from zero.
    change_pct: float | None
    #: The larger spread of the two sides, in percent of their medians (0 for single runs).
    spread_pct: float
    verdict: str  # "regression", "better", "same" or "missing"


@dataclass
class Comparison:
    """All rows, with the runs behind each side."""

    base_runs: int
    new_runs: int
    tolerance_pct: float
    rows: list[Row]
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Row]:
        """The rows marked as regressions."""
        return [row for row in self.rows if row.verdict == "regression"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (infinite changes as the string "inf")."""
        data = asdict(self)
        for row in data["rows"]:
            if row["change_pct"] in (float("inf"), float("-inf")):
                row["change_pct"] = str(row["change_pct"])
        data["regressions"] = len(self.regressions)
        return data


def _spread(values: Sequence[float]) -> float:
    if len(values) < 2:
        return 0.0
    median = statistics.median(values)
    if median == 0:
        return 0.0 if max(values) == min(values) else float("inf")
    return 100 * (max(values) - min(values)) / abs(median)


def _row(name: str, base: list[Figure], new: list[Figure], tolerance: float) -> Row:
    sample = (base or new)[0]
    b, n = [f.value for f in base], [f.value for f in new]
    bm = statistics.median(b) if b else None
    nm = statistics.median(n) if n else None
    spread = max(_spread(b), _spread(n))
    if bm is None or nm is None:
        return Row(
            name, sample.unit, sample.higher_is_better, b, n, bm, nm, None, spread, "missing"
        )
    if bm == 0:
        change = 0.0 if nm == 0 else float("inf") if nm > 0 else float("-inf")
    else:
        change = 100 * (nm - bm) / abs(bm)
    worse = -change if sample.higher_is_better else change
    if worse > tolerance and worse > spread:
        verdict = "regression"
    elif -worse > tolerance and -worse > spread:
        verdict = "better"
    else:
        verdict = "same"
    return Row(name, sample.unit, sample.higher_is_better, b, n, bm, nm, change, spread, verdict)


def compare(
    base: Sequence[Mapping[str, Any]],
    new: Sequence[Mapping[str, Any]],
    tolerance_pct: float = 10.0,
) -> Comparison:
    """Compares the ``new`` runs with the ``base`` runs (medians, see the module)."""
    base_figures = [figures(r) for r in base]
    new_figures = [figures(r) for r in new]
    names: list[str] = []
    for side in (*base_figures, *new_figures):
        names += [name for name in side if name not in names]
    rows = [
        _row(
            name,
            [f[name] for f in base_figures if name in f],
            [f[name] for f in new_figures if name in f],
            tolerance_pct,
        )
        for name in names
    ]
    notes = []
    scenarios = {json.dumps(comparable(r.get("scenario")), sort_keys=True) for r in (*base, *new)}
    if len(scenarios) > 1:
        notes.append("the runs did not all run the same scenario: compare like with like")
    if any(r.get("generator_saturated") for r in (*base, *new)):
        notes.append("a run's generator was saturated: its latencies measure the client as well")
    return Comparison(len(base), len(new), tolerance_pct, rows, notes)


# ----- showing it -------------------------------------------------------------------------


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        text = f"{value:.3f}" if value < 10 else f"{value:,.1f}"
    elif unit == "%":
        text = f"{value:.3f}"
    else:
        text = f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:,.2f}"
    return f"{text} {unit}".rstrip() if unit in ("ms", "%") else text


def _change(row: Row) -> str:
    if row.change_pct is None:
        return "-"
    if row.change_pct in (float("inf"), float("-inf")):
        return "from 0"
    return f"{row.change_pct:+.1f}%"


def _runs(row: Row, comparison: Comparison) -> str:
    return f"{len(row.base)}/{comparison.base_runs} : {len(row.new)}/{comparison.new_runs}"


def print_comparison(
    comparison: Comparison, base_names: Sequence[str], new_names: Sequence[str]
) -> None:
    """Prints the comparison table, its notes and the count of regressions."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    if not console.is_terminal:
        console = Console(width=120)
    console.print(
        f"base: {comparison.base_runs} run(s) ({', '.join(base_names)}); "
        f"new: {comparison.new_runs} run(s) ({', '.join(new_names)})",
        soft_wrap=True,
        markup=False,
        highlight=False,
    )
    several = comparison.base_runs > 1 or comparison.new_runs > 1
    table = Table(title="median of each side" if several else None, title_justify="left")
    for column in ("", "base", "new", "change", "spread", "runs", ""):
        table.add_column(column, justify="left" if column == "" else "right")
    styles = {"regression": "bold red", "better": "green", "missing": "yellow", "same": ""}
    for row in comparison.rows:
        table.add_row(
            Text(row.name),
            _value(row.base_median, row.unit),
            _value(row.new_median, row.unit),
            _change(row),
            f"{row.spread_pct:.1f}%" if several else "",
            _runs(row, comparison),
            Text("REGRESSION" if row.verdict == "regression" else row.verdict, styles[row.verdict]),
        )
    console.print(table)
    console.print(
        Text(
            f"A regression is a change for the worse beyond the tolerance "
            f"({comparison.tolerance_pct:g}%) and beyond the spread between the runs of "
            "either side. runs: how many base : new runs hold the figure.",
            style="dim",
        ),
        soft_wrap=True,
    )
    for note in comparison.notes:
        console.print(Text.assemble(("note: ", "bold yellow"), note), soft_wrap=True)
    count = len(comparison.regressions)
    console.print(
        Text(f"{count} regression(s)", style="bold red" if count else "bold green"),
    )


def comparison_html(
    comparison: Comparison,
    base: Sequence[tuple[str, Mapping[str, Any]]],
    new: Sequence[tuple[str, Mapping[str, Any]]],
) -> str:
    """The side-by-side page: the table, then each chart with every run of both sides."""
    from phoenix_fast.load.html_report import (
        chart_figure,
        distribution_charts,
        format_time,
        html_table,
        page,
    )

    classes = {"regression": "regression", "better": "better", "missing": "dim", "same": ""}
    rows = [
        (
            escape(row.name),
            escape(_value(row.base_median, row.unit)),
            escape(_value(row.new_median, row.unit)),
            escape(_change(row)),
            f"{row.spread_pct:.1f}%",
            escape(_runs(row, comparison)),
            f'<span class="{classes[row.verdict]}">'
            f"{'REGRESSION' if row.verdict == 'regression' else row.verdict}</span>",
        )
        for row in comparison.rows
    ]
    count = len(comparison.regressions)
    runs = [(f"base {k + 1}", r) for k, (_n, r) in enumerate(base)]
    runs += [(f"new {k + 1}", r) for k, (_n, r) in enumerate(new)]
    listing = html_table(
        ["run", "report", "started", "run time", "processes", "versions"],
        [
            (
                f"<b>{escape(label)}</b>",
                escape(name),
                format_time(report.get("started_at")),
                f"{float(report.get('elapsed_s') or 0):.1f} s",
                escape(str(report.get("processes", "-"))),
                escape(", ".join(f"{k} {v}" for k, v in (report.get("versions") or {}).items())),
            )
            for (label, report), (name, _r) in zip(runs, [*base, *new], strict=True)
        ],
        "runs",
    )
    body = (
        f"<section><h2>Runs</h2>{listing}</section>"
        f"<section><h2>Comparison</h2>"
        f'<p class="{"fail" if count else "pass"}">{count} regression(s)</p>'
        + html_table(
            ["", "base", "new", "change", "spread", "runs (base : new)", ""],
            rows,
            "compare",
        )
        + '<p class="dim">Medians of each side. A regression is a change for the worse '
        f"beyond the tolerance ({comparison.tolerance_pct:g}%) and beyond the spread between "
        "the runs of either side.</p>"
        + "".join(f'<p class="note"><b>note:</b> {escape(n)}</p>' for n in comparison.notes)
        + "</section><section><h2>Over time</h2>"
        + "".join(chart_figure(c) for c in overlay_charts(runs))
        + "</section><section><h2>Latency distribution</h2>"
        + "".join(chart_figure(c) for c in distribution_charts(runs))
        + "</section>"
    )
    return page("phoenix-fast load comparison", body)


def overlay_charts(runs: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Any]:
    """Replies per second and each push's p99 over time, one line per run (base runs blue
    and solid, new runs orange and dashed)."""
    from phoenix_fast.load.html_report import push_kinds, side_color
    from phoenix_fast.load.svg import Chart, Series

    def color(k: int, label: str) -> tuple[str, bool]:
        return side_color(label, k), label.startswith("new")

    replies = []
    kinds: list[str] = []
    for _label, report in runs:
        kinds += [k for k in push_kinds(report.get("latency_ms") or {}) if k not in kinds]
    latency: dict[str, list[Series]] = {kind: [] for kind in kinds}
    for k, (label, report) in enumerate(runs):
        rows = report.get("intervals") or ()
        stroke, dashed = color(k, label)
        replies.append(
            Series(
                f"{label} replies/s",
                [
                    (float(r["t"]), int(r.get("replies", 0)) / float(r["seconds"]))
                    for r in rows
                    if float(r.get("seconds") or 0) > 0
                ],
                stroke,
                dashed,
            )
        )
        for kind in kinds:
            name = f"push:{kind}"
            points = [
                (float(r["t"]), float(r["latency_ms"][name]["p99"]))
                for r in rows
                if (r.get("latency_ms") or {}).get(name, {}).get("count")
                and "p99" in r["latency_ms"][name]
            ]
            latency[kind].append(Series(f"{label} {name} p99", points, stroke, dashed))
    charts = [Chart("cmp-replies", "Replies per second, each run", "per second", replies)]
    charts += [
        Chart(
            f"cmp-push:{kind}",
            f"push:{kind} p99 (from the intended send time), each run",
            "ms (log)",
            series,
            y_log=True,
        )
        for kind, series in latency.items()
    ]
    return charts


# ----- the command ------------------------------------------------------------------------


def run_compare(args: argparse.Namespace) -> int:
    """Handler of ``report compare``."""
    from phoenix_fast.load.html_report import read_reports
    from phoenix_fast.load.report import ReportError

    if args.files and (args.base or args.new):
        return _fail("give either BASE NEW or --base FILE... --new FILE..., not both")
    if args.files:
        if len(args.files) != 2:
            return _fail(
                f"compare takes two reports (BASE NEW), got {len(args.files)}: for several "
                "runs a side use --base FILE... --new FILE..."
            )
        base_paths, new_paths = [args.files[0]], [args.files[1]]
    elif args.base and args.new:
        base_paths, new_paths = list(args.base), list(args.new)
    else:
        return _fail("nothing to compare: give BASE NEW, or --base FILE... --new FILE...")
    if args.html and not Path(args.html).resolve().parent.is_dir():
        return _fail(f"cannot write --html {args.html}: no such folder (create it first)")
    try:
        reports = read_reports([*base_paths, *new_paths])
    except ReportError as exc:
        return _fail(str(exc))
    base, new = reports[: len(base_paths)], reports[len(base_paths) :]
    comparison = compare(base, new, args.tolerance)
    if args.json:
        print(json.dumps(comparison.to_dict(), indent=2))
    else:
        print_comparison(comparison, base_paths, new_paths)
    if args.html:
        text = comparison_html(
            comparison,
            list(zip(base_paths, base, strict=True)),
            list(zip(new_paths, new, strict=True)),
        )
        try:
            Path(args.html).write_text(text, encoding="utf-8")
        except OSError as exc:
            return _fail(f"cannot write --html {args.html}: {exc.strerror}")
        print(f"HTML comparison written to {args.html}", file=sys.stderr)
    if args.fail_on_regression and comparison.regressions:
        return 1
    return 0
