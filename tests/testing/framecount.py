"""A raw WebSocket frame counter, to measure how fast the reference server emits frames.

It performs the handshake by hand, joins ``echo:x``, asks for a ``burst`` and counts
frames by parsing WebSocket headers only (no payload decoding), so it is much
cheaper per frame than any Phoenix client.

Run: ``python tests/testing/framecount.py [--bytes] [n] [size]`` (starts a server
process), or ``python tests/testing/framecount.py n size ws://HOST:PORT/socket``.
``--bytes`` only counts bytes (checking the exact total and the last frame), to
measure the server rather than the counter.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys
import time
from urllib.parse import urlsplit

__all__ = ["burst_bytes", "count_burst"]


def burst_bytes(n: int, size: int) -> int:
    """The exact number of bytes of the WebSocket frames of ``burst`` on ``echo:x`` (V2)."""
    join = (
        b'["1","1","echo:x","phx_reply",{"response":{"joined":"echo:x","params":{}},"status":"ok"}]'
    )
    sent = b'["1","2","echo:x","phx_reply",{"response":{"sent":%d},"status":"ok"}]' % n
    base = len(b'["1",null,"echo:x","burst_msg",{"data":"%s","i":}]' % (b"x" * size))
    total = 0
    for payload in (len(join), len(sent), *(base + len(str(i)) for i in range(n))):
        total += payload + (2 if payload < 126 else 4 if payload < 65536 else 10)
    return total


def _client_frame(text: bytes) -> bytes:
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(text))
    assert len(text) < 126
    return bytes((0x81, 0x80 | len(text))) + mask + masked


class _ByteCounter(asyncio.Protocol):
    """Counts bytes only: the cheapest possible reader, to see the server's own rate."""

    def __init__(self, expected: int) -> None:
        self.buf = bytearray()
        self.received = 0
        self.expected = expected
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.upgraded: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        if not self.upgraded.done():
            self.buf += data
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            data = bytes(self.buf[end + 4 :])
            self.upgraded.set_result(None)
        self.received += len(data)
        self.tail = data[-64:]
        if self.received >= self.expected and not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(ConnectionError(f"closed after {self.received} bytes"))


class _Counter(asyncio.Protocol):
    def __init__(self, expected: int) -> None:
        self.buf = bytearray()
        self.handshaken = False
        self.frames = 0
        self.expected = expected
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.upgraded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.first_at = 0.0

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.handshaken:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.upgraded.set_exception(ConnectionError(bytes(buf[:end]).decode()))
                return
            del buf[: end + 4]
            self.handshaken = True
            self.upgraded.set_result(None)
        pos, n, frames = 0, len(buf), 0
        while n - pos >= 2:
            length = buf[pos + 1] & 0x7F
            if length < 126:
                size = 2 + length
            elif length == 126:
                if n - pos < 4:
                    break
                size = 4 + int.from_bytes(buf[pos + 2 : pos + 4], "big")
            else:
                if n - pos < 10:
                    break
                size = 10 + int.from_bytes(buf[pos + 2 : pos + 10], "big")
            if n - pos < size:
                break
            pos += size
            frames += 1
        del buf[:pos]
        if frames and not self.frames:
            self.first_at = time.perf_counter()
        self.frames += frames
        if self.frames >= self.expected and not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(ConnectionError(f"closed after {self.frames} frames"))


async def count_burst(url: str, n: int, size: int, bytes_only: bool = False) -> tuple[int, float]:
    """Join ``echo:x`` at ``url`` (``ws://H:P/socket``), burst ``n`` x ``size``; frames and seconds.

    The time runs from the burst push to the last frame. With ``bytes_only`` the
    client counts bytes up to :func:`burst_bytes` instead of parsing frame headers.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    proto: _Counter | _ByteCounter
    if bytes_only:
        expected = burst_bytes(n, size)
        transport, proto = await loop.create_connection(lambda: _ByteCounter(expected), host, port)
    else:
        # join reply + burst reply + n messages
        transport, proto = await loop.create_connection(lambda: _Counter(n + 2), host, port)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                f"GET {parts.path}/websocket?vsn=2.0.0 HTTP/1.1\r\nHost: {host}:{port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        await proto.upgraded
        transport.write(_client_frame(b'["1","1","echo:x","phx_join",{}]'))
        start = time.perf_counter()
        body = b'["1","2","echo:x","burst",{"n":%d,"size":%d}]' % (n, size)
        transport.write(_client_frame(body))
        await proto.done
        elapsed = time.perf_counter() - start
        if isinstance(proto, _ByteCounter):
            assert proto.received == proto.expected, (proto.received, proto.expected)
            assert proto.tail.endswith(b'"i":%d}]' % (n - 1)), proto.tail
            return n, elapsed
        return proto.frames - 2, elapsed
    finally:
        transport.close()


def _main() -> None:
    bytes_only = "--bytes" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--bytes"]
    n = int(args[0]) if args else 200_000
    size = int(args[1]) if len(args) > 1 else 100
    if len(args) > 2:
        frames, secs = asyncio.run(count_burst(args[2], n, size, bytes_only))
    else:
        from phoenix_fast.testing import ServerProcess

        with ServerProcess() as server:
            frames, secs = asyncio.run(count_burst(server.url, n, size, bytes_only))
    mode = "bytes counted" if bytes_only else "headers parsed"
    print(
        f"{frames} frames of {size} B data in {secs:.3f} s ({mode}): {frames / secs:,.0f} frames/s"
    )


if __name__ == "__main__":
    _main()
