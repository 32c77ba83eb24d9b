"""The reference server: the contract application on aiohttp, in the current event loop."""

from __future__ import annotations

import asyncio
from collections import deque
from types import TracebackType
from typing import Any

from aiohttp import web

from .app import route
from .config import ServerConfig
from .context import ConnectInfo, ServerContext
from .longpoll import MAX_BODY, LongPollEndpoint
from .websocket import CLOSE_SHUTDOWN, WebSocketEndpoint

__all__ = ["ReferenceServer"]


class _Running:
    """What exists while the server listens."""

    def __init__(self, ctx: ServerContext, runner: web.AppRunner) -> None:
        self.ctx = ctx
        self.runner = runner
        self.websocket = WebSocketEndpoint(ctx)
        self.compressed = WebSocketEndpoint(ctx, compress=True)
        self.longpoll = LongPollEndpoint(ctx)

    async def disconnect_all(self, code: int) -> None:
        await asyncio.gather(self.websocket.shutdown(code), self.compressed.shutdown(code))
        self.longpoll.shutdown()


class ReferenceServer:
    """A Phoenix-protocol server for the contract application, in the running event loop.

    Serves ``/socket/websocket``, ``/socket/longpoll`` and
    ``/socket_compress/websocket``. Use it as an async context manager::

        async with ReferenceServer(port=0, idle_timeout=0.5) as server:
            server.url  # "ws://127.0.0.1:PORT/socket"

    ``stop()`` then ``start()`` restarts it on the same port (state is lost, as
    when a Phoenix node restarts).

    Args:
        config: Options; defaults to :class:`ServerConfig` ().
        **options: Overrides of ``config`` fields (``port``, ``max_channels``, ...).
    """

    def __init__(self, config: ServerConfig | None = None, **options: Any) -> None:
        config = config or ServerConfig()
        self.config = config.replace(**options) if options else config
        self._port = self.config.port
        self._running: _Running | None = None
        self._connect_log: deque[ConnectInfo] = deque(maxlen=10_000)

    @property
    def running(self) -> bool:
        """True while the server listens."""
        return self._running is not None

    @property
    def host(self) -> str:
        """The bound host."""
        return self.config.host

    @property
    def port(self) -> int:
        """The bound port (known after the first start when ``port=0``)."""
        return self._port

    @property
    def _authority(self) -> str:
        host = self.config.host
        return f"[{host}]:{self._port}" if ":" in host else f"{host}:{self._port}"

    @property
    def url(self) -> str:
        """The socket endpoint for clients: ``ws://HOST:PORT/socket``."""
        return f"ws://{self._authority}/socket"

    @property
    def websocket_url(self) -> str:
        """``ws://HOST:PORT/socket/websocket``."""
        return f"{self.url}/websocket"

    @property
    def longpoll_url(self) -> str:
        """``http://HOST:PORT/socket/longpoll``."""
        return f"http://{self._authority}/socket/longpoll"

    @property
    def compress_url(self) -> str:
        """The per-message-deflate socket: ``ws://HOST:PORT/socket_compress``."""
        return f"ws://{self._authority}/socket_compress"

    @property
    def connect_log(self) -> list[ConnectInfo]:
        """Every connection attempt so far (accepted or not), oldest first."""
        return list(self._connect_log)

    def stats(self) -> dict[str, int]:
        """Counts of live sockets, channels, subscriptions, presences, tasks and sessions."""
        if self._running is None:
            return {}
        stats = self._running.ctx.stats()
        stats["longpoll_sessions"] = len(self._running.longpoll.sessions)
        return stats

    async def start(self) -> None:
        """Start listening (on the port of the previous run, if any)."""
        if self._running is not None:
            return
        config = self.config.replace(port=self._port)
        if config.workers > 1:  # one of several processes on the port: no fan-out
            from .workers import shared_port_route

            ctx = ServerContext(config, shared_port_route, self._connect_log)
        else:
            ctx = ServerContext(config, route, self._connect_log)
        app = web.Application(client_max_size=MAX_BODY)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        running = _Running(ctx, runner)
        router = app.router
        router.add_route("*", "/socket/websocket", running.websocket.handle)
        router.add_route("*", "/socket/longpoll", running.longpoll.handle)
        router.add_route("*", "/socket_compress/websocket", running.compressed.handle)
        await runner.setup()
        try:
            # a deep accept queue: load tests open hundreds of sockets at once, and a full
            # queue drops SYNs that the kernel only retries a second later
            reuse_port = True if config.workers > 1 else None
            site = web.TCPSite(
                runner, config.host, config.port, backlog=4096, reuse_port=reuse_port
            )
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._port = runner.addresses[0][1]
        self._running = running

    async def stop(self) -> None:
        """Close every connection (WebSocket code 1001) and stop listening."""
        running, self._running = self._running, None
        if running is None:
            return
        await running.disconnect_all(CLOSE_SHUTDOWN)
        await running.ctx.cancel_tasks()
        await running.runner.cleanup()

    async def restart(self) -> None:
        """Stop, then start again on the same port."""
        await self.stop()
        await self.start()

    async def disconnect_all(self, code: int = CLOSE_SHUTDOWN) -> None:
        """Close every client connection but keep listening (clients may reconnect)."""
        if self._running is not None:
            await self._running.disconnect_all(code)

    async def __aenter__(self) -> ReferenceServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
