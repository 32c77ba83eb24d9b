"""Outbound frame sinks: where a socket's frames go.

- :class:`RawWsOutput`: uncompressed WebSocket. Frames are framed here (server
  frames are unmasked) and coalesced into one buffer written straight to the
  transport once per loop turn, or at once past 256 KiB; producers of many
  frames call :meth:`Output.drain` to respect flow control.
- :class:`QueuedWsOutput`: per-message-deflate WebSocket. Frames go through
  aiohttp's writer (which owns the compressor) from one writer task, in order.
- LongPoll's buffer lives in :mod:`.longpoll`.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections import deque
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["CHUNK_SIZE", "Output", "OutputClosed", "QueuedWsOutput", "RawWsOutput", "ws_frame"]

CHUNK_SIZE = 256 * 1024
"""Size at which buffered frames are written without waiting for the end of the loop turn."""

_TEXT = 0x81
_BINARY = 0x82
_HEAD16 = struct.Struct("!BBH")
_HEAD64 = struct.Struct("!BBQ")


class OutputClosed(ConnectionError):
    """The peer is gone: nothing more can be written."""


def ws_header(first: int, length: int) -> bytes:
    """The header of an unmasked WebSocket frame (``first`` = FIN | opcode)."""
    if length < 126:
        return bytes((first, length))
    if length < 65536:
        return _HEAD16.pack(first, 126, length)
    return _HEAD64.pack(first, 127, length)


def ws_frame(data: bytes, binary: bool = False) -> bytes:
    """A complete unmasked WebSocket text (or binary) frame carrying ``data``."""
    return ws_header(_BINARY if binary else _TEXT, len(data)) + data


class Output:
    """A sink for a socket's outbound frames. All writes are synchronous and ordered."""

    raw = False
    """True when :meth:`write_raw` accepts pre-framed WebSocket text frames."""

    closed = False

    def send(self, binary: bool, data: bytes) -> None:
        """Queue one frame."""
        raise NotImplementedError

    def write_raw(self, frames: bytes) -> None:
        """Queue already framed WebSocket frames (only when :attr:`raw`)."""
        raise NotImplementedError

    def flush(self) -> None:
        """Hand everything queued to the transport now."""

    @property
    def paused(self) -> bool:
        """True while the peer is not keeping up (a producer should :meth:`drain`)."""
        return False

    async def drain(self) -> None:
        """Flush and wait until the peer has room; raise :class:`OutputClosed` if it is gone."""
        if self.closed:
            raise OutputClosed
        self.flush()

    async def settle(self) -> None:
        """Hand everything queued to the transport (before a close frame)."""
        self.flush()

    def close(self) -> None:
        """Drop anything queued; later writes are ignored."""
        self.closed = True

    async def aclose(self) -> None:
        """Close and release any resources."""
        self.close()


class RawWsOutput(Output):
    """Uncompressed WebSocket output writing coalesced frames to the transport."""

    raw = True

    def __init__(self, request: web.Request) -> None:
        transport = request.transport
        if transport is None:
            raise OutputClosed
        self._transport: asyncio.Transport = transport
        self._protocol: Any = request.protocol
        self._loop = asyncio.get_running_loop()
        self._buf = bytearray()
        self._scheduled = False

    def send(self, binary: bool, data: bytes) -> None:
        """Frame ``data`` and queue it."""
        if self.closed:
            return
        buf = self._buf
        n = len(data)
        first = _BINARY if binary else _TEXT
        if n < 126:
            buf.append(first)
            buf.append(n)
        else:
            buf += ws_header(first, n)
        buf += data
        self._after_write()

    def write_raw(self, frames: bytes) -> None:
        """Queue pre-framed frames."""
        if self.closed:
            return
        self._buf += frames
        self._after_write()

    def _after_write(self) -> None:
        if len(self._buf) >= CHUNK_SIZE:
            self.flush()
        elif not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._flush_soon)

    def _flush_soon(self) -> None:
        self._scheduled = False
        self.flush()

    def flush(self) -> None:
        """Write the buffer to the transport."""
        if not self._buf:
            return
        data, self._buf = self._buf, bytearray()
        if self.closed or self._transport.is_closing():
            self.closed = True
            return
        self._transport.write(data)

    @property
    def paused(self) -> bool:
        """True while the transport's write buffer is above its high-water mark."""
        return bool(getattr(self._protocol, "_paused", False))

    async def drain(self) -> None:
        """Flush, then wait for the transport to resume writing."""
        self.flush()
        if self.closed or self._transport.is_closing():
            self.closed = True
            raise OutputClosed
        if self.paused:
            try:
                await self._protocol._drain_helper()
            except ConnectionError:
                self.closed = True
                raise OutputClosed from None
        if self._transport.is_closing():
            self.closed = True
            raise OutputClosed

    def close(self) -> None:
        """Drop the buffer."""
        self.closed = True
        self._buf = bytearray()


class QueuedWsOutput(Output):
    """WebSocket output through aiohttp's writer (used when per-message deflate is on)."""

    _HIGH_WATER = 1024

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self._ws = ws
        self._queue: deque[tuple[bool, bytes]] = deque()
        self._wakeup = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task = asyncio.get_running_loop().create_task(self._writer())

    def send(self, binary: bool, data: bytes) -> None:
        """Queue one frame for the writer task."""
        if self.closed:
            return
        self._queue.append((binary, data))
        self._idle.clear()
        self._wakeup.set()
        if len(self._queue) > self._HIGH_WATER:
            self._room.clear()

    @property
    def paused(self) -> bool:
        """True while many frames wait for the writer task."""
        return not self._room.is_set()

    async def drain(self) -> None:
        """Wait until the writer task has caught up."""
        if self.closed:
            raise OutputClosed
        await self._room.wait()
        if self.closed:
            raise OutputClosed

    async def _writer(self) -> None:
        queue, ws = self._queue, self._ws
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                while queue:
                    binary, data = queue.popleft()
                    await ws.send_frame(data, WSMsgType.BINARY if binary else WSMsgType.TEXT)
                    if len(queue) <= self._HIGH_WATER // 2:
                        self._room.set()
                self._idle.set()
        except ConnectionError:
            pass
        finally:
            self._stop()

    def _stop(self) -> None:
        self.closed = True
        self._queue.clear()
        self._room.set()
        self._idle.set()

    async def settle(self) -> None:
        """Wait until every queued frame has been written."""
        await self._idle.wait()

    def close(self) -> None:
        """Stop the writer task and drop the queue."""
        self._stop()
        self._task.cancel()

    async def aclose(self) -> None:
        """Stop the writer task and wait for it."""
        self.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
