"""The fallback decisions (``FallbackPolicy``) and the per-endpoint memory, without I/O."""

from __future__ import annotations

import pytest

from phoenix_fast._fallback import Action, FallbackMemory, FallbackPolicy, is_refusal
from phoenix_fast.errors import ConnectError

REFUSED = ConnectError("upgrade refused", 403)
RESET = ConnectError("connection reset")


def test_a_fresh_attempt_arms_the_deadline_and_falls_back_when_it_passes() -> None:
    policy = FallbackPolicy(2.5)
    assert policy.connect(remembered=False) is Action.ARM
    assert policy.deadline() is Action.FALL_BACK
    assert (policy.fell_back, policy.reason) == (True, "timeout")
    assert policy.fallback_opened() is Action.REMEMBER  # the WebSocket never worked
    assert policy.connect(remembered=False) is Action.NONE  # reconnects stay on LongPoll


def test_a_remembered_endpoint_starts_on_longpoll() -> None:
    policy = FallbackPolicy(2.5)
    assert policy.connect(remembered=True) is Action.FALL_BACK
    assert policy.reason == "memorized"
    assert policy.fallback_opened() is Action.NONE  # nothing new to remember


def test_an_http_refusal_of_a_never_opened_websocket_falls_back_at_once() -> None:
    policy = FallbackPolicy(2.5)
    policy.connect(remembered=False)
    assert policy.error(REFUSED, was_open=False) is Action.FALL_BACK
    assert policy.reason == "refused"


def test_a_passing_failure_never_falls_back_at_once() -> None:
    policy = FallbackPolicy(2.5)
    policy.connect(remembered=False)
    assert policy.error(RESET, was_open=False) is Action.NONE
    assert policy.closed(None, by_user=False) is Action.ARM  # the running deadline is kept
    assert policy.connect(remembered=False) is Action.ARM
    assert not policy.fell_back


def test_a_refusal_after_the_websocket_worked_waits_for_the_deadline() -> None:
    # phoenix#6208: a server restart must not move every client to LongPoll at once
    policy = FallbackPolicy(2.5)
    policy.connect(remembered=False)
    assert policy.opened() is Action.RESTART
    assert policy.ping_answered() is Action.CANCEL
    assert policy.closed(60.0, by_user=False) is Action.ARM
    assert policy.error(REFUSED, was_open=False) is Action.NONE
    assert not policy.fell_back
    assert policy.deadline() is Action.FALL_BACK
    assert policy.fallback_opened() is Action.NONE  # it worked before: not remembered


def test_an_open_websocket_gets_a_fresh_period_for_its_ping() -> None:
    policy = FallbackPolicy(2.5)
    policy.connect(remembered=False)
    assert policy.opened() is Action.RESTART
    assert policy.deadline() is Action.FALL_BACK  # no ping answer in time
    assert policy.fallback_opened() is Action.REMEMBER


def test_a_websocket_that_keeps_dying_after_opening_falls_back() -> None:
    # phoenix#6766: opens, answers the ping, dies 200 ms later, again and again
    policy = FallbackPolicy(2.5)
    policy.connect(remembered=False)
    for _ in range(2):
        policy.opened()
        policy.ping_answered()
        assert policy.closed(0.2, by_user=False) is Action.ARM
    policy.opened()
    assert policy.closed(0.2, by_user=False) is Action.FALL_BACK
    assert policy.reason == "unstable"
    assert policy.fallback_opened() is Action.REMEMBER


def test_a_connection_that_lasted_resets_the_count_of_short_lived_ones() -> None:
    policy = FallbackPolicy(1.0, max_short_lived=2)
    policy.opened()
    policy.closed(0.1, by_user=False)
    policy.opened()
    policy.closed(5.0, by_user=False)
    assert policy.short_lived == 0
    policy.opened()
    assert policy.closed(0.1, by_user=False) is Action.ARM
    policy.opened()
    assert policy.closed(0.1, by_user=False) is Action.FALL_BACK


def test_a_disconnect_stops_the_deadline_and_is_not_judged() -> None:
    policy = FallbackPolicy(1.0, max_short_lived=1)
    policy.opened()
    assert policy.closed(0.1, by_user=True) is Action.CANCEL
    assert not policy.fell_back


def test_errors_of_an_open_connection_are_left_to_its_close() -> None:
    policy = FallbackPolicy(1.0)
    policy.opened()
    assert policy.error(REFUSED, was_open=True) is Action.NONE


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        FallbackPolicy(0)
    with pytest.raises(ValueError, match="at least 1"):
        FallbackPolicy(1.0, max_short_lived=0)


def test_refusals_are_http_answers() -> None:
    assert is_refusal(REFUSED)
    assert is_refusal(ConnectError("not found", 404))
    assert not is_refusal(RESET)
    assert not is_refusal(ConnectError("switching", 101))
    assert not is_refusal(OSError("refused"))


def test_the_memory_remembers_forgets_and_persists() -> None:
    memory = FallbackMemory()
    saved: list[dict[str, str]] = []
    memory.on_change = saved.append
    memory.remember("ws://a/socket/websocket")
    memory.remember("ws://a/socket/websocket")  # no change, no call
    assert memory.get("ws://a/socket/websocket") == "longpoll"
    assert saved == [{"ws://a/socket/websocket": "longpoll"}]
    memory.forget("ws://a/socket/websocket")
    assert memory.get("ws://a/socket/websocket") is None
    memory.load({"ws://b/socket/websocket": "longpoll"})
    assert memory.snapshot() == {"ws://b/socket/websocket": "longpoll"}
    memory.forget()
    assert memory.snapshot() == {}
    assert saved[-1] == {}
