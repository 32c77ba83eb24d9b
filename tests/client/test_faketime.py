"""The virtual-time loop the unit tests run on."""

from __future__ import annotations

import asyncio


async def test_sleep_takes_no_real_time() -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    await asyncio.sleep(3600)
    assert loop.time() - start == 3600


async def test_timers_fire_in_order_at_exact_times() -> None:
    loop = asyncio.get_running_loop()
    fired: list[tuple[str, float]] = []
    loop.call_later(2.5, lambda: fired.append(("b", loop.time())))
    loop.call_later(0.5, lambda: fired.append(("a", loop.time())))
    await asyncio.sleep(3)
    assert fired == [("a", 0.5), ("b", 2.5)]
