"""The load engine of one process: sockets, channels, joins at a pace, pushes at a rate.

One :class:`Runner` drives this process's share of the scenario's sockets (worker ``proc``
of ``procs``) on the running event loop and returns its :class:`~phoenix_fast.load.stats.Stats`.
Drops are counted and the client reconnects and rejoins on its own; nothing the server does
ends the run early except an unreachable URL at the start (:class:`LoadError`).

Each socket's connects, reconnects, drops and failed attempts are counted by its observer
(``Socket(..., observer=..., observe_pushes=False)``, see :mod:`phoenix_fast._observe`):
one hook per socket instead of ``on_open``, ``on_close`` and ``on_error`` callbacks, and a
reconnect is the socket's own count of opens past the first. It takes no push events: the
pacer times each push from its slot in the open model (the time it should have left), which
an event's round trip from the send does not give, and skipping them keeps the reply path as
cheap as with no observer. The joins' followers keep their own clocks and the channels'
``on_error``, where an outage starts.

A monitor task samples the event loop's lag every 10 ms and closes an interval row (see
:mod:`phoenix_fast.load.intervals`) at every multiple of ``--interval`` in Unix time. After
a drop, the run measures its recovery: the time until 99% of the channels joined before it
are joined again (``recovery``), and each channel's time to rejoin (``rejoin``).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from phoenix_fast import Socket
from phoenix_fast._redact import redact_url
from phoenix_fast._states import ChannelState
from phoenix_fast.channel import Channel
from phoenix_fast.load.connection import scrubber, socket_options
from phoenix_fast.load.intervals import COUNT_FIELDS, LOOP_LAG, saturation
from phoenix_fast.load.limits import LIMIT_PREFIX, LIMITS, classify
from phoenix_fast.load.limits import note as limit_note
from phoenix_fast.load.presence import PresenceClock, PresenceWatch
from phoenix_fast.load.pushes import Pacer
from phoenix_fast.load.scenario import Scenario, Spot, channel_spots, share
from phoenix_fast.load.stats import Stats
from phoenix_fast.load.templates import CHANNEL_FIELDS, SOCKET_FIELDS, Template

__all__ = ["LoadError", "RunResult", "Runner", "TOO_MANY_CHANNELS"]

#: Phoenix's error reason for a join over ``max_channels_per_transport``.
TOO_MANY_CHANNELS = "too many channels joined"
_JOINED = ChannelState.JOINED
_TICK = 0.01
#: The loop-lag probe: a timer set this far ahead, and how late it fires.
_PROBE = 0.01
#: Probes between two moves of the samples into the histograms (every 100 ms).
_ABSORB_EVERY = 10
#: Seconds between taking a channel out of the rotation and leaving it.
_LEAVE_GRACE = 0.5
#: A run has recovered from an outage when this share of its joined channels is back.
RECOVERED_SHARE = 0.99
_DRAIN_MAX = 3.0
_CLOSE_MAX = 5.0


class LoadError(Exception):
    """The run cannot start (the URL is unreachable, say); the message is one line."""


def quiet_logger() -> logging.Logger:
    """The client's logger during a load run: silent (errors are counted instead)."""
    logger = logging.getLogger("phoenix_fast.load.client")
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger


@dataclass
class RunResult:
    """What a run produced: its stats, why it stopped, and notes for the user."""

    stats: Stats
    stopped_by: str
    notes: list[str] = field(default_factory=list)


@dataclass
class _Slot:
    socket: Socket
    index: int
    started: bool = False
    #: Whether the socket's connection is open now, and whether it ever opened.
    open: bool = False
    opened: bool = False
    #: Joins waiting for the socket's first connection.
    waiting: list[Spot] = field(default_factory=list)


