"""The transport seam: how a ``Socket`` talks to a connection, and how a connection answers.

A socket makes one transport instance per connection attempt by calling its factory
``transport(options, handler)``. The instance connects on its own (starting a task if it
needs one), then reports to ``handler``: ``transport_open()``, ``transport_messages(batch)``
for every network read, ``transport_error(exc)`` and finally ``transport_close(...)`` exactly
once. The socket sends with ``send(message)`` (only while open) and ends the connection with
``close(code, reason)``.

Transports know the wire (WebSocket framing, LongPoll's HTTP) and the frame codec given in
the options, never Phoenix's semantics (channels, refs, heartbeats).
"""

from __future__ import annotations

import asyncio
import functools
import os
import ssl as _ssl
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeAlias

from phoenix_fast._constants import DEFAULT_MAX_BUFFER, DEFAULT_MAX_MESSAGE_SIZE
from phoenix_fast._logging import LOGGER
from phoenix_fast._redact import Redactor, redact_url
from phoenix_fast._states import SocketState
from phoenix_fast.errors import DecodeError
from phoenix_fast.message import Message

if TYPE_CHECKING:
    from phoenix_fast import _native

__all__ = [
    "DrainWaiters",
    "NotAMessage",
    "Transport",
    "TransportFactory",
    "TransportHandler",
    "TransportOptions",
    "client_ssl",
    "decode_frame",
    "default_ssl_context",
    "describe_os_error",
    "guard",
    "local_bind",
    "options_from_fields",
]

#: ``encode(message) -> str | bytes``: str for a text frame, bytes for a binary frame.
Encoder: TypeAlias = Callable[[Message], "str | bytes"]
#: ``decode(frame) -> Message``; raises ``DecodeError`` for a malformed frame.
Decoder: TypeAlias = Callable[["str | bytes"], Message]


@dataclass(frozen=True)
class TransportOptions:
    """Everything a transport needs for one connection attempt.

    Attributes:
        url: the absolute URL with its query (``ws://host/socket/websocket?...&vsn=2.0.0``).
        protocols: the subprotocols to offer, or None.
        headers: extra HTTP headers for the handshake.
        ssl: as ``loop.create_connection`` takes it (None: a default verifying context for
            ``wss``; an ``SSLContext``; False only to disable TLS on wss, which is refused).
        codec: the native codec when the default serializer is used (lets the WebSocket
            transport decode while deframing); None with a custom ``encode``/``decode``.
        encode: message to frame, used when ``codec`` is None (and by transports that need it).
        decode: frame to message, used when ``codec`` is None.
        max_message_size: the largest message accepted from the server, in bytes.
        connect_timeout: seconds allowed for the TCP, TLS and HTTP upgrade handshakes.
        compress: offer permessage-deflate (WebSocket only); the server decides.
        local_address: the local IP address to connect from (None: the system's choice).
        max_buffer: bytes the transport may hold for a server that reads slower than we
            write; past them it sets ``write_blocked`` (None: no bound).
        redactor: scrubs this connection's secrets (params, token, header values) out of
            text a transport did not write itself, such as a library's exception.

    The URL, the subprotocols and the headers carry secrets: they are left out of the
    ``repr``, and messages show :attr:`shown_url` instead.
    """

    url: str = field(repr=False)
    encode: Encoder
    decode: Decoder
    protocols: list[str] | None = field(default=None, repr=False)
    headers: list[tuple[str, str]] = field(default_factory=list, repr=False)
    ssl: _ssl.SSLContext | bool | None = None
    codec: _native.Codec | None = None
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    connect_timeout: float = 10.0
    compress: bool = False
    max_buffer: int | None = DEFAULT_MAX_BUFFER
    local_address: str | None = None
    redactor: Redactor = field(default_factory=Redactor, repr=False)

    @property
    def shown_url(self) -> str:
        """The URL as messages show it: without its query (where the params travel)."""
        return redact_url(self.url)


def options_from_fields(fields: dict[str, Any]) -> TransportOptions:
    """``TransportOptions(**fields)`` for ``fields`` naming every field, made without the
    frozen dataclass's ``__init__``, which sets each field through ``object.__setattr__``:
    the socket makes one for every connection attempt, and a connect storm makes thousands
    (1.75 -> 0.25 µs, timeit). The result is the same frozen, equal-comparing object."""
    options = object.__new__(TransportOptions)
    options.__dict__.update(fields)
    return options


class TransportHandler(Protocol):
    """What a transport reports to (the socket's side of one connection)."""

    def transport_open(self) -> None:
        """The connection is open: ``send`` may be called."""

    def transport_messages(self, items: list[Any]) -> None:
        """Messages from one network read, in order: each a ``(join_ref, ref, topic, event,
        payload)`` tuple (a ``Message``, or an exact tuple from the native decoders, which
        unpacks faster) or an ``Exception`` (a ``DecodeError`` for a frame that could not
        be decoded)."""

    def transport_error(self, error: BaseException) -> None:
        """Something failed (the connect, the handshake, the framing); a close follows."""

    def transport_close(self, code: int | None, reason: str, was_clean: bool) -> None:
        """The connection is closed; called exactly once per transport instance."""


