"""Raw clients and helpers for the reference server's tests."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
import pytest

from phoenix_fast.testing import ReferenceServer
from phoenix_fast.testing.waiting import scaled

TIMEOUT = scaled(5.0)


class Client:
    """A raw WebSocket client speaking JSON frames (V2 arrays or V1 objects)."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse):
        self.session = session
        self.ws = ws

    async def send(self, frame: Any) -> None:
        await self.ws.send_str(orjson.dumps(frame).decode())

    async def send_text(self, text: str) -> None:
        await self.ws.send_str(text)

    async def send_binary(self, data: bytes) -> None:
        await self.ws.send_bytes(data)

    async def recv_msg(self, timeout: float = TIMEOUT) -> aiohttp.WSMessage:
        return await self.ws.receive(timeout)

    async def recv(self, timeout: float = TIMEOUT) -> Any:
        msg = await self.ws.receive(timeout)
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        return orjson.loads(msg.data)

    async def recv_text(self, timeout: float = TIMEOUT) -> str:
        msg = await self.ws.receive(timeout)
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        return str(msg.data)

    async def recv_binary(self, timeout: float = TIMEOUT) -> bytes:
        msg = await self.ws.receive(timeout)
        assert msg.type is aiohttp.WSMsgType.BINARY, msg
        return bytes(msg.data)

    async def recv_n(self, n: int) -> list[Any]:
        return [await self.recv() for _ in range(n)]

    async def nothing(self, timeout: float = 0.05) -> None:
        """Assert that no frame arrives within ``timeout``."""
        with pytest.raises(asyncio.TimeoutError):
            msg = await self.ws.receive(timeout)
            print("unexpected", msg)

    async def join(self, topic: str, params: Any = None, join_ref: str = "1") -> Any:
        await self.send([join_ref, join_ref, topic, "phx_join", params or {}])
        return await self.recv()

    async def closed(self, timeout: float = TIMEOUT) -> int | None:
        """Wait for the server's close; return the close code."""
        while True:
            msg = await self.ws.receive(timeout)
            if msg.type is aiohttp.WSMsgType.CLOSE:
                return int(msg.data)
            if msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                return self.ws.close_code

    async def close(self) -> None:
        await self.ws.close()
        await self.session.close()


class Clients:
    """Opens clients to a server and closes them all at the end of a test."""

    def __init__(self, server: ReferenceServer) -> None:
        self.server = server
        self._open: list[Client] = []

    async def connect(
        self, query: str = "vsn=2.0.0", path: str = "/socket/websocket", **kwargs: Any
    ) -> Client:
        base = self.server.url.rsplit("/socket", 1)[0]
        session = aiohttp.ClientSession()
        try:
            ws = await session.ws_connect(f"{base}{path}?{query}", autoping=False, **kwargs)
        except BaseException:
            await session.close()
            raise
        client = Client(session, ws)
        self._open.append(client)
        return client

    async def close(self) -> None:
        for client in self._open:
            await client.close()


async def settle(server: ReferenceServer, timeout: float = 2.0) -> dict[str, int]:
    """Wait until the server has no sockets, channels or tasks left; return its stats."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        stats = server.stats()
        if not any(stats.values()) or asyncio.get_running_loop().time() > deadline:
            return stats
        await asyncio.sleep(0.01)


def reply(join_ref: Any, ref: Any, topic: str, status: str, response: Any) -> list[Any]:
    return [join_ref, ref, topic, "phx_reply", {"status": status, "response": response}]
