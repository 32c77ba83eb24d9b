"""The channel machine as a table of (state, input) -> (state, actions): no loop."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from phoenix_fast._states import ChannelState
from phoenix_fast.protocol import channel as machine
from phoenix_fast.protocol.channel import ChannelStep, Do

CLOSED, ERRORED, JOINED = ChannelState.CLOSED, ChannelState.ERRORED, ChannelState.JOINED
JOINING, LEAVING = ChannelState.JOINING, ChannelState.LEAVING
JOIN = (Do.LEAVE_DUPLICATE, Do.SEND_JOIN)
CLOSE = (Do.RESET_REJOIN, Do.CANCEL_JOIN_TIMEOUT, Do.FAIL_JOIN, Do.FAIL_IN_FLIGHT, Do.REMOVE)

# (name, state, input, state after, actions)
TABLE: list[
    tuple[str, ChannelState, Callable[[ChannelState], ChannelStep], ChannelState, tuple[Do, ...]]
] = [
    ("join", CLOSED, machine.rejoin, JOINING, JOIN),
    ("no rejoin while leaving", LEAVING, machine.rejoin, LEAVING, ()),
    ("joined", JOINING, machine.join_ok, JOINED, (Do.RESET_REJOIN, Do.FLUSH_BUFFER)),
    (
        "refused: retried",
        JOINING,
        lambda s: machine.join_refused(s, retry_refused=True, connected=True),
        ERRORED,
        (Do.SCHEDULE_REJOIN,),
    ),
    (
        "refused while disconnected: retried on open",
        JOINING,
        lambda s: machine.join_refused(s, retry_refused=True, connected=False),
        ERRORED,
        (),
    ),
    (
        "refused: final",
        JOINING,
        lambda s: machine.join_refused(s, retry_refused=False, connected=True),
        CLOSED,
        (Do.RESET_REJOIN, Do.REMOVE),
    ),
    (
        "join timeout",
        JOINING,
        lambda s: machine.join_timeout(s, connected=True),
        ERRORED,
        (Do.SEND_LEAVE, Do.RESET_JOIN, Do.SCHEDULE_REJOIN),
    ),
    (
        "join timeout while disconnected",
        JOINING,
        lambda s: machine.join_timeout(s, connected=False),
        ERRORED,
        (Do.SEND_LEAVE, Do.RESET_JOIN),
    ),
    (
        "leave",
        JOINED,
        machine.leave,
        LEAVING,
        (Do.RESET_REJOIN, Do.CANCEL_JOIN_TIMEOUT, Do.SEND_LEAVE),
    ),
    ("closed", LEAVING, machine.closed, CLOSED, CLOSE),
    ("closed by the server", JOINED, machine.closed, CLOSED, CLOSE),
    (
        "crash while joining",
        JOINING,
        lambda s: machine.errored(s, from_transport=False, connected=True),
        ERRORED,
        (Do.RESET_JOIN, Do.FAIL_JOIN, Do.SCHEDULE_REJOIN),
    ),
    (
        "crash while joined",
        JOINED,
        lambda s: machine.errored(s, from_transport=False, connected=True),
        ERRORED,
        (Do.FAIL_IN_FLIGHT, Do.SCHEDULE_REJOIN),
    ),
    (
        "connection dropped while joined",
        JOINED,
        lambda s: machine.errored(s, from_transport=True, connected=False),
        ERRORED,
        (),
    ),
    (
        "socket opened: errored rejoins",
        ERRORED,
        machine.socket_opened,
        JOINING,
        (Do.RESET_REJOIN, *JOIN),
    ),
    ("socket opened: joined stays", JOINED, machine.socket_opened, JOINED, (Do.RESET_REJOIN,)),
    ("socket failed", ERRORED, machine.socket_errored, ERRORED, (Do.RESET_REJOIN,)),
    (
        "rejoin due, connected",
        ERRORED,
        lambda s: machine.rejoin_due(s, connected=True),
        JOINING,
        JOIN,
    ),
    (
        "rejoin due, disconnected",
        ERRORED,
        lambda s: machine.rejoin_due(s, connected=False),
        ERRORED,
        (),
    ),
]


@pytest.mark.parametrize(
    ("state", "step", "after", "actions"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_transitions(
    state: ChannelState,
    step: Callable[[ChannelState], ChannelStep],
    after: ChannelState,
    actions: tuple[Do, ...],
) -> None:
    assert step(state) == ChannelStep(after, actions)


@pytest.mark.parametrize(
    ("join_ref", "current", "accepted"),
    [("3", "3", True), ("2", "3", False), (None, "3", True), ("", "3", True), ("3", None, False)],
)
def test_join_ref_filtering(join_ref: str | None, current: str | None, accepted: bool) -> None:
    assert machine.accepts(join_ref, current) is accepted


def test_outdated_frames() -> None:
    assert not machine.outdated("3", "3", JOINED)
    assert machine.outdated("2", "3", JOINED)  # made for an earlier join
    assert machine.outdated("3", "3", CLOSED)  # the channel closed since
