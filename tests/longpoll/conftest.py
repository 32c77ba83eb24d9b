"""Fixtures of the LongPoll tests (the helpers live in ``longpoll_support``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping

import pytest
from aiohttp import web
from longpoll_support import FakeLongPoll, Recorder


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]] | None:
    """The integration tests (reference server) run on asyncio and on uvloop."""
    loops: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {"asyncio": asyncio.new_event_loop}
    if item.path.name in ("test_integration.py", "test_fallback.py"):
        try:
            import uvloop
        except ImportError:  # pragma: no cover - uvloop is optional
            return loops
        loops["uvloop"] = uvloop.new_event_loop
    return loops


@pytest.fixture
async def fake() -> AsyncIterator[FakeLongPoll]:
    """A fake LongPoll server on 127.0.0.1; ``fake.url`` is the socket's WebSocket URL."""
    server = FakeLongPoll()
    app = web.Application()
    app.router.add_route("*", "/socket/longpoll", server.handle)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.url = f"ws://127.0.0.1:{port}/socket/websocket?vsn=2.0.0"
    try:
        yield server
    finally:
        await runner.cleanup()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
