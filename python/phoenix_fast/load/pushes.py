"""Pushes at a target rate: a scheduled pacer over the joined channels, with replies timed.

Each push kind (event, rate, payload template) keeps a schedule: at ``t`` seconds into the
run, ``rate * t`` pushes are due. Every tick sends what is due, round-robin over the
channels that can push, up to ``max_in_flight`` unanswered pushes. A schedule more than a
second behind (the client or the server saturated) skips the excess, counted in
``pushes_skipped``, rather than bursting to catch up.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from phoenix_fast.channel import Channel
from phoenix_fast.load.scenario import PushSpec, Scenario
from phoenix_fast.load.stats import Stats
from phoenix_fast.load.templates import PAYLOAD_FIELDS, Template

__all__ = ["Pacer"]

_BACKLOG_SECONDS = 1.0


class _Kind:
    """One push kind and its schedule."""

    __slots__ = ("constant", "event", "histogram", "next", "rate", "scheduled", "template")

    def __init__(self, spec: PushSpec, procs: int) -> None:
        self.event = spec.event
        self.rate = spec.rate / procs
        self.template = Template(spec.payload, PAYLOAD_FIELDS, f"payload of {spec.event!r}")
        self.constant = self.template.render({}) if self.template.constant else None
        self.histogram = f"push:{spec.event}"
        self.scheduled = 0
        self.next = 0


class _Pending:
    """One push in flight: times its reply."""

    __slots__ = ("kind", "pacer", "started")

    def __init__(self, pacer: Pacer, kind: _Kind) -> None:
        self.pacer, self.kind = pacer, kind
        self.started = time.perf_counter()

    def ok(self, _response: Any) -> None:
        self.pacer.answered(self, "replies_ok", None)

    def error(self, response: Any) -> None:
        reason = response.get("reason") if isinstance(response, dict) else response
        self.pacer.answered(self, "replies_error", f"push {self.kind.event} error: {reason}")

    def timeout(self, _response: Any) -> None:
        self.pacer.answered(self, "push_timeouts", f"push {self.kind.event} timeout")


class Pacer:
    """Sends the scenario's pushes at their rates (this worker's share of them).

    Args:
        scenario: the scenario (pushes, timeouts, in-flight cap).
        stats: where to count and time.
        procs: how many workers share the rates.
        limit: pushes this worker sends in all (``--messages`` share), None for no limit.
        on_done: called once ``limit`` pushes were answered.
    """

    def __init__(
        self,
        scenario: Scenario,
        stats: Stats,
        procs: int,
        limit: int | None,
        on_done: Callable[[], None],
    ) -> None:
        self._kinds = [_Kind(spec, procs) for spec in scenario.pushes]
        self._stats = stats
        self._timeout = scenario.push_timeout
        self._max_in_flight = scenario.max_in_flight
        self._limit = limit
        self._on_done = on_done
        self._channels: list[tuple[Channel, dict[str, Any]]] = []
        self._seq = 0
        self._sent = 0
        self._answered = 0
        self._sending = True
        self._closed = False
        self._idle = asyncio.Event()
        #: Pushes sent and not answered yet.
        self.in_flight = 0

    def add_channel(self, channel: Channel, values: dict[str, Any]) -> None:
        """Adds a joined channel (``values``: its template values, ``topic`` included)."""
        self._channels.append((channel, values))

    def tick(self, elapsed: float) -> None:
        """Sends the pushes due ``elapsed`` seconds into the run."""
        if not self._sending:
            return
        for kind in self._kinds:
            due = int(kind.rate * elapsed) - kind.scheduled
            backlog = int(kind.rate * _BACKLOG_SECONDS) + 1
            if due > backlog:
                self._skip(kind, due - backlog)
                due = backlog
            if due > 0:
                self._send_due(kind, due)

    def _skip(self, kind: _Kind, count: int) -> None:
        kind.scheduled += count
        self._stats.count("pushes_skipped", count)

    def _send_due(self, kind: _Kind, due: int) -> None:
        channels = self._channels
        for _ in range(due):
            if self.in_flight >= self._max_in_flight or not self._sending:
                return
            if self._limit is not None and self._sent >= self._limit:
                self._sending = False
                return
            target = self._next_channel(kind)
            if target is None:
                self._skip(kind, 1)
                continue
            kind.scheduled += 1
            self._send(kind, *channels[target])

    def _next_channel(self, kind: _Kind) -> int | None:
        channels = self._channels
        count = len(channels)
        for _ in range(min(count, 64)):
            index = kind.next % count
            kind.next = index + 1
            if channels[index][0].can_push():
                return index
        return None

    def _send(self, kind: _Kind, channel: Channel, values: dict[str, Any]) -> None:
        self._seq += 1
        payload = kind.constant
        if payload is None:
            fill = {**values, "seq": self._seq, "event": kind.event, "ts": time.time() * 1000}
            payload = kind.template.render(fill)
        pending = _Pending(self, kind)
        push = channel.push(kind.event, payload, self._timeout)
        push.receive("ok", pending.ok).receive("error", pending.error)
        push.receive("timeout", pending.timeout)
        self.in_flight += 1
        self._sent += 1
        self._stats.count("pushes_sent")

    def answered(self, pending: _Pending, counter: str, error: str | None) -> None:
        """A reply (or a timeout) for ``pending``."""
        if self._closed:
            return
        self.in_flight -= 1
        self._answered += 1
        stats = self._stats
        stats.count(counter)
        if error is None:
            stats.record(pending.kind.histogram, (time.perf_counter() - pending.started) * 1e6)
        else:
            stats.error(error)
        if self._limit is not None and self._answered >= self._limit:
            self._on_done()
        if not self.in_flight and not self._sending:
            self._idle.set()

    async def wait_idle(self, timeout: float) -> None:
        """Waits (up to ``timeout`` seconds) until every push sent was answered."""
        if self.in_flight:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout)

    def stop_sending(self) -> None:
        """No more pushes; the ones in flight may still be answered."""
        self._sending = False

    def close(self) -> None:
        """Counts the pushes still in flight as unanswered and ignores later replies."""
        self._sending = False
        if not self._closed:
            self._closed = True
            self._stats.count("pushes_unanswered", self.in_flight)
