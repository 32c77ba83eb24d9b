"""The channel machine: a channel's states and what each input leads to (no I/O, no clock).

A channel is in one of five states (JS ``CHANNEL_STATES``): closed, joining, joined,
errored, leaving. Each input below takes the state (and what the decision depends on) and
answers with a :class:`ChannelStep`, the next state and the :class:`Do` actions for the
asyncio layer (``phoenix_fast.channel``) to carry out, in order. They are functions over
the state rather than an object, so that thousands of channels cost no machine each.

The behaviour is the JS client's (phoenix 1.8.16), with its documented differences: a
refused join may be final (``retry_refused=False``), and a closed channel's join stops its
timeout, so that it never comes back through the join-timeout rejoin.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

from phoenix_fast._states import ChannelState

__all__ = [
    "ChannelStep",
    "Do",
    "accepts",
    "closed",
    "errored",
    "join_ok",
    "join_refused",
    "join_timeout",
    "leave",
    "outdated",
    "rejoin",
    "rejoin_due",
    "socket_errored",
    "socket_opened",
]

_CLOSED, _ERRORED, _JOINED = ChannelState.CLOSED, ChannelState.ERRORED, ChannelState.JOINED
_JOINING, _LEAVING = ChannelState.JOINING, ChannelState.LEAVING


class Do(enum.Enum):
    """An action of the channel machine."""

    #: Leave another channel of this socket still joined (or joining) on the same topic.
    LEAVE_DUPLICATE = "leave_duplicate"
    #: Send the join push again, with a fresh ref.
    SEND_JOIN = "send_join"
    #: Send a leave push.
    SEND_LEAVE = "send_leave"
    #: Stop the rejoin timer and start its backoff over.
    RESET_REJOIN = "reset_rejoin"
    #: Start the rejoin timer (the next step of the rejoin backoff).
    SCHEDULE_REJOIN = "schedule_rejoin"
    #: Stop the join push's timeout.
    CANCEL_JOIN_TIMEOUT = "cancel_join_timeout"
    #: Forget the join push's ref and outcome (it will be sent again).
    RESET_JOIN = "reset_join"
    #: Fail the join's awaiters (a crash while joining, or a close).
    FAIL_JOIN = "fail_join"
    #: Fail the awaiters of the pushes sent and not answered (the server process is gone).
    FAIL_IN_FLIGHT = "fail_in_flight"
    #: Send the pushes buffered while not joined.
    FLUSH_BUFFER = "flush_buffer"
    #: Take the channel out of the socket's channels.
    REMOVE = "remove"


class ChannelStep(NamedTuple):
    """The next state and the actions to carry out in order."""

    state: ChannelState
    actions: tuple[Do, ...] = ()


# The steps of every join, made once: on Python 3.11 each ``Do.X`` costs 75 ns (EnumType's
# __getattr__ hook), and a NamedTuple 0.3 us more (S5, with the socket's phase constants:
# 437,911 -> 402,712 instructions a socket, callgrind).
_REJOINING = ChannelStep(_JOINING, (Do.LEAVE_DUPLICATE, Do.SEND_JOIN))
_JOINED_OK = ChannelStep(_JOINED, (Do.RESET_REJOIN, Do.FLUSH_BUFFER))


def rejoin(state: ChannelState) -> ChannelStep:
    """(Re)join now: ``join()``, the rejoin timer, or the socket reopening."""
    if state is _LEAVING:
        return ChannelStep(state)
    return _REJOINING


def join_ok(state: ChannelState) -> ChannelStep:
    """The server accepted the join."""
    return _JOINED_OK


def join_refused(state: ChannelState, retry_refused: bool, connected: bool) -> ChannelStep:
    """The server refused the join: retried with backoff, or final."""
    if not retry_refused:
        return ChannelStep(_CLOSED, (Do.RESET_REJOIN, Do.REMOVE))
    return ChannelStep(_ERRORED, (Do.SCHEDULE_REJOIN,) if connected else ())


def join_timeout(state: ChannelState, connected: bool) -> ChannelStep:
    """No reply to the join in time: leave (the server may have joined after all), retry."""
    actions = (Do.SEND_LEAVE, Do.RESET_JOIN)
    return ChannelStep(_ERRORED, (*actions, Do.SCHEDULE_REJOIN) if connected else actions)


def leave(state: ChannelState) -> ChannelStep:
    """The user leaves: no more rejoins, the join's timeout stops."""
    return ChannelStep(_LEAVING, (Do.RESET_REJOIN, Do.CANCEL_JOIN_TIMEOUT, Do.SEND_LEAVE))


def closed(state: ChannelState) -> ChannelStep:
    """The channel closed (the leave's reply or timeout, or the server's ``phx_close``)."""
    return ChannelStep(
        _CLOSED,
        (Do.RESET_REJOIN, Do.CANCEL_JOIN_TIMEOUT, Do.FAIL_JOIN, Do.FAIL_IN_FLIGHT, Do.REMOVE),
    )


def errored(state: ChannelState, from_transport: bool, connected: bool) -> ChannelStep:
    """A ``phx_error``: the server's channel process crashed, or (``from_transport``) the
    connection dropped."""
    if state is _JOINING:
        actions: tuple[Do, ...] = (Do.RESET_JOIN, Do.FAIL_JOIN)
    elif not from_transport:
        actions = (Do.FAIL_IN_FLIGHT,)
    else:
        actions = ()
    return ChannelStep(_ERRORED, (*actions, Do.SCHEDULE_REJOIN) if connected else actions)


def socket_opened(state: ChannelState) -> ChannelStep:
    """The socket's connection opened: an errored channel rejoins at once."""
    if state is _ERRORED:
        joining = rejoin(state)
        return ChannelStep(joining.state, (Do.RESET_REJOIN, *joining.actions))
    return ChannelStep(state, (Do.RESET_REJOIN,))


def socket_errored(state: ChannelState) -> ChannelStep:
    """The socket's connection failed: the rejoin waits for the next open."""
    return ChannelStep(state, (Do.RESET_REJOIN,))


def rejoin_due(state: ChannelState, connected: bool) -> ChannelStep:
    """The rejoin timer fired: rejoin if the socket is connected."""
    return rejoin(state) if connected else ChannelStep(state)


def accepts(join_ref: str | None, current_join_ref: str | None) -> bool:
    """Whether a message with ``join_ref`` is for the channel's current join (an empty one
    counts as none, as in JS). The socket's receive loop inlines this test."""
    return not join_ref or join_ref == current_join_ref


def outdated(join_ref: str | None, current_join_ref: str | None, state: ChannelState) -> bool:
    """Whether a frame made for ``join_ref`` must not go out: made for an earlier join, or
    the channel closed since."""
    return join_ref != current_join_ref or state is _CLOSED
