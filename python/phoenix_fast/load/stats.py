"""What a load run measures: counters, incoming events, errors by kind, latency histograms.

Latencies go into HDR histograms (HdrHistogram_py) in microseconds, from 1 µs to one hour
with 3 significant digits, so that histograms from many processes or machines add up
exactly (:meth:`Stats.merge`) and percentiles are computed from the merged counts.

Latencies are appended as whole microseconds to plain lists (:meth:`Stats.samples`; the
per-push ones are hot), moved into the histograms ten times a second, grouped by bucket
(:meth:`Stats.absorb`: short pauses of the loop rather than one long one per interval), and
each interval's percentiles come from its own bucket counts (:meth:`Stats.fold`): a latency
recorded otherwise would be missing from the rows over time. Recording a value straight
into a histogram (:meth:`Stats.record`, for sizes) costs about 1.3 µs; appending it 0.1 µs.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
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
    "span_union",
    "new_histogram",
]

#: The largest latency recorded, in microseconds (one hour); larger values are clamped.
HIGHEST_US = 3_600_000_000
SIGNIFICANT_FIGURES = 3
#: The histograms' sub-bucket bits for 3 significant digits: values below 2**11 are exact.
_SUB_BUCKET_BITS = 11
_EXACT_BELOW = 1 << _SUB_BUCKET_BITS
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
    "leaves": "channels left on purpose (a stage lowered the channel count)",
    "channel_errors": "channels errored (phx_error: server crash, or their connection was lost)",
    "pushes_sent": "pushes sent",
    "replies_ok": "pushes answered ok",
    "replies_error": "pushes answered with another status",
    "push_timeouts": "pushes without a reply in time",
    "pushes_unanswered": "pushes still waiting for a reply when the run ended",
    "pushes_unsent": "scheduled pushes still unsent when the run ended (the pacer was behind)",
    "pushes_blocked": "times the pacer held a push back: its socket held max_buffer bytes unread",
    "events_received": "incoming events counted by subscriptions",
    "recoveries": "outages (drops) after which 99% of the joined channels were back",
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
    #: The time spans (Unix start, end) the run covered; merged runs keep all of theirs, so
    #: that a gap between runs that did not overlap is not counted as run time.
    spans: list[tuple[float, float]] = field(default_factory=list)
    #: Unix times of the first join sent and of the last first-join answered ok.
    join_window: tuple[float, float] = (0.0, 0.0)
    #: One id per process run, so that merging a report twice is caught.
    run_ids: list[str] = field(default_factory=lambda: [uuid.uuid4().hex])
    #: Rows of results over time (see ``phoenix_fast.load.intervals``).
    intervals: list[dict[str, Any]] = field(default_factory=list)
    #: Latencies appended by the hot paths, waiting for :meth:`absorb`.
    pending: dict[str, list[int]] = field(default_factory=dict)
    #: The interval in progress: absorbed values (bucketed) and their counts, by name.
    window: dict[str, dict[int, int]] = field(default_factory=dict, repr=False)

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
        """Records ``micros`` in histogram ``name`` only: not in the interval in progress,
        so not in the rows over time. For values that are no latencies (sizes); a run's
        latencies go through :meth:`samples`."""
        histogram = self.histograms.get(name)
        if histogram is None:
            histogram = self.histograms[name] = new_histogram()
        histogram.record_value(min(max(int(micros), 1), HIGHEST_US))

    def samples(self, name: str) -> list[int]:
        """The list that takes latencies of ``name`` in whole microseconds (append to it);
        the same list for the whole run, emptied by :meth:`fold`."""
        found = self.pending.get(name)
        if found is None:
            found = self.pending[name] = []
        return found

    def absorb(self) -> None:
        """Moves the appended samples into the histograms and into the counts of the
        interval in progress (call it often: each call's pause is short)."""
        window = self.window
        for name, values in self.pending.items():
            if not values:
                continue
            counts = _bucketed(Counter(values))
            values.clear()
            histogram = self.histograms.get(name)
            if histogram is None:
                histogram = self.histograms[name] = new_histogram()
            record = histogram.record_value
            mine = window.get(name)
            if mine is None:
                mine = window[name] = {}
            get = mine.get
            for value, n in counts.items():
                record(value, n)
                mine[value] = get(value, 0) + n

    def fold(self) -> dict[str, dict[str, float]]:
        """Absorbs the appended samples and ends the interval in progress: returns, for each
        name that had samples in it, their ``count``, ``p50``, ``p90``, ``p99`` and ``max``
        in ms."""
        self.absorb()
        out = {name: summarize_counts(counts) for name, counts in self.window.items() if counts}
        self.window = {}
        return out

    def note_join_sent(self, at: float) -> None:
        """A join was sent at Unix time ``at`` (opens the join window)."""
        if not self.join_window[0]:
            self.join_window = (at, self.join_window[1])

    def note_join_ok(self, at: float) -> None:
        """A first join was answered ok at Unix time ``at``."""
        self.join_window = (self.join_window[0] or at, max(at, self.join_window[1]))

    def peak(self, name: str, value: int) -> None:
        """Raises peak ``name`` to ``value`` if larger."""
        if value > self.peaks.get(name, 0):
            self.peaks[name] = value

    @property
    def elapsed(self) -> float:
        """Seconds of run time: the length of the union of the runs' spans (to now while
        running), so that the gap between merged runs that did not overlap is left out."""
        return max(span_union(self.all_spans()), 1e-9)

    def all_spans(self) -> list[tuple[float, float]]:
        """The spans covered: the merged ones, or this run's (to now while running)."""
        if self.spans:
            return list(self.spans)
        return [(self.started_at, self.ended_at or time.time())]

    @property
    def join_seconds(self) -> float:
        """Seconds from the first join sent to the last first join answered ok (0: none)."""
        first, last = self.join_window
        return max(last - first, 0.0) if first and last else 0.0

    def merge(self, other: Stats) -> None:
        """Adds ``other`` into this: counts and histograms add exactly; the time spans are
        kept (the run time is their union); peaks add (processes run side by side)."""
        self.spans = self.all_spans() + other.all_spans() if self.processes else other.all_spans()
        self.started_at = min(self.started_at, other.started_at)
        self.ended_at = max(self.ended_at, other.ended_at)
        first = [w for w in (self.join_window[0], other.join_window[0]) if w]
        self.join_window = (
            min(first) if first else 0.0,
            max(self.join_window[1], other.join_window[1]),
        )
        self.run_ids = (self.run_ids if self.processes else []) + other.run_ids
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
        self.intervals = _merge_rows(self.intervals, other.intervals)

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
    total.run_ids = []
    for item in items:
        total.merge(item)
    return total


def _add(into: dict[str, int], other: Mapping[str, int]) -> None:
    for name, n in other.items():
        into[name] = into.get(name, 0) + n


def _bucketed(counts: Mapping[int, int]) -> dict[int, int]:
    """``counts`` with each value replaced by the lowest value of its histogram bucket
    (3 significant digits: exact below 2048 µs, then 2048 sub-buckets per power of two),
    clamped to 1 µs .. one hour: one ``record_value`` per bucket instead of per value."""
    out: dict[int, int] = {}
    get = out.get
    for value, n in counts.items():
        if value >= _EXACT_BELOW:
            if value > HIGHEST_US:
                value = HIGHEST_US
            shift = value.bit_length() - _SUB_BUCKET_BITS
            value = (value >> shift) << shift
        elif value < 1:
            value = 1
        out[value] = get(value, 0) + n
    return out


def span_union(spans: Iterable[tuple[float, float]]) -> float:
    """The total length of the union of ``spans`` (start, end)."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return total


def summarize_counts(counts: Mapping[int, int]) -> dict[str, float]:
    """``count``, ``p50``, ``p90``, ``p99`` and ``max`` (ms) of microsecond values with their
    counts."""
    items = sorted(counts.items())
    total = sum(n for _value, n in items)
    out: dict[str, float] = {"count": total}
    targets = (("p50", 0.50 * total), ("p90", 0.90 * total), ("p99", 0.99 * total))
    seen, k = 0, 0
    for value, n in items:
        seen += n
        while k < len(targets) and seen >= targets[k][1]:
            out[targets[k][0]] = value / 1000
            k += 1
    out["max"] = items[-1][0] / 1000 if items else 0.0
    return out


def _merge_rows(mine: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not theirs:
        return mine
    if not mine:
        return [dict(row) for row in theirs]
    from phoenix_fast.load.intervals import merge_rows

    return merge_rows(mine + theirs)
