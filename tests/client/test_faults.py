"""Garbage from the server, raising user code, bounded memory: the reader survives all.

These run on fake time over a MockTransport. Faults of the network itself (a half-open
link, a server that vanishes or refuses, latency, a truncated frame) need real sockets and
a real loop: they are in ``test_integration_faults.py``, made by ``FaultProxy``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from helpers import connected, join, last

from phoenix_fast.errors import DecodeError
from phoenix_fast.message import Message
from phoenix_fast.push import Push
from phoenix_fast.socket import Socket
from phoenix_fast.transports.mock import MockTransport, phoenix_server


async def test_garbage_frames_are_logged_and_the_connection_stays_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    socket, server = await connected()
    channel = socket.channel("room")
    await join(channel, server.current)
    got: list[Any] = []
    channel.on("msg", got.append)
    conn = server.current
    for garbage in ["not json", "[1,2]", '{"a":1}', "[null,null,5,6,7]", b"\x07junk", b""]:
        conn.receive(garbage)
    conn.push("room", "msg", {"still": "alive"})
    assert got == [{"still": "alive"}] and socket.is_connected()
    assert caplog.text.count("cannot be decoded") == 6


async def test_a_decode_error_reaches_a_custom_logger() -> None:
    logged: list[tuple[str, str, Any]] = []
    socket, server = await connected(
        logger=lambda kind, msg, data: logged.append((kind, msg, data))
    )
    server.current.receive("{oops")
    errors = [data for kind, _, data in logged if kind == "receive"]
    assert len(errors) == 1 and isinstance(errors[0], DecodeError)
    await socket.disconnect()


async def test_raising_bindings_and_socket_callbacks_do_not_stop_dispatch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    socket, server = await connected()
    channel = socket.channel("room")
    await join(channel, server.current)
    got: list[str] = []

    def bad(_payload: Any) -> None:
        raise KeyError("bad binding")

    channel.on("msg", bad)
    channel.on("msg", lambda _p: got.append("binding"))
    socket.on_message(lambda _m: 1 / 0)
    socket.on_message(lambda _m: got.append("on_message"))
    server.current.push("room", "msg")
    assert got == ["binding", "on_message"]
    assert "bad binding" in caplog.text and "ZeroDivisionError" in caplog.text


async def test_an_on_message_hook_returning_none_is_reported_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    socket, server = await connected()
    channel = socket.channel("room")
    await join(channel, server.current)
    channel.on_message = lambda event, payload, ref: None  # type: ignore[method-assign,assignment,return-value]
    server.current.push("room", "msg", {"x": 1})
    assert "must return the payload" in caplog.text and socket.is_connected()


async def test_async_callbacks_that_raise_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    socket, server = await connected()
    channel = socket.channel("room")
    await join(channel, server.current)

    async def bad(_payload: Any) -> None:
        raise RuntimeError("async bug")

    channel.on("msg", bad)
    server.current.push("room", "msg")
    await asyncio.sleep(0.01)
    assert "async bug" in caplog.text


async def test_malformed_replies_and_unknown_refs_are_ignored() -> None:
    socket, server = await connected()
    channel = socket.channel("room")
    await join(channel, server.current)
    push = channel.push("event")
    conn = server.current
    conn.receive(Message(channel.join_ref, push.ref, "room", "phx_reply", "not a dict"))
    conn.receive(Message(channel.join_ref, "12345", "room", "phx_reply", {"status": "ok"}))
    conn.receive(Message(None, push.ref, "other", "phx_reply", {"status": "ok", "response": {}}))
    assert push.received is None
    conn.reply(last(conn, "event"), "ok", {"fine": 1})
    assert await push == {"fine": 1}
    await socket.disconnect()


async def test_memory_is_bounded_after_many_timeouts_and_channels() -> None:
    socket, _server = await connected(heartbeat_interval=None)
    channel = socket.channel("room")
    channel.join(timeout=10_000)
    for i in range(2000):
        channel.push("event", {"i": i}, timeout=1)
    await asyncio.sleep(2)
    assert channel._push_buffer == {}  # timed-out buffered pushes are forgotten
    assert len(socket._deadlines.pending) == 1  # only the join is pending
    for i in range(200):
        socket.channel(f"t{i}").join().receive("ok", lambda _r: None)
        socket.channels[-1].leave()
    assert len(socket._router.topics) == 1 and socket._sender.buffer == []
    await socket.disconnect()


async def test_logs_never_contain_tokens_or_param_values(caplog: pytest.LogCaptureFixture) -> None:
    from helpers import make_socket

    caplog.set_level(logging.DEBUG)
    logger = logging.getLogger("test.client")
    socket, server = make_socket(
        params={"token": "SECRET-PARAM"}, auth_token="SECRET-TOKEN", logger=logger
    )
    await socket.connect()
    channel = socket.channel("room", {"password": "SECRET-JOIN"})
    channel.join()
    await asyncio.sleep(0.01)
    server.current.reply(last(server.current, "phx_join"), "ok", {})
    server.current.fail(OSError("reset"))
    await socket.disconnect()
    assert "room phx_join" in caplog.text
    assert "SECRET" not in caplog.text


def test_a_socket_can_be_made_outside_a_loop() -> None:
    socket = Socket("wss://example.com/socket")
    assert socket.connection_state() == "closed"


def test_a_socket_left_on_an_unclosed_loop_works_on_the_next_one() -> None:
    server = MockTransport(phoenix_server)
    socket = Socket("ws://example.test/socket", transport=server, heartbeat_interval=None)

    async def on_the_first_loop() -> None:
        await socket.connect()
        await socket.disconnect()

    first = asyncio.new_event_loop()
    try:
        first.run_until_complete(on_the_first_loop())

        async def on_the_next_loop() -> Any:
            channel = socket.channel("room")
            joining = asyncio.ensure_future(_awaited(channel.join()))
            await asyncio.sleep(0)  # awaiting the join before connect() binds this loop
            await socket.connect()
            reply = await joining
            await socket.disconnect()
            return reply

        assert asyncio.run(on_the_next_loop()) == {}
    finally:
        first.close()


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


async def test_a_raising_callable_payload_leaves_nothing_pending_with_logging_on() -> None:
    socket, _ = await connected(phoenix_server, logger=lambda kind, msg, data: None)
    channel = socket.channel("room")
    await channel.join()

    def broken() -> Any:
        raise RuntimeError("no payload")

    push = Push(channel, "event", broken, 5.0)
    with pytest.raises(RuntimeError):
        push.send()  # the general path (logging on), not channel.push's
    assert len(socket._deadlines.pending) == 0
    await socket.disconnect()


async def test_a_rejoin_that_cannot_be_encoded_does_not_break_the_open(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from helpers import make_socket

    socket, server = make_socket(auto_open=False)
    bad = socket.channel("bad", {"oops": object()})
    good = socket.channel("good")
    bad._state = bad.state.ERRORED
    bad._joined_once = good._joined_once = True
    good._state = good.state.ERRORED
    socket.connect()
    server.current.open()
    assert socket.is_connected()
    assert [m.topic for m in server.current.messages("phx_join")] == ["good"]
    assert "rejoining bad failed" in caplog.text
    await socket.disconnect()