class Transport(ABC):
    """One connection over some wire; see the module docstring for the life cycle."""

    #: True for transports where Phoenix heartbeats make no sense (LongPoll).
    skip_heartbeat: ClassVar[bool] = False

    #: The name ``Socket.transport_name`` shows, and how the socket knows LongPoll (for its
    #: fallback) without importing it; a factory that is not the class says it too.
    transport_name: ClassVar[str | None] = None

    #: Bytes read from the network, counted per read (``socket.stats()`` adds them up).
    bytes_in: int = 0
    #: Bytes and frames handed to the network, counted per write, not per message.
    bytes_out: int = 0
    frames_out: int = 0

    #: True while the transport holds ``max_buffer`` bytes or more that the network has not
    #: taken: the socket then refuses pushes (``BufferFull``). A plain attribute, read on
    #: every push; a transport without flow control leaves it False.
    write_blocked: bool = False

    @property
    @abstractmethod
    def ready_state(self) -> SocketState:
        """connecting, open, closing or closed (WebSocket ``readyState``)."""

    @abstractmethod
    def send(self, message: Message) -> None:
        """Encodes and sends ``message``; only called while open.

        Raises:
            EncodeError: the message cannot be encoded (nothing was sent).
        """

    def send_fields(
        self, join_ref: str | None, ref: str | None, topic: str, event: str, payload: Any
    ) -> None:
        """``send`` of the message made of these fields (the socket's path for every push).

        The default makes the ``Message``; a transport may override it to skip that.
        """
        self.send(Message(join_ref, ref, topic, event, payload))

    @abstractmethod
    def close(self, code: int | None = None, reason: str = "") -> None:
        """Starts closing (idempotent); ``transport_close`` follows."""

    def abort(self, code: int | None = None, reason: str = "") -> None:
        """Drops the connection without waiting for a close handshake (the peer is presumed
        dead). A transport may first send a last close frame with ``code`` and ``reason``,
        for a peer that is alive after all (the WebSocket transport does, best effort).

        The default is ``close(code, reason)``; ``transport_close`` follows either way.
        """
        self.close(code, reason)

    def pause_reading(self) -> None:
        """Stops reading from the network until ``resume_reading``. The socket does this for
        one loop iteration after a read that queued messages in a stream, so that the
        stream's reader runs before the next read. The default does nothing."""
        return

    def resume_reading(self) -> None:
        """Reads again after ``pause_reading``."""
        return

    @property
    def buffered_amount(self) -> int:
        """Bytes accepted by ``send`` and not yet handed to the network."""
        return 0

    async def drain(self) -> None:
        """Waits until ``write_blocked`` is False (at once if it is, or once closed)."""
        return


@functools.cache
def default_ssl_context() -> _ssl.SSLContext:
    """The process's one default, verifying TLS context for ``wss``/``https``.

    Made once: ``ssl.create_default_context()`` loads the system's CA store, which took
    26 ms here, so a context per connection blocked the loop for 26 s over 1,000 ``wss``
    sockets. A context is safe to share between connections.
    """
    return _ssl.create_default_context()


def client_ssl(option: _ssl.SSLContext | bool | None, scheme: str) -> _ssl.SSLContext:
    """The TLS context for a secure connection given the socket's ``ssl`` option.

    Raises:
        ValueError: ``ssl=False`` with a secure scheme.
    """
    if isinstance(option, _ssl.SSLContext):
        return option
    if option is False:
        raise ValueError(f"ssl=False cannot be used with {scheme}://; pass an SSLContext instead")
    return default_ssl_context()


class DrainWaiters:
    """The coroutines waiting in a transport's ``drain()`` until writes are unblocked."""

    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        #: made on the first wait: most transports never have a waiter
        self._waiters: list[asyncio.Future[None]] | None = None

    async def wait(self, loop: asyncio.AbstractEventLoop) -> None:
        """Waits until :meth:`wake` is called."""
        waiter = loop.create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        await waiter

    def wake(self) -> None:
        """Lets every waiter go (writes are unblocked, or the connection closed)."""
        waiters, self._waiters = self._waiters or (), None
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


def describe_os_error(exc: BaseException) -> str:
    """An ``OSError`` in a few words: a TLS error's own text, the system's text for an
    errno ("Connection refused"), else its message, else its kind. Never a URL: none is in
    an OSError."""
    if isinstance(exc, _ssl.SSLError):
        return str(exc)
    if isinstance(exc, OSError):
        if exc.errno is not None and exc.errno > 0:
            return os.strerror(exc.errno)
        if exc.strerror:
            return exc.strerror
    return str(exc) or type(exc).__name__


class NotAMessage(DecodeError):
    """A frame that a custom decoder turned into something other than a message tuple."""

    def __init__(self, value: object) -> None:
        super().__init__(f"the decoder returned a {type(value).__name__}, not a Message")
        #: What the decoder returned.
        self.value = value


def decode_frame(decode: Decoder, frame: Any) -> Any:
    """``decode(frame)``, or the exception saying why the frame is dropped.

    The socket's receive loop takes message tuples and exceptions only (it unpacks each item
    without testing its type), so what a custom decoder returns is checked here, once.
    """
    try:
        message = decode(frame)
    except DecodeError as exc:
        return exc
    except Exception as exc:
        return DecodeError(f"the decoder raised {exc!r}")
    return message if isinstance(message, tuple) else NotAMessage(message)


def local_bind(address: str | None) -> tuple[str, int] | None:
    """What ``create_connection``'s ``local_addr`` takes for a local IP address: the
    address and any free port."""
    return None if address is None else (address, 0)


def guard(report: Callable[..., None], *args: Any) -> None:
    """Runs a handler report; a bug there must not break the transport, only be logged."""
    try:
        report(*args)
    except Exception:
        LOGGER.exception("the transport handler raised")


#: ``factory(options, handler) -> Transport``: a transport class, or any callable like one.
TransportFactory: TypeAlias = Callable[[TransportOptions, TransportHandler], Transport]
