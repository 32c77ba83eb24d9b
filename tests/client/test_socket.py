"""Socket behaviour pinned by the JS suite (socket_test.js), on fake time over MockTransport."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from helpers import URL, connected, join, last, make_socket, settle

from phoenix_fast._backoff import reconnect_after, rejoin_after
from phoenix_fast._fallback import replace_transport
from phoenix_fast._types import CloseEvent
from phoenix_fast.errors import ConnectError, ConnectionClosed
from phoenix_fast.message import Message
from phoenix_fast.socket import Socket
from phoenix_fast.transports.mock import MockConnection, MockTransport, phoenix_server

# -- constructor --


def test_defaults() -> None:
    socket = Socket("/socket", base="http://example.com")
    assert socket.endpoint == "ws://example.com/socket/websocket"
    assert socket.channels == []
    assert socket._sender.buffer == []
    assert socket._deadlines.pending.ref == 0
    assert socket.timeout == 10.0
    assert socket.heartbeat_interval == 30.0
    assert socket.heartbeat_timeout == 30.0
    assert socket.vsn == "2.0.0"
    callbacks = socket._callbacks
    assert callbacks.open == callbacks.close == callbacks.error == callbacks.message == ()
    assert socket.connection_state() == "closed"
    assert not socket.is_connected()


def test_options_override_defaults() -> None:
    def backoff(tries: int) -> float:
        return 1.0

    socket = Socket(
        URL,
        timeout=40,
        heartbeat_interval=60,
        heartbeat_timeout=5,
        reconnect_after=backoff,
        params={"one": "two"},
    )
    assert (socket.timeout, socket.heartbeat_interval, socket.heartbeat_timeout) == (40, 60, 5)
    assert socket._reconnect_after is backoff
    assert socket.params == {"one": "two"}


async def test_literal_params_go_in_the_query_with_vsn_last() -> None:
    socket, server = make_socket(params={"token": "abc", "user": {"id": 1, "tags": ["a"]}})
    socket.connect()
    # the key is encoded as a whole, brackets included, as encodeURIComponent does
    assert server.current.options.url == (
        "ws://example.test/socket/websocket?token=abc&user%5Bid%5D=1&user%5Btags%5D%5B0%5D=a"
        "&vsn=2.0.0"
    )
    await socket.disconnect()


async def test_params_callable_is_called_on_every_connect() -> None:
    calls: list[int] = []

    def params() -> dict[str, Any]:
        calls.append(1)
        return {"n": len(calls)}

    socket, server = make_socket(params=params)
    await socket.connect()
    server.current.drop()
    await asyncio.sleep(0.02)  # the first reconnect step is 10 ms
    assert [c.options.url.split("?")[1] for c in server.connections] == [
        "n=1&vsn=2.0.0",
        "n=2&vsn=2.0.0",
    ]
    await socket.disconnect()


async def test_async_params_and_token_are_awaited_on_every_connect() -> None:
    tokens = iter(["first", "second"])

    async def params() -> dict[str, str]:
        await asyncio.sleep(1)
        return {"k": "v"}

    async def token() -> str:
        return next(tokens)

    socket, server = make_socket(params=params, auth_token=token)
    await socket.connect()
    assert server.current.options.url.endswith("?k=v&vsn=2.0.0")
    assert server.current.options.protocols == ["phoenix", "base64url.bearer.phx.Zmlyc3Q"]
    server.current.drop()
    await asyncio.sleep(1.1)
    assert server.current.options.protocols == ["phoenix", "base64url.bearer.phx.c2Vjb25k"]
    assert socket.is_connected()
    await socket.disconnect()


async def test_failing_params_callable_is_a_connect_error_then_a_retry() -> None:
    def params() -> dict[str, Any]:
        raise RuntimeError("vault down")

    socket, server = make_socket(params=params)
    with pytest.raises(ConnectError, match="vault down"):
        await socket.connect()
    assert server.connections == []
    assert socket._machine.reconnect_at is not None
    await socket.disconnect()


async def test_headers_and_auth_token_reach_the_transport() -> None:
    socket, server = make_socket(auth_token="1234", headers={"x-client": "tests"})
    socket.connect()
    options = server.current.options
    assert options.protocols == ["phoenix", "base64url.bearer.phx.MTIzNA"]
    assert options.headers == [("x-client", "tests")]
    await socket.disconnect()


# -- connect, disconnect, state --


async def test_connect_is_idempotent() -> None:
    socket, server = make_socket()
    socket.connect()
    socket.connect()
    await socket.connect()
    assert len(server.connections) == 1
    await socket.connect()
    assert len(server.connections) == 1
    await socket.disconnect()


async def test_connection_state_follows_the_transport() -> None:
    socket, server = make_socket(auto_open=False)
    assert socket.connection_state() == "closed"
    socket.connect()
    assert socket.connection_state() == "connecting"
    server.current.open()
    assert socket.connection_state() == "open" and socket.is_connected()
    server.current.state = server.current.state.CLOSING
    assert socket.connection_state() == "closing" and not socket.is_connected()
    server.current.drop()
    assert socket.connection_state() == "closed"
    await socket.disconnect()


async def test_disconnect_closes_the_transport_with_code_and_reason() -> None:
    socket, server = await connected()
    await socket.disconnect(4001, "bye")
    conn = server.current
    assert (conn.close_code, conn.close_reason) == (4001, "bye")
    assert socket._conn is None
    assert socket.connection_state() == "closed"


async def test_disconnect_without_connection_is_harmless_and_repeatable() -> None:
    socket, _ = make_socket()
    await socket.disconnect()
    await socket.disconnect()
    socket2, _ = await connected()
    first = asyncio.ensure_future(socket2.disconnect())
    second = asyncio.ensure_future(socket2.disconnect())
    await asyncio.wait_for(asyncio.gather(first, second), 5)  # both complete (JS: both callbacks)
    assert socket2.connection_state() == "closed"


async def test_connect_right_after_disconnect_makes_a_new_connection() -> None:
    socket, server = await connected()
    first = server.current
    disconnecting = asyncio.ensure_future(socket.disconnect())
    await socket.connect()
    assert len(server.connections) == 2
    assert first.state == "closed" and socket.is_connected()
    await settle()
    assert socket.is_connected()  # the old connection's teardown did not touch the new one
    await asyncio.wait_for(disconnecting, 5)  # the first disconnect completed too
    assert socket.is_connected()
    await socket.disconnect()


async def test_awaiting_connect_raises_on_refusal_and_keeps_retrying() -> None:
    socket, server = make_socket()
    server.refuse = ConnectError("forbidden", status=403)
    with pytest.raises(ConnectError) as info:
        await socket.connect()
    assert info.value.status == 403
    server.refuse = None
    await asyncio.sleep(0.011)
    assert socket.is_connected()
    await socket.disconnect()


async def test_awaiting_connect_fails_on_disconnect() -> None:
    socket, _ = make_socket(auto_open=False)
    waiting = asyncio.ensure_future(socket.connect())
    await settle()
    socket.disconnect()
    with pytest.raises(ConnectionClosed):
        await waiting


async def test_async_with_connects_then_disconnects() -> None:
    server = MockTransport()
    async with Socket(URL, transport=server) as socket:
        assert socket.is_connected()
    assert server.current.state == "closed"
    assert socket.connection_state() == "closed"


async def test_async_with_disconnects_when_connect_fails() -> None:
    server = MockTransport()
    server.refuse = ConnectError("nope")
    socket = Socket(URL, transport=server)
    with pytest.raises(ConnectError):
        async with socket:
            pass
    await asyncio.sleep(60)
    assert len(server.connections) == 1  # no reconnect after the failed enter


# -- channels --


async def test_channel_is_created_and_tracked_then_removed_when_closed() -> None:
    socket, _server = await connected(phoenix_server)
    channel = socket.channel("topic", {"one": "two"})
    assert channel.topic == "topic" and channel.params == {"one": "two"}
    assert socket.channels == [channel]
    await channel.join()
    await channel.leave()
    assert socket.channels == []
    await socket.disconnect()


# -- push and the send buffer --


async def test_push_sends_when_connected_and_buffers_otherwise() -> None:
    socket, server = make_socket(auto_open=False)
    socket.connect()
    message = Message(None, "9", "phoenix", "heartbeat", {})
    socket._sender.push(message)
    assert socket._sender.buffer == [(message, None, None)]
    server.current.open()
    assert socket._sender.buffer == []
    assert server.current.sent == [message]
    socket._sender.push(message)
    assert server.current.sent == [message, message]
    await socket.disconnect()


async def test_stale_buffered_frames_are_dropped_leaves_included() -> None:
    socket, server = make_socket(auto_open=False)
    stale = socket.channel("stale")
    closed = socket.channel("closed")
    stale.join()
    closed.join()
    stale.push("a", {})
    old_join_ref = stale.join_ref
    stale._join_push.resend(10)  # a new join: frames of the old one are stale
    assert stale.join_ref != old_join_ref
    closed.leave()  # cannot push: closes at once; its buffered leave is stale with it
    assert closed.state == "closed"
    socket.connect()
    server.current.open()
    sent = [(m.topic, m.event, m.join_ref) for m in server.current.sent]
    assert sent == [("stale", "phx_join", stale.join_ref)]
    await socket.disconnect()


def test_make_ref_starts_at_one_and_wraps_to_zero() -> None:
    socket = Socket(URL)
    assert socket.make_ref() == "1"
    assert socket.make_ref() == "2"
    socket._deadlines.pending.set_ref(2**53)
    assert socket.make_ref() == "0"


# -- heartbeat --


async def test_heartbeat_frame_and_schedule() -> None:
    socket, server = await connected(heartbeat_interval=30)
    conn = server.current
    await asyncio.sleep(29.9)
    assert conn.sent == []
    await asyncio.sleep(0.2)
    assert conn.sent == [Message(None, conn.sent[0].ref, "phoenix", "heartbeat", {})]
    await socket.disconnect()


async def test_heartbeat_reply_schedules_the_next_one_from_the_reply() -> None:
    socket, server = await connected(heartbeat_interval=30)
    conn = server.current
    await asyncio.sleep(30)
    await asyncio.sleep(20)  # the server answers 20 s late: still within the timeout
    conn.reply(conn.sent[0])
    await asyncio.sleep(29.9)
    assert len(conn.sent) == 1
    await asyncio.sleep(0.2)
    assert len(conn.sent) == 2 and socket.is_connected()
    await socket.disconnect()


async def test_other_traffic_does_not_reset_the_heartbeat() -> None:
    socket, server = await connected(heartbeat_interval=30)
    conn = server.current
    for _ in range(5):
        await asyncio.sleep(5)
        conn.push("phoenix", "noise", {})
    await asyncio.sleep(5.1)
    assert [m.event for m in conn.sent] == ["heartbeat"]
    await socket.disconnect()


async def test_unanswered_heartbeat_closes_after_the_timeout_not_before() -> None:
    socket, server = await connected(heartbeat_interval=30)
    conn = server.current
    await asyncio.sleep(30 + 29.9)
    assert conn.state == "open"
    await asyncio.sleep(0.2)
    # the link is presumed dead: no close handshake (a last close frame is only offered)
    assert conn.close_reason == "aborted: heartbeat timeout"
    await asyncio.sleep(0.02)
    assert len(server.connections) == 2 and socket.is_connected()
    await socket.disconnect()


async def test_heartbeat_timeout_separate_from_interval() -> None:
    socket, server = await connected(heartbeat_interval=30, heartbeat_timeout=5)
    conn = server.current
    await asyncio.sleep(34.9)
    assert conn.state == "open"
    await asyncio.sleep(0.2)
    assert conn.close_reason == "aborted: heartbeat timeout"
    await socket.disconnect()


async def test_heartbeat_timeout_errors_the_channels() -> None:
    socket, server = await connected(heartbeat_interval=30)
    channel = socket.channel("room")
    await join(channel, server.current)
    errors: list[Any] = []
    channel.on_error(errors.append)
    await asyncio.sleep(60.1)
    assert errors == [{"source": "transport", "reason": "heartbeat_timeout"}]
    await socket.disconnect()


async def test_no_heartbeat_when_disconnected_nor_after_disconnect() -> None:
    socket, server = await connected(heartbeat_interval=30)
    await asyncio.sleep(30)  # a heartbeat is pending
    await socket.disconnect()
    socket._send_heartbeat()
    assert socket._sender.buffer == [] and socket._machine.heartbeat_ref is None
    await asyncio.sleep(120)
    assert [m.event for m in server.current.sent] == ["heartbeat"]
    assert len(server.connections) == 1


async def test_no_heartbeat_while_connecting() -> None:
    socket, server = make_socket(auto_open=False, heartbeat_interval=30)
    socket.connect()
    assert socket.connection_state() == "connecting"
    socket._send_heartbeat()
    assert socket._sender.buffer == [] and socket._machine.heartbeat_ref is None
    server.current.open()
    assert server.current.sent == []  # nothing was waiting to go out
    await socket.disconnect()


async def test_heartbeats_can_be_disabled() -> None:
    socket, server = await connected(heartbeat_interval=None)
    await asyncio.sleep(600)
    assert server.current.sent == [] and socket.is_connected()
    await socket.disconnect()


# -- open --


async def test_open_flushes_the_buffer_resets_the_reconnect_timer_and_calls_back() -> None:
    socket, server = make_socket(auto_open=False)
    opened: list[str] = []
    socket.on_open(lambda: opened.append("a"))
    socket.on_open(lambda: opened.append("b"))
    socket._machine.reconnect_tries = 3
    socket.connect()
    socket._sender.push(Message(None, "1", "t", "e", {}))
    server.current.open()
    assert opened == ["a", "b"]
    assert socket._machine.reconnect_tries == 0
    assert len(server.current.sent) == 1
    await socket.disconnect()


# -- close --


@pytest.mark.parametrize("code", [1000, 1001, 1006, 1011, 4000, None])
async def test_any_close_we_did_not_initiate_reconnects(code: int | None) -> None:
    socket, server = await connected()
    if code is None:
        server.current.drop()
    else:
        server.current.server_close(code)
    assert socket._machine.reconnect_at is not None
    await asyncio.sleep(0.01)
    assert len(server.connections) == 2 and socket.is_connected()
    await socket.disconnect()


async def test_reconnect_follows_the_backoff_steps_and_resets_on_open() -> None:
    socket, server = await connected()
    opened_at: list[float] = []
    loop = asyncio.get_running_loop()
    server.refuse = ConnectError("down")
    start = loop.time()
    server.current.drop()
    socket.on_error(lambda _e: opened_at.append(round(loop.time() - start, 3)))
    await asyncio.sleep(4.4)
    assert opened_at == [0.01, 0.06, 0.16, 0.31, 0.51, 0.76, 1.26, 2.26, 4.26]
    await asyncio.sleep(5)
    assert opened_at[-1] == 9.26
    server.refuse = None
    await asyncio.sleep(5)
    assert socket.is_connected() and socket._machine.reconnect_tries == 0
    await socket.disconnect()


async def test_no_reconnect_after_disconnect() -> None:
    socket, server = await connected()
    await socket.disconnect()
    await asyncio.sleep(60)
    assert len(server.connections) == 1


async def test_reconnects_if_a_connect_fails_after_an_earlier_clean_disconnect() -> None:
    socket, server = await connected()
    await socket.disconnect()
    server.refuse = ConnectError("down")
    with pytest.raises(ConnectError):
        await socket.connect()
    server.refuse = None
    await asyncio.sleep(0.011)
    assert socket.is_connected()
    await socket.disconnect()


async def test_close_callbacks_get_the_close_event() -> None:
    socket, server = await connected()
    closes: list[CloseEvent] = []
    socket.on_close(closes.append)
    server.current.server_close(4000, "going away")
    assert closes == [CloseEvent(4000, "going away", True)]
    await socket.disconnect()


async def test_close_errors_joining_and_joined_channels_not_left_ones() -> None:
    socket, server = await connected()
    joined, joining, left = socket.channel("a"), socket.channel("b"), socket.channel("c")
    await join(joined, server.current)
    joining.join()
    await join(left, server.current)
    left.leave()
    errors: dict[str, Any] = {}
    for channel in (joined, joining, left):
        channel.on_error(lambda reason, t=channel.topic: errors.setdefault(t, reason))
    server.current.drop()
    assert errors == {
        "a": {"source": "transport", "reason": "connection_closed"},
        "b": {"source": "transport", "reason": "connection_closed"},
    }
    # leave() closes at once (JS: the channel is "leaving", so it cannot push, so it closes)
    assert (joined.state, joining.state, left.state) == ("errored", "errored", "closed")
    await socket.disconnect()


# -- errors --


async def test_error_callbacks_and_channel_errors() -> None:
    socket, server = await connected()
    joined, joining = socket.channel("a"), socket.channel("b")
    await join(joined, server.current)
    joining.join()
    seen: list[Any] = []
    socket.on_error(seen.append)
    joined.on_error(lambda r: seen.append(("a", r["reason"])))
    joining.on_error(lambda r: seen.append(("b", r["reason"])))
    error = OSError("reset")
    server.current.fail(error)
    assert seen == [error, ("a", "connection_error"), ("b", "connection_error")]
    await socket.disconnect()


async def test_error_callbacks_get_the_transport_and_the_established_count_if_they_take_them() -> (
    None
):
    socket, server = make_socket(auto_open=False)
    seen: list[Any] = []
    socket.on_error(lambda error, transport, established: seen.append((transport, established)))
    socket.on_error(lambda *args: seen.append(len(args)))  # logger.error, print: the error
    socket.on_error(lambda: seen.append("no args"))
    socket.connect()
    server.current.fail(OSError("refused"))
    assert seen == [(server, 0), 1, "no args"]
    await asyncio.sleep(1)  # the reconnect opens
    server.current.open()
    server.current.fail(OSError("reset"))
    assert seen[3] == (server, 1)
    await socket.disconnect()


async def test_no_channel_error_when_an_error_callback_replaces_a_never_opened_transport() -> None:
    socket, server = make_socket(auto_open=False)
    socket.connect()
    channel = socket.channel("topic")
    channel.join()  # buffered: the connection never opened
    errors: list[Any] = []
    channel.on_error(errors.append)
    replacement = MockTransport(auto_open=False)
    seen: list[Any] = []

    def replace(error: BaseException, transport: Any, established: int) -> None:
        seen.append((transport, established))
        replace_transport(socket, replacement)

    socket.on_error(replace)
    server.current.fail(OSError("refused"))
    assert seen == [(server, 0)]
    assert socket._transport_factory is replacement
    assert errors == [] and channel.state == "joining"  # its join never went out
    await socket.disconnect()


async def test_error_before_open_errors_a_joining_channel() -> None:
    socket, server = make_socket(auto_open=False)
    channel = socket.channel("a")
    channel.join()
    socket.connect()
    server.current.fail(OSError("refused"))
    assert channel.state == "errored"
    await socket.disconnect()


async def test_no_channel_error_after_leave() -> None:
    socket, server = await connected(phoenix_server)
    channel = socket.channel("a")
    await channel.join()
    await channel.leave()
    errors: list[Any] = []
    channel.on_error(errors.append)
    server.current.fail(OSError("reset"))
    assert errors == []
    await socket.disconnect()


# -- messages --


async def test_messages_reach_the_matching_channel_and_the_message_callbacks() -> None:
    socket, server = await connected()
    channel, other = socket.channel("room"), socket.channel("other")
    await join(channel, server.current)
    got: list[Any] = []
    raw: list[Message] = []
    channel.on("new", lambda payload, ref, join_ref: got.append((payload, ref, join_ref)))
    other.on("new", lambda payload: got.append(("other", payload)))
    socket.on_message(raw.append)
    message = Message(channel.join_ref, "7", "room", "new", {"body": "hi"})
    server.current.receive(message)
    broadcast = Message(None, None, "room", "new", {"body": "all"})
    server.current.receive(broadcast)
    # a message without a join_ref reaches the callback with the channel's (as in JS)
    assert got == [
        ({"body": "hi"}, "7", channel.join_ref),
        ({"body": "all"}, None, channel.join_ref),
    ]
    assert raw == [message, broadcast]
    await socket.disconnect()


async def test_off_removes_socket_callbacks_by_ref() -> None:
    socket, _server = make_socket()
    seen: list[str] = []
    refs = [socket.on_open(lambda: seen.append("open")), socket.on_error(seen.append)]
    kept = socket.on_open(lambda: seen.append("kept"))
    socket.off(refs)
    await socket.connect()
    assert seen == ["kept"]
    assert kept == "3"  # registration refs come from the socket's ref counter, as in JS
    await socket.disconnect()


# -- ping --


async def test_ping_reports_the_round_trip_in_seconds() -> None:
    socket, server = await connected()
    pinging = asyncio.ensure_future(socket.ping())
    await settle()
    heartbeat = last(server.current, "heartbeat")
    await asyncio.sleep(0.25)
    server.current.reply(heartbeat)
    assert await pinging == pytest.approx(0.25)
    await socket.disconnect()


async def test_ping_is_none_when_disconnected_or_when_the_connection_drops() -> None:
    socket, server = make_socket()
    assert await socket.ping() is None
    await socket.connect()
    pinging = asyncio.ensure_future(socket.ping())
    await settle()
    server.current.drop()
    assert await pinging is None
    await socket.disconnect()


# -- encoders --


async def test_default_encoding_is_the_v2_json_array() -> None:
    socket, server = await connected()
    socket._sender.push(Message("1", "2", "topic", "event", {"a": 1}))
    assert server.current.frames == ['["1","2","topic","event",{"a":1}]']
    await socket.disconnect()


async def test_custom_encode_and_decode_are_used() -> None:
    def encode(message: Message) -> str:
        return "|".join(str(field) for field in message)

    def decode(raw: str | bytes) -> Message:
        join_ref, ref, topic, event, body = str(raw).split("|")
        return Message(join_ref or None, ref or None, topic, event, {"body": body})

    socket, server = await connected(encode=encode, decode=decode)
    channel = socket.channel("room")
    got: list[Any] = []
    channel.on("shout", got.append)
    channel.join()
    await settle()
    assert server.current.frames == ["1|1|room|phx_join|{}"]
    server.current.receive("||room|shout|hey")
    assert got == [{"body": "hey"}]
    await socket.disconnect()


async def test_vsn_1_uses_object_frames() -> None:
    socket, server = await connected(vsn="1.0.0")
    assert server.current.options.url.endswith("?vsn=1.0.0")
    socket._sender.push(Message(None, "2", "topic", "event", {}))
    frame = server.current.frames[0]
    assert isinstance(frame, str) and frame.startswith("{")
    await socket.disconnect()


# -- dead links, jitter --


async def test_a_half_open_link_leads_to_reconnect_and_rejoin() -> None:
    def server(conn: MockConnection, message: Message) -> None:
        if conn is server_transport.connections[0] and message.event == "heartbeat":
            return  # the first link is half-open: heartbeats go unanswered
        phoenix_server(conn, message)

    socket, server_transport = await connected(server, heartbeat_interval=30, heartbeat_timeout=5)
    channel = socket.channel("room")
    await channel.join()
    loop = asyncio.get_running_loop()
    start = loop.time()
    errored: list[float] = []
    channel.on_error(lambda _r: errored.append(loop.time() - start))
    await asyncio.sleep(35.1)
    assert errored == [pytest.approx(35)]
    assert len(server_transport.connections) == 2 and channel.state == "joined"
    assert last(server_transport.current, "phx_join").topic == "room"
    await socket.disconnect()


def test_jitter_spreads_reconnect_and_rejoin_delays() -> None:
    socket = Socket(URL, jitter=0.5)
    delays = {socket._reconnect_after(10) for _ in range(200)}
    assert all(2.5 <= d <= 5.0 for d in delays) and len(delays) > 100
    assert all(5.0 <= socket._rejoin_after(4) <= 10.0 for _ in range(50))


def test_no_jitter_leaves_the_backoffs_as_given_and_a_bad_one_is_refused() -> None:
    socket = Socket(URL)
    assert socket._reconnect_after is reconnect_after and socket._rejoin_after is rejoin_after
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="jitter"):
            Socket(URL, jitter=bad)
    with pytest.raises(TypeError):
        Socket(URL, jitter=None)  # type: ignore[arg-type]


async def test_disconnect_while_async_params_are_pending() -> None:
    async def params() -> dict[str, str]:
        await asyncio.sleep(10)
        return {}

    socket, server = make_socket(params=params)
    socket.connect()
    assert socket.connection_state() == "connecting"
    await socket.disconnect()
    await asyncio.sleep(20)
    assert server.connections == [] and socket.connection_state() == "closed"
