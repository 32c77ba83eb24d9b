"""Memory returns to its baseline after many pushes with replies (reference server)."""

from __future__ import annotations

import asyncio
import gc

from phoenix_fast.push import Push
from phoenix_fast.socket import Socket

PUSHES = 100_000
IN_FLIGHT = 100


def live_objects() -> tuple[int, int]:
    """(objects tracked by the collector, of which Push objects)."""
    gc.collect()
    objects = gc.get_objects()
    return len(objects), sum(1 for o in objects if type(o) is Push)


async def push_many(socket: Socket, topic: str, count: int) -> None:
    """Pushes ``count`` pings and awaits their replies, at most IN_FLIGHT at a time."""
    channel = socket.channel(topic)
    await channel.join()
    remaining = count

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            n = remaining
            assert await channel.push("ping", {"n": n}) == {"n": n}

    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    await channel.leave()


async def test_memory_returns_to_baseline_after_100k_pushes(phoenix_url: str) -> None:
    async with Socket(phoenix_url, heartbeat_interval=None) as socket:
        await push_many(socket, "echo:memory-warmup", 2_000)  # caches, codec, first allocations
        baseline, pushes_before = live_objects()
        await push_many(socket, "echo:memory", PUSHES)
        await asyncio.sleep(0)
        after, pushes_after = live_objects()
        assert len(socket._deadlines.pending) == 0
        assert socket._deadlines.pending.timers() == 0
        assert pushes_after == pushes_before, "pushes outlived their replies"
        # a few hundred objects of slack for loop internals; a leak would be >= 100,000
        assert after - baseline < 1_000, (baseline, after)
