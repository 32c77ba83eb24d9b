"""A gate in front of the reference server for the fallback tests: it answers the WebSocket
path as the test wants (refused, opened then killed, or never answered) and forwards LongPoll
requests to the server untouched."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from aiohttp import web

FORWARDED = ("Content-Type", "Accept", "X-Phoenix-Longpoll-Token", "X-Phoenix-AuthToken")


class Gate:
    """``mode``: "refuse" (HTTP 403 to the upgrade), "flap" (the upgrade succeeds, then the
    connection is killed after ``kill_after`` seconds) or "hang" (no answer at all)."""

    def __init__(self, upstream: str, mode: str, kill_after: float = 0.05) -> None:
        self.upstream = upstream  # http://host:port/socket/longpoll
        self.mode = mode
        self.kill_after = kill_after
        self.websocket_attempts = 0
        self.longpoll_requests = 0
        self.url = ""
        self._client: aiohttp.ClientSession | None = None

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        self.websocket_attempts += 1
        if self.mode == "refuse":
            return web.Response(status=403, text="websockets are not allowed here")
        if self.mode == "hang":
            await asyncio.sleep(3600)
        ws = web.WebSocketResponse(protocols=("phoenix",), autoping=False)
        await ws.prepare(request)
        await asyncio.sleep(self.kill_after)
        if request.transport is not None:
            request.transport.abort()  # a middlebox killing the tunnel, no close frame
        return ws

    async def longpoll(self, request: web.Request) -> web.Response:
        self.longpoll_requests += 1
        assert self._client is not None
        headers = {k: v for k, v in request.headers.items() if k in FORWARDED}
        url = f"{self.upstream}?{request.query_string}" if request.query_string else self.upstream
        body = await request.read()
        async with self._client.request(request.method, url, headers=headers, data=body) as resp:
            data = await resp.read()
            return web.Response(status=resp.status, body=data, content_type="application/json")

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Gate]:
        app = web.Application()
        app.router.add_route("GET", "/socket/websocket", self.websocket)
        app.router.add_route("*", "/socket/longpoll", self.longpoll)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"ws://127.0.0.1:{runner.addresses[0][1]}/socket"
        self._client = aiohttp.ClientSession()
        try:
            yield self
        finally:
            await self._client.close()
            await runner.cleanup()
