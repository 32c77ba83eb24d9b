"""Waiting, in a test, for something the server or the client does asynchronously."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["wait_for"]


async def wait_for(
    predicate: Callable[[], object], timeout: float = 5.0, interval: float = 0.005
) -> None:
    """Polls ``predicate`` until it is true.

    Args:
        predicate: what to wait for (called every ``interval`` seconds).
        timeout: seconds on the loop clock before giving up.
        interval: seconds between two checks.

    Raises:
        AssertionError: ``predicate`` was still false after ``timeout`` seconds (a failed
            test, not an error of the code under test).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
