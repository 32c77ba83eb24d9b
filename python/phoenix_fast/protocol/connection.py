"""The connection machine: when a socket opens, closes, heartbeats, reconnects, falls back.

It keeps the state of a socket's connection and decides what happens next, but does nothing
itself and reads no clock: every input carries ``now`` (seconds on any monotonic clock), and
every input answers with a :class:`Step`, the actions for the I/O layer to carry out and the
events it reports. ``next_deadline()`` says when ``tick(now)`` must be called next; the
asyncio layer (``phoenix_fast.socket``) arms one loop timer at that time.

The phases::

    idle --connect--> connecting --opened--> open --closed--> waiting --tick--> connecting
                          |                   |                  ^
                          +-----closed--------+------------------+   (not by us: reconnect)
    open --disconnect--> closing --closed--> closed   (by us: no reconnect)
    open --heartbeat timeout--> closing --closed/close wait--> waiting

Each transport attempt gets a new ``generation``; a report that carries an older one comes
from a replaced transport and changes nothing. The behaviour is the JS client's (phoenix
1.8.16): heartbeat every ``heartbeat_interval`` after the last reply, a missed reply closes
the link (presumed dead, no handshake) and reconnects, any close we did not ask for
reconnects with the ``reconnect_after`` backoff, whose tries restart at every open.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from phoenix_fast._constants import CLOSE_WAIT, WS_CLOSE_NORMAL
from phoenix_fast.protocol.fallback import Action, FallbackPolicy

__all__ = [
    "CheckHealth",
    "CloseTransport",
    "Closed",
    "Connected",
    "ConnectionMachine",
    "FailedAttempt",
    "FellBack",
    "HeartbeatTimedOut",
    "OpenTransport",
    "Phase",
    "ReconnectScheduled",
    "RememberFallback",
    "SendHeartbeat",
    "Step",
    "SwitchToFallback",
]


class Phase(str, enum.Enum):
    """Where the connection is in its life cycle."""

    IDLE = "idle"  # never asked to connect
    CONNECTING = "connecting"
    OPEN = "open"
    CLOSING = "closing"  # we asked the transport to close
    CLOSED = "closed"  # after a disconnect
    WAITING = "waiting"  # to reconnect, at ``reconnect_at``

    def __str__(self) -> str:
        return self.value


# The phases as module constants: on Python 3.11 ``Phase.X`` goes through EnumType's
# __getattr__ hook (75 ns against 18 for a constant), and the machine tests its phase on
# every input.
_IDLE, _CONNECTING, _OPEN = Phase.IDLE, Phase.CONNECTING, Phase.OPEN
_CLOSING, _CLOSED, _WAITING = Phase.CLOSING, Phase.CLOSED, Phase.WAITING


# -- actions: what the I/O layer must do --------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenTransport:
    """Open a new transport; its reports carry ``generation``."""

    generation: int


@dataclass(frozen=True, slots=True)
class SendHeartbeat:
    """Send a heartbeat, then report its ref with ``heartbeat_sent``."""


@dataclass(frozen=True, slots=True)
class CloseTransport:
    """Close the current transport (``abort``: without a handshake, the peer presumed dead)."""

    code: int | None
    reason: str
    abort: bool = False


@dataclass(frozen=True, slots=True)
class SwitchToFallback:
    """Drop the current transport and use LongPoll from now on (an ``OpenTransport`` follows)."""

    reason: str


@dataclass(frozen=True, slots=True)
class CheckHealth:
    """Ping the just-opened WebSocket; report an answer with ``health_ok``."""


@dataclass(frozen=True, slots=True)
class RememberFallback:
    """Remember LongPoll for this endpoint (``fallback_memory``)."""


# -- events: what happened, for callbacks, logs and observers -----------------------------


@dataclass(frozen=True, slots=True)
class Connected:
    """A transport opened; ``connects`` counts the opens so far."""

    connects: int


@dataclass(frozen=True, slots=True)
class Closed:
    """The transport closed (``by_us``: we closed it, to disconnect or to reconnect)."""

    code: int | None
    reason: str
    by_us: bool


@dataclass(frozen=True, slots=True)
class FailedAttempt:
    """The transport reported an error; ``first`` is the first since the socket was last
    open (one warning per outage: the retries' failures are traces)."""

    first: bool


@dataclass(frozen=True, slots=True)
class HeartbeatTimedOut:
    """No heartbeat reply in time: the link is presumed dead."""


@dataclass(frozen=True, slots=True)
class ReconnectScheduled:
    """Reconnect attempt ``tries`` at ``at`` (``delay`` seconds from the close)."""

    tries: int
    delay: float
    at: float


@dataclass(frozen=True, slots=True)
class FellBack:
    """The socket switched to LongPoll, for ``reason`` (see ``FallbackPolicy.reason``)."""

    reason: str


Output = (
    OpenTransport
    | SendHeartbeat
    | CloseTransport
    | SwitchToFallback
    | CheckHealth
    | RememberFallback
)
Event = Connected | Closed | FailedAttempt | HeartbeatTimedOut | ReconnectScheduled | FellBack


class Step(NamedTuple):
    """What an input led to: actions to carry out in order, and events to report."""

    actions: tuple[Output, ...] = ()
    events: tuple[Event, ...] = ()


_NOTHING = Step()


class ConnectionMachine:
    """The state of one socket's connection and the decisions about it (module docstring).

    Args:
        heartbeat_interval: seconds from an open, or a heartbeat reply, to the next
            heartbeat; None: no heartbeats.
        heartbeat_timeout: seconds a heartbeat may wait for its reply.
        reconnect_after: ``tries -> seconds`` before reconnect attempt ``tries`` (from 1).
        fallback: the LongPoll fallback policy, or None (the socket never falls back).
        close_wait: seconds a close we asked for may take before we go on without it.

    Raises:
        ValueError: a heartbeat interval without a timeout, or a negative duration.
    """

    __slots__ = (
        "_close_deadline",
        "_opened_at",
        "_outage_reported",
        "_reconnect_after_close",
        "close_wait",
        "connects",
        "drops",
        "fallback",
        "fallback_at",
        "generation",
        "heartbeat_at",
        "heartbeat_deadline",
        "heartbeat_interval",
        "heartbeat_ref",
        "heartbeat_timeout",
        "phase",
        "reconnect_after",
        "reconnect_at",
        "reconnect_tries",
        "reconnects",
        "wanted",
    )

    def __init__(
        self,
        *,
        heartbeat_interval: float | None,
        heartbeat_timeout: float | None,
        reconnect_after: Callable[[int], float],
        fallback: FallbackPolicy | None = None,
        close_wait: float = CLOSE_WAIT,
    ) -> None:
        if heartbeat_interval is not None and heartbeat_timeout is None:
            raise ValueError("a heartbeat_interval needs a heartbeat_timeout")
        # one test for the usual valid durations, the names only for an error (every socket
        # makes a machine: 114 -> 85 bytecodes)
        if (
            (heartbeat_interval is not None and heartbeat_interval < 0)
            or (heartbeat_timeout is not None and heartbeat_timeout < 0)
            or close_wait < 0
        ):
            _refuse_negative(
                heartbeat_interval=heartbeat_interval,
                heartbeat_timeout=heartbeat_timeout,
                close_wait=close_wait,
            )
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.reconnect_after = reconnect_after
        self.fallback = fallback
        self.close_wait = close_wait
        self.phase = _IDLE
        #: Counts the transport attempts; reports of older ones are ignored.
        self.generation = 0
        #: Whether the user wants a connection (``connect()`` called, no ``disconnect()``).
        self.wanted = False
        #: Transports opened so far.
        self.connects = 0
        #: Open connections lost without our asking (closes, heartbeat timeouts).
        self.drops = 0
        #: Attempts the machine started on its own (reconnects, the switch to LongPoll).
        self.reconnects = 0
        #: Reconnect attempts made since the last open (JS ``reconnectTimer.tries``).
        self.reconnect_tries = 0
        #: When the next reconnect attempt is due (None: none scheduled).
        self.reconnect_at: float | None = None
        #: When the next heartbeat is due (None: none scheduled).
        self.heartbeat_at: float | None = None
        #: The ref of the heartbeat waiting for its reply.
        self.heartbeat_ref: str | None = None
        #: When the pending heartbeat times out.
        self.heartbeat_deadline: float | None = None
        #: When the fallback policy's deadline passes (None: not running).
        self.fallback_at: float | None = None
        self._opened_at: float | None = None
        self._outage_reported = False
        self._reconnect_after_close = False
        self._close_deadline: float | None = None

    # -- queries ---------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """The earliest time ``tick`` has something to do, or None."""
        earliest: float | None = None
        for at in (
            self.heartbeat_at,
            self.heartbeat_deadline,
            self.reconnect_at,
            self.fallback_at,
            self._close_deadline,
        ):
            if at is not None and (earliest is None or at < earliest):
                earliest = at
        return earliest

    def holds_open(self) -> bool:
        """Whether a failed attempt should not fail an awaited ``connect()`` yet: the
        fallback's deadline runs, so LongPoll may still make it."""
        fallback = self.fallback
        return (
            fallback is not None
            and not fallback.fell_back
            and self.fallback_at is not None
            and self.wanted
        )

    def current(self, generation: int) -> bool:
        """Whether ``generation`` is the transport attempt the machine is following."""
        return generation == self.generation

    # -- inputs from the user ----------------------------------------------------------------

    def connect(self, now: float, remembered: bool = False) -> Step:
        """The user asked to connect (``remembered``: LongPoll is remembered for the
        endpoint). Idempotent while a connection is wanted: reconnects are the machine's."""
        if self.wanted:
            return _NOTHING
        self.wanted = True
        return self._start(now, remembered)

    def disconnect(self, code: int | None = WS_CLOSE_NORMAL, reason: str = "") -> Step:
        """The user asked to disconnect: close, and reconnect no more."""
        self.wanted = False
        self.reconnect_tries = 0
        self.reconnect_at = None
        self._reconnect_after_close = False
        self._close_deadline = None
        self._clear_heartbeat()
        self._stop_fallback_clock()
        if self.phase in (_CONNECTING, _OPEN):
            self.phase = _CLOSING
            return Step((CloseTransport(code, reason),))
        if self.phase is not _CLOSING:
            self.phase = _CLOSED
        return _NOTHING

    def transport_replaced(self) -> Step:
        """The user replaced the transport (JS ``replaceTransport``): the current attempt
        is dropped, its reports become stale, and nothing happens until ``connect``."""
        self.generation += 1
        self.wanted = False
        self.phase = _CLOSED
        self.reconnect_tries = 0
        self.reconnect_at = None
        self._reconnect_after_close = False
        self._close_deadline = None
        self._clear_heartbeat()
        self._stop_fallback_clock()
        return _NOTHING

    # -- inputs from the transport -----------------------------------------------------------

    def opened(self, generation: int, now: float, skip_heartbeat: bool = False) -> Step:
        """The transport of ``generation`` opened (``skip_heartbeat``: it needs none)."""
        if generation != self.generation or self.phase is not _CONNECTING:
            return _NOTHING
        self.phase = _OPEN
        self.connects += 1
        self._outage_reported = False
        self.reconnect_tries = 0
        self.reconnect_at = None
        self._clear_heartbeat()
        if self.heartbeat_interval is not None and not skip_heartbeat:
            self.heartbeat_at = now + self.heartbeat_interval
        actions: tuple[Output, ...] = ()
        fallback = self.fallback
        if fallback is not None:
            if fallback.fell_back:
                if fallback.fallback_opened() is Action.REMEMBER:
                    actions = (RememberFallback(),)
            else:
                self._opened_at = now
                if fallback.opened() is Action.RESTART:
                    self.fallback_at = now + fallback.threshold
                    actions = (CheckHealth(),)
        return Step(actions, (Connected(self.connects),))

    def error(
        self, generation: int, now: float, error: BaseException, awaited: bool = False
    ) -> Step:
        """The transport of ``generation`` failed (a close follows). ``awaited``: the error
        goes to a caller awaiting ``connect()``, so it is not the outage's warning."""
        if generation != self.generation or self.phase is _CLOSING:
            return _NOTHING
        first = not self._outage_reported and not awaited
        self._outage_reported = self._outage_reported or first
        events: tuple[Event, ...] = (FailedAttempt(first),)
        fallback = self.fallback
        if fallback is not None and not fallback.fell_back and self.wanted:
            was_open = self._opened_at is not None
            if fallback.error(error, was_open) is Action.FALL_BACK:
                switch = self._switch(now)
                return Step(switch.actions, events + switch.events)
        return Step((), events)

    def closed(
        self, generation: int, now: float, code: int | None = None, reason: str = ""
    ) -> Step:
        """The transport of ``generation`` closed."""
        if generation != self.generation or self.phase in (_CLOSED, _WAITING):
            return _NOTHING
        by_us = self.phase is _CLOSING
        was_open = self.phase is _OPEN
        self.phase = _CLOSED
        self._clear_heartbeat()
        self._close_deadline = None
        events: tuple[Event, ...] = (Closed(code, reason, by_us),)
        if was_open and self.wanted:
            self.drops += 1
        fallback = self.fallback
        if fallback is not None and not fallback.fell_back and self.wanted:
            opened_at, self._opened_at = self._opened_at, None
            uptime = None if opened_at is None else now - opened_at
            action = fallback.closed(uptime, by_user=False)
            if action is Action.FALL_BACK:
                switch = self._switch(now)
                return Step(switch.actions, events + switch.events)
            if action is Action.ARM and self.fallback_at is None:
                self.fallback_at = now + fallback.threshold
        if self.wanted and (not by_us or self._reconnect_after_close):
            return Step((), (*events, self._schedule_reconnect(now)))
        return Step((), events)

    # -- heartbeats and the fallback's health check --------------------------------------

    def heartbeat_sent(self, ref: str, now: float) -> None:
        """The heartbeat asked for by ``SendHeartbeat`` went out with ``ref``."""
        self.heartbeat_at = None
        if self.phase is _OPEN and self.heartbeat_timeout is not None:
            self.heartbeat_ref = ref
            self.heartbeat_deadline = now + self.heartbeat_timeout

    def heartbeat_answered(self, ref: str, now: float) -> bool:
        """A reply with ``ref`` arrived; True if it answers the pending heartbeat (the next
        heartbeat is then due ``heartbeat_interval`` from now)."""
        if ref != self.heartbeat_ref or ref is None:
            return False
        self._clear_heartbeat()
        if self.heartbeat_interval is not None:
            self.heartbeat_at = now + self.heartbeat_interval
        return True

    def health_ok(self) -> bool:
        """The just-opened WebSocket answered the fallback's ping; True if that stopped the
        fallback's deadline (the WebSocket works)."""
        fallback = self.fallback
        if fallback is None or fallback.fell_back or self._opened_at is None or not self.wanted:
            return False
        fallback.ping_answered()  # not fallen back: the policy cancels its deadline
        self.fallback_at = None
        return True

    # -- time ------------------------------------------------------------------------------

    def tick(self, now: float, remembered: bool = False) -> Step:
        """Time passed: whatever was due by ``now`` happens (``remembered``: LongPoll is
        remembered for the endpoint, for a reconnect that starts now)."""
        actions: list[Output] = []
        events: list[Event] = []
        deadline = self.heartbeat_deadline
        if self.phase is _OPEN and deadline is not None and now >= deadline:
            self._clear_heartbeat()
            self.phase = _CLOSING
            self.drops += 1
            self._reconnect_after_close = True
            self._close_deadline = now + self.close_wait
            actions.append(CloseTransport(WS_CLOSE_NORMAL, "heartbeat timeout", abort=True))
            events.append(HeartbeatTimedOut())
        due = self.heartbeat_at
        if self.phase is _OPEN and due is not None and now >= due:
            self.heartbeat_at = None
            actions.append(SendHeartbeat())
        close_deadline = self._close_deadline
        if close_deadline is not None and now >= close_deadline:
            # the transport did not confirm our close in time: go on without it
            self._close_deadline = None
            self.generation += 1
            self.phase = _CLOSED
            if self.wanted and self._reconnect_after_close:
                events.append(self._schedule_reconnect(now))
        # the fallback first: a switch replaces a reconnect due at the same time
        fallback_at = self.fallback_at
        if fallback_at is not None and now >= fallback_at:
            self.fallback_at = None
            fallback = self.fallback
            if fallback is not None and self.wanted and fallback.deadline() is Action.FALL_BACK:
                switch = self._switch(now)
                actions.extend(switch.actions)
                events.extend(switch.events)
        reconnect_at = self.reconnect_at
        if self.phase is _WAITING and reconnect_at is not None and now >= reconnect_at:
            self.reconnect_tries += 1
            self.reconnects += 1
            started = self._start(now, remembered)
            actions.extend(started.actions)
            events.extend(started.events)
        if not actions and not events:
            return _NOTHING
        return Step(tuple(actions), tuple(events))

    # -- internal --------------------------------------------------------------------------

    def _start(self, now: float, remembered: bool) -> Step:
        self.generation += 1
        self.phase = _CONNECTING
        self.reconnect_at = None
        self._reconnect_after_close = False
        self._close_deadline = None
        self._clear_heartbeat()
        fallback = self.fallback
        if fallback is not None:
            action = fallback.connect(remembered)
            if action is Action.FALL_BACK:
                self.fallback_at = None
                reason = fallback.reason or "memorized"
                return Step(
                    (SwitchToFallback(reason), OpenTransport(self.generation)), (FellBack(reason),)
                )
            if action is Action.ARM and self.fallback_at is None:
                self.fallback_at = now + fallback.threshold
        return Step((OpenTransport(self.generation),))

    def _switch(self, now: float) -> Step:
        """The policy fell back: a fresh attempt on LongPoll, the backoff starting over."""
        fallback = self.fallback
        reason = (fallback.reason if fallback is not None else None) or "timeout"
        self.fallback_at = None
        self._opened_at = None
        self.reconnect_tries = 0
        self.reconnects += 1
        started = self._start(now, False)
        return Step((SwitchToFallback(reason), *started.actions), (FellBack(reason),))

    def _schedule_reconnect(self, now: float) -> ReconnectScheduled:
        self.phase = _WAITING
        self._reconnect_after_close = False
        tries = self.reconnect_tries + 1
        delay = self.reconnect_after(tries)
        at = self.reconnect_at = now + delay
        return ReconnectScheduled(tries, delay, at)

    def _clear_heartbeat(self) -> None:
        self.heartbeat_at = None
        self.heartbeat_ref = None
        self.heartbeat_deadline = None

    def _stop_fallback_clock(self) -> None:
        self._opened_at = None
        self.fallback_at = None

    def __repr__(self) -> str:
        return (
            f"<ConnectionMachine {self.phase.value} generation={self.generation} "
            f"tries={self.reconnect_tries} next={self.next_deadline()}>"
        )


def _refuse_negative(**durations: float | None) -> None:
    """Raises for the first negative duration of ``durations``."""
    for name, value in durations.items():
        if value is not None and value < 0:
            raise ValueError(f"{name} must not be negative, not {value!r}")
