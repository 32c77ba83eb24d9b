"""``Socket(..., compress=True)`` against the reference server's per-message-deflate socket
(``/socket_compress``, aiohttp's compressor), on real loops (asyncio and uvloop)."""

from __future__ import annotations

from typing import Any

from phoenix_fast.socket import Socket
from phoenix_fast.transports.websocket import WebSocketTransport

N, SIZE = 2000, 1000


def compress_url(phoenix_url: str) -> str:
    """``ws://HOST:PORT/socket`` -> ``ws://HOST:PORT/socket_compress``."""
    base, _, last = phoenix_url.rstrip("/").rpartition("/")
    assert last == "socket", phoenix_url
    return f"{base}/socket_compress"


def negotiated(socket: Socket) -> Any:
    conn = socket._conn
    assert conn is not None and isinstance(conn.transport, WebSocketTransport)
    return conn.transport._client


async def test_compressed_socket_joins_pushes_and_receives_a_burst(phoenix_url: str) -> None:
    async with Socket(compress_url(phoenix_url), compress=True) as socket:
        client = negotiated(socket)
        assert client.compressed
        assert client.extensions.startswith("permessage-deflate")
        channel = socket.channel("echo:x")
        await channel.join()
        assert await channel.push("ping", {"x": [1, "two"], "s": "é" * 300}) == {
            "x": [1, "two"],
            "s": "é" * 300,
        }
        stream = channel.stream("burst_msg", maxsize=N + 10)
        assert await channel.push("burst", {"n": N, "size": SIZE}) == {"sent": N}
        got: list[int] = []
        async for message in stream:
            assert len(message.payload["data"]) == SIZE
            got.append(message.payload["i"])
            if len(got) == N:
                break
        assert got == list(range(N))
        assert stream.dropped == 0
        stream.close()


async def test_compress_off_by_default_and_plain_socket_ignores_the_offer(phoenix_url: str) -> None:
    async with Socket(compress_url(phoenix_url)) as socket:
        assert not negotiated(socket).compressed
        channel = socket.channel("echo:x")
        await channel.join()
        assert await channel.push("ping", {"a": 1}) == {"a": 1}
    async with Socket(phoenix_url, compress=True) as socket:
        assert not negotiated(socket).compressed  # the plain endpoint answers without deflate
        channel = socket.channel("echo:x")
        await channel.join()
        assert await channel.push("ping", {"a": 2}) == {"a": 2}
