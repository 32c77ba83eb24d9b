"""``Socket(..., long_poll_fallback=seconds)`` end to end: the WebSocket path refused, killed
after opening, or never answering (through a gate in front of the reference server), and a
working WebSocket that must stay one across a server restart."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from gate import Gate
from longpoll_support import wait_for

from phoenix_fast._fallback import fallback_memory
from phoenix_fast.socket import Socket
from phoenix_fast.testing import ServerThread
from phoenix_fast.transports.longpoll import LongPoll
from phoenix_fast.transports.websocket import WebSocketTransport

pytestmark = pytest.mark.skipif(
    "long_poll_fallback" not in inspect.signature(Socket).parameters,
    reason="Socket has no long_poll_fallback option yet (/tmp/longpoll_socket.patch)",
)

FAST = {"reconnect_after": lambda tries: 0.02, "rejoin_after": lambda tries: 0.05}


@pytest.fixture(autouse=True)
def clean_memory() -> Iterator[None]:
    fallback_memory.forget()
    yield
    fallback_memory.forget()
    fallback_memory.on_change = None


@pytest.fixture
def server(phoenix_server_factory: Callable[..., ServerThread]) -> ServerThread:
    return phoenix_server_factory(longpoll_window=0.5)


def transport_of(socket: Socket) -> Any:
    conn = socket._conn
    return None if conn is None else conn.transport


async def test_a_refused_websocket_falls_back_at_once_and_is_remembered(
    server: ServerThread,
) -> None:
    saved: list[dict[str, str]] = []
    fallback_memory.on_change = saved.append
    async with Gate(server.longpoll_url, "refuse").running() as gate:
        loop = asyncio.get_running_loop()
        start = loop.time()
        socket = Socket(gate.url, long_poll_fallback=5.0, **FAST)
        channel = socket.channel("echo:fallback")
        joining = asyncio.ensure_future(channel.join())  # joins once the socket opens
        await socket.connect()  # resolves over LongPoll, not with the WebSocket's 403
        assert loop.time() - start < 2.0  # not after the 5 s threshold
        assert isinstance(transport_of(socket), LongPoll)
        assert gate.websocket_attempts == 1
        assert await joining == {"joined": "echo:fallback", "params": {}}
        assert await channel.push("ping", {"over": "lp"}) == {"over": "lp"}
        await socket.disconnect()
        endpoint = f"{gate.url}/websocket"
        assert fallback_memory.get(endpoint) == "longpoll"
        assert saved == [{endpoint: "longpoll"}]

        # a later socket to the endpoint starts on LongPoll
        async with Socket(gate.url, long_poll_fallback=5.0) as again:
            assert isinstance(transport_of(again), LongPoll)
        assert gate.websocket_attempts == 1


async def test_a_websocket_that_opens_then_dies_repeatedly_falls_back(
    server: ServerThread,
) -> None:
    async with Gate(server.longpoll_url, "flap", kill_after=0.05).running() as gate:
        socket = Socket(gate.url, long_poll_fallback=1.0, **FAST)
        closes: list[Any] = []
        socket.on_close(closes.append)
        try:
            await socket.connect()  # the first (short-lived) WebSocket opens
            await wait_for(
                lambda: isinstance(transport_of(socket), LongPoll) and socket.is_connected()
            )
            assert gate.websocket_attempts == 3
            assert len(closes) == 3
            channel = socket.channel("echo:flap")
            await channel.join()
            assert await channel.push("ping", {}) == {}
        finally:
            await socket.disconnect()
        assert fallback_memory.get(f"{gate.url}/websocket") == "longpoll"


async def test_a_websocket_that_never_answers_falls_back_after_the_threshold(
    server: ServerThread,
) -> None:
    async with Gate(server.longpoll_url, "hang").running() as gate:
        loop = asyncio.get_running_loop()
        start = loop.time()
        socket = Socket(gate.url, long_poll_fallback=0.4, connect_timeout=30.0, **FAST)
        try:
            await socket.connect()
            assert 0.35 <= loop.time() - start < 3.0
            assert isinstance(transport_of(socket), LongPoll)
        finally:
            await socket.disconnect()


async def test_a_working_websocket_stays_one_across_a_server_restart(
    server: ServerThread,
) -> None:
    async with Socket(server.url, long_poll_fallback=2.0, **FAST) as socket:
        channel = socket.channel("echo:restart")
        await channel.join()
        await asyncio.sleep(0.1)  # the health-check ping is answered
        await asyncio.to_thread(server.stop)
        await asyncio.sleep(0.3)  # reconnects are refused meanwhile: no fallback at once
        await asyncio.to_thread(server.start)
        await wait_for(lambda: channel.state == "joined" and socket.established_connections == 2)
        assert isinstance(transport_of(socket), WebSocketTransport)
        assert socket._fallback is not None and not socket._fallback.fell_back
    assert fallback_memory.snapshot() == {}


async def test_no_fallback_machinery_on_longpoll_or_without_a_threshold(
    server: ServerThread,
) -> None:
    assert Socket(server.url, transport=LongPoll, long_poll_fallback=1.0)._fallback is None
    assert Socket(server.url)._fallback is None
    socket = Socket(server.url, transport=LongPoll, longpoller_timeout=3.0)
    assert socket._transport_factory.timeout == 3.0  # type: ignore[attr-defined]
