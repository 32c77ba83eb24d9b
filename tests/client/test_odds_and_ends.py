"""Small pieces of the client's surface that no bigger test reaches: a logger function that
raises, the lazy ``phoenix_fast.sync``, state and timer text, settling an outcome twice, and
endpoint and query corner cases."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from helpers import connected, join, settle

import phoenix_fast
from phoenix_fast import ChannelState
from phoenix_fast._endpoint import endpoint_url, query_string
from phoenix_fast._logging import SocketLog
from phoenix_fast._outcome import Outcome
from phoenix_fast.timer import Timer


def _raising_logger(kind: str, msg: str, data: Any) -> None:
    raise RuntimeError(f"logger broke on {kind}")


def test_a_logger_function_that_raises_is_reported_and_survived(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = SocketLog(_raising_logger)
    with caplog.at_level(logging.ERROR, logger="phoenix_fast"):
        log("push", "a trace line")
        log.error("callback", "a problem", KeyError("x"))
    assert [r.getMessage() for r in caplog.records] == ["the socket's logger raised"] * 2
    assert [str(r.exc_info[1]) for r in caplog.records if r.exc_info] == [
        "logger broke on push",
        "logger broke on callback",
    ]


async def test_a_socket_keeps_working_when_its_logger_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    socket, server = await connected(logger=_raising_logger)
    channel = socket.channel("room")
    got: list[Any] = []
    channel.on("msg", got.append)
    await join(channel, server.current)
    server.current.push("room", "msg", {"n": 1}, join_ref=channel.join_ref)
    await settle()
    assert got == [{"n": 1}]
    assert "the socket's logger raised" in caplog.messages
    await socket.disconnect()


def test_phoenix_fast_sync_is_imported_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    import phoenix_fast.sync as sync_module

    monkeypatch.delattr(phoenix_fast, "sync")  # as in a fresh process: not imported yet
    assert phoenix_fast.sync is sync_module  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match="module 'phoenix_fast' has no attribute 'nope'"):
        phoenix_fast.nope  # type: ignore[attr-defined]  # noqa: B018


def test_states_print_as_their_js_names() -> None:
    assert [str(state) for state in ChannelState] == [
        "closed",
        "errored",
        "joined",
        "joining",
        "leaving",
    ]
    assert f"{ChannelState.JOINED}" == "joined"


async def test_a_timer_shows_its_tries_and_whether_it_is_scheduled() -> None:
    timer = Timer(lambda: None, lambda tries: 10.0 * tries)
    assert repr(timer) == "<Timer tries=0 scheduled=False>"
    timer.schedule_timeout()
    assert repr(timer) == "<Timer tries=0 scheduled=True>"
    timer.reset()


def test_the_first_settlement_of_an_outcome_wins() -> None:
    outcome: Outcome[str] = Outcome()
    assert outcome.set_result("first") is True
    assert outcome.set_result("second") is False
    assert outcome.set_exception(KeyError("late")) is False
    assert outcome.done and outcome.result() == "first"


@pytest.mark.parametrize("endpoint", ["ws:///socket", "wss://:443/socket"])
def test_an_endpoint_without_a_host_is_refused(endpoint: str) -> None:
    with pytest.raises(ValueError, match="has no host"):
        endpoint_url(endpoint)


def test_query_params_are_written_as_js_writes_them() -> None:
    query = query_string({"on": True, "off": False, "n": 1, "skip": None, "user": {"id": 7}})
    assert query == "on=true&off=false&n=1&user%5Bid%5D=7"


async def test_a_raising_close_callback_is_logged_and_the_next_one_still_runs() -> None:
    logged: list[tuple[str, str]] = []
    socket, server = await connected(logger=lambda kind, msg, data: logged.append((kind, msg)))
    channel = socket.channel("room")
    await join(channel, server.current)
    heard: list[Any] = []

    def broken(payload: Any, ref: Any) -> None:
        raise LookupError("closing")

    channel.on_close(broken)
    channel.on_close(lambda payload, ref, join_ref: heard.append((payload, join_ref)))
    server.current.push("room", "phx_close", {"bye": 1}, join_ref=channel.join_ref)
    await settle()
    assert heard == [({"bye": 1}, channel.join_ref)]
    assert any(
        kind == "callback" and "broken raised LookupError('closing')" in msg for kind, msg in logged
    )
    await socket.disconnect()


async def test_every_awaiter_of_an_outcome_gets_it_and_a_cancelled_one_is_skipped() -> None:
    outcome: Outcome[str] = Outcome()
    waiting = [asyncio.ensure_future(outcome.wait()) for _ in range(3)]
    await settle()
    assert outcome.awaited
    waiting[1].cancel()
    await settle()
    outcome.set_result("done")
    assert [await waiting[0], await waiting[2]] == ["done", "done"]
    assert waiting[1].cancelled()
    assert not outcome.awaited and await outcome == "done"
