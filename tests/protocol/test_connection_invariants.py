"""The connection machine under any sequence of inputs: what must hold whatever happens."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from phoenix_fast._backoff import reconnect_after
from phoenix_fast.errors import ConnectError
from phoenix_fast.protocol.connection import (
    CloseTransport,
    ConnectionMachine,
    OpenTransport,
    Phase,
    SendHeartbeat,
    Step,
)
from phoenix_fast.protocol.fallback import FallbackPolicy

INPUTS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "connect",
                "disconnect",
                "opened",
                "closed",
                "error",
                "refused",
                "stale",
                "tick",
                "answer",
                "health",
                "replaced",
            ]
        ),
        st.floats(min_value=0.0, max_value=40.0),
    ),
    max_size=60,
)


def feed(m: ConnectionMachine, kind: str, now: float, last_ref: str | None) -> Step:
    generation = m.generation
    if kind == "connect":
        return m.connect(now)
    if kind == "disconnect":
        return m.disconnect()
    if kind == "opened":
        return m.opened(generation, now)
    if kind == "closed":
        return m.closed(generation, now, 1006, "")
    if kind == "error":
        return m.error(generation, now, OSError("reset"))
    if kind == "refused":
        return m.error(generation, now, ConnectError("refused", 403))
    if kind == "stale":
        return Step(m.opened(generation - 1, now).actions + m.closed(generation - 1, now).actions)
    if kind == "answer":
        m.heartbeat_answered(last_ref or "", now)
        return Step()
    if kind == "health":
        m.health_ok()
        return Step()
    if kind == "replaced":
        return m.transport_replaced()
    return m.tick(now)


@settings(max_examples=300, deadline=None)
@given(INPUTS, st.booleans())
def test_invariants_hold_after_every_input(
    inputs: list[tuple[str, float]], with_fallback: bool
) -> None:
    m = ConnectionMachine(
        heartbeat_interval=5.0,
        heartbeat_timeout=5.0,
        reconnect_after=reconnect_after,
        fallback=FallbackPolicy(2.5) if with_fallback else None,
    )
    now = 0.0
    ref = 0
    last_ref: str | None = None
    for kind, step_by in inputs:
        now += step_by
        before = m.generation
        step = feed(m, kind, now, last_ref)
        for action in step.actions:
            if isinstance(action, OpenTransport):
                # a new attempt always gets the newest generation
                assert action.generation == m.generation > before
                assert m.phase is Phase.CONNECTING
            if isinstance(action, SendHeartbeat):
                ref += 1
                last_ref = str(ref)
                m.heartbeat_sent(last_ref, now)
            if isinstance(action, CloseTransport) and not action.abort:
                assert not m.wanted  # only a disconnect closes gently
        assert m.generation >= before
        # a reconnect is scheduled exactly while waiting, and only if one is wanted
        assert (m.reconnect_at is not None) == (m.phase is Phase.WAITING)
        if m.phase is Phase.WAITING:
            assert m.wanted
        # heartbeats belong to an open connection
        if m.phase is not Phase.OPEN:
            assert m.heartbeat_at is None and m.heartbeat_deadline is None
        assert m.heartbeat_at is None or m.heartbeat_deadline is None
        # after a disconnect, nothing is due that could open a connection again
        if not m.wanted:
            assert m.reconnect_at is None and m.fallback_at is None
