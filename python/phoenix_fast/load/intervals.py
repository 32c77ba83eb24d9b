"""Results over time: one row per interval (a second by default), the generator's own
health in each, merging rows of several processes by wall-clock time, and the CSV file.

Interval boundaries fall on multiples of the interval in Unix time (whole seconds by
default), in every process and on every machine, so rows of runs made side by side line
up by their ``at`` (the Unix time the interval ended) and add up.

A row::

    {"t": 3.0, "at": 1764911003.0, "seconds": 1.0,
     "pushes": 2000, "replies": 2000, "errors": 0, "events": 2000, "joins": 0, "drops": 0,
     "sockets": 20, "channels": 1000, "in_flight": 3,
     "latency_ms": {"push:ping": {"count": 2000, "p50": 0.41, "p90": 0.8, "p99": 1.2,
                                  "max": 3.1}, ...},
     "cpu_pct": 31.5, "saturated": []}

``latency_ms`` also holds the generator's own figures: ``generator:loop_lag`` (how late a
timer set for now fired) and ``generator:send_error`` (how late the pacer sent pushes
against their slots, when nothing but this process held them back).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

__all__ = [
    "COUNT_FIELDS",
    "CPU_BOUND_PCT",
    "CsvWriter",
    "GAUGE_FIELDS",
    "LAG_BOUND_MS",
    "LOOP_LAG",
    "SEND_ERROR",
    "SEND_ERROR_BOUND_MS",
    "merge_rows",
    "saturation",
]

#: Counts of an interval (deltas) and gauges at its end.
COUNT_FIELDS = ("pushes", "replies", "errors", "events", "joins", "drops")
GAUGE_FIELDS = ("sockets", "channels", "in_flight")
#: Histogram names of the generator's own figures.
LOOP_LAG = "generator:loop_lag"
SEND_ERROR = "generator:send_error"
#: An interval whose loop lag p90 or send error p90 is above these, or whose process used
#: this much of a core, was limited by the generator: its latencies measure this client too.
#: The p90, not the p99: a sustained condition (a tenth of the interval), not one blip such
#: as the loop's pause while 500 channels join at once.
LAG_BOUND_MS = 10.0
SEND_ERROR_BOUND_MS = 10.0
CPU_BOUND_PCT = 90.0
_LATENCY_COLUMNS = ("p50", "p90", "p99", "max")


def saturation(row: Mapping[str, Any]) -> list[str]:
    """Why the generator was the limit in ``row`` (empty: it was not)."""
    reasons = []
    latency = row.get("latency_ms") or {}
    lag = (latency.get(LOOP_LAG) or {}).get("p90", 0.0)
    if lag > LAG_BOUND_MS:
        reasons.append(f"event loop lag p90 {lag:.1f} ms > {LAG_BOUND_MS:g} ms")
    error = (latency.get(SEND_ERROR) or {}).get("p90", 0.0)
    if error > SEND_ERROR_BOUND_MS:
        reasons.append(f"send-time error p90 {error:.1f} ms > {SEND_ERROR_BOUND_MS:g} ms")
    cpu = row.get("cpu_pct", 0.0)
    if cpu >= CPU_BOUND_PCT:
        reasons.append(f"CPU {cpu:.0f}% of a core")
    return reasons


def merge_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows of several processes or runs added up by wall-clock interval (``at``).

    Counts and gauges add; a latency's ``count`` adds and its ``max`` is the largest; its
    ``p50``, ``p90`` and ``p99`` are the count-weighted means of the parts' (an estimate: the exact
    percentiles of a whole run are in the report's histograms). ``cpu_pct`` is the busiest
    process's, and a row is saturated when any part was.
    """
    by_at: dict[float, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_at.setdefault(round(float(row["at"]), 3), []).append(row)
    return [_merge_one(parts) for _at, parts in sorted(by_at.items())]


def _merge_one(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    if len(parts) == 1:
        return dict(parts[0])
    out: dict[str, Any] = {
        "t": max(float(p.get("t", 0.0)) for p in parts),
        "at": parts[0]["at"],
        "seconds": max(float(p.get("seconds", 0.0)) for p in parts),
    }
    for name in COUNT_FIELDS + GAUGE_FIELDS:
        out[name] = sum(int(p.get(name, 0)) for p in parts)
    latency: dict[str, dict[str, float]] = {}
    for part in parts:
        for name, figures in (part.get("latency_ms") or {}).items():
            latency.setdefault(name, {})
            _add_latency(latency[name], figures)
    out["latency_ms"] = dict(sorted(latency.items()))
    out["cpu_pct"] = max(float(p.get("cpu_pct", 0.0)) for p in parts)
    reasons: list[str] = []
    for part in parts:
        reasons += [r for r in part.get("saturated", ()) if r not in reasons]
    out["saturated"] = reasons
    return out


def _add_latency(into: dict[str, float], figures: Mapping[str, float]) -> None:
    count = figures.get("count", 0)
    if not count:
        return
    have = into.get("count", 0)
    total = have + count
    for key in ("p50", "p90", "p99"):
        if key in figures:
            into[key] = round((into.get(key, 0.0) * have + figures[key] * count) / total, 3)
    into["max"] = max(into.get("max", 0.0), figures.get("max", 0.0))
    into["count"] = total


def csv_header(latency_names: Sequence[str]) -> list[str]:
    """The CSV columns for rows with these latency names."""
    header = ["t", "at", "seconds", *COUNT_FIELDS, *GAUGE_FIELDS, "cpu_pct", "saturated"]
    for name in latency_names:
        header += [f"{name} {column}_ms" for column in _LATENCY_COLUMNS]
    return header


def csv_cells(row: Mapping[str, Any], latency_names: Sequence[str]) -> list[Any]:
    """The CSV cells of ``row`` (empty cells for a latency without samples)."""
    cells: list[Any] = [row.get("t"), row.get("at"), row.get("seconds")]
    cells += [row.get(name, 0) for name in COUNT_FIELDS + GAUGE_FIELDS]
    cells += [row.get("cpu_pct", ""), "; ".join(row.get("saturated", ()))]
    latency = row.get("latency_ms") or {}
    for name in latency_names:
        figures = latency.get(name) or {}
        cells += [figures.get(column, "") for column in _LATENCY_COLUMNS]
    return cells


class CsvWriter:
    """Writes interval rows to ``path`` as they come (header first, flushed each row), so a
    run that crashes still leaves its data.

    Args:
        path: the file (created or truncated now).
        latency_names: the latency columns, in order.

    Raises:
        OSError: the file cannot be written.
    """

    def __init__(self, path: str | Path, latency_names: Sequence[str]) -> None:
        self.path = str(path)
        self._names = list(latency_names)
        self._file: IO[str] | None = Path(path).open("w", encoding="utf-8", newline="")
        self._write(csv_header(self._names))

    def write(self, row: Mapping[str, Any]) -> None:
        """Appends ``row``."""
        self._write(csv_cells(row, self._names))

    def _write(self, cells: Sequence[Any]) -> None:
        if self._file is None:
            return
        buffer = io.StringIO()
        csv.writer(buffer).writerow(cells)
        self._file.write(buffer.getvalue())
        self._file.flush()

    def close(self) -> None:
        """Closes the file (rows written later are ignored)."""
        file, self._file = self._file, None
        if file is not None:
            file.close()

    def __enter__(self) -> CsvWriter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
