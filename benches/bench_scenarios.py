"""S1-S5 for phoenix_fast as pytest-benchmark tests, so ``--benchmark-autosave`` and
``--benchmark-compare`` track them from commit to commit::

    pytest benches/bench_scenarios.py --benchmark-enable --benchmark-autosave
    pytest benches/bench_scenarios.py --benchmark-enable --benchmark-compare

The scenarios are those of ``benches/scenarios.py`` (which compares against the JS client,
and measures memory in fresh processes): their pieces are imported from there. Each round
times the scenario's measured part only; connecting and joining happen in untimed set-up.
Against ``$PHOENIX_URL`` when set, else a reference server in a child process (its own core).
``PHOENIX_FAST_BENCH_SCALE`` multiplies every size (1 by default); with benchmarks disabled
(plain test runs) each scenario runs once at 1% as a smoke test.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

import scenarios
from phoenix_fast import Channel, Socket
from phoenix_fast.testing import ServerProcess
from phoenix_fast.testing.benchmark import LoopBenchmark

SCALE = float(os.environ.get("PHOENIX_FAST_BENCH_SCALE", "1"))
SMOKE_SCALE = 0.01


@pytest.fixture(scope="module")
def scenario_url() -> Iterator[str]:
    url = os.environ.get("PHOENIX_URL")
    if url:
        yield url
        return
    with ServerProcess(max_channels=100_000) as server:
        yield server.url


@pytest.fixture
def scale(benchmark: Any) -> float:
    return min(SCALE, SMOKE_SCALE) if benchmark.disabled else SCALE


async def _joined(url: str, topic: str) -> tuple[Socket, Channel]:
    socket = await scenarios.connect(url)
    channel = socket.channel(topic)
    await channel.join()
    return socket, channel


async def _disconnect(state: tuple[Socket, Any]) -> None:
    await state[0].disconnect()


@pytest.mark.benchmark(group="S1 burst")
def test_s1_callbacks(phoenix_benchmark: LoopBenchmark, scenario_url: str, scale: float) -> None:
    """200,000 pushes of 100-byte payloads, each delivered to a callback."""
    n = round(200_000 * scale)

    async def setup() -> tuple[Socket, Channel]:
        return await _joined(scenario_url, f"echo:{scenarios.RUN}-s1")

    async def burst(state: tuple[Socket, Channel]) -> int:
        channel = state[1]
        done = asyncio.get_running_loop().create_future()
        seen = {"count": 0, "sum": 0}

        def on_msg(payload: Any) -> None:
            seen["sum"] += payload["i"]
            seen["count"] += 1
            if seen["count"] == n:
                done.set_result(None)

        ref = channel.on("burst_msg", on_msg)
        await channel.push("burst", {"n": n, "size": 100})
        await done
        channel.off("burst_msg", ref)
        return seen["sum"]

    total = phoenix_benchmark.scenario(burst, setup=setup, teardown=_disconnect)
    assert total == n * (n - 1) // 2, "burst out of order or incomplete"
    phoenix_benchmark.benchmark.extra_info["messages"] = n


@pytest.mark.benchmark(group="S1 burst")
def test_s1_stream(phoenix_benchmark: LoopBenchmark, scenario_url: str, scale: float) -> None:
    """S1's burst read with ``async for`` from ``channel.stream()``; nothing may be dropped."""
    n = round(200_000 * scale)

    async def setup() -> tuple[Socket, Channel]:
        return await _joined(scenario_url, f"echo:{scenarios.RUN}-s1-stream")

    async def burst(state: tuple[Socket, Channel]) -> tuple[int, int]:
        channel = state[1]
        total = count = 0
        async with channel.stream("burst_msg") as stream:
            await channel.push("burst", {"n": n, "size": 100})
            async for message in stream:
                total += message.payload["i"]
                count += 1
                if count == n:
                    break
        return total, stream.dropped

    total, dropped = phoenix_benchmark.scenario(burst, setup=setup, teardown=_disconnect)
    assert dropped == 0, f"the stream dropped {dropped} messages"
    assert total == n * (n - 1) // 2, "burst out of order or incomplete"
    phoenix_benchmark.benchmark.extra_info["messages"] = n


