"""JSON reports of load runs: write, read, merge exactly, and show as a summary table.

A report holds the counts, events, errors by kind, peaks and the time span of a run, and
its latency histograms twice: as base64 HdrHistogram blobs (``histograms``, exact, what
merging reads) and as computed percentiles in milliseconds (``latency_ms``, for humans).
Rates and percentiles are always recomputed from counts and histograms, so the merge of
the reports of several processes or machines equals the report of one run doing it all.

The run time is the union of the runs' time spans (a gap between runs that did not overlap
is not run time); ``joins`` per second divides by the time the joins took. Each process run
has an id (``run_ids``): merging a report twice is refused. ``intervals`` are the results
over time (:mod:`phoenix_fast.load.intervals`); ``generator`` says whether this client was
the limit (``saturated``) and in which intervals.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from phoenix_fast.load.scenario import comparable
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
VERSION = 2
#: Report versions this one reads (version 1 had no intervals, spans or run ids).
READS = (1, 2)


#: A run is marked ``generator.saturated`` when at least this many of its intervals were, or
#: when they make up this share of its time (one short interval, such as the join storm at
#: the start of a run, marks that interval only).
SATURATED_INTERVALS = 2
SATURATED_SHARE = 0.1


class ReportError(ValueError):
    """A file that is not a readable load report."""


def to_report(
    stats: Stats,
    scenario: Mapping[str, Any] | None = None,
    *,
    stopped_by: str = "",
    notes: Sequence[str] = (),
    versions: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The JSON-ready report of ``stats`` (with the scenario that produced it, and the
    ``versions`` it ran with: this process's unless given)."""
    stats.fold()
    elapsed = stats.elapsed
    counters = stats.counters
    replies = counters.get("replies_ok", 0) + counters.get("replies_error", 0)
    joins = counters.get("joins_ok", 0)
    join_seconds = stats.join_seconds
    intervals = [dict(row, t=round(row["at"] - stats.started_at, 3)) for row in stats.intervals]
    saturated = [row["t"] for row in intervals if row.get("saturated")]
    saturated_seconds = sum(row.get("seconds", 0.0) for row in intervals if row.get("saturated"))
    generator_saturated = (
        len(saturated) >= SATURATED_INTERVALS or saturated_seconds >= SATURATED_SHARE * elapsed
    )
    return {
        "format": FORMAT,
        "version": VERSION,
        "scenario": dict(scenario or {}),
        "stopped_by": stopped_by,
        "notes": list(notes),
        "processes": stats.processes,
        "versions": dict(versions or run_versions()),
        "started_at": stats.started_at,
        "ended_at": stats.ended_at,
        "elapsed_s": round(elapsed, 6),
        "spans": [list(span) for span in stats.all_spans()],
        "run_ids": list(stats.run_ids),
        "join_window": list(stats.join_window),
        "counts": dict(counters),
        "peaks": dict(stats.peaks),
        "events": dict(sorted(stats.events.items())),
        "errors": dict(sorted(stats.errors.items(), key=lambda item: (-item[1], item[0]))),
        "rates_per_s": {
            "pushes": counters.get("pushes_sent", 0) / elapsed,
            "replies": replies / elapsed,
            "events": counters.get("events_received", 0) / elapsed,
            "joins": joins / join_seconds if join_seconds else 0.0,
        },
        **_presence(stats, elapsed),
        "generator_saturated": generator_saturated,
        "generator": {
            "saturated": generator_saturated,
            "saturated_intervals": saturated,
            "reasons": _reasons(intervals),
            "cpu_pct_max": max((row.get("cpu_pct", 0.0) for row in intervals), default=0.0),
        },
        "intervals": intervals,
        "latency_ms": {
            name: latency_summary(h)
            for name, h in sorted(stats.histograms.items())
            if not name.startswith(SIZE_PREFIX)
        },
        "histograms": {name: encode_histogram(h) for name, h in sorted(stats.histograms.items())},
    }


#: Histograms of sizes (not latencies): kept for exact merges, left out of ``latency_ms``.
SIZE_PREFIX = "size:"


def _presence(stats: Stats, elapsed: float) -> dict[str, Any]:
    from phoenix_fast.load.presence import summary

    found = summary(stats.events, stats.histograms, elapsed)
    return {} if found is None else {"presence": found}


