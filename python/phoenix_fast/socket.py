"""``Socket``: the connection to a Phoenix endpoint, with heartbeat, reconnect and routing."""

from __future__ import annotations

import asyncio
import logging
import ssl as _ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from phoenix_fast import _native
from phoenix_fast._arity import positional_arity
from phoenix_fast._backoff import Backoff, reconnect_after, rejoin_after, with_jitter
from phoenix_fast._bound_loop import BoundLoop
from phoenix_fast._callbacks import Callbacks
from phoenix_fast._connection import Connection
from phoenix_fast._constants import (
    CLOSE_WAIT,
    DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_LONGPOLLER_TIMEOUT,
    DEFAULT_MAX_BUFFER,
    DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_TIMEOUT,
    DEFAULT_VSN,
    EVENT_HEARTBEAT,
    PHOENIX_TOPIC,
    WS_CLOSE_NORMAL,
)
from phoenix_fast._deadlines import Deadlines
from phoenix_fast._endpoint import auth_protocols, endpoint_url, with_query
from phoenix_fast._fallback import (
    LONGPOLL,
    FallbackMemory,
    fallback_memory,
    is_longpoll,
    longpoll_factory,
    resolve_transport,
)
from phoenix_fast._logging import SocketLog
from phoenix_fast._observe import Observer, SocketStats
from phoenix_fast._outcome import Outcome
from phoenix_fast._redact import Redactor, redact_url
from phoenix_fast._router import Router
from phoenix_fast._sender import Sender
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
from phoenix_fast.errors import ConnectError, ConnectionClosed, HeartbeatTimeout
from phoenix_fast.message import Message
from phoenix_fast.protocol.connection import (
    CheckHealth,
    CloseTransport,
    ConnectionMachine,
    FailedAttempt,
    FellBack,
    HeartbeatTimedOut,
    OpenTransport,
    Output,
    ReconnectScheduled,
    RememberFallback,
    SendHeartbeat,
    Step,
    SwitchToFallback,
)
from phoenix_fast.protocol.fallback import FallbackPolicy
from phoenix_fast.push import Push
from phoenix_fast.serializers._version import vsn_major
from phoenix_fast.serializers.native import default_codec, default_decoder, default_encoder
from phoenix_fast.transports.base import (
    Decoder,
    Encoder,
    TransportFactory,
    TransportOptions,
    options_from_fields,
)

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["Socket"]