@pytest.mark.benchmark(group="S2 joins")
def test_s2_joins(phoenix_benchmark: LoopBenchmark, scenario_url: str, scale: float) -> None:
    """2,000 channels joined at once on one socket (and the RSS they add, first round)."""
    n = round(2000 * scale)
    info = phoenix_benchmark.benchmark.extra_info

    async def setup() -> tuple[Socket, list[Channel], int]:
        socket = await scenarios.connect(scenario_url)
        channels = [socket.channel(f"load:{scenarios.RUN}-s2-{i}") for i in range(n)]
        return socket, channels, scenarios.rss()

    async def join(state: tuple[Socket, list[Channel], int]) -> int:
        await scenarios.join_all(state[1])
        return sum(1 for channel in state[1] if channel.state == "joined")

    async def teardown(state: tuple[Socket, list[Channel], int]) -> None:
        info.setdefault("rss_bytes_per_channel_first_round", (scenarios.rss() - state[2]) / n)
        await state[0].disconnect()

    assert phoenix_benchmark.scenario(join, setup=setup, teardown=teardown) == n
    info["channels"] = n


@pytest.mark.benchmark(group="S3 fan-out")
def test_s3_fanout(phoenix_benchmark: LoopBenchmark, scenario_url: str, scale: float) -> None:
    """20 rounds of broadcasts to 2,000 joined channels (40,000 events)."""
    n, rounds = round(2000 * scale), 20
    expected = n * rounds

    async def setup() -> tuple[Socket, list[Channel], list[int]]:
        socket = await scenarios.connect(scenario_url)
        prefix = f"load:{scenarios.RUN}-s3-{time.monotonic_ns()}-"
        channels = [socket.channel(f"{prefix}{i}") for i in range(n)]
        await scenarios.join_all(channels)
        return socket, channels, [0]

    async def fanout(state: tuple[Socket, list[Channel], list[int]]) -> int:
        channels, received = state[1], state[2]
        done = asyncio.get_running_loop().create_future()

        def on_tick(_payload: Any) -> None:
            received[0] += 1
            if received[0] == expected:
                done.set_result(None)

        for channel in channels:
            channel.on("tick", on_tick)
        prefix = channels[0].topic[: -len("0")]
        await channels[0].push("fanout", {"prefix": prefix, "count": n, "n": rounds, "size": 100})
        await done
        return received[0]

    assert phoenix_benchmark.scenario(fanout, setup=setup, teardown=_disconnect) == expected
    phoenix_benchmark.benchmark.extra_info["events"] = expected


@pytest.mark.benchmark(group="S4 pushes")
def test_s4_pushes(phoenix_benchmark: LoopBenchmark, scenario_url: str, scale: float) -> None:
    """20,000 pushes with replies, at most 100 in flight (p50/p99 of the last round)."""
    n, window = round(20_000 * scale), 100
    body = {"body": "x" * 64}

    async def setup() -> tuple[Socket, Channel]:
        return await _joined(scenario_url, f"echo:{scenarios.RUN}-s4")

    async def pushes(state: tuple[Socket, Channel]) -> list[float]:
        channel, latencies, sent = state[1], [], [0]

        async def worker() -> None:
            while sent[0] < n:
                sent[0] += 1
                start = time.perf_counter()
                await channel.push("ping", body)
                latencies.append((time.perf_counter() - start) * 1000)

        await asyncio.gather(*(worker() for _ in range(window)))
        return latencies

    latencies = phoenix_benchmark.scenario(pushes, setup=setup, teardown=_disconnect)
    assert len(latencies) == n
    info = phoenix_benchmark.benchmark.extra_info
    info["pushes"] = n
    info["p50_ms"] = scenarios.percentile(latencies, 0.5)
    info["p99_ms"] = scenarios.percentile(latencies, 0.99)


@pytest.mark.benchmark(group="S5 sockets")
def test_s5_sockets(phoenix_benchmark: LoopBenchmark, scenario_url: str, scale: float) -> None:
    """200 sockets, each connecting and joining a channel."""
    n = round(200 * scale)

    async def setup() -> list[Socket]:
        return []

    async def connect_all(sockets: list[Socket]) -> int:
        async def one(i: int) -> Socket:
            socket, _ = await _joined(scenario_url, f"echo:{scenarios.RUN}-s5-{i}")
            sockets.append(socket)
            return socket

        return len(await asyncio.gather(*(one(i) for i in range(n))))

    async def teardown(sockets: list[Socket]) -> None:
        await asyncio.gather(*(socket.disconnect() for socket in sockets))

    assert phoenix_benchmark.scenario(connect_all, setup=setup, teardown=teardown) == n
    phoenix_benchmark.benchmark.extra_info["sockets"] = n