class _Join:
    """Follows one channel's join push: first ok, refusals, timeouts, rejoins."""

    __slots__ = ("channel", "down_at", "joined", "left", "runner", "started", "up", "values")

    def __init__(self, runner: Runner, channel: Channel, values: dict[str, Any]) -> None:
        self.runner, self.channel, self.values = runner, channel, values
        self.started = time.perf_counter()
        self.joined = False
        #: Whether the channel is joined now, and since when it is not.
        self.up = False
        self.down_at = 0.0
        #: Left on purpose (a stage lowered the channel count).
        self.left = False

    def ok(self, _response: Any) -> None:
        runner = self.runner
        if runner.closing or self.left:
            return
        stats = runner.stats
        now = time.perf_counter()
        if self.joined:
            stats.count("rejoins")
            if not self.up:
                self.up = True
                stats.samples("rejoin").append(int((now - self.down_at) * 1e6))
                runner.channel_up(now)
            return
        self.joined = self.up = True
        stats.count("joins_ok")
        stats.note_join_ok(time.time())
        stats.samples("join").append(int((now - self.started) * 1e6))
        runner.pacer.add_channel(self.channel, self.values)
        runner.channel_up(now)

    def leave(self) -> None:
        """Leaves on purpose: out of the pacer's rotation and the joined count."""
        runner = self.runner
        self.left = True
        if self.up:
            self.up = False
            runner.channel_gone()
        runner.pacer.remove_channel(self.channel)
        runner.stats.count("leaves")
        # out of the rotation now, gone a little later: a reply to a push sent just before
        # is lost if it comes back after the channel's leave went out
        asyncio.get_running_loop().call_later(_LEAVE_GRACE, self.channel.leave)

    def down(self, _reason: Any) -> None:
        """The channel errored (its connection dropped, or the server crashed it)."""
        runner = self.runner
        if self.up and not runner.closing and not self.left:
            self.up = False
            self.down_at = time.perf_counter()
            runner.channel_down(self.down_at)

    def error(self, response: Any) -> None:
        runner = self.runner
        if runner.closing or self.left:
            return
        reason = response.get("reason") if isinstance(response, dict) else response
        runner.stats.count("joins_refused")
        runner.stats.error(runner.scrub(f"join refused: {reason}"))
        if reason == TOO_MANY_CHANNELS:
            runner.too_many += 1
        # a refused join is not retried: the channel would rejoin with backoff forever
        asyncio.get_running_loop().call_soon(self.channel.leave)

    def timeout(self, _response: Any) -> None:
        if not self.runner.closing:
            self.runner.stats.count("joins_timeout")
            self.runner.stats.error("join timeout")


class _Counter:
    """Counts one subscribed event (a channel binding taking the payload), and times it when
    its payload has a numeric ``ts`` (Unix time in ms): its age on arrival."""

    __slots__ = ("ages", "name", "stats")

    def __init__(self, stats: Stats, name: str) -> None:
        self.stats, self.name = stats, name
        self.ages = stats.samples(f"event:{name}").append

    def __call__(self, payload: Any) -> None:
        self.stats.event(self.name)
        if type(payload) is dict:
            ts = payload.get("ts")
            if type(ts) is float or type(ts) is int:
                age = int((time.time() * 1000 - ts) * 1000)
                self.ages(age if age > 0 else 0)


