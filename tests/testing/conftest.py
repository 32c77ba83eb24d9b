"""Fixtures for the reference server's tests: a server per test and a pool of raw clients."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from refclient import Clients

from phoenix_fast.testing import ReferenceServer


@pytest.fixture
async def server() -> AsyncIterator[ReferenceServer]:
    async with ReferenceServer(close_timeout=0.5) as srv:
        yield srv


@pytest.fixture
async def clients(server: ReferenceServer) -> AsyncIterator[Clients]:
    pool = Clients(server)
    try:
        yield pool
    finally:
        await pool.close()
