"""JSON reports of load runs: write, read, merge exactly, and show as a summary table.

A report holds the counts, events, errors by kind, peaks and the time span of a run, and
its latency histograms twice: as base64 HdrHistogram blobs (``histograms``, exact, what
merging reads) and as computed percentiles in milliseconds (``latency_ms``, for humans).
Rates and percentiles are always recomputed from counts and histograms, so the merge of
the reports of several processes or machines equals the report of one run doing it all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from phoenix_fast.load.stats import (
    COUNTERS,
    PERCENTILES,
    Stats,
    decode_histogram,
    encode_histogram,
    merged,
)

__all__ = [
    "FORMAT",
    "ReportError",
    "from_report",
    "merge_reports",
    "print_summary",
    "read_report",
    "to_report",
    "write_report",
]

FORMAT = "phoenix-fast-load-report"
VERSION = 1


class ReportError(ValueError):
    """A file that is not a readable load report."""


def to_report(
    stats: Stats,
    scenario: Mapping[str, Any] | None = None,
    *,
    stopped_by: str = "",
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """The JSON-ready report of ``stats`` (with the scenario that produced it)."""
    elapsed = stats.elapsed
    counters = stats.counters
    return {
        "format": FORMAT,
        "version": VERSION,
        "scenario": dict(scenario or {}),
        "stopped_by": stopped_by,
        "notes": list(notes),
        "processes": stats.processes,
        "started_at": stats.started_at,
        "ended_at": stats.ended_at,
        "elapsed_s": round(elapsed, 6),
        "counts": dict(counters),
        "peaks": dict(stats.peaks),
        "events": dict(sorted(stats.events.items())),
        "errors": dict(sorted(stats.errors.items(), key=lambda item: (-item[1], item[0]))),
        "rates_per_s": {
            "pushes": counters.get("pushes_sent", 0) / elapsed,
            "replies": (counters.get("replies_ok", 0) + counters.get("replies_error", 0)) / elapsed,
            "events": counters.get("events_received", 0) / elapsed,
            "joins": counters.get("joins_ok", 0) / elapsed,
        },
        "latency_ms": {name: latency_summary(h) for name, h in sorted(stats.histograms.items())},
        "histograms": {name: encode_histogram(h) for name, h in sorted(stats.histograms.items())},
    }


def latency_summary(histogram: Any) -> dict[str, float]:
    """Count, min, mean, p50/p90/p99/p99.9 and max of a histogram, in milliseconds."""
    count = histogram.get_total_count()
    if not count:
        return {"count": 0}
    summary: dict[str, float] = {
        "count": count,
        "min": histogram.get_min_value() / 1000,
        "mean": round(histogram.get_mean_value() / 1000, 3),
    }
    for pct in PERCENTILES:
        summary[f"p{pct:g}"] = histogram.get_value_at_percentile(pct) / 1000
    summary["max"] = histogram.get_max_value() / 1000
    return summary


def from_report(report: Mapping[str, Any], where: str = "report") -> Stats:
    """The :class:`Stats` a report was made from (histograms decoded exactly).

    Raises:
        ReportError: ``report`` is not a load report.
    """
    if report.get("format") != FORMAT:
        raise ReportError(f"{where} is not a phoenix-fast load report (no 'format': {FORMAT!r})")
    if report.get("version") != VERSION:
        raise ReportError(f"{where}: report version {report.get('version')!r} is not {VERSION}")
    try:
        stats = Stats(
            started_at=float(report["started_at"]),
            ended_at=float(report["ended_at"]),
            counters={**dict.fromkeys(COUNTERS, 0), **_ints(report["counts"])},
            events=_ints(report["events"]),
            errors=_ints(report["errors"]),
            peaks=_ints(report["peaks"]),
            processes=int(report["processes"]),
        )
        for name, blob in report["histograms"].items():
            stats.histograms[name] = decode_histogram(blob)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ReportError(f"{where} is a damaged load report: {exc!r}") from None
    return stats


def _ints(data: Mapping[str, Any]) -> dict[str, int]:
    return {str(key): int(value) for key, value in data.items()}


def merge_reports(
    reports: Iterable[Mapping[str, Any]], names: Sequence[str] = ()
) -> dict[str, Any]:
    """One report adding all of ``reports``: counts and histograms exactly.

    The scenario is the first report's; notes are gathered without repeats, and a note
    says when the reports ran different scenarios.

    Raises:
        ReportError: a report is not a load report, or there is none.
    """
    items = list(reports)
    if not items:
        raise ReportError("no report to merge")
    labels = list(names) + [f"report {k + 1}" for k in range(len(names), len(items))]
    stats = merged(from_report(r, label) for r, label in zip(items, labels, strict=True))
    notes: list[str] = []
    for report in items:
        notes += [n for n in report.get("notes", ()) if n not in notes]
    scenario = dict(items[0].get("scenario") or {})
    if any(_comparable(r.get("scenario")) != _comparable(scenario) for r in items[1:]):
        notes.append("the merged reports ran different scenarios; the first one is shown")
    stopped = sorted({str(r.get("stopped_by", "")) for r in items} - {""})
    return to_report(stats, scenario, stopped_by=",".join(stopped), notes=notes)


def _comparable(scenario: Any) -> Any:
    if not isinstance(scenario, dict):
        return scenario
    return {k: v for k, v in scenario.items() if k not in ("procs", "url")}


def write_report(path: str | Path, report: Mapping[str, Any]) -> None:
    """Writes ``report`` as indented JSON."""
    Path(path).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def read_report(path: str | Path) -> dict[str, Any]:
    """Reads a report written by :func:`write_report`.

    Raises:
        ReportError: the file is missing, not JSON, or not a load report.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ReportError(f"{path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path} is not a phoenix-fast load report")
    from_report(data, str(path))  # validates
    return data


