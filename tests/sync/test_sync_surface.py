"""The rest of ``phoenix_fast.sync``'s surface: socket and channel callbacks, a connect that
times out, ``with`` on a refused socket, and the stream's edges (an overflow right after a
message, the end, ``len``)."""

from __future__ import annotations

import asyncio
import socket as net
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from phoenix_fast._types import CloseEvent
from phoenix_fast.errors import ChannelCrashed, ConnectError, StreamOverflow
from phoenix_fast.message import Message
from phoenix_fast.sync import Socket, connect
from phoenix_fast.testing.waiting import scaled
from phoenix_fast.transports.mock import MockConnection, MockTransport, phoenix_server


class Recorder:
    """Callback calls (made in the loop thread), with a way to wait for the n-th one."""

    def __init__(self) -> None:
        self.calls: list[Any] = []
        self._changed = threading.Condition()

    def __call__(self, *args: Any) -> None:
        with self._changed:
            self.calls.append(args[0] if len(args) == 1 else args)
            self._changed.notify_all()

    def wait(self, count: int) -> list[Any]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.calls) >= count, scaled(5)), self.calls
            return list(self.calls)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections (the kernel's backlog) and never answers."""
    with net.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def test_socket_callbacks_see_open_messages_close_and_off_stops_them(phoenix_url: str) -> None:
    socket = Socket(f"{phoenix_url}?token=sekrit", timeout=5)
    opened, messages, closed = Recorder(), Recorder(), Recorder()
    socket.on_open(opened)
    message_ref = socket.on_message(messages)
    socket.on_close(closed)
    assert socket.endpoint.endswith("/socket/websocket?token=sekrit")
    assert repr(socket) == f"<phoenix_fast.sync.Socket {phoenix_url}/websocket?***>"
    try:
        socket.connect()
        assert opened.wait(1) == [()]
        channel = socket.channel("echo:sync-callbacks")
        assert repr(channel) == "<phoenix_fast.sync.Channel echo:sync-callbacks>"
        channel.join()
        assert channel.push("ping", {"n": 1}) == {"n": 1}
        seen = messages.wait(2)
        assert [m.event for m in seen] == ["phx_reply", "phx_reply"]  # join's, then ping's
        socket.off([message_ref])
        channel.push("ping", {"n": 2})
        assert len(messages.calls) == 2
    finally:
        socket.close()
    (event,) = closed.wait(1)
    assert isinstance(event, CloseEvent) and event.code == 1000


def test_socket_on_error_hears_a_refused_connection(phoenix_url: str) -> None:
    socket = Socket(phoenix_url, params={"token": "bad"}, timeout=5)
    errors = Recorder()
    socket.on_error(errors)
    try:
        with pytest.raises(ConnectError):
            socket.connect()
        assert isinstance(errors.wait(1)[0], ConnectError)
    finally:
        socket.close()


def test_with_on_a_refused_socket_raises_and_closes_it(phoenix_url: str) -> None:
    socket = Socket(phoenix_url, params={"token": "bad"}, timeout=5)
    with pytest.raises(ConnectError):
        with socket:
            raise AssertionError("the body runs only once connected")
    assert str(socket.connection_state()) == "closed"


def test_a_connect_that_never_opens_times_out_and_leaves_the_socket_closed(
    silent_port: int,
) -> None:
    with pytest.raises(TimeoutError, match=r"not connected within 0\.2 s"):
        connect(f"ws://127.0.0.1:{silent_port}/socket", timeout=0.2)
    socket = Socket(f"ws://127.0.0.1:{silent_port}/socket?token=sekrit", timeout=5)
    with pytest.raises(TimeoutError, match=r"127\.0\.0\.1:\d+/socket/websocket\?\*\*\* not co"):
        socket.connect(timeout=0.2)  # the query (connect params, secrets) is not shown
    socket.close()
    assert str(socket.connection_state()) == "closed"


def test_channel_on_close_and_on_error_hear_the_server(phoenix_url: str) -> None:
    with connect(phoenix_url, timeout=5) as socket:
        stopped = socket.channel("echo:sync-stopped")
        closes = Recorder()
        stopped.on_close(lambda payload: closes(payload))
        stopped.join()
        stopped.push("stop")
        assert closes.wait(1) == [{}]
        assert str(stopped.state) == "closed"

        crashed = socket.channel("echo:sync-crashed")
        errors = Recorder()
        crashed.on_error(lambda reason: errors(reason))
        crashed.join()
        with pytest.raises(ChannelCrashed, match="echo:sync-crashed crashed on the server"):
            crashed.push("boom")
        assert errors.wait(1) == [{"reason": "channel_crash"}]


def test_a_finished_stream_stays_finished_and_counts_what_it_holds(phoenix_url: str) -> None:
    with connect(phoenix_url, timeout=5) as socket:
        channel = socket.channel("echo:sync-len")
        channel.join()
        stream = channel.stream("burst_msg", timeout=5)
        channel.push("burst", {"n": 4})
        channel.push("ping")  # the burst was read before this reply
        assert len(stream) == 4
        assert next(stream).payload["i"] == 0
        assert len(stream) == 3  # 3 read from the loop already, or still queued there
        stream.close()
        assert [m.payload["i"] for m in stream] == [1, 2, 3]
        assert len(stream) == 0
        with pytest.raises(StopIteration):
            next(stream)  # and again, without asking the loop


def test_an_overflow_right_after_a_message_is_raised_after_that_message() -> None:
    """The error comes after the message read before it, and what was queued stays readable:
    on Python 3.11, where ``wait_for`` runs the read in a task of its own, the overflow lands
    between the first message and the rest of its batch."""
    server = MockTransport(phoenix_server)
    socket = Socket("ws://example.test/socket", transport=server, timeout=5)
    socket.connect()
    try:
        channel = socket.channel("room")
        channel.join()
        stream = channel.stream("msg", maxsize=3, overflow="error", timeout=5)
        conn = server.current

        def burst() -> None:  # in the loop thread, after the reader was woken for n=0
            for n in range(1, 6):
                conn.push("room", "msg", {"n": n}, join_ref=channel.async_channel.join_ref)

        def on_first(payload: Any) -> None:
            if payload == {"n": 0}:
                asyncio.get_running_loop().call_soon(burst)

        channel.on("msg", on_first)
        read: list[Any] = []

        def reader() -> None:
            try:
                read.append(next(stream).payload)
                next(stream)
            except StreamOverflow as exc:
                read.append(exc)

        thread = threading.Thread(target=reader)
        thread.start()
        _wait_until_reading(socket, stream)
        socket.run(_push(conn, channel, {"n": 0}))
        thread.join(scaled(5))
        assert read[0] == {"n": 0}
        assert isinstance(read[1], StreamOverflow)
        assert [m.payload["n"] for m in stream] == [1, 2, 3]
        assert stream.dropped == 2
    finally:
        socket.close()


def _push(conn: MockConnection, channel: Any, payload: Any) -> Any:
    async def push() -> None:
        conn.receive(Message(channel.async_channel.join_ref, None, "room", "msg", payload))

    return push


def _wait_until_reading(socket: Socket, stream: Any) -> None:
    """Returns once the reader waits in the loop for the stream's next message."""

    async def waiting() -> bool:
        return stream.async_stream._waiter is not None

    for _ in range(int(scaled(500))):
        if socket.run(waiting):
            return
        threading.Event().wait(0.01)
    raise AssertionError("the reader never waited for a message")
