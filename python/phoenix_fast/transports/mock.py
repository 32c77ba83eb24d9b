"""``MockTransport``: an in-memory peer, for tests and examples that need no network.

Pass it as the socket's transport; every connection attempt makes a ``MockConnection``
that records what the client sent and lets the test play the server::

    server = MockTransport(phoenix_server)   # answers joins, leaves, heartbeats; echoes pushes
    socket = Socket("ws://example.test/socket", transport=server)
    await socket.connect()
    channel = socket.channel("room:lobby")
    await channel.join()
    server.current.push("room:lobby", "new_msg", {"body": "hi"})   # a server push

Frames really go through the socket's encoder and decoder, so custom ``encode``/``decode``
and binary payloads are exercised too. A server ``handler(connection, message)`` is called
for every message the client sends, on the next loop iteration (as a network would).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from phoenix_fast._constants import (
    EVENT_CLOSE,
    EVENT_HEARTBEAT,
    EVENT_JOIN,
    EVENT_LEAVE,
    EVENT_REPLY,
)
from phoenix_fast._states import SocketState
from phoenix_fast.message import Message
from phoenix_fast.transports.base import (
    Transport,
    TransportHandler,
    TransportOptions,
    decode_frame,
)

__all__ = ["MockConnection", "MockTransport", "ServerHandler", "phoenix_server"]

#: ``handler(connection, message)``: the server's reaction to a client message.
ServerHandler = Callable[["MockConnection", Message], None]


class MockTransport:
    """A transport factory whose connections are in-memory peers (see the module docstring).

    Args:
        handler: the server's logic, called with each message the client sends; None for a
            peer that never answers (the test answers by hand).
        auto_open: open each connection on the next loop iteration; with False the test
            calls ``connection.open()`` (or ``fail()``) itself.

    Attributes:
        connections: every connection made, oldest first.
        refuse: when set, new connections fail with this error instead of opening.
    """

    def __init__(self, handler: ServerHandler | None = None, *, auto_open: bool = True) -> None:
        self.handler = handler
        self.auto_open = auto_open
        self.connections: list[MockConnection] = []
        self.refuse: BaseException | None = None

    def __call__(self, options: TransportOptions, client: TransportHandler) -> MockConnection:
        conn = MockConnection(self, options, client)
        self.connections.append(conn)
        loop = asyncio.get_running_loop()
        if self.refuse is not None:
            loop.call_soon(conn.fail, self.refuse)
        elif self.auto_open:
            loop.call_soon(conn.open)
        return conn

    @property
    def current(self) -> MockConnection:
        """The newest connection."""
        if not self.connections:
            raise LookupError("no connection was made yet")
        return self.connections[-1]

    @property
    def sent(self) -> list[Message]:
        """Every message sent over every connection, in order."""
        return [m for conn in self.connections for m in conn.sent]


class MockConnection(Transport):
    """One in-memory connection: the client's transport and the test's handle on the server."""

    def __init__(
        self, peer: MockTransport, options: TransportOptions, client: TransportHandler
    ) -> None:
        self.peer = peer
        self.options = options
        self.client = client
        self.state = SocketState.CONNECTING
        #: Messages the client sent, decoded.
        self.sent: list[Message] = []
        #: The same messages as encoded frames (``str`` text, ``bytes`` binary).
        self.frames: list[str | bytes] = []
        self.close_code: int | None = None
        self.close_reason = ""

    @property
    def ready_state(self) -> SocketState:
        return self.state

    # -- the client's side -------------------------------------------------------------

    def send(self, message: Message) -> None:
        if self.state is not SocketState.OPEN:
            raise RuntimeError(f"send on a {self.state} MockConnection")
        codec = self.options.codec
        frame = codec.encode(*message) if codec is not None else self.options.encode(message)
        self.frames.append(frame)
        self.sent.append(message)
        if self.peer.handler is not None:
            asyncio.get_running_loop().call_soon(self._handle, message)

    def close(self, code: int | None = None, reason: str = "") -> None:
        if self.state in (SocketState.CLOSING, SocketState.CLOSED):
            return
        self.state = SocketState.CLOSING
        self.close_code, self.close_reason = code, reason
        asyncio.get_running_loop().call_soon(self._closed, code, reason, True)

    def abort(self, code: int | None = None, reason: str = "") -> None:
        """Drops at once (no handshake); ``close_reason`` becomes ``"aborted"`` (with the
        reason given, if any) and the close code reported stays None."""
        if self.state is SocketState.CLOSED:
            return
        self.state = SocketState.CLOSING
        self.close_reason = f"aborted: {reason}" if reason else "aborted"
        asyncio.get_running_loop().call_soon(self._closed, None, "", False)

    def _handle(self, message: Message) -> None:
        if self.state is SocketState.OPEN and self.peer.handler is not None:
            self.peer.handler(self, message)

    def _closed(self, code: int | None, reason: str, was_clean: bool) -> None:
        if self.state is SocketState.CLOSED:
            return
        self.state = SocketState.CLOSED
        self.client.transport_close(code, reason, was_clean)

    # -- the server's side -------------------------------------------------------------

    def open(self) -> None:
        """Completes the handshake: the client sees the connection open."""
        if self.state is SocketState.CONNECTING:
            self.state = SocketState.OPEN
            self.client.transport_open()

    def fail(self, error: BaseException) -> None:
        """The connection fails (refused, reset): an error, then an unclean close."""
        if self.state is SocketState.CLOSED:
            return
        self.client.transport_error(error)
        self._closed(None, "", False)

    def server_close(self, code: int = 1000, reason: str = "") -> None:
        """The server closes the connection cleanly with ``code``."""
        self._closed(code, reason, True)

    def drop(self) -> None:
        """The connection dies without a close handshake (as a reset or a dead network)."""
        self._closed(None, "", False)

    def receive(self, *items: Message | str | bytes) -> None:
        """Delivers messages to the client in one read; raw frames go through its decoder."""
        if self.state is not SocketState.OPEN:
            return
        self.client.transport_messages([self._decode(item) for item in items])

    def _decode(self, item: Message | str | bytes) -> Any:
        if isinstance(item, Message):
            return item
        codec = self.options.codec
        return decode_frame(codec.decode if codec is not None else self.options.decode, item)

    def reply(self, to: Message, status: str = "ok", response: Any = None) -> None:
        """Answers the client's message ``to`` with a ``phx_reply``."""
        payload = {"status": status, "response": {} if response is None else response}
        self.receive(Message(to.join_ref, to.ref, to.topic, EVENT_REPLY, payload))

    def push(
        self, topic: str, event: str, payload: Any = None, *, join_ref: str | None = None
    ) -> None:
        """A server push (with ``join_ref``) or broadcast (without) to the client."""
        self.receive(Message(join_ref, None, topic, event, {} if payload is None else payload))

    def messages(self, event: str | None = None, topic: str | None = None) -> list[Message]:
        """The sent messages, filtered by event and topic."""
        return [
            m
            for m in self.sent
            if (event is None or m.event == event) and (topic is None or m.topic == topic)
        ]


def phoenix_server(conn: MockConnection, message: Message) -> None:
    """A minimal Phoenix: joins and heartbeats answered ok, leaves answered ok then closed,
    any other event answered ok with its own payload (an echo)."""
    if message.event == EVENT_HEARTBEAT or message.event == EVENT_JOIN:
        conn.reply(message)
    elif message.event == EVENT_LEAVE:
        conn.reply(message)
        conn.receive(Message(message.join_ref, message.join_ref, message.topic, EVENT_CLOSE, {}))
    else:
        conn.reply(message, "ok", message.payload)