class Runner:
    """Runs worker ``proc``'s share of ``scenario`` against ``scenario.url``.

    Args:
        scenario: the checked scenario (its ``url`` must be set).
        proc: this worker's number, from 0.
        procs: how many workers share the scenario.
    """

    def __init__(
        self,
        scenario: Scenario,
        proc: int = 0,
        procs: int = 1,
        on_interval: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        if scenario.url is None:
            raise ValueError("the scenario has no URL")
        self.scenario = scenario
        self.url: str = scenario.url
        self.proc, self.procs = proc, procs
        self.stats = Stats()
        self.closing = False
        self.too_many = 0
        sockets = share(scenario.socket_count, proc, procs)
        self._first, self._stop_at = sockets.start, sockets.stop
        self._slots: list[_Slot] = []
        #: Every channel joined and not left (a dict: a stage's leave is O(1)).
        self._channels: dict[Channel, None] = {}
        self._connected = 0
        self._stop = asyncio.Event()
        self._connecting = asyncio.Semaphore(scenario.connect_concurrency)
        self._connects: set[asyncio.Task[None]] = set()
        self._templates = (
            Template(scenario.topic, CHANNEL_FIELDS, "--topic"),
            Template(scenario.join_params, CHANNEL_FIELDS, "--join-params"),
        )
        self._stopped_by = "duration"
        messages = scenario.messages
        limit = len(share(messages, proc, procs)) if messages is not None else None
        self.pacer = Pacer(scenario, self.stats, procs, limit, self._on_all_answered)
        self._logger = quiet_logger()
        self._scrub = scrubber(scenario).scrub
        #: The limits hit (see :mod:`phoenix_fast.load.limits`), in the order first hit.
        self._limits_hit: dict[str, None] = {}
        self._presence_clock = PresenceClock()
        self._on_interval = on_interval
        #: Channels joined now; an outage (drop) in progress: since when, and how many
        #: channels were joined before it.
        self._joined_now = 0
        self._outage_at: float | None = None
        self._outage_of = 0
        #: The interval in progress: its nominal end (Unix), start (perf), CPU and counts.
        self._interval_end = 0.0
        self._interval_began = 0.0
        self._interval_cpu = 0.0
        self._interval_counts: dict[str, int] = dict.fromkeys(COUNT_FIELDS, 0)
        self._live: dict[str, int] = {}
        #: Stages with channel counts: the channels joined or joining, in join order, and
        #: each one's follower by channel number.
        self._active: list[Spot] = []
        self._follows: dict[int, _Join] = {}

    def scrub(self, text: str) -> str:
        """``text`` without the scenario's secrets (see :func:`connection.scrubber`)."""
        return self._scrub(text)

    # -- live figures ----------------------------------------------------------------

    def _joined_count(self) -> int:
        return sum(1 for channel in self._channels if channel.state is _JOINED)

    def snapshot(self) -> dict[str, int]:
        """Counters plus the live gauges ``sockets`` and ``channels`` (connected, joined)."""
        joined = self._joined_count()
        self.stats.peak("channels", joined)
        snap = self.stats.snapshot()
        snap["sockets"] = self._connected
        snap["channels"] = joined
        snap["in_flight"] = self.pacer.in_flight
        snap.update(self._live)
        errors = self.stats.errors
        for limit in self._limits_hit:  # the live display names them as they are hit
            snap[LIMIT_PREFIX + limit] = errors.get(LIMITS[limit], 0)
        return snap

    # -- joined channels and recovery ----------------------------------------------------

    def channel_up(self, now: float) -> None:
        """A channel joined (or rejoined); ends an outage once enough are back."""
        self._joined_now += 1
        began = self._outage_at
        if began is not None and self._joined_now >= math.ceil(RECOVERED_SHARE * self._outage_of):
            self._outage_at = None
            self.stats.count("recoveries")
            self.stats.samples("recovery").append(int((now - began) * 1e6))

    def channel_gone(self) -> None:
        """A joined channel was left on purpose (no outage)."""
        self._joined_now -= 1

    def channel_down(self, now: float) -> None:
        """A joined channel errored; starts an outage if none is in progress."""
        if self._outage_at is None:
            self._outage_at = now
            self._outage_of = self._joined_now
        self._joined_now -= 1

    def stop(self, reason: str = "interrupted") -> None:
        """Ends the run early (Ctrl-C): the report covers what happened so far."""
        if not self._stop.is_set():
            self._stopped_by = reason
            self._stop.set()
            if reason == "interrupted":  # Ctrl-C also stops an embedded server: not a drop
                self.closing = True

    # -- the run -----------------------------------------------------------------------

    async def run(self) -> RunResult:
        """Runs the scenario to its end; returns the stats.

        Raises:
            LoadError: the first connection failed (unreachable URL, refused upgrade).
        """
        sc = self.scenario
        self._make_sockets()
        self.stats.started_at = time.time()
        self.stats.count("sockets_planned", len(self._slots))
        await self._preflight()
        self.pacer.start()
        self._open_interval()
        tasks = [asyncio.create_task(self._join_all()), asyncio.create_task(self._monitor())]
        try:
            await self._wait_for_end(sc)
        finally:
            tasks += self._connects
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._finish()
        return RunResult(self.stats, self._stopped_by, self._notes())

    def _make_sockets(self) -> None:
        sc = self.scenario
        params = Template(sc.socket_params, SOCKET_FIELDS, "--socket-params")
        options = socket_options(sc)
        for index in range(self._first, self._stop_at):
            socket = Socket(
                self.url,
                params=params.render({"s": index, "p": self.proc}),
                timeout=sc.push_timeout,
                heartbeat_interval=sc.heartbeat or None,
                logger=self._logger,
                jitter=0.5,
                local_address=_source_ip(sc.source_ips, index),
                observe_pushes=False,
                **options,
            )
            slot = _Slot(socket, index)
            socket.observer = functools.partial(self._observe, slot)
            self._slots.append(slot)

    async def _preflight(self) -> None:
        """Connects the first socket and waits: an unreachable URL fails here, in one line."""
        slot = self._slots[0]
        slot.started = True
        started = time.perf_counter()
        try:
            await asyncio.wait_for(slot.socket.connect(), self.scenario.join_timeout)
        except (Exception, asyncio.TimeoutError) as exc:
            await self._close_sockets()
            shown, why = redact_url(self.url), self._scrub(_describe(exc))
            if "CERTIFICATE_VERIFY_FAILED" in why or "certificate verify failed" in why:
                why += " (trust the server's CA with --cacert FILE, or skip checks: --insecure)"
            raise LoadError(f"cannot connect to {shown}: {why}") from None
        self.stats.samples("connect").append(int((time.perf_counter() - started) * 1e6))

    async def _wait_for_end(self, sc: Scenario) -> None:
        run_for = sc.run_seconds
        limit = sc.time_limit
        deadline = run_for if run_for is not None else limit
        try:
            await asyncio.wait_for(self._stop.wait(), deadline)
        except asyncio.TimeoutError:
            self._stopped_by = "duration" if run_for is not None else "time_limit"

    def _on_all_answered(self) -> None:
        self.stop("messages")

    async def _finish(self) -> None:
        self.pacer.stop_sending()
        drain = min(self.scenario.push_timeout, _DRAIN_MAX)
        await self.pacer.wait_idle(drain)
        self.snapshot()
        self.closing = True
        self.pacer.close()
        self.stats.ended_at = time.time()
        self._close_interval(self._interval_end)
        await self._close_sockets()

    async def _close_sockets(self) -> None:
        self.closing = True
        closes = [slot.socket.disconnect() for slot in self._slots]
        try:
            await asyncio.wait_for(asyncio.gather(*closes), _CLOSE_MAX)
        except asyncio.TimeoutError:  # pragma: no cover - a server that never closes
            pass

    # -- joins -------------------------------------------------------------------------

    async def _join_all(self) -> None:
        sc = self.scenario
        spots = list(channel_spots(sc.channels, sc.socket_count, self._first, self._stop_at))
        self.stats.count("channels_planned", len(spots))
        if any(stage.channels is not None for stage in sc.stages):
            await self._follow_stages(spots)
            return
        rate = self._join_rate(len(spots))
        loop = asyncio.get_running_loop()
        start = loop.time()
        done = 0
        while done < len(spots):
            due = len(spots) if rate is None else int(rate * (loop.time() - start)) + 1
            for spot in spots[done : min(due, len(spots), done + 500)]:
                self._join(spot)
            done = min(due, len(spots), done + 500)
            await asyncio.sleep(_TICK if rate is not None else 0)
        for slot in self._slots:  # sockets without channels
            self._start(slot)

    async def _follow_stages(self, spots: list[Spot]) -> None:
        """Joins and leaves channels so that the joined count follows the stages' ramps
        (this worker's share of them); the last spots joined are the first left."""
        sc = self.scenario
        points = channel_points(sc)
        share = len(spots) / sc.channels if sc.channels else 0.0
        for slot in self._slots:
            self._start(slot)
        loop = asyncio.get_running_loop()
        start = loop.time()
        active = self._active
        while True:
            target = _interpolate(points, loop.time() - start) * share
            desired = min(len(spots), int(target + 0.5))
            if desired > len(active):
                for spot in spots[len(active) : min(desired, len(active) + 500)]:
                    active.append(spot)
                    self._join(spot)
            elif desired < len(active):
                for _ in range(min(len(active) - desired, 500)):
                    self._leave(active.pop())
            await asyncio.sleep(_TICK)

    def _leave(self, spot: Spot) -> None:
        follow = self._follows.pop(spot.n, None)
        if follow is None:  # still waiting for its socket's first connection
            waiting = self._slots[spot.s - self._first].waiting
            if spot in waiting:
                waiting.remove(spot)
            return
        follow.leave()
        self._channels.pop(follow.channel, None)

    def _join_rate(self, count: int) -> float | None:
        sc = self.scenario
        if sc.ramp:
            return max(count / sc.ramp, 1e-9)
        if sc.join_rate:
            return sc.join_rate / self.procs
        return None

    def _join(self, spot: Spot) -> None:
        """Joins now if the channel's socket has connected once, else when it does."""
        slot = self._slots[spot.s - self._first]
        if slot.opened:
            self._send_join(slot, spot)
            return
        slot.waiting.append(spot)
        self._start(slot)

    def _send_join(self, slot: _Slot, spot: Spot) -> None:
        topic, params = self._templates
        values = spot.values(self.proc)
        name = str(topic.render(values))
        join_params = params.render(values)
        channel = slot.socket.channel(name, join_params)
        if self.scenario.presence:
            key = str(join_params.get("user_id"))
            PresenceWatch(channel, name, key, self.stats, self._presence_clock)
        for event in self.scenario.subscribe:
            channel.on(event, _Counter(self.stats, event))
        channel.on_error(self._on_channel_error)
        follow = _Join(self, channel, {**values, "topic": name})
        self._follows[spot.n] = follow
        channel.on_error(follow.down)
        self.stats.note_join_sent(time.time())
        push = channel.join(self.scenario.join_timeout)
        push.receive("ok", follow.ok).receive("error", follow.error)
        push.receive("timeout", follow.timeout)
        self._channels[channel] = None

    def _start(self, slot: _Slot) -> None:
        if not slot.started:
            slot.started = True
            task = asyncio.create_task(self._connect(slot))
            self._connects.add(task)
            task.add_done_callback(self._connects.discard)

    async def _connect(self, slot: _Slot) -> None:
        """Connects with at most ``connect_concurrency`` handshakes in flight; a failed
        socket keeps retrying on its own (failures are counted by ``on_error``)."""
        async with self._connecting:
            started = time.perf_counter()
            try:
                await asyncio.wait_for(slot.socket.connect(), self.scenario.join_timeout)
            except (Exception, asyncio.TimeoutError):
                return
            self.stats.samples("connect").append(int((time.perf_counter() - started) * 1e6))

    # -- results over time ---------------------------------------------------------------

    async def _monitor(self) -> None:
        """Samples the loop's lag every 10 ms; closes an interval at each boundary."""
        lag = self.stats.samples(LOOP_LAG).append
        perf = time.perf_counter
        probes = 0
        while True:
            before = perf()
            await asyncio.sleep(_PROBE)
            late = perf() - before - _PROBE
            lag(int(late * 1e6) if late > 0 else 0)
            if time.time() >= self._interval_end:
                self._close_interval(self._interval_end)
            else:
                probes += 1
                if probes % _ABSORB_EVERY == 0:
                    self.stats.absorb()

    def _open_interval(self) -> None:
        every = self.scenario.interval
        self._interval_end = (math.floor(time.time() / every) + 1) * every
        self._interval_began = time.perf_counter()
        self._interval_cpu = time.process_time()

    def _counts_now(self) -> dict[str, int]:
        c = self.stats.counters
        return {
            "pushes": c["pushes_sent"],
            "replies": c["replies_ok"] + c["replies_error"],
            "errors": sum(self.stats.errors.values()),
            "events": c["events_received"],
            "joins": c["joins_ok"] + c["rejoins"],
            "drops": c["socket_drops"],
        }

    def _close_interval(self, at: float) -> None:
        """Ends the interval in progress (nominally at Unix time ``at``): its row."""
        stats = self.stats
        now, cpu = time.perf_counter(), time.process_time()
        seconds = max(now - self._interval_began, 1e-9)
        counts = self._counts_now()
        row: dict[str, Any] = {
            "t": round(at - stats.started_at, 3),
            "at": round(at, 3),
            "seconds": round(seconds, 3),
        }
        for name, value in counts.items():
            row[name] = value - self._interval_counts[name]
        row["sockets"] = self._connected
        row["channels"] = self._joined_count()
        row["in_flight"] = self.pacer.in_flight
        row["latency_ms"] = dict(sorted(stats.fold().items()))
        row["cpu_pct"] = round(100.0 * (cpu - self._interval_cpu) / seconds, 1)
        row["saturated"] = saturation(row)
        stats.intervals.append(row)
        self._interval_counts = counts
        self._live = _push_figures(row["latency_ms"])
        self._live["generator_cpu_pct"] = int(row["cpu_pct"])
        self._live["generator_saturated"] = int(bool(row["saturated"]))
        self._open_interval()
        if self._on_interval is not None:
            self._on_interval(row)

    # -- callbacks ---------------------------------------------------------------------

    def _observe(self, slot: _Slot, event: str, data: Mapping[str, Any]) -> None:
        """A socket's observer: counts its connects, reconnects, drops and failures."""
        if event == "connect":
            self._on_connect(slot, data["connects"])
        elif event == "close":
            self._on_close(slot, data["code"])
        elif event == "error":
            self._on_socket_error(slot, data["error"])

    def _on_connect(self, slot: _Slot, connects: int) -> None:
        self.stats.count("socket_opens")
        if connects > 1:  # the socket's opens, past its first: reconnects
            self.stats.count("socket_reconnects")
        if not slot.open:
            slot.open = True
            self._connected += 1
            self.stats.peak("sockets", self._connected)
        slot.opened = True
        # the observer hears of the open before the socket's callbacks and its channels'
        # rejoins, as an on_open callback would: the joins that waited for it go out now
        waiting, slot.waiting = slot.waiting, []
        for spot in waiting:
            self._send_join(slot, spot)

    def _on_close(self, slot: _Slot, code: int | None) -> None:
        # A drop is an open connection lost while the run is not closing its sockets. Not
        # the event's ``by_us``: a heartbeat timeout is a close by us and still a drop, and
        # an embedded server stopped by Ctrl-C closes sockets on a run that is ending.
        if slot.open:
            slot.open = False
            self._connected -= 1
            if not self.closing:
                self.stats.count("socket_drops")
                self.stats.error(f"socket closed by the server (code {code})")

    def _on_socket_error(self, slot: _Slot, error: BaseException) -> None:
        if self.closing:
            return
        self.stats.count("connect_failures")
        limit = classify(error, connecting=not slot.open)
        if limit is None:
            self.stats.error(f"socket error: {self._scrub(_describe(error))}")
            return
        # one limit is one fact: one error kind and one note, however many sockets hit it
        self.stats.error(LIMITS[limit])
        self._limits_hit.setdefault(limit, None)

    def _on_channel_error(self, _reason: Any) -> None:
        if not self.closing:
            self.stats.count("channel_errors")
            self.stats.error("channel errored (phx_error: server crash or lost connection)")

    def _notes(self) -> list[str]:
        notes = [limit_note(limit) for limit in self._limits_hit]
        if self.too_many:
            notes.append(
                f"the server refused {self.too_many} joins with '{TOO_MANY_CHANNELS}': its "
                "limit of channels per socket (Phoenix's max_channels_per_transport, 100 by "
                f"default) is below --channels-per-socket {self.scenario.channels_per_socket}; "
                "lower --channels-per-socket or raise the server's limit"
            )
        if self._stopped_by == "time_limit":
            notes.append(
                f"the time limit ({self.scenario.time_limit:g} s) ended the run before "
                f"{self.scenario.messages} pushes were answered"
            )
        return notes


def channel_points(scenario: Scenario) -> list[tuple[float, float]]:
    """The stages' channel targets as ``(t, channels)`` breakpoints, linear between them:
    from 0 if the first stage sets ``channels`` (else from ``channels``); a stage without
    ``channels`` keeps the previous target."""
    stages = scenario.stages
    current = 0.0 if stages and stages[0].channels is not None else float(scenario.channels)
    points, t = [(0.0, current)], 0.0
    for stage in stages:
        t += stage.duration
        if stage.channels is not None:
            current = float(stage.channels)
        points.append((t, current))
    return points


def _interpolate(points: list[tuple[float, float]], t: float) -> float:
    for (t0, v0), (t1, v1) in itertools.pairwise(points):
        if t <= t1:
            return v0 + (v1 - v0) * (max(t, t0) - t0) / (t1 - t0) if t1 > t0 else v1
    return points[-1][1]


def _push_figures(latency: dict[str, dict[str, float]]) -> dict[str, int]:
    """The live display's push p50 and p99 of an interval (µs, count-weighted over kinds)."""
    count, p50, p99 = 0, 0.0, 0.0
    for name, figures in latency.items():
        if name.startswith("push:") and not name.endswith(":service"):
            n = int(figures.get("count", 0))
            count += n
            p50 += figures.get("p50", 0.0) * n
            p99 += figures.get("p99", 0.0) * n
    if not count:
        return {}
    return {"push_p50_us": int(p50 / count * 1000), "push_p99_us": int(p99 / count * 1000)}


def _describe(error: BaseException) -> str:
    if isinstance(error, asyncio.TimeoutError):
        return "no answer (timed out)"
    text = str(error) or type(error).__name__
    return text.splitlines()[0][:160]


def _source_ip(addresses: tuple[str, ...], index: int) -> str | None:
    """The local address of socket ``index``: round-robin over ``--source-ip``."""
    return addresses[index % len(addresses)] if addresses else None
