"""The fallback policy as a table: once fallen back, nothing but the LongPoll connection's
opening moves it; and the text of the connection machine (its phase, its repr)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from phoenix_fast._backoff import reconnect_after
from phoenix_fast.errors import ConnectError
from phoenix_fast.protocol.connection import ConnectionMachine, Phase
from phoenix_fast.protocol.fallback import Action, FallbackPolicy

Feed = Callable[[FallbackPolicy], Action]

INPUTS: dict[str, Feed] = {
    "connect": lambda p: p.connect(remembered=False),
    "connect remembered": lambda p: p.connect(remembered=True),
    "refused": lambda p: p.error(ConnectError("refused", 403), was_open=False),
    "opened": lambda p: p.opened(),
    "ping answered": lambda p: p.ping_answered(),
    "closed young": lambda p: p.closed(0.1, by_user=False),
    "closed by the user": lambda p: p.closed(0.1, by_user=True),
    "deadline": lambda p: p.deadline(),
}


def fallen_back(reason: str) -> FallbackPolicy:
    policy = FallbackPolicy(2.5, max_short_lived=1)
    feed = {
        "memorized": lambda: policy.connect(remembered=True),
        "refused": lambda: policy.error(ConnectError("refused", 403), was_open=False),
        "timeout": policy.deadline,
        "unstable": lambda: (policy.opened(), policy.closed(0.1, by_user=False))[1],
    }[reason]
    assert feed() is Action.FALL_BACK
    assert (policy.fell_back, policy.reason) == (True, reason)
    return policy


@pytest.mark.parametrize("reason", ["memorized", "refused", "timeout", "unstable"])
@pytest.mark.parametrize("name", list(INPUTS))
def test_after_falling_back_the_primarys_news_changes_nothing(reason: str, name: str) -> None:
    policy = fallen_back(reason)
    before = vars(policy).copy()
    assert INPUTS[name](policy) is Action.NONE
    assert vars(policy) == before


@pytest.mark.parametrize(
    ("reason", "healthy", "then"),
    [
        ("memorized", False, Action.NONE),  # remembered already
        ("unstable", True, Action.REMEMBER),  # it worked, but kept dying young
        ("timeout", False, Action.REMEMBER),  # never answered a ping: a blocked path
        ("refused", False, Action.REMEMBER),
    ],
)
def test_the_longpoll_opening_decides_whether_to_remember(
    reason: str, healthy: bool, then: Action
) -> None:
    policy = fallen_back(reason)
    policy.primary_healthy = healthy
    assert policy.fallback_opened() is then


def test_a_timeout_after_a_healthy_websocket_is_a_passing_outage() -> None:
    policy = FallbackPolicy(2.5)
    policy.opened()
    assert policy.ping_answered() is Action.CANCEL
    assert policy.deadline() is Action.FALL_BACK
    assert policy.fallback_opened() is Action.NONE


def test_the_machine_shows_its_phase_and_state() -> None:
    m = ConnectionMachine(
        heartbeat_interval=30.0, heartbeat_timeout=30.0, reconnect_after=reconnect_after
    )
    assert str(Phase.WAITING) == "waiting"
    assert repr(m) == "<ConnectionMachine idle generation=0 tries=0 next=None>"
    m.connect(0.0)
    assert repr(m) == "<ConnectionMachine connecting generation=1 tries=0 next=None>"