class Socket:
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
        local_address: the local IP address to connect from (None: the system chooses).
            Spreading sockets over several local addresses lifts the limit of one
            address's ephemeral ports (about 28,000 to one server address under Linux).
        observer: ``observer(event, data)``, called on connects, closes, connection
            errors, channel errors, joins, rejoins and every push outcome (the events and
            their data are listed in ``phoenix_fast._observe``). None (the default) costs
            one ``is None`` test per reply. A raising observer is logged.
            ``socket.observer`` may also be set later.
        observe_pushes: False keeps ``"push"`` events from the observer, for an observer
            that only follows the connection and the channels: building a push event costs
            about 0.7 µs per reply, skipping it one ``is None`` test.

    The decisions about the connection (when to heartbeat, reconnect, fall back) are the
    connection machine's (``phoenix_fast.protocol.connection``); the socket carries out its
    actions and keeps one loop timer at its earliest deadline. ``stats()`` counts what
    went through.

    Raises:
        ValueError: a path endpoint without ``base``, or an unknown scheme or ``vsn``.
    """

    # Slots, not a __dict__: a socket has more attributes than CPython 3.11 keeps inline
    # (30), so each one's __dict__ was a real dict, made at the 31st attribute; slots make
    # every attribute load a fixed-offset read and take a GC-tracked dict off every socket.
    __slots__ = (
        "__weakref__",
        "_callbacks",
        "_codec",
        "_conn",
        "_counted",
        "_deadlines",
        "_decode",
        "_encode",
        "_fallback",
        "_fallback_memory",
        "_headers",
        "_health",
        "_log",
        "_longpoll",
        "_loop",
        "_machine",
        "_next_open",
        "_observe_pushes",
        "_observer",
        "_push_observer",
        "_reconnect_after",
        "_rejoin_after",
        "_router",
        "_sender",
        "_ssl",
        "_transport_factory",
        "auth_token",
        "compress",
        "connect_timeout",
        "endpoint",
        "local_address",
        "longpoller_timeout",
        "max_buffer",
        "max_message_size",
        "params",
        "timeout",
        "vsn",
    )

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
        observer: Observer | None = None,
        local_address: str | None = None,
        observe_pushes: bool = True,
    ) -> None:
        heartbeat_timeout = heartbeat_interval if heartbeat_timeout is None else heartbeat_timeout
        self._transport_factory = (
            resolve_transport(transport, longpoller_timeout) or _default_transport()
        )
        #: The LongPoll factory the socket falls back to, and the policy deciding when.
        self._longpoll: TransportFactory | None = None
        self._fallback: FallbackPolicy | None = None
        if long_poll_fallback and not is_longpoll(self._transport_factory):
            self._longpoll = longpoll_factory(longpoller_timeout)
            self._fallback = FallbackPolicy(long_poll_fallback)
        self._fallback_memory: FallbackMemory = fallback_memory
        if jitter != 0:  # 0, the default, leaves the backoffs as they are: no call per socket
            reconnect_after = with_jitter(reconnect_after, jitter)
            rejoin_after = with_jitter(rejoin_after, jitter)
        self._reconnect_after = reconnect_after
        self._rejoin_after = rejoin_after
        log = self._log = SocketLog(logger)
        self._observe_pushes = observe_pushes
        self._observer: Observer | None = None
        #: The observer when it wants push events, else None: what the reply path tests.
        self._push_observer: Observer | None = None
        self.observer = observer
        #: When to connect, heartbeat, reconnect and fall back: the decisions.
        self._machine = ConnectionMachine(
            heartbeat_interval=heartbeat_interval,
            heartbeat_timeout=heartbeat_timeout,
            reconnect_after=self._reconnect_after,
            fallback=self._fallback,
        )
        self._loop = BoundLoop()
        #: The pending pushes, and the one loop timer for them and the machine.
        self._deadlines = Deadlines(
            self._loop, self._machine, self._on_push_timeout, self._on_machine_deadline, log
        )
        self._callbacks = Callbacks(log)
        self._router = Router(
            log, self._callbacks, self._machine, self._on_ref, self._deadlines.pending, self._loop
        )
        self._sender = Sender(self, self._deadlines, self._loop, log)
        #: The current connection (None before the first connect and after a disconnect).
        self._conn: Connection | None = None
        #: What the transports of earlier connections counted: bytes in, bytes out, frames
        #: out (``stats()``).
        self._counted = [0, 0, 0]
        #: The WebSocket URL, without the query.
        self.endpoint = endpoint_url(endpoint, base)
        self.params: SocketParams = {} if params is None else params
        self.auth_token = auth_token
        self.vsn = vsn
        self.timeout = timeout
        self.max_message_size = max_message_size
        self.connect_timeout = connect_timeout
        self.compress = compress
        if max_buffer is not None and max_buffer <= 0:
            raise ValueError(f"max_buffer must be positive or None, not {max_buffer!r}")
        self.max_buffer = max_buffer
        #: The local IP address connections are made from (None: the system's choice).
        self.local_address = local_address
        # a tuple, shared and empty when there are none (the usual case): nothing to track
        if isinstance(headers, Mapping):
            headers = headers.items()
        self._headers: tuple[tuple[str, str], ...] = tuple(headers) if headers else ()
        self._ssl = ssl
        self.longpoller_timeout = longpoller_timeout
        self._codec: _native.Codec | None = None
        if encode is None and decode is None:
            self._codec = default_codec(vsn_major(vsn))
            self._encode: Encoder = default_encoder(vsn_major(vsn))
            self._decode: Decoder = default_decoder(vsn_major(vsn))
        else:
            self._encode = encode or default_encoder(vsn_major(vsn))
            self._decode = decode or default_decoder(vsn_major(vsn))
        self._next_open: Outcome[None] | None = None
        #: The fallback's health-check ping of a just-opened WebSocket.
        self._health: asyncio.Future[float | None] | None = None

    @property
    def heartbeat_interval(self) -> float | None:
        """Seconds between a heartbeat reply and the next heartbeat (None: no heartbeats)."""
        return self._machine.heartbeat_interval

    @heartbeat_interval.setter
    def heartbeat_interval(self, seconds: float | None) -> None:
        self._machine.heartbeat_interval = seconds

    @property
    def heartbeat_timeout(self) -> float | None:
        """Seconds a heartbeat waits for its reply before the link is presumed dead."""
        return self._machine.heartbeat_timeout

    @heartbeat_timeout.setter
    def heartbeat_timeout(self, seconds: float | None) -> None:
        self._machine.heartbeat_timeout = seconds

    @property
    def established_connections(self) -> int:
        """How many connections opened so far."""
        return self._machine.connects

    def is_connected(self) -> bool:
        """Whether the connection is open."""
        conn = self._conn
        return conn is not None and conn.is_open()

    @property
    def observer(self) -> Observer | None:
        """Called on connects, closes, errors, joins, rejoins and push outcomes (None:
        nothing is); see the ``observer`` argument."""
        return self._observer

    @observer.setter
    def observer(self, observer: Observer | None) -> None:
        self._observer = observer
        self._push_observer = observer if self._observe_pushes else None

    def make_ref(self) -> str:
        """The next ref of this socket: "1", "2", ... (wrapping to "0"), as the JS client."""
        return self._deadlines.make_ref()

    @property
    def channels(self) -> list[Channel]:
        """The socket's channels (joined or not; a channel leaves the list when it closes)."""
        return self._router.channels()

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
        self._loop.check_thread()
        self._loop.bind()
        self._run(self._machine.connect(self._loop.time(), self._remembered()))
        return self._open_outcome()

    def disconnect(self, code: int = WS_CLOSE_NORMAL, reason: str | None = None) -> Awaitable[None]:
        """Closes the connection and stops reconnecting; channels stay, to rejoin on connect.

        Returns:
            An awaitable, optional to await, done once the transport confirmed the close (or
            after 1.5 s).
        """
        self._loop.check_thread()
        step = self._machine.disconnect(code, reason or "")
        self._fail_next_open(ConnectionClosed("disconnect() was called", code, reason or ""))
        self._cancel_health()
        done: Outcome[None] = Outcome()
        conn = self._conn
        if conn is None:
            done.set_result(None)
            return done
        self._run(step)

        def closed() -> None:
            if self._conn is conn:
                self._set_conn(None)
            done.set_result(None)

        conn.when_closed(CLOSE_WAIT, closed)
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
        conn.pings[ref] = (self._loop.time(), outcome)
        self._sender.push(Message(None, ref, PHOENIX_TOPIC, EVENT_HEARTBEAT, {}))
        return await outcome

    # -- channels and callbacks ------------------------------------------------------------

    def channel(self, topic: str, params: JoinParams | None = None) -> Channel:
        """A new channel on ``topic`` (not joined yet: call ``join()``)."""
        channel = Channel(topic, params, self)
        self._router.add(channel)
        if self._codec is not None and type(topic) is str:
            # frames decoded for this topic then carry this very string: routing finds it by
            # identity, and a channel costs one topic string instead of two (heap per
            # channel, S2: see the commit)
            self._codec.remember(topic)
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
        self._callbacks.remove(refs)

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
        channels = len(self._router)
        return (
            f"<Socket {redact_url(self.endpoint)} {state} via {self.transport_name}, "
            f"{channels} channels>"
        )

    def stats(self) -> SocketStats:
        """A snapshot of the socket's counters: connects, reconnects, drops, messages and
        bytes in and out, pending and queued pushes, buffered bytes, channels by state."""
        machine = self._machine
        bytes_in, bytes_out, frames_out = self._counted
        conn = self._conn
        transport = conn.transport if conn is not None else None
        if transport is not None:
            bytes_in += transport.bytes_in
            bytes_out += transport.bytes_out
            frames_out += transport.frames_out
        channels: dict[str, int] = {}
        queued = len(self._sender.buffer)
        for channel in self.channels:
            channels[channel.state.value] = channels.get(channel.state.value, 0) + 1
            queued += len(channel._push_buffer)
        return SocketStats(
            state=machine.phase.value,
            transport=self.transport_name,
            connects=machine.connects,
            reconnects=machine.reconnects,
            drops=machine.drops,
            messages_in=self._router.messages_in,
            messages_out=frames_out,
            bytes_in=bytes_in,
            bytes_out=bytes_out,
            pending_pushes=len(self._deadlines.pending),
            queued_pushes=queued,
            buffered_bytes=self.buffered_amount,
            channels=channels,
        )

    # -- the current connection, the observer, refs -----------------------------------------

    def _set_conn(self, conn: Connection | None) -> None:
        """Makes ``conn`` the current connection, counting what the previous one carried."""
        previous = self._conn
        if previous is not None:
            previous.current = False
            transport = previous.transport
            if transport is not None:
                counted = self._counted
                counted[0] += transport.bytes_in
                counted[1] += transport.bytes_out
                counted[2] += transport.frames_out
        if conn is not None:
            conn.current = True
        self._conn = conn
        self._router.yielded = None  # a pause of an earlier transport is not this one's

    def _observe(self, event: str, data: dict[str, Any]) -> None:
        """Tells the observer (the callers test ``self.observer`` first: no dict otherwise)."""
        observer = self._observer
        if observer is None:
            return
        try:
            observer(event, data)
        except Exception as exc:
            self._log.error("callback", f"the observer raised {exc!r}", exc)

    def _observe_push(self, push: Push, status: str) -> None:
        sent_at = push._deadline - push.timeout
        self._observe(
            "push",
            {
                "topic": push.channel.topic,
                "event": push.event,
                "status": status,
                "seconds": max(0.0, self._loop.time() - sent_at),
            },
        )

    def _on_push_timeout(self, push: Push) -> None:
        """A pending push's deadline passed (``Deadlines`` took it out of the table)."""
        push._resolve("timeout", {})
        if self._push_observer is not None:
            self._observe_push(push, "timeout")

    def _on_ref(self, conn: Connection, ref: str) -> None:
        """A message with a ref: a heartbeat reply, or the answer to a ``ping()``."""
        if self._machine.heartbeat_answered(ref, self._loop.time()):
            self._deadlines.rearm()
        if conn.pings:
            ping = conn.pings.pop(ref, None)
            if ping is not None:
                ping[1].set_result(self._loop.time() - ping[0])

    # -- carrying out the connection machine's decisions -----------------------------------

    def _remembered(self) -> bool:
        """Whether LongPoll is remembered for this endpoint (and the socket may fall back)."""
        fallback = self._fallback
        return (
            fallback is not None
            and not fallback.fell_back
            and self._fallback_memory.get(self.endpoint) == LONGPOLL
        )

    def _run(self, step: Step) -> None:
        """Carries out a machine step's actions in order, then re-arms the loop timer."""
        log = self._log
        for event in step.events:
            if isinstance(event, HeartbeatTimedOut):
                log.error("transport", "heartbeat timeout: reconnecting")
            elif isinstance(event, FellBack) and log.enabled:
                log("transport", f"falling back to LongPoll ({event.reason})")
            elif isinstance(event, ReconnectScheduled) and log.enabled:
                log("transport", f"reconnect attempt {event.tries} in {event.delay:.3f} s")
        for action in step.actions:
            self._perform(action)
        self._deadlines.rearm()

    def _perform(self, action: Output) -> None:
        if isinstance(action, OpenTransport):
            self._open_transport(action.generation)
        elif isinstance(action, SendHeartbeat):
            self._send_heartbeat()
        elif isinstance(action, CloseTransport):
            conn = self._conn
            if conn is None:
                return
            if action.abort:
                # the link is presumed dead: close at once, so channels error as disconnected
                conn.dropped = True  # the machine counted the drop as it decided this
                conn.close(action.code, action.reason, abort=True)
                self._connection_lost(conn, HeartbeatTimeout("no heartbeat reply in time"))
                if self._conn is conn:
                    self._trigger_chan_error("heartbeat_timeout")
            else:
                self._close_conn(conn, action.code, action.reason)
        elif isinstance(action, SwitchToFallback):
            assert self._longpoll is not None
            self._switch_transport(self._longpoll)
        elif isinstance(action, CheckHealth):
            self._start_health()
        elif isinstance(action, RememberFallback):
            if self._log.enabled:
                self._log("transport", "established LongPoll fallback")
            try:
                self._fallback_memory.remember(self.endpoint, LONGPOLL)
            except Exception as exc:  # the user's on_change hook
                self._log.error("callback", f"fallback_memory.on_change raised {exc!r}", exc)

    def _on_machine_deadline(self, now: float) -> None:
        """The loop timer reached the machine's deadline."""
        conn = self._conn
        self._run(self._machine.tick(now, self._remembered()))
        if conn is not None and conn is self._conn and not self._machine.current(conn.generation):
            # a close we asked for that never came: the socket went on without it
            self._set_conn(None)

    def _open_transport(self, generation: int) -> None:
        previous = self._conn
        conn = Connection(self, generation)
        self._set_conn(conn)
        if previous is not None and previous.is_open():
            self._trigger_chan_error("connection_closed", previous)
        conn.start(self.params, self.auth_token)

    def _transport_options(self, params: Mapping[str, Any], token: str | None) -> TransportOptions:
        url = with_query(self.endpoint, params, self.vsn)
        return options_from_fields(
            {
                "url": url,
                "encode": self._encode,
                "decode": self._decode,
                "protocols": auth_protocols(token) if token else None,
                "headers": list(self._headers),
                "ssl": self._ssl,
                "codec": self._codec,
                "max_message_size": self.max_message_size,
                "connect_timeout": self.connect_timeout,
                "compress": self.compress,
                "max_buffer": self.max_buffer,
                "local_address": self.local_address,
                "redactor": Redactor(url, token, [value for _, value in self._headers]),
            }
        )

    def _open_outcome(self) -> Outcome[None]:
        if self.is_connected():
            done: Outcome[None] = Outcome()
            done.set_result(None)
            return done
        if self._next_open is None:
            self._next_open = Outcome()
        return self._next_open

    def _fail_next_open(self, error: BaseException) -> None:
        outcome, self._next_open = self._next_open, None
        if outcome is not None:
            outcome.set_exception(error)

    def _close_conn(self, conn: Connection, code: int | None, reason: str) -> None:
        """Closes ``conn`` on our own initiative (disconnect): its pushes and pings fail,
        its channels error."""
        if conn.closing:
            return
        was_opened = not conn.is_connecting()
        conn.close(code, reason)
        self._connection_lost(conn, ConnectionClosed("the connection was closed", code))
        if was_opened:
            self._trigger_chan_error("connection_closed", conn)

    def _switch_transport(self, factory: TransportFactory) -> None:
        """Drops the connection and makes ``factory`` the transport of the next ones."""
        self._transport_factory = factory
        self._cancel_health()
        conn = self._conn
        if conn is None:
            return
        was_open = conn.is_open()
        self._set_conn(None)
        conn.close()
        self._connection_lost(conn, ConnectionClosed("the transport was replaced"))
        if was_open:
            self._trigger_chan_error("connection_closed", conn)

    def _replace_transport(self, factory: TransportFactory) -> None:
        """JS ``replaceTransport``: drops the connection and uses ``factory`` from the next
        ``connect()`` on."""
        self._run(self._machine.transport_replaced())
        self._switch_transport(factory)

    # -- the transport's reports (through ``Connection``) ---------------------------------

    def _on_conn_open(self, conn: Connection) -> None:
        step = self._machine.opened(conn.generation, self._loop.time(), conn.skip_heartbeat)
        if not step.events:
            return
        if self._log.enabled:
            self._log("transport", f"connected to {redact_url(self.endpoint)}")
        self._sender.flush()
        outcome, self._next_open = self._next_open, None
        if outcome is not None:
            outcome.set_result(None)
        # the fallback's health check and memory first, as before any user callback
        self._run(step)
        if self.observer is not None:
            self._observe(
                "connect",
                {"connects": self._machine.connects, "transport": self.transport_name},
            )
        self._callbacks.run_all(self._callbacks.open)
        for channel in self.channels:
            try:
                channel._on_socket_open()
            except Exception as exc:  # noqa: PERF203 - one failure must not stop the others
                self._log.error("channel", f"rejoining {channel.topic} failed", exc)

    def _on_conn_close(self, conn: Connection, event: CloseEvent) -> None:
        if self._log.enabled:
            self._log("transport", f"close {event.code} {event.reason!r}", event)
        drops = self._machine.drops
        step = self._machine.closed(conn.generation, self._loop.time(), event.code, event.reason)
        conn.dropped = conn.dropped or self._machine.drops > drops
        lost = ConnectionClosed("the connection closed", event.code, event.reason)
        self._connection_lost(conn, lost)
        switching = any(isinstance(action, SwitchToFallback) for action in step.actions)
        if not conn.was_open and not (switching or self._machine.holds_open()):
            # a failed attempt fails connect(), unless the fallback may still open
            self._fail_next_open(conn.error or _never_opened(event))
        self._trigger_chan_error("connection_closed", conn)
        self._run(step)
        self._callbacks.run_all(self._callbacks.close, event)
        if self.observer is not None:
            scheduled = [e for e in step.events if isinstance(e, ReconnectScheduled)]
            self._observe(
                "close",
                {
                    "code": event.code,
                    "reason": event.reason,
                    "by_us": conn.closing,
                    "was_open": conn.was_open,
                    "drop": conn.dropped,
                    "reconnect_in": scheduled[0].delay if scheduled else None,
                },
            )

    def _on_conn_error(self, conn: Connection, error: BaseException) -> None:
        next_open = self._next_open
        awaited = next_open is not None and next_open.awaited
        step = self._machine.error(conn.generation, self._loop.time(), error, awaited)
        first = any(isinstance(e, FailedAttempt) and e.first for e in step.events)
        if first:
            self._log.error(
                "transport", f"error: {error} (retrying; later failures at DEBUG)", error
            )
        elif self._log.enabled:
            self._log("transport", f"error: {error}", error)
        self._run(step)
        if self.observer is not None:
            self._observe("error", {"error": error, "first": first})
        # as JS: (error, transport, established connections), to those that require them;
        # *args callables (logger.error, print) get the error alone, as before
        args = (error, self._transport_factory, self.established_connections)
        for _, callback in self._callbacks.error:
            self._callbacks.run(callback, *args[: positional_arity(callback, 3, star=1)])
        for channel in self.channels:
            channel._on_socket_error()
        self._trigger_chan_error("connection_error", conn)

    def _trigger_chan_error(self, reason: str, conn: Connection | None = None) -> None:
        """Errors the channels that must rejoin once ``conn`` stopped being open."""
        conn = conn or self._conn
        errored_before = False
        if conn is not None and not conn.is_open():
            errored_before = conn.channels_errored
            conn.channels_errored = True
        payload = {"source": "transport", "reason": reason}
        for channel, join_ref in [(ch, ch.join_ref) for ch in self.channels]:
            # an earlier callback may have rejoined this channel meanwhile
            if channel.join_ref != join_ref:
                continue
            if (
                conn is not None
                and (errored_before or not conn.is_current())
                and not conn.carried(channel, join_ref)
            ):
                continue
            if channel.state in ("joined", "joining"):
                self._router.safe_trigger(channel, "phx_error", payload)

    def _connection_lost(self, conn: Connection, error: BaseException) -> None:
        """Fails, once, the pings and the awaiters of pushes that went out over ``conn``."""
        if conn.lost:
            return
        conn.lost = True
        pings, conn.pings = conn.pings, {}
        for _, outcome in pings.values():
            outcome.set_result(None)
        self._deadlines.fail_sent(lambda push: push._conn is conn, error)

    # -- heartbeat and the fallback's health check -----------------------------------------

    def _send_heartbeat(self) -> None:
        """Sends the heartbeat the machine asked for (nothing unless connected)."""
        if not self.is_connected() or self._machine.heartbeat_timeout is None:
            return
        ref = self.make_ref()
        self._sender.push(Message(None, ref, PHOENIX_TOPIC, EVENT_HEARTBEAT, {}))
        self._machine.heartbeat_sent(ref, self._loop.time())
        self._deadlines.rearm()

    def _start_health(self) -> None:
        self._cancel_health()
        health = self._health = asyncio.ensure_future(self.ping())
        health.add_done_callback(self._on_health)

    def _cancel_health(self) -> None:
        health, self._health = self._health, None
        if health is not None:
            health.cancel()

    def _on_health(self, task: asyncio.Future[float | None]) -> None:
        if task is self._health:
            self._health = None
        if task.cancelled() or task.exception() is not None or task.result() is None:
            return  # the connection closed first: its close tells what happened
        if self._machine.health_ok() and self._log.enabled:
            self._log("transport", f"WebSocket healthy (ping {task.result():.3f} s)")

    def _add_callback(self, kind: str, callback: Callable[..., object]) -> str:
        ref = self.make_ref()
        self._callbacks.add(kind, ref, callback)
        return ref


def _transport_name(factory: object) -> str:
    name = getattr(factory, "transport_name", None)
    if isinstance(name, str):
        return name
    return str(getattr(factory, "__name__", type(factory).__name__))


def _never_opened(event: CloseEvent) -> BaseException:
    return ConnectError(f"the connection closed before opening (code {event.code})")


_websocket: TransportFactory | None = None


def _default_transport() -> TransportFactory:
    """The WebSocket transport, imported on first use (an import statement in a function
    costs a lookup on every call: 1.3 us a socket)."""
    global _websocket
    if _websocket is None:
        from phoenix_fast.transports.websocket import WebSocketTransport

        _websocket = WebSocketTransport
    return _websocket
