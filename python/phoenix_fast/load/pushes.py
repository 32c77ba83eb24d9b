"""Pushes at a target rate, open model: every push has a slot, and is timed from it.

Each push kind (event, rate or stages, payload template) has a schedule: ``N(t)`` pushes
are due ``t`` seconds into the run (``rate * t`` at a constant rate; piecewise linear
ramps with stages), and push ``k`` (from 1) has its *slot*, its intended send time, where
``N`` reaches ``k``. The schedule starts when the first channel has joined.

The pacer wakes on a timer at the next slot and sends every push whose slot has come,
round-robin over the channels that can push. The event loop's timers have millisecond
granularity, so pushes whose slots fall within half a millisecond of the wake-up leave
together; nothing waits for a coarser tick.

A push that cannot leave at its slot (``max_in_flight`` unanswered pushes, no joined
channel, the loop busy) leaves as soon as it can, and is still timed from its slot, as
wrk2 does: ``push:<event>`` runs from the slot (or the send, if that was earlier) to the
reply, what a user of the server would have waited; ``push:<event>:service`` runs from
the moment the frame was handed to the socket. Late pushes are never skipped; those still
unsent when the run ends are counted in ``pushes_unsent``.

``generator:send_error`` records how late each push left against its slot, for pushes that
only this process held back (not the in-flight cap or a missing channel): the pacer's and
the event loop's own precision.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from phoenix_fast.channel import Channel
from phoenix_fast.errors import BufferFull
from phoenix_fast.load.intervals import SEND_ERROR
from phoenix_fast.load.scenario import PushSpec, Scenario, Stage
from phoenix_fast.load.stats import Stats
from phoenix_fast.load.templates import PAYLOAD_FIELDS, Template

__all__ = ["EARLY", "Pacer", "Schedule", "schedule_of"]

#: A wake-up sends the pushes whose slots are at most this far ahead (half a millisecond:
#: the loop's timers cannot wake closer to a slot anyway).
EARLY = 0.0005
#: While no channel can push (none joined, or all down), the pacer looks again this often.
_RETRY = 0.005
#: The shortest timer the pacer sets.
_MIN_TIMER = 0.001
_perf = time.perf_counter


def _slot(kind: _Kind) -> float:
    return kind.slot


class Schedule:
    """How many pushes are due ``t`` seconds into the run, and when push ``k`` is due.

    The rate runs linearly between ``points`` ``(t, rate)`` and stays at the last rate
    after the last point.

    Args:
        points: breakpoints, ``t`` increasing from 0.
    """

    __slots__ = ("_at", "_segments", "constant")

    def __init__(self, points: Sequence[tuple[float, float]]) -> None:
        segments: list[tuple[float, float, float, float, float]] = []
        due = 0.0
        for (t0, r0), (t1, r1) in itertools.pairwise(points):
            segments.append((t0, t1, r0, r1, due))
            due += (r0 + r1) / 2 * (t1 - t0)
        last_t, last_rate = points[-1]
        segments.append((last_t, math.inf, last_rate, last_rate, due))
        self._segments = segments
        self._at = 0
        #: The rate when it never changes (None with stages).
        self.constant: float | None = last_rate if len(points) == 1 else None

    def count(self, t: float) -> float:
        """``N(t)``: pushes due by ``t`` (a fraction: ``floor`` it)."""
        for t0, t1, r0, r1, due in self._segments:
            if t < t1:
                dt = max(t - t0, 0.0)
                slope = (r1 - r0) / (t1 - t0) if t1 != math.inf else 0.0
                return due + r0 * dt + slope * dt * dt / 2
        return math.inf  # pragma: no cover - the last segment never ends

    def time_of(self, k: float) -> float:
        """When push ``k`` is due (``N(t) == k``); ``inf`` if never."""
        segments = self._segments
        index = self._at
        while index > 0 and segments[index][4] > k:
            index -= 1
        while True:
            t0, t1, r0, r1, due = segments[index]
            end = math.inf if t1 == math.inf else due + (r0 + r1) / 2 * (t1 - t0)
            if k <= end or index == len(segments) - 1:
                break
            index += 1
        self._at = index
        m = k - due
        if m <= 0:
            return t0
        slope = (r1 - r0) / (t1 - t0) if t1 != math.inf else 0.0
        root = r0 * r0 + 2 * slope * m
        denominator = r0 + math.sqrt(max(root, 0.0))
        if denominator <= 0:
            return math.inf
        return t0 + 2 * m / denominator


def schedule_of(spec: PushSpec, stages: Sequence[Stage], procs: int) -> Schedule:
    """The schedule of ``spec`` (this worker's share): its rate, or the stages' ramps."""
    if not any(stage.sets_rates for stage in stages):
        return Schedule([(0.0, spec.rate / procs)])
    points = [(0.0, 0.0)]
    t = 0.0
    for stage in stages:
        t += stage.duration
        points.append((t, stage.target(spec) / procs))
    return Schedule(points)


class _Kind:
    """One push kind: its schedule and where it is in it."""

    __slots__ = (
        "constant",
        "event",
        "next",
        "open",
        "own_fields",
        "payload",
        "period",
        "schedule",
        "sent",
        "service",
        "slot",
        "template",
    )

    def __init__(self, spec: PushSpec, schedule: Schedule, stats: Stats) -> None:
        self.event = spec.event
        self.schedule = schedule
        rate = schedule.constant
        #: Seconds between slots at a constant rate (0: stages, use the schedule).
        self.period = 1.0 / rate if rate else 0.0
        self.template = Template(spec.payload, PAYLOAD_FIELDS, f"payload of {spec.event!r}")
        self.constant = self.template.constant
        #: Whether the payload uses only the push's own placeholders (seq, event, ts).
        self.own_fields = self.template.names <= {"seq", "event", "ts"}
        self.payload = self.template.render({}) if self.constant else None
        self.open = stats.samples(f"push:{spec.event}").append
        self.service = stats.samples(f"push:{spec.event}:service").append
        #: Pushes sent (or passed over before the first join), and the next one's slot.
        self.sent = 0
        self.slot = 0.0
        self.next = 0

    def due(self, t: float) -> int:
        """Pushes due by ``t`` seconds into the run."""
        if self.period:
            return int(t / self.period)
        return int(self.schedule.count(t) + 1e-9)

    def slot_of(self, k: int) -> float:
        """Push ``k``'s slot, seconds into the run."""
        if self.period:
            return k * self.period
        return self.schedule.time_of(k)


class _Pending:
    """One push in flight: times its reply (the push's outcome callback)."""

    __slots__ = ("intended", "kind", "pacer", "sent")

    def __init__(self, pacer: Pacer, kind: _Kind, intended: float, sent: float) -> None:
        self.pacer, self.kind, self.intended, self.sent = pacer, kind, intended, sent

    def done(self, status: str, response: Any) -> None:
        now = _perf()
        pacer = self.pacer
        if pacer.closed:
            return
        kind = self.kind
        if status == "ok":
            pacer.counters["replies_ok"] += 1
            kind.open(int((now - self.intended) * 1e6))
            kind.service(int((now - self.sent) * 1e6))
        elif status == "timeout":
            pacer.counters["push_timeouts"] += 1
            pacer.stats.error(f"push {kind.event} timeout")
        else:
            reason = response.get("reason") if isinstance(response, dict) else response
            pacer.counters["replies_error"] += 1
            pacer.stats.error(f"push {kind.event} {status}: {reason}")
        pacer.in_flight -= 1
        pacer.answered += 1
        if pacer.held == "in_flight" or pacer.limit is not None or not pacer.sending:
            pacer.after_answer()


class Pacer:
    """Sends the scenario's pushes on their schedules (this worker's share of them).

    Call :meth:`start` once the run starts; channels join the rotation with
    :meth:`add_channel`.

    Args:
        scenario: the scenario (pushes, stages, timeouts, in-flight cap).
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
        self.stats = stats
        self.counters = stats.counters
        self._kinds = [
            _Kind(spec, schedule_of(spec, scenario.stages, procs), stats)
            for spec in scenario.pushes
        ]
        self._send_error = stats.samples(SEND_ERROR).append
        self._timeout = scenario.push_timeout
        self._max_in_flight = scenario.max_in_flight
        #: Seconds into the run after which no slot is due: the run's end. The runner stops
        #: the pacer then, but a busy loop may notice late, and slots past the end must not
        #: go out meanwhile (the open model has no arrivals after the end).
        run_for = scenario.run_seconds
        self._end = math.inf if run_for is None else run_for
        self.limit = limit
        self._on_done = on_done
        self._channels: list[tuple[Channel, dict[str, Any]]] = []
        self._seq = 0
        self._sent = 0
        self.answered = 0
        self.sending = True
        self.closed = False
        self._idle = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | asyncio.Handle | None = None
        self._start = 0.0
        self._wall = 0.0
        self._begun = False
        #: Why the pacer is holding pushes back ("" when it is not): "in_flight" (the cap),
        #: "channel" (no channel can push), "buffer" (the socket's buffer is full).
        self.held = ""
        #: Pushes sent and not answered yet.
        self.in_flight = 0

    # -- set-up --------------------------------------------------------------------------

    def start(self) -> None:
        """The run starts now: the schedules' time 0 (stages count from here)."""
        self._loop = asyncio.get_running_loop()
        self._start = _perf()
        self._wall = time.time()

    def add_channel(self, channel: Channel, values: dict[str, Any]) -> None:
        """Adds a joined channel (``values``: its template values, ``topic`` included)."""
        self._channels.append((channel, values))
        if not self._begun and self._loop is not None and self._kinds:
            self._begun = True
            t = _perf() - self._start
            for kind in self._kinds:  # the schedule starts at the first join
                kind.sent = kind.due(t)
                kind.slot = kind.slot_of(kind.sent + 1)
            self._wake()

    def remove_channel(self, channel: Channel) -> None:
        """Takes a channel out of the rotation (it is leaving). Stages leave the channels
        joined last first, so the search starts from the end: a ramp down is then not a scan
        of every channel per leave."""
        channels = self._channels
        for index in range(len(channels) - 1, -1, -1):
            if channels[index][0] is channel:
                del channels[index]
                return

    # -- sending -------------------------------------------------------------------------

    def _wake(self) -> None:
        """Sends every push whose slot has come, then sets the timer for the next slot."""
        self._timer = None
        if not self.sending:
            return
        horizon = min(_perf() - self._start + EARLY, self._end)
        held_before = self.held
        self.held = ""
        kinds = self._kinds
        if len(kinds) == 1:
            if kinds[0].slot <= horizon:
                self._send_due(kinds[0], horizon, held_before)
        else:  # in slot order across kinds, so that a backlog of one does not starve another
            while not self.held and self.sending:
                first = min(kinds, key=_slot)
                if first.slot > horizon:
                    break
                others = min(kind.slot for kind in kinds if kind is not first)
                self._send_due(first, min(horizon, others), held_before)
        self._arm()

    def _arm(self) -> None:
        """Sets the timer: at the next slot, soon when held for want of a channel, never when
        held by the in-flight cap (a reply wakes the pacer) or when done."""
        loop = self._loop
        if loop is None or not self.sending or self._timer is not None:
            return
        held = self.held
        if held == "in_flight":
            return
        if held:
            self._timer = loop.call_later(_RETRY, self._wake)
            return
        kinds = self._kinds
        nearest = kinds[0].slot if len(kinds) == 1 else min(kind.slot for kind in kinds)
        if nearest > self._end:  # the last slot of the run went out (inf: none is left)
            return
        # The next slot is more than EARLY ahead (the wake-up sent everything closer). A
        # timer under a millisecond would fire at once (uvloop rounds to milliseconds) and
        # spin the loop: wake in a millisecond at least; that slot leaves at most EARLY late.
        delay = nearest - (_perf() - self._start) - EARLY
        self._timer = loop.call_later(max(delay, _MIN_TIMER), self._wake)

    def _send_due(self, kind: _Kind, horizon: float, held_before: str) -> None:
        """Sends ``kind``'s pushes with slots up to ``horizon`` (seconds into the run), in
        order, until one is held back. The per-push path: keep it lean."""
        start, channels = self._start, self._channels
        count = len(channels)
        cap, limit = self._max_in_flight, self.limit
        event, timeout, period = kind.event, self._timeout, kind.period
        render = None if kind.constant else kind.template.render
        payload, own_fields = kind.payload, kind.own_fields
        send_error = None if held_before else self._send_error
        sent = 0
        while kind.slot <= horizon:
            if self.in_flight >= cap:
                self.held = "in_flight"
                break
            if limit is not None and self._sent >= limit:
                self.sending = False
                break
            channel: Channel | None = None
            for _ in range(count if count < 64 else 64):
                index = kind.next % count
                kind.next = index + 1
                candidate = channels[index]
                if candidate[0].can_push():
                    channel, values = candidate
                    break
            if channel is None:
                self.held = "channel"
                break
            intended = start + kind.slot
            begin = _perf()
            if intended < begin:  # a push sent before its slot is timed from its send
                begin = intended
            if render is not None:
                self._seq += 1
                ts = (self._wall + (begin - start)) * 1000
                if own_fields:  # no channel placeholder: no copy of the channel's values
                    fill = {"seq": self._seq, "event": event, "ts": ts}
                else:
                    fill = {**values, "seq": self._seq, "event": event, "ts": ts}
                payload = render(fill)
            try:
                push = channel.push(event, payload, timeout)
            except BufferFull:
                # the server reads slower than we push: hold back instead of growing memory;
                # the slot stays due, so the wait shows in the push's latency
                self.counters["pushes_blocked"] += 1
                self.held = "buffer"
                break
            now = _perf()
            if send_error is not None:  # the error either way: early or late
                send_error(int(abs(now - intended) * 1e6))
            push._on_outcome = _Pending(self, kind, begin, now).done
            self.in_flight += 1
            self._sent += 1
            sent += 1
            k = kind.sent = kind.sent + 1
            kind.slot = (k + 1) * period if period else kind.schedule.time_of(k + 1)
        self.counters["pushes_sent"] += sent

    def after_answer(self) -> None:
        """A push was answered (or timed out) while something waits for answers."""
        if self.limit is not None and self.answered >= self.limit:
            self._on_done()
        if self.held == "in_flight" and self._timer is None and self._loop is not None:
            self._timer = self._loop.call_soon(self._wake)
        if not self.in_flight and not self.sending:
            self._idle.set()

    # -- the end -------------------------------------------------------------------------

    async def wait_idle(self, timeout: float) -> None:
        """Waits (up to ``timeout`` seconds) until every push sent was answered."""
        if self.in_flight:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout)

    def stop_sending(self) -> None:
        """No more pushes; the ones in flight may still be answered. Pushes that were due
        and not sent are counted in ``pushes_unsent``."""
        if self.sending and self._begun:
            if self._timer is not None:
                self._timer.cancel()
            self._wake()  # what is due now goes now: only the backlog counts as unsent
            t = min(_perf() - self._start, self._end)  # no slot is due past the end
            unsent = sum(max(kind.due(t) - kind.sent, 0) for kind in self._kinds)
            if self.limit is not None:
                unsent = min(unsent, max(self.limit - self._sent, 0))
            self.counters["pushes_unsent"] += unsent
        self.sending = False
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        if not self.in_flight:
            self._idle.set()

    def close(self) -> None:
        """Counts the pushes still in flight as unanswered and ignores later replies."""
        self.stop_sending()
        if not self.closed:
            self.closed = True
            self.counters["pushes_unanswered"] += self.in_flight
