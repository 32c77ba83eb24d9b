"""Fan-in benchmark: broadcasts to 2,000 channels of one socket, read four ways.

The reference server's ``load:*`` ``fanout`` broadcasts ``tick`` to every channel, round after
round; this client reads them:

- ``callbacks``: a plain callback bound on each channel (S3's way, the baseline);
- ``stream``: one ``socket.stream("tick", topics=prefix)`` read message by message;
- ``stream+handler``: the same stream read with ``batches()``, each message handed to a
  coroutine handler with at most 100 in flight;
- ``bounded``: a coroutine handler bound on each channel with ``max_concurrency=100``.

It prints events per second and the peak RSS growth of each, one JSON line per way.
``python benches/fanin.py [--channels N] [--rounds R] [--url URL]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import phoenix_fast
from phoenix_fast import Socket
from phoenix_fast.channel import Channel
from phoenix_fast.testing import ServerProcess

IN_FLIGHT = 100


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def handle(_payload: Any) -> None:
    """A handler that yields once, as one that awaits a database or an API would."""
    await asyncio.sleep(0)


async def by_callbacks(channels: list[Channel], expected: int, done: asyncio.Future[None]) -> None:
    count = 0

    def on_tick(_payload: Any) -> None:
        nonlocal count
        count += 1
        if count == expected:
            done.set_result(None)

    for channel in channels:
        channel.on("tick", on_tick)
    await done


async def by_stream(socket: Socket, prefix: str, expected: int) -> None:
    count = 0
    async with socket.stream("tick", topics=prefix, maxsize=1_000_000) as stream:
        async for _message in stream:
            count += 1
            if count == expected:
                return


async def by_stream_and_handler(socket: Socket, prefix: str, expected: int) -> None:
    count = 0
    slots = asyncio.Semaphore(IN_FLIGHT)
    finished = asyncio.Event()

    async def run(payload: Any) -> None:
        nonlocal count
        try:
            await handle(payload)
        finally:
            slots.release()
            count += 1
            if count == expected:
                finished.set()

    dispatched = 0
    tasks: set[asyncio.Future[None]] = set()
    async with socket.stream("tick", topics=prefix, maxsize=1_000_000) as stream:
        async for batch in stream.batches():
            for message in batch:
                await slots.acquire()
                task = asyncio.ensure_future(run(message.payload))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            dispatched += len(batch)
            if dispatched >= expected:
                break
        await finished.wait()


async def by_bounded(channels: list[Channel], expected: int, done: asyncio.Future[None]) -> None:
    count = 0

    async def on_tick(payload: Any) -> None:
        nonlocal count
        await handle(payload)
        count += 1
        if count == expected:
            done.set_result(None)

    for channel in channels:
        channel.on("tick", on_tick, max_concurrency=IN_FLIGHT)
    await done


async def one_way(url: str, way: str, n: int, rounds: int) -> dict[str, Any]:
    prefix = f"load:{uuid.uuid4().hex[:8]}-"
    socket = Socket(url)
    await socket.connect()
    channels = [socket.channel(f"{prefix}{i}") for i in range(n)]
    await asyncio.gather(*(channel.join() for channel in channels))
    expected = n * rounds
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    readers: dict[str, Callable[[], Awaitable[None]]] = {
        "callbacks": lambda: by_callbacks(channels, expected, done),
        "stream": lambda: by_stream(socket, prefix, expected),
        "stream+handler": lambda: by_stream_and_handler(socket, prefix, expected),
        "bounded": lambda: by_bounded(channels, expected, done),
    }
    reader = asyncio.ensure_future(readers[way]())
    await asyncio.sleep(0)
    before = rss()
    peak = before

    async def watch() -> None:
        nonlocal peak
        while True:
            peak = max(peak, rss())
            await asyncio.sleep(0.01)

    watcher = asyncio.ensure_future(watch())
    start = time.perf_counter()
    await channels[0].push("fanout", {"prefix": prefix, "count": n, "n": rounds, "size": 100})
    await reader
    seconds = time.perf_counter() - start
    watcher.cancel()
    await socket.disconnect()
    return {
        "way": way,
        "channels": n,
        "events": expected,
        "seconds": round(seconds, 4),
        "events_per_s": round(expected / seconds),
        "peak_rss_growth_mb": round((max(peak, rss()) - before) / 2**20, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--url", help="a server with the contract application (default: start one)")
    parser.add_argument(
        "--ways", nargs="+", default=["callbacks", "stream", "stream+handler", "bounded"]
    )
    args = parser.parse_args(argv)
    server = None if args.url else ServerProcess(max_channels=100_000).start()
    url = args.url or server.url  # type: ignore[union-attr]
    try:
        for way in args.ways:
            result = phoenix_fast.run(one_way(url, way, args.channels, args.rounds))
            print(json.dumps(result), flush=True)
    finally:
        if server is not None:
            server.stop()
    print(
        f"(max RSS of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
