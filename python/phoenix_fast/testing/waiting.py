"""Waiting, in a test, for something the server or the client does asynchronously.

Every wall-clock bound of a test (how long ``wait_for`` polls, the limit of an
``asyncio.wait_for`` that guards a real loop, a thread's ``join``) is multiplied by one factor,
read from the environment variable ``PHOENIX_FAST_TIME_SCALE`` (1 when unset): on a slow or busy
machine, ``PHOENIX_FAST_TIME_SCALE=4`` gives every bound four times as long, so the tests wait
longer instead of failing. A bound only limits how long a test waits for a condition; it is
never what the test checks, so scaling it changes no verdict. Fake-time tests need no factor.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Callable

__all__ = ["TIME_SCALE_ENV", "scaled", "time_scale", "wait_for"]

TIME_SCALE_ENV = "PHOENIX_FAST_TIME_SCALE"
"""The environment variable that holds the factor for the tests' wall-clock bounds."""


def time_scale() -> float:
    """The factor for wall-clock bounds in tests: ``PHOENIX_FAST_TIME_SCALE``, 1 when unset.

    Raises:
        ValueError: the variable is set to something other than a finite number > 0.
    """
    raw = os.environ.get(TIME_SCALE_ENV, "").strip()
    if not raw:
        return 1.0
    try:
        factor = float(raw)
    except ValueError:
        factor = math.nan
    if not (math.isfinite(factor) and factor > 0):
        raise ValueError(
            f"{TIME_SCALE_ENV} must be a number > 0 (the factor for the tests' time bounds, "
            f"1 by default; 4 on a slow machine, say), not {raw!r}"
        )
    return factor


def scaled(seconds: float) -> float:
    """``seconds`` times :func:`time_scale`: a test's wall-clock bound on this machine."""
    return seconds * time_scale()


async def wait_for(
    predicate: Callable[[], object], timeout: float = 5.0, interval: float = 0.005
) -> None:
    """Polls ``predicate`` until it is true.

    Args:
        predicate: what to wait for (called every ``interval`` seconds).
        timeout: seconds on the loop clock before giving up, multiplied by
            :func:`time_scale` (``PHOENIX_FAST_TIME_SCALE``).
        interval: seconds between two checks.

    Raises:
        AssertionError: ``predicate`` was still false after the timeout (a failed test, not an
            error of the code under test).
    """
    loop = asyncio.get_running_loop()
    timeout = scaled(timeout)
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout:g} s")
        await asyncio.sleep(interval)
