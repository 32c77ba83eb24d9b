"""Fast generation of many frames that differ only by a counter (``burst``, ``fanout``).

A message is encoded once with a marker number in place of the counter, split
around the marker, and then every frame is produced by bytes formatting; for
WebSocket the frame headers are included and a whole chunk of frames is made
by one ``%`` operation, then written to the transport in one call.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from .output import CHUNK_SIZE, ws_header

if TYPE_CHECKING:
    from .output import Output

__all__ = ["MARK", "CountedFrame", "stream"]

MARK = 7350918264519283746
"""Stand-in for the counter when encoding the template message."""

_MARK_BYTES = str(MARK).encode()


def _escape(data: bytes) -> bytes:
    return data.replace(b"%", b"%%")


class CountedFrame:
    """The text frames of a message whose only varying part is an integer counter."""

    def __init__(self, encoded: bytes) -> None:
        """Take a message encoded with :data:`MARK` as the counter (exactly once)."""
        parts = encoded.split(_MARK_BYTES)
        if len(parts) != 2:
            raise ValueError("the marker must appear exactly once")
        self._prefix, self._suffix = parts
        self._fixed = len(self._prefix) + len(self._suffix)
        self._format = _escape(self._prefix) + b"%d" + _escape(self._suffix)
        self._heads: dict[int, bytes] = {}

    def payload(self, i: int) -> bytes:
        """The frame payload for counter ``i``."""
        return self._format % i

    def payloads(self, start: int, stop: int) -> list[bytes]:
        """The payloads for counters ``start`` to ``stop - 1``."""
        fmt = self._format
        return [fmt % i for i in range(start, stop)]

    def size(self, i: int) -> int:
        """The size of the WebSocket frame for counter ``i``."""
        length = self._fixed + len(str(i))
        return length + len(ws_header(0x81, length))

    def ws_frame_of(self, counter: bytes) -> bytes:
        """The complete WebSocket text frame for a counter given as its decimal bytes."""
        length = self._fixed + len(counter)
        head = self._heads.get(length)
        if head is None:
            head = self._heads[length] = ws_header(0x81, length)
        return head + self._prefix + counter + self._suffix

    def ws_frame(self, i: int) -> bytes:
        """The complete WebSocket text frame for counter ``i``."""
        data = self.payload(i)
        return ws_header(0x81, len(data)) + data

    def ws_frames(self, start: int, stop: int) -> bytes:
        """The WebSocket text frames for counters ``start`` to ``stop - 1``, concatenated."""
        chunks = []
        a = start
        while a < stop:
            digits = len(str(a))
            b = min(stop, 10**digits)
            head = ws_header(0x81, self._fixed + digits)
            fmt = _escape(head + self._prefix) + b"%d" + _escape(self._suffix)
            chunks.append((fmt * (b - a)) % tuple(range(a, b)))
            a = b
        return b"".join(chunks)


async def stream(out: Output, frame: CountedFrame, n: int) -> None:
    """Send the frames for counters ``0 .. n-1`` to ``out`` in large writes, with flow control."""
    per = max(1, CHUNK_SIZE // frame.size(n))
    for start in range(0, n, per):
        stop = min(n, start + per)
        if out.raw:
            out.write_raw(frame.ws_frames(start, stop))
        else:
            for data in frame.payloads(start, stop):
                out.send(False, data)
        await out.drain()
        await asyncio.sleep(0)
