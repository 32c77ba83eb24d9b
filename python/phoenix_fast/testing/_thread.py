"""Running the reference server in a background thread with its own event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

from .config import ServerConfig
from .context import ConnectInfo
from .server import ReferenceServer

__all__ = ["ServerThread"]

T = TypeVar("T")


def _new_loop(use_uvloop: bool) -> asyncio.AbstractEventLoop:
    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


class ServerThread:
    """A :class:`ReferenceServer` running in a daemon thread, for synchronous code.

    ::

        with ServerThread(max_channels=5000) as server:
            server.url  # "ws://127.0.0.1:PORT/socket"
            server.stop()   # clients see the connection drop
            server.start()  # same port again

    Args:
        config: Options; defaults to :class:`ServerConfig` ().
        use_uvloop: Run the server's loop on uvloop when it is installed.
        **options: Overrides of ``config`` fields.
    """

    def __init__(
        self, config: ServerConfig | None = None, *, use_uvloop: bool = False, **options: Any
    ) -> None:
        self.server = ReferenceServer(config, **options)
        self._use_uvloop = use_uvloop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def _ensure_thread(self) -> asyncio.AbstractEventLoop:
        if self._loop is not None:
            return self._loop
        loop = _new_loop(self._use_uvloop)
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        thread = threading.Thread(target=run, name="phoenix-fast-server", daemon=True)
        thread.start()
        ready.wait()
        self._loop, self._thread = loop, thread
        return loop

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``coro`` on the server's loop and return its result."""
        loop = self._ensure_thread()
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    def start(self) -> ServerThread:
        """Start (or restart, on the same port) the server; returns self."""
        self.call(self.server.start())
        return self

    def stop(self) -> None:
        """Stop the server (connections are closed) but keep the thread for a restart."""
        if self._loop is not None:
            self.call(self.server.stop())

    def restart(self) -> None:
        """Stop, then start again on the same port."""
        self.call(self.server.restart())

    def disconnect_all(self, code: int = 1001) -> None:
        """Close every client connection but keep listening."""
        self.call(self.server.disconnect_all(code))

    def close(self) -> None:
        """Stop the server and end the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            self.stop()
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            self._loop = self._thread = None

    async def _stats(self) -> dict[str, int]:
        return self.server.stats()

    async def _connect_log(self) -> list[ConnectInfo]:
        return self.server.connect_log

    def stats(self) -> dict[str, int]:
        """Counts of live objects on the server (see :meth:`ReferenceServer.stats`)."""
        return self.call(self._stats())

    @property
    def config(self) -> ServerConfig:
        """The server's options."""
        return self.server.config

    @property
    def port(self) -> int:
        """The bound port."""
        return self.server.port

    @property
    def url(self) -> str:
        """``ws://HOST:PORT/socket``."""
        return self.server.url

    @property
    def websocket_url(self) -> str:
        """``ws://HOST:PORT/socket/websocket``."""
        return self.server.websocket_url

    @property
    def longpoll_url(self) -> str:
        """``http://HOST:PORT/socket/longpoll``."""
        return self.server.longpoll_url

    @property
    def compress_url(self) -> str:
        """``ws://HOST:PORT/socket_compress``."""
        return self.server.compress_url

    @property
    def connect_log(self) -> list[ConnectInfo]:
        """Every connection attempt so far, oldest first."""
        if self._loop is None:
            return self.server.connect_log
        return self.call(self._connect_log())

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
