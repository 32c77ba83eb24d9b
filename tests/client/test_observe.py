"""``socket.stats()`` and the ``observer`` hook (fake time, MockTransport; one real server for
the byte counts)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from helpers import connected, join, last, make_socket, settle

from phoenix_fast._fallback import FallbackMemory
from phoenix_fast.errors import ConnectError
from phoenix_fast.protocol.connection import RememberFallback


def recorder() -> tuple[list[tuple[str, dict[str, Any]]], Callable[[str, Mapping[str, Any]], None]]:
    seen: list[tuple[str, dict[str, Any]]] = []
    return seen, lambda event, data: seen.append((event, dict(data)))


async def test_stats_count_connects_reconnects_drops_and_channels() -> None:
    socket, server = await connected(reconnect_after=lambda tries: 0.5)
    channel = socket.channel("room:a")
    await join(channel, server.current)
    socket.channel("room:b")  # never joined
    server.current.push("room:a", "news", {})
    server.current.push("room:a", "news", {})
    await settle()
    stats = socket.stats()
    assert (stats.state, stats.connects, stats.reconnects, stats.drops) == ("open", 1, 0, 0)
    assert stats.messages_in == 3  # the join's reply and two pushes
    assert stats.channels == {"joined": 1, "closed": 1}
    channel.push("slow", {})
    assert socket.stats().pending_pushes == 1
    server.current.drop()
    assert socket.stats().state == "waiting"
    assert socket.stats().channels == {"errored": 1, "closed": 1}
    await asyncio.sleep(0.5)
    stats = socket.stats()
    assert (stats.state, stats.connects, stats.reconnects, stats.drops) == ("open", 2, 1, 1)
    await socket.disconnect()
    assert socket.stats().state == "closed"


async def test_stats_count_queued_pushes_until_the_join() -> None:
    socket, _server = make_socket(auto_open=False)
    channel = socket.channel("room:a")
    channel.join()
    channel.push("early", {})
    stats = socket.stats()
    assert stats.queued_pushes == 2 and stats.state == "idle"  # the join and the push
    await socket.disconnect()


async def test_the_observer_sees_connects_joins_pushes_closes_and_rejoins() -> None:
    seen, observer = recorder()
    socket, server = make_socket(observer=observer, reconnect_after=lambda tries: 0.5)
    await socket.connect()
    channel = socket.channel("room:a")
    message = await join(channel, server.current)
    push = channel.push("hello", {})
    await settle()
    await asyncio.sleep(0.25)
    server.current.reply(last(server.current, "hello"), "ok", {})
    channel.push("lost", {}, timeout=1.0)
    await asyncio.sleep(1.0)
    await push
    server.current.server_close(1011, "boom")
    await asyncio.sleep(0.5)
    await settle()
    await socket.disconnect()
    assert seen[:7] == [
        ("connect", {"connects": 1, "transport": "MockConnection"}),
        ("join", {"topic": "room:a", "join_ref": message.ref}),
        ("push", {"topic": "room:a", "event": "phx_join", "status": "ok", "seconds": 0.0}),
        ("push", {"topic": "room:a", "event": "hello", "status": "ok", "seconds": 0.25}),
        ("push", {"topic": "room:a", "event": "lost", "status": "timeout", "seconds": 1.0}),
        ("channel_error", {"topic": "room:a", "from_transport": True}),
        (
            "close",
            {
                "code": 1011,
                "reason": "boom",
                "by_us": False,
                "was_open": True,
                "drop": True,
                "reconnect_in": 0.5,
            },
        ),
    ]
    assert seen[7:] == [
        ("connect", {"connects": 2, "transport": "MockConnection"}),
        ("rejoin", {"topic": "room:a"}),
        ("channel_error", {"topic": "room:a", "from_transport": True}),
        (
            "close",
            {
                "code": 1000,
                "reason": "",
                "by_us": True,
                "was_open": True,
                "drop": False,
                "reconnect_in": None,
            },
        ),
    ]


async def test_an_observer_without_pushes_still_sees_the_connection_and_channels() -> None:
    seen, observer = recorder()
    socket, server = await connected(observer=observer, observe_pushes=False)
    channel = socket.channel("room:a")
    await join(channel, server.current)
    push = channel.push("hello", {})
    await settle()
    server.current.reply(last(server.current, "hello"), "ok", {})
    await push
    channel.push("lost", {}, timeout=1.0)
    await asyncio.sleep(1.0)
    server.current.push("room:a", "phx_error", {})  # the channel's process crashed
    await settle()
    assert [event for event, _ in seen] == ["connect", "join", "channel_error"]
    assert seen[2] == ("channel_error", {"topic": "room:a", "from_transport": False})
    socket.observer = None
    socket.observer = observer  # set again later: still without pushes
    server.current.reply(last(server.current, "phx_join"), "ok", {})
    await settle()
    assert "push" not in [event for event, _ in seen]
    await socket.disconnect()


async def test_a_heartbeat_timeout_is_a_drop_although_the_socket_closes() -> None:
    seen, observer = recorder()
    socket, server = make_socket(
        observer=observer, heartbeat_interval=1.0, reconnect_after=lambda tries: 5.0
    )
    server.handler = None  # a server that answers nothing: no heartbeat reply comes
    await socket.connect()
    await asyncio.sleep(2.5)
    await settle()
    closes = [data for event, data in seen if event == "close"]
    assert len(closes) == 1
    assert closes[0]["by_us"] and closes[0]["was_open"] and closes[0]["drop"]
    assert socket.stats().drops == 1
    await socket.disconnect()


async def test_the_observer_sees_each_failed_attempt_and_whether_it_was_the_first() -> None:
    seen, observer = recorder()
    socket, server = make_socket(observer=observer, reconnect_after=lambda tries: 0.5)
    server.refuse = ConnectError("down")
    socket.connect()
    await asyncio.sleep(0.6)
    await settle()
    errors = [data for event, data in seen if event == "error"]
    closes = [data for event, data in seen if event == "close"]
    assert [type(data["error"]) for data in errors] == [ConnectError, ConnectError]
    assert [data["first"] for data in errors] == [True, False]
    assert [(data["was_open"], data["drop"]) for data in closes] == [(False, False)] * 2
    await socket.disconnect()


async def test_a_raising_observer_is_logged_and_the_socket_goes_on() -> None:
    def observer(event: str, data: Mapping[str, Any]) -> None:
        raise RuntimeError("observer bug")

    logged: list[tuple[str, str]] = []
    socket, _server = make_socket(
        observer=observer, logger=lambda kind, msg, data: logged.append((kind, msg))
    )
    await socket.connect()
    assert socket.is_connected()
    assert ("callback", "the observer raised RuntimeError('observer bug')") in logged
    await socket.disconnect()


async def test_a_failed_first_connect_is_counted_without_a_connect() -> None:
    socket, server = make_socket()
    server.refuse = ConnectError("down")
    try:
        await socket.connect()
    except ConnectError:
        pass
    stats = socket.stats()
    assert (stats.connects, stats.drops, stats.state) == (0, 0, "waiting")
    await socket.disconnect()


def test_the_fallback_memory_shows_its_choices_without_query_strings() -> None:
    memory = FallbackMemory()
    assert repr(memory) == "<FallbackMemory 0 endpoints{}>"
    memory.remember("wss://example.com/socket/websocket?token=secret")
    memory.on_change = print
    assert repr(memory) == (
        "<FallbackMemory 1 endpoints{wss://example.com/socket/websocket?***: longpoll} "
        "(persisted by on_change)>"
    )


async def test_a_raising_fallback_memory_hook_is_logged_not_raised() -> None:
    memory = FallbackMemory()

    def on_change(choices: dict[str, str]) -> None:
        raise OSError("disk full")

    memory.on_change = on_change
    logged: list[tuple[str, str]] = []
    socket, _server = make_socket(
        long_poll_fallback=1.0, logger=lambda kind, msg, data: logged.append((kind, msg))
    )
    socket._fallback_memory = memory
    socket._perform(RememberFallback())
    assert memory.get(socket.endpoint) == "longpoll"
    assert ("callback", "fallback_memory.on_change raised OSError('disk full')") in logged


async def test_a_hooked_channel_reports_its_push_outcomes_too() -> None:
    seen, observer = recorder()
    socket, server = await connected(observer=observer)
    channel = socket.channel("room:a")
    channel.on_message = lambda event, payload, ref: payload  # replies take the hooked path
    await join(channel, server.current)
    push = channel.push("hello", {})
    await settle()
    server.current.reply(last(server.current, "hello"), "ok", {})
    await push
    pushes = [data["event"] for event, data in seen if event == "push"]
    assert pushes == ["phx_join", "hello"]
    await socket.disconnect()
