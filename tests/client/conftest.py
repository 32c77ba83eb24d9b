"""Fixtures of the client tests: fake time for unit tests, real loops for integration tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from faketime import FakeTimeLoop


def _real_loops() -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    loops: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {"asyncio": asyncio.new_event_loop}
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is optional
        return loops
    loops["uvloop"] = uvloop.new_event_loop
    return loops


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]] | None:
    """Integration tests (``test_integration_*``, ``test_websocket*``) run on real loops,
    asyncio and uvloop; every other client test runs on fake time."""
    name = item.path.name
    if name.startswith(("test_integration", "test_websocket")):
        return _real_loops()
    return {"faketime": FakeTimeLoop}


@pytest.fixture
def loop_time() -> Callable[[], float]:
    """The running loop's clock."""
    return lambda: asyncio.get_running_loop().time()


@pytest.fixture
def events() -> list[Any]:
    """A list tests append callback calls to."""
    return []
