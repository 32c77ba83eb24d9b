"""phoenix_fast's side of the coalescing study: one scenario, one variant, one JSON line.

    python benches/coalesce/py_client.py <ws://host:port/socket> <s1|s4|serial|sparse> <variant> [n]

- ``s1``: a burst of ``n`` (50,000) 100-byte pushes to one channel, as benches/scenarios.py.
- ``s4``: ``n`` (20,000) pushes with replies, 100 in flight: rate, p50/p99 (ms).
- ``serial``: ``n`` (2,000) pings back to back, one in flight: rate, p50/p99 (ms).
- ``sparse``: ``n`` (500) pings, one every 10 ms, one at a time: p50/p99 round trip (ms).

``variant`` is a key of ``coalescing.VARIANTS``; the JSON carries the transport's read count.
Runs on uvloop, as the scenario benchmark does.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from coalescing import VARIANTS, CoalescingTransport

from phoenix_fast.socket import Socket

DEFAULT_N = {"s1": 50_000, "s4": 20_000, "sparse": 500, "serial": 2_000}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Run:
    def __init__(self, url: str, variant: type[CoalescingTransport]) -> None:
        self.url = url
        self.variant = variant
        self.transports: list[CoalescingTransport] = []

    def factory(self, options: Any, handler: Any) -> CoalescingTransport:
        transport = self.variant(options, handler)
        self.transports.append(transport)
        return transport

    async def connect(self) -> Socket:
        socket = Socket(self.url, transport=self.factory, heartbeat_interval=60.0, timeout=30.0)
        await socket.connect()
        return socket

    def reads(self) -> dict[str, Any]:
        return self.transports[-1].stats()

    async def s1(self, n: int) -> dict[str, Any]:
        socket = await self.connect()
        channel = socket.channel("echo:coalesce-s1")
        await channel.join()
        done = asyncio.get_running_loop().create_future()
        state = {"count": 0, "sum": 0}

        def on_msg(payload: Any) -> None:
            state["sum"] += payload["i"]
            state["count"] += 1
            if state["count"] == n:
                done.set_result(None)

        channel.on("burst_msg", on_msg)
        start, cpu = time.perf_counter(), time.process_time()
        await channel.push("burst", {"n": n, "size": 100})
        await done
        seconds = time.perf_counter() - start
        client_cpu = (time.process_time() - cpu) * 1e6 / n
        stats = {**self.reads(), "client_cpu_us": client_cpu}
        await socket.disconnect()
        if state["sum"] != n * (n - 1) // 2:
            raise RuntimeError("burst out of order or incomplete")
        return {"messages": n, "seconds": seconds, "rate": n / seconds, **stats}

    async def s4(self, n: int) -> dict[str, Any]:
        socket = await self.connect()
        channel = socket.channel("echo:coalesce-s4")
        await channel.join()
        latencies: list[float] = []
        sent = 0
        body = {"body": "x" * 64}

        async def worker() -> None:
            nonlocal sent
            while sent < n:
                sent += 1
                t = time.perf_counter()
                await channel.push("ping", body)
                latencies.append((time.perf_counter() - t) * 1000)

        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(100)))
        seconds = time.perf_counter() - start
        client_cpu = (time.process_time() - cpu) * 1e6 / n
        stats = {**self.reads(), "client_cpu_us": client_cpu}
        await socket.disconnect()
        return {
            "messages": n,
            "seconds": seconds,
            "rate": n / seconds,
            "p50_ms": percentile(latencies, 0.5),
            "p99_ms": percentile(latencies, 0.99),
            **stats,
        }

    async def serial(self, n: int) -> dict[str, Any]:
        """Back-to-back pings, one in flight: the worst case for a read held back after a
        small read (the reply to the next ping is small too, and we wait for it)."""
        socket = await self.connect()
        channel = socket.channel("echo:coalesce-serial")
        await channel.join()
        latencies: list[float] = []
        body = {"body": "x" * 64}
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            t = time.perf_counter()
            await channel.push("ping", body)
            latencies.append((time.perf_counter() - t) * 1000)
        seconds = time.perf_counter() - start
        client_cpu = (time.process_time() - cpu) * 1e6 / n
        stats = {**self.reads(), "client_cpu_us": client_cpu}
        await socket.disconnect()
        return {
            "messages": n,
            "seconds": seconds,
            "rate": n / seconds,
            "p50_ms": percentile(latencies, 0.5),
            "p99_ms": percentile(latencies, 0.99),
            **stats,
        }

    async def sparse(self, n: int) -> dict[str, Any]:
        socket = await self.connect()
        channel = socket.channel("echo:coalesce-sparse")
        await channel.join()
        latencies: list[float] = []
        body = {"body": "x" * 64}
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(n):
            # one ping every 10 ms, on a fixed schedule (not 10 ms after the last reply)
            await asyncio.sleep(max(0.0, start + i * 0.010 - time.perf_counter()))
            t = time.perf_counter()
            await channel.push("ping", body)
            latencies.append((time.perf_counter() - t) * 1000)
        seconds = time.perf_counter() - start
        client_cpu = (time.process_time() - cpu) * 1e6 / n
        stats = {**self.reads(), "client_cpu_us": client_cpu}
        await socket.disconnect()
        return {
            "messages": n,
            "seconds": seconds,
            "p50_ms": percentile(latencies, 0.5),
            "p99_ms": percentile(latencies, 0.99),
            **stats,
        }


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4) or argv[1] not in DEFAULT_N or argv[2] not in VARIANTS:
        print(
            f"usage: py_client.py URL {{{'|'.join(DEFAULT_N)}}} {{{'|'.join(VARIANTS)}}} [n]",
            file=sys.stderr,
        )
        return 2
    url, scenario, variant = argv[:3]
    n = int(argv[3]) if len(argv) == 4 else DEFAULT_N[scenario]
    run = Run(url, VARIANTS[variant])
    scenario_fn: Callable[[int], Coroutine[Any, Any, dict[str, Any]]] = getattr(run, scenario)
    result: dict[str, Any]
    try:
        import uvloop

        result = uvloop.run(scenario_fn(n))
    except ImportError:  # pragma: no cover - uvloop is in the dev environment
        result = asyncio.run(scenario_fn(n))
    print(json.dumps({"client": f"pf-{variant}", "scenario": scenario, "result": result}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
