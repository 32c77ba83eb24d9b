"""The WebSocket transport: an ``asyncio.Protocol`` over ``loop.create_connection``.

RFC 6455 framing and the Phoenix decoding are done in one pass by the native ``WsClient``:
one native call per network read turns the bytes into decoded messages, and one per push
encodes, frames and queues it (``queue_fields``). Frames sent in the same loop iteration
wait in the client's send queue and are coalesced into a few ``transport.write`` calls (see
``FLUSH_EVERY``).

Flow control: while asyncio says the socket's write buffer is past its high-water mark
(``pause_writing``), frames are held in the queue instead of being written, and once the held bytes
and the write buffer reach ``max_buffer`` the transport sets ``write_blocked`` (the socket
then refuses pushes). ``resume_writing`` writes what was held and lifts the block.

With ``options.compress`` the handshake offers permessage-deflate (RFC 7692) and the server
decides; compressed messages from the server are then inflated natively. Our own frames
always go out uncompressed, which the RFC allows (compressing a message is the sender's
choice).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, cast
from urllib.parse import urlsplit

from phoenix_fast import _native
from phoenix_fast._constants import WS_CLOSE_NORMAL
from phoenix_fast._states import SocketState
from phoenix_fast.errors import ConnectError, ProtocolError
from phoenix_fast.message import Message
from phoenix_fast.transports.base import (
    DrainWaiters,
    Transport,
    TransportHandler,
    TransportOptions,
    client_ssl,
    decode_frame,
    describe_os_error,
    guard,
    local_bind,
)

__all__ = ["WebSocketTransport"]

#: How long we wait for the server's close frame (then the TCP connection is aborted).
CLOSE_TIMEOUT = 2.0

#: Frames sent in one loop iteration are written together, but in chunks of at most this
#: many: the server starts on the first chunk while we are still encoding the next, instead
#: of the two sides taking turns (with 100 pushes in flight, S4, about twice the reply rate).
#: 24 since the native push lane made a push cheaper: in three interleaved S4 series of 30-40
#: rounds against the reference server, 24 gave 237-242k replies/s and a p99 of 0.638-0.714
#: ms where 32 gave 218-222k and 0.782-0.809 (CHANGELOG, session 7).
FLUSH_EVERY = 24

_OPEN, _CLOSING, _CLOSED = SocketState.OPEN, SocketState.CLOSING, SocketState.CLOSED
#: (a module constant: ``SocketState.X`` costs 75 ns on Python 3.11, EnumType's __getattr__)
_CONNECTING = SocketState.CONNECTING


class WebSocketTransport(Transport, asyncio.Protocol):
    """A WebSocket connection (``ws://`` or ``wss://``); see ``transports.base`` for the API."""

    #: A plain attribute rather than the base's property: the receive path reads it for
    #: every message.
    ready_state: SocketState = SocketState.CONNECTING
    transport_name = "websocket"

    def __init__(self, options: TransportOptions, handler: TransportHandler) -> None:
        self._options = options
        self._handler = handler
        self.ready_state = _CONNECTING
        self._loop = asyncio.get_running_loop()
        #: frames waiting for the network are queued in the client
        self._client = client = _native.WsClient(
            options.codec, options.max_message_size, compress=options.compress
        )
        # the client schedules or makes the flush of what it queues (or holds it while
        # writing is paused): the transport's flush policy, in one place
        client.set_writer(self, FLUSH_EVERY)
        if options.codec is not None:
            # With the default serializer a push is sent by one native call, which encodes,
            # frames and queues it: no Python frame per push (callgrind, S4: 34,306 ->
            # 32,737 instructions a round trip).
            self.send_fields = client.queue_fields  # type: ignore[method-assign]
        self._transport: asyncio.Transport | None = None
        self._paused = False
        #: asyncio asked us to stop writing (its buffer is past the high-water mark)
        self._write_paused = False
        #: bytes of the frames queued while writing is paused
        self._held = 0
        self._max_buffer = options.max_buffer
        self._drainers = DrainWaiters()
        #: our close frame (or the echo of the server's) went out: nothing more is written
        self._close_sent = False
        self._error_reported = False
        self._close_reported = False
        self._secure, self._host, self._port, self._host_header, self._target = _url_parts(
            options.url
        )
        self._timer: asyncio.TimerHandle | None = self._loop.call_later(
            options.connect_timeout, self._on_connect_timeout
        )
        self._task: asyncio.Task[None] | None = self._loop.create_task(self._connect())

    # -- Transport -----------------------------------------------------------------------

    @property
    def buffered_amount(self) -> int:
        queued = self._client.queued_size
        if self._transport is not None:
            queued += self._transport.get_write_buffer_size()
        return queued

    async def drain(self) -> None:
        if self.write_blocked and self.ready_state is _OPEN:
            await self._drainers.wait(self._loop)

    def pause_writing(self) -> None:
        self._write_paused = self._client.write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = self._client.write_paused = False
        self._held = 0
        self.write_blocked = False
        self._flush()
        if not self._write_paused:
            self._drainers.wake()

    def _hold(self, size: int) -> None:
        """A frame stays queued while writing is paused; past ``max_buffer`` (held
        bytes and asyncio's buffer together) the transport blocks writes."""
        self._held += size
        limit = self._max_buffer
        if limit is not None and self._transport is not None:
            if self._held + self._transport.get_write_buffer_size() >= limit:
                self.write_blocked = True

    def send(self, message: Message) -> None:
        if self._options.codec is not None:
            self.send_fields(*message)
        else:
            self._client.queue_frame(self._frame_custom(message))

    def send_fields(
        self, join_ref: str | None, ref: str | None, topic: str, event: str, payload: Any
    ) -> None:
        # with the default serializer, the native client's queue_fields stands in for this
        # (set in __init__)
        self._client.queue_frame(self._frame_custom(Message(join_ref, ref, topic, event, payload)))

    def _frame_custom(self, message: Message) -> bytes:
        """A WebSocket frame of what the user's ``encode`` makes of ``message``."""
        raw = self._options.encode(message)
        if isinstance(raw, str):
            return self._client.frame_text(raw)
        return self._client.frame_binary(bytes(raw))

    def _flush_soon(self) -> None:
        """Flushes at the end of this loop turn (the native client calls this, see
        ``queue_fields``, at the first frame it queues in a turn)."""
        self._loop.call_soon(self._flush)

    def close(self, code: int | None = None, reason: str = "") -> None:
        if self.ready_state is _CLOSING or self.ready_state is _CLOSED:
            return
        if self.ready_state is not _OPEN:
            # still connecting: give up at once
            self.ready_state = _CLOSING
            self._abort()
            self._report_close(code, reason, was_clean=False)
            return
        self.ready_state = _CLOSING
        self.resume_reading()  # the server's close frame must be read
        self._client.queue_control(self._client.frame_close(code or WS_CLOSE_NORMAL, reason))
        self._flush(force=True)
        self._close_sent = True
        self._set_timer(CLOSE_TIMEOUT, self._abort)

    def abort(self, code: int | None = None, reason: str = "") -> None:
        if self.ready_state is _CLOSED:
            return
        if code is not None and self.ready_state is _OPEN and self._transport is not None:
            # a last word for a peer that may be alive after all: written now, not awaited
            self._client.queue_control(self._client.frame_close(code, reason))
            self._flush(force=True)
            self._close_sent = True
        self._drop()

    def pause_reading(self) -> None:
        if self._transport is not None and self.ready_state is _OPEN and not self._paused:
            self._paused = True
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self._paused:
            self._paused = False
            if self._transport is not None and not self._transport.is_closing():
                self._transport.resume_reading()

    # -- connecting ----------------------------------------------------------------------

    async def _connect(self) -> None:
        try:
            ssl_context = client_ssl(self._options.ssl, "wss") if self._secure else None
            await self._loop.create_connection(
                lambda: self,
                self._host,
                self._port,
                ssl=ssl_context,
                server_hostname=self._host if ssl_context is not None else None,
                local_addr=local_bind(self._options.local_address),
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            shown = self._options.shown_url
            detail = self._options.redactor.scrub(describe_os_error(exc))
            self._fail(ConnectError(f"cannot connect to {shown}: {detail}"), exc)
        finally:
            self._task = None

    def _on_connect_timeout(self) -> None:
        self._timer = None
        if self.ready_state is _CONNECTING:
            shown = self._options.shown_url
            timeout = self._options.connect_timeout
            self._fail(ConnectError(f"connecting to {shown} timed out after {timeout} s"))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as ones
        self._transport = cast(asyncio.Transport, transport)
        if self.ready_state is not _CONNECTING:
            self._transport.abort()
            return
        request = self._client.handshake_request(
            self._host_header, self._target, self._options.protocols or [], self._options.headers
        )
        self._transport.write(request)

    # -- receiving -----------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self.bytes_in += len(data)
        opening = self.ready_state is _CONNECTING
        try:
            items = self._client.receive_handshake(data) if opening else self._client.feed(data)
        except Exception as exc:
            self._fail(self._handshake_error(exc) if opening else self._scrubbed(exc))
            return
        if items is None:
            return  # the handshake answer is not complete yet
        if opening:
            self._cancel_timer()
            self.ready_state = _OPEN
            guard(self._handler.transport_open)
        outgoing = self._client.take_outgoing()
        if outgoing:
            # control frames (pongs, the close echo) go out even while writing is paused
            self._client.queue_control(outgoing)
            self._flush(force=True)
            # with the server's close echoed, nothing may follow (RFC 6455 5.5.1), not even
            # frames that this read's messages make the bindings send below
            self._close_sent = self._client.closed
        if items and self.ready_state is _OPEN:
            self._deliver(items)
        if self._client.closed and self._transport is not None and self.ready_state is not _CLOSED:
            # the server closed: our reply went out above; the TCP close follows
            self.ready_state = _CLOSING
            self._transport.close()

    def _handshake_error(self, exc: Exception) -> Exception:
        """A failed upgrade as the user sees it: the URL (without its query) and why."""
        text = f"{self._options.shown_url}: {self._options.redactor.scrub(str(exc))}"
        if isinstance(exc, ProtocolError):
            return type(exc)(text)
        return ConnectError(text, getattr(exc, "status", None))

    def _scrubbed(self, exc: Exception) -> Exception:
        """``exc`` itself, unless its text carries a secret (then a copy without it)."""
        text = str(exc)
        clean = self._options.redactor.scrub(text)
        if clean == text and isinstance(exc, ProtocolError):
            return exc
        return ProtocolError(clean)

    def _deliver(self, items: list[Any]) -> None:
        if self._options.codec is None:
            items = [self._decode(item) for item in items]
        guard(self._handler.transport_messages, items)

    def _decode(self, item: Any) -> Any:
        if isinstance(item, Exception):
            return item
        return decode_frame(self._options.decode, item)

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self.ready_state is _CONNECTING:
            self._fail(ConnectError("the connection closed during the WebSocket handshake"))
            return
        client = self._client
        if client.closed:
            self._report_close(client.close_code, client.close_reason, was_clean=True)
        else:
            self._report_close(None, "", was_clean=False)

    # -- sending and closing -------------------------------------------------------------

    def _flush(self, force: bool = False) -> None:
        """Writes the frames sent so far, unless writing is paused (``force``: even then)."""
        client = self._client
        client.flush_scheduled = False
        if self._close_sent:
            client.clear_queued()
            return
        if self._write_paused and not force:
            return
        transport = self._transport
        if transport is not None and not transport.is_closing():
            taken = client.take_queued()
            if taken is not None:
                frames, data = taken
                self.frames_out += frames
                self.bytes_out += len(data)
                self._held = 0
                transport.write(data)

    def _fail(self, error: BaseException, cause: BaseException | None = None) -> None:
        """Reports ``error`` and drops the connection; a close report follows."""
        if cause is not None:
            error.__cause__ = cause
        if not self._error_reported and self.ready_state is not _CLOSED:
            self._error_reported = True
            self._handler.transport_error(error)
        self._drop()

    def _drop(self) -> None:
        """Drops the connection now. Connected, ``connection_lost`` reports the close; still
        connecting, it is reported here."""
        self.ready_state = _CLOSING
        connected = self._transport is not None
        self._abort()
        if not connected:
            self._report_close(None, "", was_clean=False)

    def _abort(self) -> None:
        self._cancel_timer()
        if self._transport is not None:
            # connected: the connect task may still be waking up from create_connection
            # (data can arrive first, on uvloop), and cancelling it there can swallow the
            # connection_lost that reports our close; abort the transport alone
            self._transport.abort()
        elif self._task is not None:
            self._task.cancel()
            self._task = None

    def _report_close(self, code: int | None, reason: str, *, was_clean: bool) -> None:
        self._cancel_timer()
        self.ready_state = _CLOSED
        self._client.clear_queued()
        self._held = 0
        self.write_blocked = False
        self._drainers.wake()
        if not self._close_reported:
            self._close_reported = True
            self._handler.transport_close(code, reason, was_clean)

    def _set_timer(self, delay: float, callback: Any) -> None:
        self._cancel_timer()
        self._timer = self._loop.call_later(delay, callback)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


@functools.lru_cache(maxsize=256)
def _url_parts(url: str) -> tuple[bool, str, int, str, str]:
    """(secure, host, port, Host header, request target) of a ``ws(s)://`` URL.

    Cached: a socket reconnects to the same URL, and a load test opens thousands of sockets
    to one: the transport's set-up went from 7.8 to 6.2 µs (timeit).
    """
    parts = urlsplit(url)
    secure = parts.scheme == "wss"
    port = parts.port or (443 if secure else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return secure, parts.hostname or "", port, parts.netloc.rpartition("@")[2], target
