"""The connection machine as tables of (state, input) -> (state, actions, events): no loop."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from phoenix_fast._backoff import reconnect_after
from phoenix_fast.errors import ConnectError
from phoenix_fast.protocol.connection import (
    CheckHealth,
    Closed,
    CloseTransport,
    Connected,
    ConnectionMachine,
    FailedAttempt,
    FellBack,
    HeartbeatTimedOut,
    OpenTransport,
    Phase,
    ReconnectScheduled,
    RememberFallback,
    SendHeartbeat,
    Step,
    SwitchToFallback,
)
from phoenix_fast.protocol.fallback import FallbackPolicy

Input = Callable[[ConnectionMachine], Step]


def machine(fallback: float | None = None, interval: float | None = 30.0) -> ConnectionMachine:
    return ConnectionMachine(
        heartbeat_interval=interval,
        heartbeat_timeout=interval,
        reconnect_after=reconnect_after,
        fallback=None if fallback is None else FallbackPolicy(fallback),
    )


def idle() -> ConnectionMachine:
    return machine()


def connecting() -> ConnectionMachine:
    m = machine()
    m.connect(0.0)
    return m


def open_() -> ConnectionMachine:
    m = connecting()
    m.opened(1, 0.0)
    return m


def closing() -> ConnectionMachine:
    m = open_()
    m.disconnect()
    return m


def waiting() -> ConnectionMachine:
    m = open_()
    m.closed(1, 10.0, 1006, "")
    return m


def heartbeat_pending() -> ConnectionMachine:
    m = open_()
    m.tick(30.0)
    m.heartbeat_sent("7", 30.0)
    return m


# (name, start, input, phase after, actions, events)
TABLE: list[
    tuple[
        str, Callable[[], ConnectionMachine], Input, Phase, tuple[object, ...], tuple[object, ...]
    ]
] = [
    (
        "connect from idle",
        idle,
        lambda m: m.connect(0.0),
        Phase.CONNECTING,
        (OpenTransport(1),),
        (),
    ),
    ("connect is idempotent", connecting, lambda m: m.connect(0.0), Phase.CONNECTING, (), ()),
    ("connect while waiting waits", waiting, lambda m: m.connect(10.0), Phase.WAITING, (), ()),
    ("opened", connecting, lambda m: m.opened(1, 0.0), Phase.OPEN, (), (Connected(1),)),
    ("a stale open is ignored", connecting, lambda m: m.opened(0, 0.0), Phase.CONNECTING, (), ()),
    ("open twice is once", open_, lambda m: m.opened(1, 0.0), Phase.OPEN, (), ()),
    (
        "a close we did not ask for reconnects",
        open_,
        lambda m: m.closed(1, 10.0, 1006, "gone"),
        Phase.WAITING,
        (),
        (Closed(1006, "gone", False), ReconnectScheduled(1, 0.01, 10.01)),
    ),
    (
        "a failed attempt reconnects",
        connecting,
        lambda m: m.closed(1, 1.0, None, ""),
        Phase.WAITING,
        (),
        (Closed(None, "", False), ReconnectScheduled(1, 0.01, 1.01)),
    ),
    ("a stale close is ignored", open_, lambda m: m.closed(0, 1.0), Phase.OPEN, (), ()),
    (
        "disconnect closes",
        open_,
        lambda m: m.disconnect(4001, "bye"),
        Phase.CLOSING,
        (CloseTransport(4001, "bye"),),
        (),
    ),
    (
        "disconnect while connecting closes",
        connecting,
        lambda m: m.disconnect(),
        Phase.CLOSING,
        (CloseTransport(1000, ""),),
        (),
    ),
    ("disconnect while waiting", waiting, lambda m: m.disconnect(), Phase.CLOSED, (), ()),
    ("disconnect when idle", idle, lambda m: m.disconnect(), Phase.CLOSED, (), ()),
    (
        "our close does not reconnect",
        closing,
        lambda m: m.closed(1, 1.0, 1000, ""),
        Phase.CLOSED,
        (),
        (Closed(1000, "", True),),
    ),
    (
        "connect after disconnect",
        closing,
        lambda m: m.connect(2.0),
        Phase.CONNECTING,
        (OpenTransport(2),),
        (),
    ),
    (
        "the first error of an outage",
        connecting,
        lambda m: m.error(1, 0.0, OSError()),
        Phase.CONNECTING,
        (),
        (FailedAttempt(True),),
    ),
    (
        "an error while closing is ours",
        closing,
        lambda m: m.error(1, 0.0, OSError()),
        Phase.CLOSING,
        (),
        (),
    ),
    ("heartbeat due", open_, lambda m: m.tick(30.0), Phase.OPEN, (SendHeartbeat(),), ()),
    ("heartbeat not yet due", open_, lambda m: m.tick(29.9), Phase.OPEN, (), ()),
    ("heartbeat reply not yet late", heartbeat_pending, lambda m: m.tick(59.9), Phase.OPEN, (), ()),
    (
        "heartbeat timeout",
        heartbeat_pending,
        lambda m: m.tick(60.0),
        Phase.CLOSING,
        (CloseTransport(1000, "heartbeat timeout", abort=True),),
        (HeartbeatTimedOut(),),
    ),
    ("replaced transport", open_, lambda m: m.transport_replaced(), Phase.CLOSED, (), ()),
    (
        "connect after a replacement",
        open_,
        lambda m: (m.transport_replaced(), m.connect(1.0))[1],
        Phase.CONNECTING,
        (OpenTransport(3),),
        (),
    ),
    ("reconnect not yet due", waiting, lambda m: m.tick(10.0), Phase.WAITING, (), ()),
    ("reconnect due", waiting, lambda m: m.tick(10.01), Phase.CONNECTING, (OpenTransport(2),), ()),
]


@pytest.mark.parametrize(
    ("start", "step", "phase", "actions", "events"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_transitions(
    start: Callable[[], ConnectionMachine],
    step: Input,
    phase: Phase,
    actions: tuple[object, ...],
    events: tuple[object, ...],
) -> None:
    m = start()
    assert step(m) == Step(actions, events)
    assert m.phase is phase


def test_the_reconnect_backoff_counts_tries_and_restarts_at_open() -> None:
    m = connecting()
    now, delays = 0.0, []
    for generation in range(1, 6):
        step = m.closed(generation, now)
        scheduled = step.events[-1]
        assert isinstance(scheduled, ReconnectScheduled)
        delays.append(scheduled.delay)
        assert m.next_deadline() == scheduled.at
        now = scheduled.at
        assert m.tick(now) == Step((OpenTransport(generation + 1),))
    assert delays == [0.01, 0.05, 0.1, 0.15, 0.2]
    assert m.reconnect_tries == 5
    m.opened(6, now)
    assert m.reconnect_tries == 0 and m.connects == 1


def test_the_heartbeat_schedule_follows_the_reply_not_the_send() -> None:
    m = heartbeat_pending()
    assert m.next_deadline() == 60.0
    assert not m.heartbeat_answered("8", 50.0)  # another ref
    assert m.heartbeat_answered("7", 50.0)
    assert m.heartbeat_ref is None and m.next_deadline() == 80.0
    assert not m.heartbeat_answered("7", 51.0)  # a late duplicate


def test_a_heartbeat_timeout_reconnects_once_the_close_is_confirmed() -> None:
    m = heartbeat_pending()
    m.tick(60.0)
    assert m.drops == 1
    step = m.closed(1, 60.1)
    assert step == Step((), (Closed(None, "", True), ReconnectScheduled(1, 0.01, 60.11)))
    assert m.drops == 1  # counted once


def test_a_heartbeat_timeout_goes_on_without_a_close_that_never_comes() -> None:
    m = heartbeat_pending()
    m.tick(60.0)
    assert m.next_deadline() == 61.5
    step = m.tick(61.5)
    assert step.events == (ReconnectScheduled(1, 0.01, 61.51),)
    assert m.closed(1, 62.0) == Step()  # the late report is stale
    assert m.tick(61.51).actions == (OpenTransport(3),)


def test_no_heartbeat_when_disabled_or_skipped() -> None:
    m = machine(interval=None)
    m.connect(0.0)
    m.opened(1, 0.0)
    assert m.next_deadline() is None
    m = connecting()
    m.opened(1, 0.0, skip_heartbeat=True)
    assert m.next_deadline() is None


def test_a_heartbeat_reported_while_not_open_is_not_awaited() -> None:
    m = connecting()
    m.heartbeat_sent("1", 0.0)
    assert m.heartbeat_ref is None and m.next_deadline() is None


def test_one_warning_per_outage() -> None:
    m = connecting()
    assert m.error(1, 0.0, OSError()).events == (FailedAttempt(True),)
    m.closed(1, 0.0)
    m.tick(0.01)
    assert m.error(2, 0.01, OSError()).events == (FailedAttempt(False),)
    m.closed(2, 0.01)
    m.tick(m.reconnect_at or 0.0)
    m.opened(3, 0.06)
    m.closed(3, 1.0)
    m.tick(m.reconnect_at or 0.0)
    assert m.error(4, 1.01, OSError()).events == (FailedAttempt(True),)


def test_an_error_raised_to_an_awaiting_connect_is_not_the_outage_warning() -> None:
    m = connecting()
    assert m.error(1, 0.0, OSError(), awaited=True).events == (FailedAttempt(False),)
    m.closed(1, 0.0)
    m.tick(m.reconnect_at or 0.0)
    assert m.error(2, 0.01, OSError()).events == (FailedAttempt(True),)


def test_counts_connects_reconnects_and_drops() -> None:
    m = open_()
    m.closed(1, 1.0)
    m.tick(1.01)
    m.opened(2, 1.01)
    m.disconnect()
    m.closed(2, 2.0)
    m.connect(3.0)  # the user's, not a reconnect
    assert (m.connects, m.reconnects, m.drops) == (2, 1, 1)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="heartbeat_timeout"):
        ConnectionMachine(
            heartbeat_interval=1.0, heartbeat_timeout=None, reconnect_after=reconnect_after
        )
    with pytest.raises(ValueError, match="negative"):
        ConnectionMachine(
            heartbeat_interval=-1.0, heartbeat_timeout=1.0, reconnect_after=reconnect_after
        )


# -- the fallback policy, run by the machine --


def test_the_fallback_deadline_switches_to_longpoll_and_remembers() -> None:
    m = machine(fallback=2.5)
    assert m.connect(0.0) == Step((OpenTransport(1),))
    assert m.next_deadline() == 2.5
    m.closed(1, 0.5)  # refused, reset...: retried, the deadline keeps running
    assert m.next_deadline() == 0.51
    assert m.tick(0.51) == Step((OpenTransport(2),))
    assert m.next_deadline() == 2.5  # attempts do not restart the fallback's clock
    assert m.holds_open()
    m.closed(2, 1.0)
    step = m.tick(2.5)
    assert step == Step((SwitchToFallback("timeout"), OpenTransport(3)), (FellBack("timeout"),))
    assert m.reconnect_tries == 0 and not m.holds_open()
    assert m.opened(3, 3.0).actions == (RememberFallback(),)


def test_an_http_refusal_falls_back_at_once() -> None:
    m = machine(fallback=2.5)
    m.connect(0.0)
    step = m.error(1, 0.1, ConnectError("refused", 403))
    assert step == Step(
        (SwitchToFallback("refused"), OpenTransport(2)), (FailedAttempt(True), FellBack("refused"))
    )
    assert m.closed(1, 0.2) == Step()  # the WebSocket's close is stale


def test_a_healthy_websocket_stops_the_fallback_clock() -> None:
    m = machine(fallback=2.5)
    m.connect(0.0)
    assert m.opened(1, 0.5) == Step((CheckHealth(),), (Connected(1),))
    assert m.fallback_at == 3.0
    assert m.health_ok()
    assert m.fallback_at is None
    assert m.next_deadline() == 30.5  # the heartbeat only


def test_a_websocket_dying_young_three_times_falls_back() -> None:
    m = machine(fallback=2.5)
    m.connect(0.0)
    now = 0.0
    for generation in (1, 2, 3):
        m.opened(generation, now)
        m.health_ok()
        step = m.closed(generation, now + 1.0)
        now += 1.0
        if generation < 3:
            m.tick(m.reconnect_at or now)
            now = m.reconnect_at or now
    assert step.actions == (SwitchToFallback("unstable"), OpenTransport(4))


def test_a_remembered_endpoint_starts_on_longpoll() -> None:
    m = machine(fallback=2.5)
    step = m.connect(0.0, remembered=True)
    assert step == Step((SwitchToFallback("memorized"), OpenTransport(1)), (FellBack("memorized"),))
    assert m.opened(1, 0.1) == Step((), (Connected(1),))  # nothing new to remember


def test_disconnect_stops_the_fallback_clock() -> None:
    m = machine(fallback=2.5)
    m.connect(0.0)
    m.disconnect()
    assert m.next_deadline() is None and not m.holds_open()
    assert m.tick(10.0) == Step()
