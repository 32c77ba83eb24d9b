"""A socket over LongPoll against the contract application (reference server, or
$PHOENIX_URL): joins, pushes and replies, broadcasts, presence, binary frames, the auth
token, no heartbeats, a session that expires, a server restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from longpoll_support import wait_for

from phoenix_fast.errors import ConnectError, PushError
from phoenix_fast.message import Message
from phoenix_fast.presence import Presence
from phoenix_fast.socket import Socket
from phoenix_fast.testing import ServerThread
from phoenix_fast.transports.base import TransportHandler, TransportOptions
from phoenix_fast.transports.longpoll import LongPoll

LP = LongPoll.configure(timeout=5.0)
FAST = {"reconnect_after": lambda tries: 0.05, "rejoin_after": lambda tries: 0.05}


def lp_socket(url: str, **options: Any) -> Socket:
    return Socket(url, transport=LP, timeout=5.0, **options)


async def test_join_push_reply_and_errors(phoenix_url: str) -> None:
    async with lp_socket(phoenix_url) as socket:
        assert socket.connection_state().name == "OPEN"
        channel = socket.channel("echo:lp", {"a": 1})
        assert await channel.join() == {"joined": "echo:lp", "params": {"a": 1}}
        assert await channel.push("ping", {"x": [1, 2]}) == {"x": [1, 2]}
        with pytest.raises(PushError) as info:
            await channel.push("error_me", {})
        assert info.value.response == {"reason": "requested"}
        replies = await asyncio.gather(*(channel.push("ping", {"i": i}) for i in range(250)))
        assert [r["i"] for r in replies] == list(range(250))


async def test_binary_push_and_reply(phoenix_url: str) -> None:
    async with lp_socket(phoenix_url) as socket:
        channel = socket.channel("echo:lp-bin")
        await channel.join()
        pushed: list[Any] = []
        channel.on("bin_msg", pushed.append)
        assert await channel.push("bin", b"\x00\x01\x02binary") == b"\x00\x01\x02binary"
        assert await channel.push("push_bin", {}) == {}
        await wait_for(lambda: pushed)
        assert pushed == [bytes(range(1, 11))]


async def test_broadcasts_reach_websocket_and_longpoll_subscribers(phoenix_url: str) -> None:
    async with lp_socket(phoenix_url) as lp, Socket(phoenix_url) as ws:
        got: dict[str, list[Any]] = {"lp": [], "ws": []}
        lp_channel, ws_channel = lp.channel("echo:lp-room"), ws.channel("echo:lp-room")
        lp_channel.on("shout", got["lp"].append)
        ws_channel.on("shout", got["ws"].append)
        await asyncio.gather(lp_channel.join(), ws_channel.join())
        await ws_channel.push("shout", {"from": "ws"})
        await lp_channel.push("shout", {"from": "lp"})
        await wait_for(lambda: len(got["lp"]) == 2 and len(got["ws"]) == 2)
        assert got["lp"] == got["ws"] == [{"from": "ws"}, {"from": "lp"}]


async def test_a_burst_arrives_complete_and_in_order(phoenix_url: str) -> None:
    async with lp_socket(phoenix_url) as socket:
        channel = socket.channel("echo:lp-burst")
        await channel.join()
        seen: list[int] = []
        channel.on("burst_msg", lambda payload: seen.append(payload["i"]))
        assert await channel.push("burst", {"n": 2000, "size": 50}) == {"sent": 2000}
        await wait_for(lambda: len(seen) == 2000)
        assert seen == list(range(2000))


async def test_presence_over_longpoll(phoenix_url: str) -> None:
    async with lp_socket(phoenix_url) as lp, Socket(phoenix_url) as ws:
        channel = lp.channel("presence:lp-lobby", {"user_id": "ada"})
        presence = Presence(channel)
        await channel.join()
        await wait_for(lambda: "ada" in dict(presence.list(lambda k, p: (k, p))))
        other = ws.channel("presence:lp-lobby", {"user_id": "bob", "status": "away"})
        await other.join()
        await wait_for(lambda: "bob" in dict(presence.list(lambda k, p: (k, p))))
        users = dict(presence.list(lambda key, p: (key, p["metas"][0]["status"])))
        assert users == {"ada": "online", "bob": "away"}
        await other.push("update_status", {"status": "busy"})
        await wait_for(
            lambda: dict(presence.list(lambda k, p: (k, p["metas"][0]["status"])))["bob"] == "busy"
        )
        await other.leave()
        await wait_for(lambda: "bob" not in dict(presence.list(lambda k, p: (k, p))))


async def test_refused_connect_is_a_403_connect_error(phoenix_url: str) -> None:
    socket = lp_socket(phoenix_url, params={"token": "bad"})
    try:
        with pytest.raises(ConnectError) as info:
            await socket.connect()
        assert info.value.status == 403
    finally:
        await socket.disconnect()


async def test_the_auth_token_is_sent_as_a_header(
    phoenix_server_factory: Callable[..., ServerThread],
) -> None:
    server = phoenix_server_factory(longpoll_window=0.5)
    async with lp_socket(server.url, auth_token="s3cret", params={"p": "1"}):
        pass
    info = server.connect_log[-1]
    assert (info.transport, info.auth_token, info.params["p"]) == ("longpoll", "s3cret", "1")


class _Recording(LongPoll):
    sent: list[Message] = []  # noqa: RUF012 - shared on purpose, reset by the test

    def send(self, message: Message) -> None:
        self.sent.append(message)
        super().send(message)


async def test_no_heartbeats_on_longpoll(phoenix_url: str) -> None:
    _Recording.sent = []

    def factory(options: TransportOptions, handler: TransportHandler) -> LongPoll:
        return _Recording(options, handler, timeout=5.0)

    async with Socket(phoenix_url, transport=factory, heartbeat_interval=0.02) as socket:
        channel = socket.channel("echo:lp-hb")
        await channel.join()
        await asyncio.sleep(0.3)
        assert await channel.push("ping", {}) == {}
        assert await socket.ping() is not None  # an explicit ping still works
    events = [m.event for m in _Recording.sent]
    assert events == ["phx_join", "ping", "heartbeat"]


async def test_an_expired_session_closes_with_3410_then_rejoins(
    phoenix_server_factory: Callable[..., ServerThread],
) -> None:
    server = phoenix_server_factory(longpoll_window=0.3, longpoll_session_timeout=0.2)
    async with lp_socket(server.url, **FAST) as socket:
        closes: list[Any] = []
        socket.on_close(closes.append)
        channel = socket.channel("echo:lp-expire")
        await channel.join()

        def stall(_payload: Any) -> None:
            time.sleep(0.6)  # no poll for longer than the session timeout: it expires

        channel.on("shout", stall)
        await channel.push("shout", {})
        await wait_for(lambda: closes)
        assert (closes[0].code, closes[0].reason) == (3410, "session_gone")
        await wait_for(lambda: channel.state == "joined" and socket.is_connected())
        assert await channel.push("ping", {"after": "expiry"}) == {"after": "expiry"}
    assert socket.established_connections == 2


async def test_a_server_that_ends_every_session_is_rejoined(
    phoenix_server_factory: Callable[..., ServerThread],
) -> None:
    server = phoenix_server_factory(longpoll_window=0.3)
    async with lp_socket(server.url, **FAST) as socket:
        closes: list[Any] = []
        socket.on_close(closes.append)
        channel = socket.channel("echo:lp-ended")
        await channel.join()
        await asyncio.to_thread(server.disconnect_all)
        await wait_for(lambda: closes and socket.established_connections == 2)
        assert closes[0].code == 3410
        await wait_for(lambda: channel.state == "joined")
        assert await channel.push("ping", {}) == {}


async def test_a_server_restart_reconnects_and_rejoins(
    phoenix_server_factory: Callable[..., ServerThread],
) -> None:
    server = phoenix_server_factory(longpoll_window=0.3)
    async with lp_socket(server.url, **FAST) as socket:
        errors: list[BaseException] = []
        socket.on_error(errors.append)
        channel = socket.channel("echo:lp-restart")
        await channel.join()
        await asyncio.to_thread(server.stop)
        await wait_for(lambda: errors)
        await asyncio.sleep(0.2)
        await asyncio.to_thread(server.start)
        await wait_for(lambda: channel.state == "joined" and socket.established_connections >= 2)
        assert await channel.push("ping", {"back": True}) == {"back": True}