def run_versions() -> dict[str, str]:
    """The versions a run ran with: phoenix_fast, Python and the platform."""
    import platform

    from phoenix_fast import __version__

    return {
        "phoenix_fast": __version__,
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
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
    if report.get("version") not in READS:
        raise ReportError(
            f"{where}: report version {report.get('version')!r} is not one of {READS}"
        )
    try:
        spans = [(float(a), float(b)) for a, b in report.get("spans") or ()]
        window = report.get("join_window") or (0.0, 0.0)
        stats = Stats(
            started_at=float(report["started_at"]),
            ended_at=float(report["ended_at"]),
            counters={**dict.fromkeys(COUNTERS, 0), **_ints(report["counts"])},
            events=_ints(report["events"]),
            errors=_ints(report["errors"]),
            peaks=_ints(report["peaks"]),
            processes=int(report["processes"]),
            spans=spans,
            join_window=(float(window[0]), float(window[1])),
            run_ids=[str(i) for i in report.get("run_ids") or ()],
            intervals=[dict(row) for row in report.get("intervals") or ()],
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
    parts = [from_report(r, label) for r, label in zip(items, labels, strict=True)]
    seen: dict[str, str] = {}
    for part, label in zip(parts, labels, strict=True):
        for run_id in part.run_ids:
            if run_id in seen:
                raise ReportError(
                    f"{label} holds a run already in {seen[run_id]} (run id {run_id[:12]}): "
                    "merging it again would count it twice; give each report once"
                )
            seen[run_id] = label
    stats = merged(parts)
    notes: list[str] = []
    for report in items:
        notes += [n for n in report.get("notes", ()) if n not in notes]
    scenario = dict(items[0].get("scenario") or {})
    if any(comparable(r.get("scenario")) != comparable(scenario) for r in items[1:]):
        notes.append("the merged reports ran different scenarios; the first one is shown")
    gap = (stats.ended_at - stats.started_at) - stats.elapsed
    if gap > 0.5:
        notes.append(
            f"the merged runs did not all overlap: {gap:.1f} s between them is not run time "
            "(rates divide by the time some run was going)"
        )
    stopped = sorted({str(r.get("stopped_by", "")) for r in items} - {""})
    versions = [dict(r.get("versions") or {}) for r in items]
    if any(v != versions[0] for v in versions[1:]):
        notes.append("the merged runs ran different versions; the first one's are shown")
    return to_report(
        stats, scenario, stopped_by=",".join(stopped), notes=notes, versions=versions[0] or None
    )


def _reasons(intervals: Sequence[Mapping[str, Any]]) -> list[str]:
    """The saturation reasons of ``intervals``, one per kind, with its worst figure."""
    worst: dict[str, tuple[float, str]] = {}
    for row in intervals:
        for reason in row.get("saturated") or ():
            kind = reason.split(" ")[0]  # the figure's first number is its value
            figures = [float(w.rstrip("%")) for w in reason.split() if _is_number(w.rstrip("%"))]
            value = figures[0] if figures else 0.0
            if kind not in worst or value > worst[kind][0]:
                worst[kind] = (value, reason)
    return [reason for _value, reason in worst.values()]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


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
    """Prints the summary of ``report``: counts and rates, latencies, the generator's health,
    errors, notes, and the thresholds' verdicts."""
    ended = f", ended by {report['stopped_by']}" if report.get("stopped_by") else ""
    console.print(
        Text.assemble(
            ("phoenix-fast load: ", "bold"),
            f"{report['elapsed_s']:.1f} s, {report['processes']} process(es){ended}",
        )
    )
    console.print(_counts_table(report))
    latency = report.get("latency_ms") or {}
    own = {name: figures for name, figures in latency.items() if name.startswith("generator:")}
    timed = {name: figures for name, figures in latency.items() if name not in own}
    if timed:
        console.print(_latency_table(timed, "Latency (ms)"))
        legend = LATENCY_LEGEND
        if any(name.startswith("presence:") for name in timed):
            legend += " " + PRESENCE_LEGEND
        console.print(Text(legend, style="dim"), soft_wrap=True)
    if own:
        console.print(_latency_table(own, "This generator (ms)"))
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
    line = saturation_line(report)
    if line:
        console.print(Text.assemble(("generator saturated: ", "bold red"), line), soft_wrap=True)
    for verdict in report.get("thresholds") or ():
        console.print(threshold_line(verdict, bool(line)), soft_wrap=True)


#: What the latency names mean, printed under the latency table.
PRESENCE_LEGEND = (
    "presence:state runs from a join sent to the channel's first presence_state, "
    "presence:self to its own user_id in its list, presence:propagation to a member's "
    "user_id in another subscriber's list."
)
LATENCY_LEGEND = (
    "push:EVENT runs from each push's intended send time (its slot in the schedule) to its "
    "reply: what a user would have waited, late sends included. push:EVENT:service runs "
    "from the moment the frame was handed to the socket. event:EVENT is an event's age on "
    "arrival (from the ts in its payload)."
)


def saturation_line(report: Mapping[str, Any]) -> str:
    """One line saying that this generator was the limit, and what to do ("" if it was not)."""
    generator = report.get("generator") or {}
    if not generator.get("saturated"):
        return ""
    marked = generator.get("saturated_intervals") or []
    total = len(report.get("intervals") or ())
    reasons = "; ".join(generator.get("reasons") or ())
    line = (
        f"{len(marked)} of {total} intervals ({reasons}): the latencies there measure this "
        "client as well as the server"
    )
    procs = int((report.get("scenario") or {}).get("procs") or report.get("processes") or 1)
    cores = os.cpu_count() or 1
    if any("CPU" in r for r in generator.get("reasons") or ()) and procs < cores:
        line += f"; try --procs {min(procs * 2, cores)} (this machine has {cores} cores)"
    elif any("CPU" in r for r in generator.get("reasons") or ()):
        line += "; spread the load over more machines (report merge adds their reports)"
    return line


def threshold_line(verdict: Mapping[str, Any], saturated: bool) -> Text:
    """``pass``/``FAIL`` with the measured value of one threshold."""
    from phoenix_fast.load.thresholds import parse_threshold

    ok = bool(verdict.get("ok"))
    value = verdict.get("value")
    unit = parse_threshold(str(verdict["expr"])).unit
    shown = "no samples" if value is None else f"{_number(float(value))}{unit}"
    text = Text.assemble(
        ("pass " if ok else "FAIL ", "bold green" if ok else "bold red"),
        f"{verdict['expr']}: measured {shown}",
    )
    if saturated:
        text.append(" (generator saturated: this client limited the run)", style="yellow")
    return text


def _number(value: float) -> str:
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if value == int(value) and abs(value) >= 100:
        return f"{int(value):,}"
    return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"


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
    window = report.get("join_window") or (0.0, 0.0)
    join_span = window[1] - window[0] if window[0] and window[1] else 0.0
    joins_note = f"over {join_span:.2f} s of joins" if join_span else ""
    table.add_row("joins", f"{counts.get('joins_ok', 0):,}", _rate(rates["joins"]), joins_note)
    unsent, unanswered = counts.get("pushes_unsent", 0), counts.get("pushes_unanswered", 0)
    blocked = counts.get("pushes_blocked", 0)
    pushes_note = f"unsent {unsent:,}, unanswered {unanswered:,}" if unsent or unanswered else ""
    if blocked:
        pushes_note += f"{', ' if pushes_note else ''}held back {blocked:,} times (socket full)"
    table.add_row(
        "pushes", f"{counts.get('pushes_sent', 0):,}", _rate(rates["pushes"]), pushes_note
    )
    ok, error = counts.get("replies_ok", 0), counts.get("replies_error", 0)
    table.add_row(
        "replies", f"{ok + error:,}", _rate(rates["replies"]), f"ok {ok:,}, error {error:,}"
    )
    table.add_row("events in", f"{counts.get('events_received', 0):,}", _rate(rates["events"]), "")
    presence = report.get("presence")
    if presence:
        size = presence.get("state_size") or {}
        table.add_row(
            "presence diffs",
            f"{presence.get('diffs', 0):,}",
            _rate(presence.get("diffs_per_s", 0.0)),
            f"{presence.get('states', 0):,} first states, {size.get('mean', 0):g} members "
            f"on average (max {size.get('max', 0):,})",
        )
    errors = sum(report.get("errors", {}).values())
    drops, reconnects = counts.get("socket_drops", 0), counts.get("socket_reconnects", 0)
    table.add_row("errors", f"{errors:,}", "", f"drops {drops:,}, reconnects {reconnects:,}")
    return table


def _rate(value: float) -> str:
    return f"{value:,.0f}"


def _of(counts: Mapping[str, Any], planned: str) -> str:
    return f"peak, of {counts.get(planned, 0):,} planned"


def _latency_table(latency: Mapping[str, Mapping[str, float]], title: str) -> Table:
    columns = ["count", "min", "p50", "p90", "p99", "p99.9", "max"]
    table = Table(title=title, title_justify="left")
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