def print_summary(console: Console, report: Mapping[str, Any]) -> None:
    """Prints the summary tables of ``report``: counts and rates, latencies, errors, notes."""
    ended = f", ended by {report['stopped_by']}" if report.get("stopped_by") else ""
    console.print(
        Text.assemble(
            ("phoenix-fast load: ", "bold"),
            f"{report['elapsed_s']:.1f} s, {report['processes']} process(es){ended}",
        )
    )
    console.print(_counts_table(report))
    latency = report.get("latency_ms") or {}
    if latency:
        console.print(_latency_table(latency))
    errors = report.get("errors") or {}
    if errors:
        table = Table(title="Errors by kind", title_justify="left")
        table.add_column("count", justify="right")
        table.add_column("kind")
        for kind, count in errors.items():
            table.add_row(f"{count:,}", Text(kind))
        console.print(table)
    for note in report.get("notes") or ():
        console.print(Text.assemble(("note: ", "bold yellow"), note), soft_wrap=True)


def _counts_table(report: Mapping[str, Any]) -> Table:
    counts, rates = report["counts"], report["rates_per_s"]
    peaks = report.get("peaks", {})
    table = Table()
    table.add_column("", style="bold")
    table.add_column("count", justify="right")
    table.add_column("per second", justify="right")
    table.add_column("")
    table.add_row("sockets", f"{peaks.get('sockets', 0):,}", "", _of(counts, "sockets_planned"))
    table.add_row("channels", f"{peaks.get('channels', 0):,}", "", _of(counts, "channels_planned"))
    rows = (
        ("joins", "joins_ok", "joins"),
        ("pushes", "pushes_sent", "pushes"),
        ("replies", "replies_ok", "replies"),
        ("events in", "events_received", "events"),
    )
    for label, counter, rate in rows:
        table.add_row(label, f"{counts.get(counter, 0):,}", f"{rates[rate]:,.0f}", "")
    errors = sum(report.get("errors", {}).values())
    drops, reconnects = counts.get("socket_drops", 0), counts.get("socket_reconnects", 0)
    table.add_row("errors", f"{errors:,}", "", f"drops {drops:,}, reconnects {reconnects:,}")
    return table


def _of(counts: Mapping[str, Any], planned: str) -> str:
    return f"peak, of {counts.get(planned, 0):,} planned"


def _latency_table(latency: Mapping[str, Mapping[str, float]]) -> Table:
    columns = ["count", "min", "p50", "p90", "p99", "p99.9", "max"]
    table = Table(title="Latency (ms)", title_justify="left")
    table.add_column("", style="bold")
    for column in columns:
        table.add_column(column, justify="right")
    for name, summary in latency.items():
        cells = [f"{int(summary.get('count', 0)):,}"]
        cells += [_ms(summary.get(column)) for column in columns[1:]]
        table.add_row(Text(name), *cells)
    return table


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 10 else f"{value:,.1f}"
