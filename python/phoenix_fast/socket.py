"""``Socket``: the connection to a Phoenix endpoint, with heartbeat, reconnect and routing."""

from __future__ import annotations

import asyncio
import logging
import ssl as _ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Literal

from phoenix_fast import _native
from phoenix_fast._backoff import Backoff, reconnect_after, rejoin_after, with_jitter
from phoenix_fast._constants import (
    DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_MAX_BUFFER,
    DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_TIMEOUT,
    DEFAULT_VSN,
    EVENT_HEARTBEAT,
    PHOENIX_TOPIC,
    WS_CLOSE_NORMAL,
)
from phoenix_fast._endpoint import endpoint_url
from phoenix_fast._fallback import (
    DEFAULT_LONGPOLLER_TIMEOUT,
    Fallback,
    is_longpoll,
    longpoll_factory,
    resolve_transport,
)
from phoenix_fast._lifecycle import Lifecycle
from phoenix_fast._logging import SocketLog
from phoenix_fast._outcome import Outcome
from phoenix_fast._redact import redact_url
from phoenix_fast._states import SocketState
from phoenix_fast._stream import SocketStream
from phoenix_fast._types import (
    CloseEvent,
    ErrorCallback,
    JoinParams,
    LoggerFunc,
    MessageCallback,
    OpenCallback,
    SocketParams,
    TokenSource,
)
from phoenix_fast.channel import Channel
from phoenix_fast.errors import ConnectionClosed
from phoenix_fast.message import Message
from phoenix_fast.serializers._version import vsn_major
from phoenix_fast.serializers.native import default_codec
from phoenix_fast.timer import Timer
from phoenix_fast.transports.base import Decoder, Encoder, TransportFactory

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["Socket"]


