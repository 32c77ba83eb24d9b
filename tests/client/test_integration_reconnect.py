"""Reconnect, rejoin and dead-link detection against real servers, on real loops."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from raw_server import RawServer, idle

from phoenix_fast.errors import ConnectionClosed
from phoenix_fast.socket import Socket
from phoenix_fast.testing import ServerThread
from phoenix_fast.testing.waiting import wait_for as _wait_for

WAIT = 10.0
FAST = {"reconnect_after": lambda tries: 0.05, "rejoin_after": lambda tries: 0.05}


async def wait_for(predicate: Callable[[], object], timeout: float = WAIT) -> None:
    await _wait_for(predicate, timeout)


async def test_reconnects_and_rejoins_after_the_server_comes_back(
    phoenix_server_factory: Callable[..., ServerThread],
) -> None:
    server = phoenix_server_factory()
    opens: list[int] = []
    async with Socket(server.url, **FAST) as socket:
        socket.on_open(lambda: opens.append(1))
        channel = socket.channel("echo:again", {"n": 1})
        await channel.join()
        in_flight = channel.push("noreply", timeout=30)
        await asyncio.to_thread(server.stop)
        with pytest.raises(ConnectionClosed):
            await in_flight  # its connection died: the reply can never come
        await wait_for(lambda: not socket.is_connected())
        assert channel.state == "errored"
        await asyncio.sleep(0.3)  # a few refused attempts
        await asyncio.to_thread(server.restart)
        await wait_for(lambda: channel.state == "joined")
        assert await channel.push("ping", {"back": True}) == {"back": True}
        assert len(opens) == 1  # the first open preceded on_open's registration


async def test_server_disconnect_reconnects_whatever_the_code(
    phoenix_server_factory: Callable[..., ServerThread],
) -> None:
    server = phoenix_server_factory()
    closes: list[Any] = []
    async with Socket(server.url, **FAST) as socket:
        socket.on_close(closes.append)
        channel = socket.channel("echo:kick")
        await channel.join()
        await asyncio.to_thread(server.disconnect_all, 1000)
        await wait_for(lambda: bool(closes))
        assert closes[0].code == 1000
        await wait_for(lambda: socket.is_connected() and channel.state == "joined")
        assert await channel.push("ping", {}) == {}


async def test_params_and_auth_token_reach_the_server(
    phoenix_server_factory: Callable[..., ServerThread],
) -> None:
    server = phoenix_server_factory()
    tokens = iter(["first-token", "second-token"])

    async def token() -> str:
        return next(tokens)

    params = {"user": {"id": "7"}, "tag": "a b"}
    async with Socket(server.url, params=params, auth_token=token, **FAST) as socket:
        await asyncio.to_thread(server.disconnect_all, 1001)
        await wait_for(lambda: len(server.connect_log) == 2 and socket.is_connected())
    first, second = server.connect_log
    assert first.params == {"user": {"id": "7"}, "tag": "a b", "vsn": "2.0.0"}
    assert (first.auth_token, second.auth_token) == ("first-token", "second-token")


async def test_a_silent_server_is_detected_within_interval_plus_timeout() -> None:
    async with RawServer(idle) as server:  # upgrades, then never says a word
        socket = Socket(
            server.url,
            heartbeat_interval=0.2,
            heartbeat_timeout=0.1,
            reconnect_after=lambda tries: 0.05,
        )
        errors: list[Any] = []
        closes: list[Any] = []
        socket.on_close(closes.append)
        await socket.connect()
        channel = socket.channel("echo:silent")
        channel.on_error(errors.append)
        channel.join(timeout=5)
        loop = asyncio.get_running_loop()
        start = loop.time()
        await wait_for(lambda: bool(errors))
        assert loop.time() - start < 0.2 + 0.1 + 0.1
        assert errors[0] == {"source": "transport", "reason": "heartbeat_timeout"}
        await wait_for(lambda: bool(closes))
        assert closes[0].was_clean is False
        await wait_for(lambda: server.connections >= 2)  # and it reconnects
        assert loop.time() - start < 0.2 + 0.1 + 0.5
        await socket.disconnect()
