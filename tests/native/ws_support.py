"""Driving the native WebSocket client over TCP against the `websockets` library's server.

Shared by the framing tests and the permessage-deflate tests: a `RawClient` (a TCP
connection whose bytes go through `_native.WsClient`) and `start_servers`, which starts
`websockets` servers on 127.0.0.1 and closes them all afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from phoenix_fast import _native
from phoenix_fast.testing.waiting import scaled

Handler = Callable[[ServerConnection], Awaitable[None]]
Start = Callable[..., Awaitable[int]]


class RawClient:
    """A TCP connection driven by a WsClient; counts the bytes read from the wire."""

    def __init__(
        self, ws: _native.WsClient, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.ws, self.reader, self.writer = ws, reader, writer
        self.items: list[Any] = []
        self.wire_bytes = 0

    async def handshake(self, port: int, protocols: list[str] | None = None) -> None:
        request = self.ws.handshake_request(
            f"127.0.0.1:{port}", "/ws?vsn=2.0.0", protocols or [], []
        )
        self.writer.write(request)
        while True:
            data = await self.reader.read(65536)
            assert data, "server closed during the handshake"
            self.wire_bytes += len(data)
            items = self.ws.receive_handshake(data)
            if items is not None:
                self.items.extend(items)
                self.writer.write(self.ws.take_outgoing())
                return

    async def receive(self, count: int) -> list[Any]:
        """The next ``count`` items (fewer if the server closes first)."""
        while len(self.items) < count:
            data = await asyncio.wait_for(self.reader.read(262144), scaled(5))
            if not data:
                break
            self.wire_bytes += len(data)
            self.items.extend(self.ws.feed(data))
            self.writer.write(self.ws.take_outgoing())
        taken, self.items = self.items[:count], self.items[count:]
        return taken

    def close(self) -> None:
        self.writer.close()


async def open_client(port: int, codec: _native.Codec | None = None, **options: Any) -> RawClient:
    """A RawClient connected to ``port`` (the handshake not done yet)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    return RawClient(_native.WsClient(codec, **options), reader, writer)


@asynccontextmanager
async def start_servers(**defaults: Any) -> AsyncIterator[Start]:
    """``start(handler, **options) -> port`` for `websockets` servers, closed on exit."""
    servers: list[Any] = []

    async def start(handler: Handler, **options: Any) -> int:
        srv = await serve(handler, "127.0.0.1", 0, **{**defaults, **options})
        servers.append(srv)
        return int(srv.sockets[0].getsockname()[1])

    try:
        yield start
    finally:
        for srv in servers:
            srv.close()
            await srv.wait_closed()
