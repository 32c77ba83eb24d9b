"""Pass/fail thresholds on a report: ``--threshold EXPR`` and ``thresholds = [...]``.

Grammar: ``NAME STAT OP VALUE[UNIT]``, with OP one of ``<``, ``<=``, ``>``, ``>=``, ``==``,
``!=``:

- latencies: ``push:ping p99<50ms``, ``event:shout p99<200ms``, ``join max<2s``: any
  latency name of the report with ``p50``, ``p90``, ``p99``, ``p99.9``, ``max`` or
  ``mean`` and a unit, ``ms`` or ``s``;
- the error rate: ``errors rate<0.1%``: errors (of every kind) per push sent;
- rates: ``replies rate>9000/s``: ``pushes``, ``replies``, ``events`` or ``joins`` per
  second of run time (joins: per second of the time the joins took);
- counts: ``joins_refused count==0``: any count of the report, ``errors`` (all kinds), or
  a latency name (its number of samples).

A latency without samples fails (its value is None): a threshold on nothing is no pass.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from phoenix_fast.load.stats import COUNTERS

__all__ = ["GRAMMAR", "Threshold", "ThresholdError", "evaluate", "parse_threshold"]

GRAMMAR = (
    "NAME STAT OP VALUE, e.g. 'push:ping p99<50ms' (STAT p50|p90|p99|p99.9|max|mean, "
    "unit ms|s), 'errors rate<0.1%', 'replies rate>9000/s', 'joins_refused count==0'; "
    "OP is <, <=, >, >=, == or !="
)
_LATENCY_STATS = ("p50", "p90", "p99", "p99.9", "max", "mean")
_RATES = ("pushes", "replies", "events", "joins")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_PATTERN = re.compile(
    r"^\s*(?P<name>[^\s<>=!]+)\s+(?P<stat>p99\.9|p\d+|max|mean|rate|count)\s*"
    r"(?P<op><=|>=|==|!=|<|>)\s*(?P<value>[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*"
    r"(?P<unit>ms|s|%|/s)?\s*$"
)


class ThresholdError(ValueError):
    """A malformed threshold; the message shows the grammar."""


@dataclass(frozen=True)
class Threshold:
    """A parsed threshold: ``name stat op limit`` (latencies in ms, error rates in %)."""

    expr: str
    name: str
    stat: str
    op: str
    limit: float

    def measure(self, report: Mapping[str, Any]) -> float | None:
        """The measured value in the threshold's unit (None: no samples)."""
        if self.stat == "count":
            return _count(report, self.name)
        if self.stat == "rate":
            if self.name == "errors":
                errors = sum((report.get("errors") or {}).values())
                pushes = (report.get("counts") or {}).get("pushes_sent", 0)
                if not pushes:
                    return 0.0 if not errors else float("inf")
                return 100.0 * float(errors) / float(pushes)
            return float((report.get("rates_per_s") or {}).get(self.name, 0.0))
        figures = (report.get("latency_ms") or {}).get(self.name) or {}
        value: Any = figures.get(self.stat)
        return None if value is None else float(value)

    def check(self, report: Mapping[str, Any]) -> dict[str, Any]:
        """``{expr, ok, value}`` for ``report``."""
        value = self.measure(report)
        ok = value is not None and _OPS[self.op](value, self.limit)
        return {"expr": self.expr, "ok": ok, "value": value}

    @property
    def unit(self) -> str:
        """The unit of the measured value, for display."""
        if self.stat == "count":
            return ""
        if self.stat == "rate":
            return "%" if self.name == "errors" else "/s"
        return " ms"


def _count(report: Mapping[str, Any], name: str) -> float | None:
    if name == "errors":
        return float(sum((report.get("errors") or {}).values()))
    counts = report.get("counts") or {}
    if name in counts:
        return float(counts[name])
    figures = (report.get("latency_ms") or {}).get(name)
    if figures is not None:
        return float(figures.get("count", 0))
    return 0.0 if name in COUNTERS else None


def parse_threshold(expr: str) -> Threshold:
    """Parses ``expr``.

    Raises:
        ThresholdError: malformed, in one line with the grammar.
    """
    match = _PATTERN.match(expr) if isinstance(expr, str) else None
    if match is None:
        raise ThresholdError(f"bad threshold {expr!r}: expected {GRAMMAR}")
    name, stat, op = match["name"], match["stat"], match["op"]
    value, unit = float(match["value"]), match["unit"] or ""

    why = _mismatch(name, stat, unit)
    if why:
        raise ThresholdError(f"bad threshold {expr!r}: {why}; expected {GRAMMAR}")
    if unit == "s":
        value *= 1000.0
    return Threshold(expr.strip(), name, stat, op, value)


def _mismatch(name: str, stat: str, unit: str) -> str:
    """What is wrong with this name, statistic and unit together ("" if nothing)."""
    if stat == "count":
        known = name in COUNTERS or name == "errors" or ":" in name
        if unit:
            return "a count takes no unit"
        if not known and name not in ("join", "connect", "rejoin", "recovery"):
            return f"{name!r} is not a count of the report"
        return ""
    if stat == "rate":
        if name == "errors":
            return "" if unit == "%" else "the error rate is in % (errors per push sent)"
        if name in _RATES:
            return "" if unit == "/s" else f"{name} rate is per second: write /s"
        return f"rates are errors (in %) or {', '.join(_RATES)} (per second)"
    if stat not in _LATENCY_STATS:
        return f"{stat} is not one of {', '.join(_LATENCY_STATS)}"
    return "" if unit in ("ms", "s") else "a latency needs a unit, ms or s"


def evaluate(thresholds: Sequence[str], report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The verdicts of ``thresholds`` (already checked) on ``report``."""
    return [parse_threshold(expr).check(report) for expr in thresholds]