class Socket(Lifecycle):
    """A Phoenix socket: one connection (re-established as needed) carrying many channels.

    Behaves as the JS client's ``Socket`` (phoenix 1.8.16), durations in seconds::

        async with Socket("wss://example.com/socket", params={"token": token}) as socket:
            channel = socket.channel("room:lobby", {"name": "ada"})
            await channel.join()
            reply = await channel.push("new_msg", {"body": "hi"})

    Args:
        endpoint: ``ws://``, ``wss://``, ``http://`` or ``https://`` URL of the socket
            (``/websocket`` is appended), or a path (``/socket``) together with ``base``.
        params: connect params (query string, ``vsn`` last): a mapping, or a callable (sync
            or async) called again on every connect.
        base: where a path ``endpoint`` lives, ``"https://example.com"`` say.
        auth_token: a token (or a callable, sync or async, called on every connect) sent as
            the subprotocol ``base64url.bearer.phx.<base64>`` next to ``phoenix``.
        headers: extra HTTP headers for the WebSocket handshake.
        ssl: TLS for ``wss``: None for a default, verifying context, or an ``SSLContext``.
        transport: the transport factory (the WebSocket transport by default), e.g.
            ``phoenix_fast.LongPoll`` for HTTP long polling (custom ``encode``/``decode`` are
            ignored on LongPoll, as in the JS client).
        long_poll_fallback: seconds the WebSocket has to work before the socket falls back
            to LongPoll for good (JS ``longPollFallbackMs``; None, the default: never). See
            ``phoenix_fast._fallback`` for when it falls back and how the choice is
            remembered per endpoint.
        longpoller_timeout: seconds a LongPoll request may take (JS ``longpollerTimeout``).
        timeout: default timeout of joins and pushes.
        heartbeat_interval: seconds between a heartbeat reply and the next heartbeat; None
            disables heartbeats.
        heartbeat_timeout: seconds to wait for a heartbeat reply before the link is presumed
            dead (closed, then reconnected); ``heartbeat_interval`` by default.
        reconnect_after: ``tries -> seconds`` before reconnect attempt ``tries`` (from 1).
        rejoin_after: ``tries -> seconds`` before a channel's rejoin attempt ``tries``.
        jitter: randomises each reconnect and rejoin delay ``d`` within ``[d*(1-jitter), d]``.
        logger: a ``logging.Logger`` (traces at DEBUG, problems at WARNING) or a JS-style
            ``logger(kind, msg, data)``. Tokens and param values are never logged.
        encode: ``encode(Message) -> str | bytes`` replacing the default serializer.
        decode: ``decode(str | bytes) -> Message`` replacing the default serializer.
        vsn: the serializer version sent as ``vsn``: ``"2.0.0"`` (default) or ``"1.0.0"``.
        max_message_size: the largest message accepted from the server, in bytes.
        connect_timeout: seconds allowed for the TCP, TLS and upgrade handshakes.
        compress: offer permessage-deflate; the server decides. Messages the server
            compresses are inflated (``max_message_size`` bounds their inflated size too);
            what the client sends goes out uncompressed. WebSocket only.
        max_buffer: the most bytes the socket holds for a server that reads slower than it
            is pushed to (8 MiB by default; None: no bound). Past it, ``channel.push`` raises
            :class:`~phoenix_fast.errors.BufferFull` at once, so a server that stops reading
            cannot make memory grow without bound; ``await socket.drain()`` waits instead.
            Joins, leaves and heartbeats are never refused.

    Raises:
        ValueError: a path endpoint without ``base``, or an unknown scheme or ``vsn``.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        params: SocketParams | None = None,
        base: str | None = None,
        auth_token: TokenSource | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        ssl: _ssl.SSLContext | None = None,
        transport: TransportFactory | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        heartbeat_interval: float | None = DEFAULT_HEARTBEAT_INTERVAL,
        heartbeat_timeout: float | None = None,
        reconnect_after: Backoff = reconnect_after,
        rejoin_after: Backoff = rejoin_after,
        jitter: float = 0.0,
        logger: logging.Logger | LoggerFunc | None = None,
        encode: Encoder | None = None,
        decode: Decoder | None = None,
        vsn: str = DEFAULT_VSN,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        connect_timeout: float = 10.0,
        long_poll_fallback: float | None = None,
        longpoller_timeout: float = DEFAULT_LONGPOLLER_TIMEOUT,
        compress: bool = False,
        max_buffer: int | None = DEFAULT_MAX_BUFFER,
    ) -> None:
        super().__init__(SocketLog(logger))
        #: The WebSocket URL, without the query.
        self.endpoint = endpoint_url(endpoint, base)
        self.params: SocketParams = {} if params is None else params
        self.auth_token = auth_token
        self.vsn = vsn
        self.timeout = timeout
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = (
            heartbeat_interval if heartbeat_timeout is None else heartbeat_timeout
        )
        self.max_message_size = max_message_size
        self.connect_timeout = connect_timeout
        self.compress = compress
        if max_buffer is not None and max_buffer <= 0:
            raise ValueError(f"max_buffer must be positive or None, not {max_buffer!r}")
        self.max_buffer = max_buffer
        self._headers = list(headers.items() if isinstance(headers, Mapping) else headers or ())
        self._ssl = ssl
        self.longpoller_timeout = longpoller_timeout
        self._transport_factory = (
            resolve_transport(transport, longpoller_timeout) or _default_transport()
        )
        self._fallback: Fallback | None = None
        if long_poll_fallback and not is_longpoll(self._transport_factory):
            longpoll = longpoll_factory(longpoller_timeout)
            self._fallback = Fallback(self, long_poll_fallback, longpoll)
        self._reconnect_after = with_jitter(reconnect_after, jitter)
        self._rejoin_after = with_jitter(rejoin_after, jitter)
        self._codec: _native.Codec | None = None
        if encode is None and decode is None:
            self._codec = codec = default_codec(vsn_major(vsn))
            self._encode: Encoder = lambda m: codec.encode(*m)
            self._decode: Decoder = codec.decode
        else:
            fallback = default_codec(vsn_major(vsn))
            self._encode = encode or (lambda m: fallback.encode(*m))
            self._decode = decode or fallback.decode
        #: How many connections opened so far.
        self.established_connections = 0
        self._close_was_clean = True
        self._outage_logged = False
        self._connect_clock = 1
        self._next_open: Outcome[None] | None = None
        self._heartbeat: asyncio.TimerHandle | None = None
        self._heartbeat_deadline: asyncio.TimerHandle | None = None
        self._pending_heartbeat_ref: str | None = None
        self._reconnect_timer = Timer(self._on_reconnect_timer, self._reconnect_after)

    # -- connecting ------------------------------------------------------------------------

    def connect(self) -> Awaitable[None]:
        """Connects (no-op if connected or connecting); reconnects on its own afterwards.

        Returns:
            An awaitable, optional to await, that completes once the socket is open, or
            raises the error of the first failed attempt (typically
            :class:`~phoenix_fast.errors.ConnectError`, with ``.status`` for an HTTP refusal).
            The socket keeps retrying with backoff after a failure, as in JS, until
            ``disconnect()``.
        """
        self._check_thread()
        self._bind_loop()
        conn = self._conn
        if conn is None or conn.ended:
            if self._fallback is not None:
                self._fallback.before_connect()
            self._transport_connect()
        return self._open_outcome()

    def _fail_next_open(self, error: BaseException) -> None:
        # a failed WebSocket attempt does not fail connect() while the fallback may still open
        if self._fallback is not None and self._fallback.holds_open():
            return
        super()._fail_next_open(error)

    def disconnect(self, code: int = WS_CLOSE_NORMAL, reason: str | None = None) -> Awaitable[None]:
        """Closes the connection and stops reconnecting; channels stay, to rejoin on connect.

        Returns:
            An awaitable, optional to await, done once the transport confirmed the close (or
            after 1.5 s).
        """
        self._check_thread()
        self._connect_clock += 1
        self._close_was_clean = True
        self._reconnect_timer.reset()
        if self._conn is not None:
            self._conn.ended = True
        self._fail_next_open(ConnectionClosed("disconnect() was called", code, reason or ""))
        done: Outcome[None] = Outcome()
        self._teardown(lambda: done.set_result(None), code, reason)
        return done

    async def __aenter__(self) -> Socket:
        try:
            await self.connect()
        except BaseException:
            await self.disconnect()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.disconnect()

    def connection_state(self) -> SocketState:
        """connecting, open, closing or closed: the state of the current connection."""
        conn = self._conn
        return conn.ready_state() if conn is not None else SocketState.CLOSED

    def is_connected(self) -> bool:
        """Whether the connection is open."""
        conn = self._conn
        return conn is not None and conn.is_open()

    @property
    def buffered_amount(self) -> int:
        """Bytes pushed and not yet taken by the network (0 while disconnected)."""
        conn = self._conn
        transport = conn.transport if conn is not None else None
        return transport.buffered_amount if transport is not None else 0

    async def drain(self) -> None:
        """Waits until the socket accepts pushes again (``buffered_amount`` back under
        ``max_buffer``); returns at once when it does, and when the connection closes."""
        conn = self._conn
        transport = conn.transport if conn is not None else None
        if transport is not None:
            await transport.drain()

    async def ping(self) -> float | None:
        """Sends a heartbeat and measures the round trip.

        Returns:
            The round-trip time in seconds; None if the socket is not connected, or if the
            connection closes before the reply.
        """
        conn = self._conn
        if conn is None or not conn.is_open():
            return None
        ref = self.make_ref()
        outcome: Outcome[float | None] = Outcome()
        conn.pings[ref] = (self._now(), outcome)
        self._push(Message(None, ref, PHOENIX_TOPIC, EVENT_HEARTBEAT, {}))
        return await outcome

    # -- channels and callbacks ------------------------------------------------------------

    def channel(self, topic: str, params: JoinParams | None = None) -> Channel:
        """A new channel on ``topic`` (not joined yet: call ``join()``)."""
        channel = Channel(topic, params, self)
        self._topics[topic] = [*self._topics.get(topic, ()), channel]
        return channel

    def stream(
        self,
        events: str | Iterable[str] | None = None,
        *,
        topics: str | Iterable[str] | None = None,
        maxsize: int = 10_000,
        overflow: Literal["drop_oldest", "drop_newest", "error"] = "drop_oldest",
    ) -> SocketStream:
        """One async iterator over messages of many channels, for fan-in.

        Args:
            events: the event, or the events, to follow (None: every event but replies,
                closes and errors).
            topics: the topics to follow: a list, or a prefix such as ``"room:"`` (a
                ``str``); None follows every topic. Only messages that a channel of this
                socket would accept are queued (stale joins' are not).
            maxsize: the most messages queued; ``overflow`` says what happens past it, as
                for :meth:`Channel.stream`.

        It yields :class:`~phoenix_fast.Message` records (``batches()`` yields lists) and
        lives until ``close()``, across reconnects: use ``async with``.
        """
        names = [events] if isinstance(events, str) else events
        subjects = topics if isinstance(topics, str) or topics is None else list(topics)
        return SocketStream(
            self, None if names is None else list(names), subjects, maxsize, overflow
        )

    def on_open(self, callback: OpenCallback) -> str:
        """Calls ``callback()`` whenever a connection opens; returns a ref for ``off``."""
        return self._add_callback("open", callback)

    def on_close(self, callback: Callable[[CloseEvent], object]) -> str:
        """Calls ``callback(CloseEvent)`` whenever a connection closes; returns a ref."""
        return self._add_callback("close", callback)

    def on_error(self, callback: ErrorCallback) -> str:
        """Calls ``callback(exception)`` whenever a connection fails; returns a ref.

        As in JS, a callback requiring more positional parameters also gets the transport
        factory in use and the number of connections established so far:
        ``callback(exception, transport, established_connections)`` (a ``*args`` callable,
        ``logger.error`` say, gets the exception alone).
        """
        return self._add_callback("error", callback)

    def on_message(self, callback: MessageCallback) -> str:
        """Calls ``callback(Message)`` for every message received; returns a ref."""
        return self._add_callback("message", callback)

    def off(self, refs: Iterable[str]) -> None:
        """Removes the ``on_open/on_close/on_error/on_message`` callbacks with these refs."""
        drop = set(refs)
        for kind, callbacks in self._callbacks.items():
            self._callbacks[kind] = [(r, cb) for r, cb in callbacks if r not in drop]

    @property
    def transport_name(self) -> str:
        """The transport in use, or to be used by the next connect: ``"websocket"``,
        ``"longpoll"``, or the class name of a custom transport."""
        conn = self._conn
        transport = conn.transport if conn is not None else None
        if transport is not None:
            return _transport_name(type(transport))
        return _transport_name(self._transport_factory)

    def __repr__(self) -> str:
        state = self.connection_state().value
        channels = sum(len(on_topic) for on_topic in self._topics.values())
        return (
            f"<Socket {redact_url(self.endpoint)} {state} via {self.transport_name}, "
            f"{channels} channels>"
        )

    def _add_callback(self, kind: str, callback: Callable[..., object]) -> str:
        ref = self.make_ref()
        self._callbacks[kind] = [*self._callbacks[kind], (ref, callback)]
        return ref


def _transport_name(factory: object) -> str:
    name = getattr(factory, "__name__", type(factory).__name__)
    known = {
        "WebSocketTransport": "websocket",
        "LongPoll": "longpoll",
        "LongPollFactory": "longpoll",
    }
    return known.get(name, name)


def _default_transport() -> TransportFactory:
    from phoenix_fast.transports.websocket import WebSocketTransport

    return WebSocketTransport
