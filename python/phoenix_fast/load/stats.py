"""What a load run measures: counters, incoming events, errors by kind, latency histograms.

Latencies go into HDR histograms (HdrHistogram_py) in microseconds, from 1 µs to one hour
with 3 significant digits, so that histograms from many processes or machines add up
exactly (:meth:`Stats.merge`) and percentiles are computed from the merged counts.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram  # type: ignore[import-untyped]

__all__ = [
    "COUNTERS",
    "HIGHEST_US",
    "MAX_ERROR_KINDS",
    "PERCENTILES",
    "Stats",
    "decode_histogram",
    "encode_histogram",
    "merged",
    "new_histogram",
]

#: The largest latency recorded, in microseconds (one hour); larger values are clamped.
HIGHEST_US = 3_600_000_000
SIGNIFICANT_FIGURES = 3
#: Percentiles shown in reports and summaries.
PERCENTILES = (50.0, 90.0, 99.0, 99.9)
#: Distinct error kinds kept; further kinds are counted under ``"other"``.
MAX_ERROR_KINDS = 64

#: Every counter, in display order, with what it counts.
COUNTERS: dict[str, str] = {
    "sockets_planned": "sockets this run opens",
    "channels_planned": "channels this run joins",
    "socket_opens": "connections opened (first connects and reconnects)",
    "socket_reconnects": "connections opened again after a drop",
    "socket_drops": "connections closed by the server or the network mid-run",
    "connect_failures": "connection attempts that failed",
    "joins_ok": "channels joined (first join)",
    "joins_refused": "joins answered with an error",
    "joins_timeout": "joins without a reply in time",
    "rejoins": "channels joined again after a drop",
    "channel_errors": "channels errored (phx_error: server crash, or their connection was lost)",
    "pushes_sent": "pushes sent",
    "replies_ok": "pushes answered ok",
    "replies_error": "pushes answered with another status",
    "push_timeouts": "pushes without a reply in time",
    "pushes_unanswered": "pushes still waiting for a reply when the run ended",
    "pushes_skipped": "scheduled pushes not sent (no joined channel, or the pacer fell behind)",
    "events_received": "incoming events counted by subscriptions",
}


def new_histogram() -> Any:
    """An empty latency histogram (microseconds)."""
    return HdrHistogram(1, HIGHEST_US, SIGNIFICANT_FIGURES)


def encode_histogram(histogram: Any) -> str:
    """The histogram as base64 text (the HdrHistogram compressed format), exact."""
    blob: bytes = histogram.encode()
    return blob.decode("ascii")


def decode_histogram(text: str) -> Any:
    """The histogram that :func:`encode_histogram` wrote."""
    histogram = new_histogram()
    if text:
        histogram.decode_and_add(text.encode("ascii"))
    return histogram


@dataclass
class Stats:
    """Counters, events by name, errors by kind and latency histograms of one run (or many).

    Args:
        started_at: Unix time the run started.
        ended_at: Unix time it ended (0 while running).
    """

    started_at: float = field(default_factory=time.time)
    ended_at: float = 0.0
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    events: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    histograms: dict[str, Any] = field(default_factory=dict)
    #: Largest simultaneous values seen (``sockets``, ``channels``); merged by sum.
    peaks: dict[str, int] = field(default_factory=lambda: {"sockets": 0, "channels": 0})
    processes: int = 1

    def count(self, name: str, n: int = 1) -> None:
        """Adds ``n`` to counter ``name``."""
        self.counters[name] = self.counters.get(name, 0) + n

    def event(self, name: str) -> None:
        """Counts one incoming event ``name``."""
        events = self.events
        events[name] = events.get(name, 0) + 1
        self.counters["events_received"] += 1

    def error(self, kind: str, n: int = 1) -> None:
        """Counts ``n`` errors of ``kind`` (a short, stable description)."""
        errors = self.errors
        if kind not in errors and len(errors) >= MAX_ERROR_KINDS:
            kind = "other"
        errors[kind] = errors.get(kind, 0) + n

    def record(self, name: str, micros: float) -> None:
        """Records a latency of ``micros`` microseconds in histogram ``name``."""
        histogram = self.histograms.get(name)
        if histogram is None:
            histogram = self.histograms[name] = new_histogram()
        histogram.record_value(min(max(int(micros), 1), HIGHEST_US))

    def peak(self, name: str, value: int) -> None:
        """Raises peak ``name`` to ``value`` if larger."""
        if value > self.peaks.get(name, 0):
            self.peaks[name] = value

    @property
    def elapsed(self) -> float:
        """Seconds from start to end (to now while running)."""
        end = self.ended_at or time.time()
        return max(end - self.started_at, 1e-9)

    def merge(self, other: Stats) -> None:
        """Adds ``other`` into this: counts and histograms add exactly; the time span is the
        union of both (earliest start, latest end); peaks add (processes run side by side)."""
        self.started_at = min(self.started_at, other.started_at)
        self.ended_at = max(self.ended_at, other.ended_at)
        _add(self.counters, other.counters)
        _add(self.events, other.events)
        for kind, n in other.errors.items():
            self.error(kind, n)
        _add(self.peaks, other.peaks)
        for name, histogram in other.histograms.items():
            mine = self.histograms.get(name)
            if mine is None:
                mine = self.histograms[name] = new_histogram()
            mine.add(histogram)
        self.processes += other.processes

    def snapshot(self) -> dict[str, int]:
        """The counters plus error total, for the live display."""
        snap = dict(self.counters)
        snap["errors"] = sum(self.errors.values())
        return snap


def merged(all_stats: Iterable[Stats]) -> Stats:
    """One :class:`Stats` adding all of ``all_stats`` (which are left untouched)."""
    items = list(all_stats)
    if not items:
        raise ValueError("nothing to merge")
    total = Stats(started_at=items[0].started_at, ended_at=items[0].ended_at, processes=0)
    total.counters = dict.fromkeys(COUNTERS, 0)
    total.peaks = {}
    for item in items:
        total.merge(item)
    return total


def _add(into: dict[str, int], other: Mapping[str, int]) -> None:
    for name, n in other.items():
        into[name] = into.get(name, 0) + n
