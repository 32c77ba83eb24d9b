"""Network faults between the client and a real server, made by FaultProxy, on real loops.

Each test breaks the link the way production does (a silent peer, a server that vanishes
or stays away, latency, a frame cut short) and checks what the application sees: which
error, which callbacks, nothing left pending, and a full recovery once the network heals.
The unit-level fault tests (garbage frames, raising callbacks) are in ``test_faults.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from phoenix_fast.errors import ConnectionClosed, HeartbeatTimeout, PushTimeout
from phoenix_fast.message import Message
from phoenix_fast.socket import Socket
from phoenix_fast.testing import FaultProxy, ServerThread
from phoenix_fast.testing.waiting import wait_for as _wait_for
from phoenix_fast.transports.longpoll import LongPoll

WAIT = 10.0
FAST = {"reconnect_after": lambda tries: 0.05, "rejoin_after": lambda tries: 0.05}


async def wait_for(predicate: Callable[[], object], timeout: float = WAIT) -> None:
    await _wait_for(predicate, timeout)


@pytest.fixture
def server(phoenix_server_factory: Callable[..., ServerThread]) -> ServerThread:
    return phoenix_server_factory()


@pytest.fixture
async def proxy(server: ServerThread) -> AsyncIterator[FaultProxy]:
    async with FaultProxy("127.0.0.1", server.port) as fault_proxy:
        yield fault_proxy


def through(proxy: FaultProxy, **options: Any) -> Socket:
    """A socket to the reference server through ``proxy``, with a fast backoff."""
    return Socket(proxy.url_for("/socket"), **{**FAST, **options})


async def recovered(socket: Socket, channel: Any) -> None:
    """Waits for the rejoin, proves the channel works end to end, and waits for the pending
    table to empty (a push whose connection died has failed its awaiters at once, but, as
    in the JS client, stays pending until its timeout for its ``receive("timeout")`` hooks).
    """
    await wait_for(lambda: socket.is_connected() and channel.state == "joined")
    assert await channel.push("ping", {"back": True}) == {"back": True}
    await wait_for(lambda: len(socket._deadlines.pending) == 0)


async def test_a_half_open_link_is_noticed_by_the_heartbeat(proxy: FaultProxy) -> None:
    errors: list[Any] = []
    closes: list[Any] = []
    async with through(proxy, heartbeat_interval=0.2, heartbeat_timeout=0.2) as socket:
        socket.on_close(closes.append)
        channel = socket.channel("echo:half-open")
        channel.on_error(errors.append)
        await channel.join()
        (silent,) = proxy.links
        proxy.half_open()  # the server's host vanished: no FIN, no RST, writes still succeed
        proxy.heal()  # ...but the next connection reaches a healthy server
        in_flight = channel.push("ping", {"lost": True}, timeout=3)
        with pytest.raises(HeartbeatTimeout):
            await in_flight  # the link is declared dead: the reply can never come
        assert errors[0] == {"source": "transport", "reason": "heartbeat_timeout"}
        assert closes[0].was_clean is False
        await recovered(socket, channel)
        await wait_for(lambda: silent.closed)  # the client closed the dead link
        assert silent.dropped > 0 and proxy.live_links == 1


async def test_a_server_that_stops_answering_is_noticed_by_the_heartbeat(
    proxy: FaultProxy,
) -> None:
    errors: list[Any] = []
    async with through(proxy, heartbeat_interval=0.2, heartbeat_timeout=0.2) as socket:
        channel = socket.channel("echo:stalled")
        channel.on_error(errors.append)
        await channel.join()
        proxy.stall("to_client")  # the link is up, nothing comes back
        await wait_for(lambda: bool(errors))
        assert errors[0] == {"source": "transport", "reason": "heartbeat_timeout"}
        proxy.resume()
        await recovered(socket, channel)


async def test_a_server_that_vanishes_mid_push_fails_the_push_at_once(
    proxy: FaultProxy,
) -> None:
    async with through(proxy) as socket:
        channel = socket.channel("echo:vanish")
        await channel.join()
        (link,) = proxy.links
        sent = link.bytes_to_server
        proxy.stall("to_client")  # hold the reply back...
        in_flight = channel.push("ping", {"n": 1}, timeout=1)
        await wait_for(lambda: link.bytes_to_server > sent)  # the server has the push
        proxy.cut(reset=True)  # ...and the server dies before it is sent
        proxy.resume()
        with pytest.raises(ConnectionClosed):
            await in_flight
        assert channel.state in ("errored", "joining")
        await recovered(socket, channel)


async def test_refused_reconnects_then_recovery(proxy: FaultProxy) -> None:
    errors: list[Any] = []
    async with through(proxy) as socket:
        socket.on_error(lambda *args: errors.append(args))
        channel = socket.channel("echo:refused")
        await channel.join()
        proxy.refuse_new()  # the server is down: every reconnect is refused
        proxy.cut()
        await wait_for(lambda: len(errors) >= 3)  # each refused attempt is reported
        assert proxy.refused >= 3 and not socket.is_connected()
        assert channel.state == "errored"
        proxy.accept_new()
        await recovered(socket, channel)


async def test_the_server_restarts_behind_the_proxy(
    server: ServerThread, proxy: FaultProxy
) -> None:
    async with through(proxy) as socket:
        channel = socket.channel("echo:restart")
        await channel.join()
        await asyncio.to_thread(server.stop)  # the links end, reconnects find no server
        await wait_for(lambda: proxy.refused >= 2)
        assert channel.state == "errored"
        await asyncio.to_thread(server.start)  # same port
        await recovered(socket, channel)


async def test_a_silent_new_link_times_out_the_connect_then_recovers(
    proxy: FaultProxy,
) -> None:
    errors: list[Any] = []
    proxy.half_open()  # TCP connects, the upgrade is never answered
    socket = through(proxy, connect_timeout=0.2)
    socket.on_error(lambda *args: errors.append(args))
    channel = socket.channel("echo:silent-connect")
    channel.join(timeout=30)
    socket.connect()
    try:
        await wait_for(lambda: len(errors) >= 2)  # two connects gave up, the client retries
        assert proxy.accepted >= 2 and not socket.is_connected()
        proxy.heal()
        await recovered(socket, channel)
    finally:
        await socket.disconnect()


async def test_latency_delays_replies_but_keeps_the_connection(proxy: FaultProxy) -> None:
    async with through(proxy, heartbeat_interval=0.1, heartbeat_timeout=2.0) as socket:
        channel = socket.channel("echo:slow")
        await channel.join()
        heartbeats: list[Message] = []
        socket.on_message(lambda m: heartbeats.append(m) if m.topic == "phoenix" else None)
        proxy.set_delay(0.1)  # each way
        loop = asyncio.get_running_loop()
        start = loop.time()
        assert await channel.push("ping", {"slow": 1}) == {"slow": 1}
        # a round trip through both delays (less a little: uvloop's clock and timers count
        # whole milliseconds, and two such readings 0.2 s apart can differ by 0.1999...)
        assert loop.time() - start >= 0.2 - 0.002
        await wait_for(lambda: len(heartbeats) >= 3)  # heartbeats answered within the timeout
        assert socket.is_connected() and proxy.accepted == 1


async def test_a_reply_later_than_its_timeout_is_dropped(proxy: FaultProxy) -> None:
    async with through(proxy) as socket:
        channel = socket.channel("echo:late")
        await channel.join()
        proxy.set_delay(0.3, "to_client")
        with pytest.raises(PushTimeout):
            await channel.push("ping", {"late": True}, timeout=0.1)
        proxy.set_delay(0)
        # replies keep their order: once this one is in, the late one was read and ignored
        assert await channel.push("ping", {"next": True}, timeout=5) == {"next": True}
        assert len(socket._deadlines.pending) == 0 and socket.is_connected()


async def test_a_truncated_frame_closes_the_link_and_the_client_reconnects(
    proxy: FaultProxy,
) -> None:
    closes: list[Any] = []
    async with through(proxy, heartbeat_interval=None) as socket:
        socket.on_close(closes.append)
        channel = socket.channel("echo:truncated")
        await channel.join()
        proxy.truncate_next("to_client", keep=7)  # the reply is cut after 7 bytes
        in_flight = channel.push("ping", {"data": "x" * 1000}, timeout=1)
        with pytest.raises(ConnectionClosed):
            await in_flight
        assert closes[0].was_clean is False
        await recovered(socket, channel)
        assert proxy.accepted == 2


async def test_the_readme_example(phoenix_url: str) -> None:
    async with FaultProxy.from_url(phoenix_url) as proxy:
        async with Socket(proxy.url, heartbeat_interval=1.0) as socket:
            errors: list[Any] = []
            lobby = socket.channel("echo:lobby")
            lobby.on_error(errors.append)
            await lobby.join()
            proxy.half_open()
            proxy.heal()
            await wait_for(lambda: errors, timeout=5)
            await wait_for(lambda: lobby.state == "joined", timeout=10)
            assert await lobby.push("ping", {"n": 1}) == {"n": 1}


# -- LongPoll: no heartbeat, so its own request timeout must notice a silent server --------


async def test_longpoll_survives_a_cut_mid_poll(proxy: FaultProxy) -> None:
    async with through(proxy, transport=LongPoll) as socket:
        channel = socket.channel("echo:lp-cut")
        await channel.join()
        await wait_for(lambda: proxy.live_links >= 1)  # a poll is waiting on the server
        accepted = proxy.accepted
        proxy.cut(reset=True)
        # the server's session outlives the TCP connection: the poll is simply sent again
        # (or, if that fails too, the socket reconnects and rejoins)
        await wait_for(lambda: proxy.accepted > accepted)
        await recovered(socket, channel)


async def test_longpoll_notices_a_half_open_link_by_its_request_timeout(
    proxy: FaultProxy,
) -> None:
    errors: list[Any] = []
    async with through(proxy, transport=LongPoll, longpoller_timeout=0.5) as socket:
        channel = socket.channel("echo:lp-silent")
        channel.on_error(errors.append)
        await channel.join()
        proxy.half_open()  # the waiting poll and every new request go unanswered
        await wait_for(lambda: bool(errors))
        assert not socket.is_connected() or channel.state != "joined"
        proxy.heal()
        await recovered(socket, channel)


async def test_longpoll_refused_then_recovers(proxy: FaultProxy) -> None:
    async with through(proxy, transport=LongPoll) as socket:
        channel = socket.channel("echo:lp-refused")
        await channel.join()
        refused = proxy.refused
        proxy.refuse_new()
        proxy.cut()
        await wait_for(lambda: proxy.refused >= refused + 3)
        assert channel.state != "joined"
        proxy.accept_new()
        await recovered(socket, channel)


async def test_a_handshake_answer_cut_short_is_a_failed_connect_that_is_retried(
    proxy: FaultProxy,
) -> None:
    errors: list[Any] = []
    proxy.truncate_next("to_client", keep=20)  # "HTTP/1.1 101 Switch" and the end
    socket = through(proxy)
    socket.on_error(lambda *args: errors.append(args))
    channel = socket.channel("echo:cut-handshake")
    channel.join(timeout=30)
    socket.connect()
    try:
        await wait_for(lambda: bool(errors))
        await recovered(socket, channel)
        assert proxy.accepted == 2
    finally:
        await socket.disconnect()


async def test_a_compressed_stream_cut_mid_message_then_a_fresh_one(
    server: ServerThread, proxy: FaultProxy
) -> None:
    async with Socket(proxy.url_for("/socket_compress"), compress=True, **FAST) as socket:
        channel = socket.channel("echo:deflate")
        await channel.join()
        assert await channel.push("ping", {"data": "abc" * 500}) == {"data": "abc" * 500}
        proxy.truncate_next("to_client", keep=9)  # the inflater's context dies with the link
        with pytest.raises(ConnectionClosed):
            await channel.push("ping", {"data": "xyz" * 500}, timeout=1)
        await recovered(socket, channel)  # a new link starts a new deflate context


async def test_latency_beyond_the_heartbeat_timeout_drops_links_until_it_goes(
    proxy: FaultProxy,
) -> None:
    errors: list[Any] = []
    async with through(proxy, heartbeat_interval=0.1, heartbeat_timeout=0.25) as socket:
        channel = socket.channel("echo:too-slow")
        channel.on_error(errors.append)
        await channel.join()
        proxy.set_delay(0.4, "to_client")  # every heartbeat reply comes too late
        await wait_for(lambda: len(errors) >= 2)
        assert all(e == {"source": "transport", "reason": "heartbeat_timeout"} for e in errors)
        proxy.set_delay(0)
        await recovered(socket, channel)
