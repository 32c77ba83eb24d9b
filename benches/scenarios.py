"""Client scenarios S1-S5, phoenix_fast against the official JS client, in one run.

    python benches/scenarios.py [--url ws://host:port/socket] [--scale 1.0] [--json out.json]
                                [--transport websocket|longpoll] [--only s1 s4 ...]

Without ``--url`` it starts the reference server in a subprocess (its own core) with a channel
limit high enough for S2. Each scenario runs with phoenix_fast (this process, on uvloop when
installed) and with the JS client (a Node subprocess, ``benches/js/scenarios.mjs``) against
the same server, one after the other, and the table shows both and their ratio. With
``--transport longpoll`` both clients use their LongPoll transport instead (the JS client's
Ajax uses fetch under Node).

- S1: one channel receives 200,000 pushes of 100-byte payloads, each delivered to a callback.
- S1 stream: the same burst read with ``async for`` from ``channel.stream()`` (against the JS
  client's S1: it has no streams).
- S2: 2,000 channels joined on one socket (time, memory per channel).
- S3: 20 rounds of broadcasts to those 2,000 channels (40,000 events).
- S4: 20,000 pushes with replies, at most 100 in flight (rate, p50/p99 latency).
- S5: 200 sockets each joining a channel (time, memory per socket).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from phoenix_fast.socket import Socket
from phoenix_fast.testing import ServerProcess

ROOT = Path(__file__).resolve().parent.parent
JS_SCRIPT = ROOT / "benches" / "js" / "scenarios.mjs"
RUN = f"py{os.getpid():x}"
TRANSPORT = os.environ.get("PHOENIX_FAST_BENCH_TRANSPORT", "websocket")


def rss() -> int:
    """Resident memory of this process in bytes, after a collection."""
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def connect(url: str) -> Socket:
    if TRANSPORT == "longpoll":
        from phoenix_fast.transports.longpoll import LongPoll

        socket = Socket(url, transport=LongPoll, heartbeat_interval=60.0, timeout=30.0)
    else:
        socket = Socket(url, heartbeat_interval=60.0, timeout=30.0)
    await socket.connect()
    return socket


async def s1(url: str, scale: float) -> dict[str, Any]:
    n = round(200_000 * scale)
    socket = await connect(url)
    channel = socket.channel(f"echo:{RUN}-s1")
    await channel.join()
    done = asyncio.get_running_loop().create_future()
    state = {"count": 0, "sum": 0}

    def on_msg(payload: Any) -> None:
        state["sum"] += payload["i"]
        state["count"] += 1
        if state["count"] == n:
            done.set_result(None)

    channel.on("burst_msg", on_msg)
    start = time.perf_counter()
    await channel.push("burst", {"n": n, "size": 100})
    await done
    seconds = time.perf_counter() - start
    await socket.disconnect()
    assert state["sum"] == n * (n - 1) // 2, "burst out of order or incomplete"
    return {"messages": n, "seconds": seconds, "rate": n / seconds}


async def s1_stream(url: str, scale: float) -> dict[str, Any]:
    """S1 read through ``channel.stream()`` (the JS client has no streams: compared with its
    callbacks). Nothing may be dropped at the default ``maxsize``."""
    n = round(200_000 * scale)
    socket = await connect(url)
    channel = socket.channel(f"echo:{RUN}-s1-stream")
    await channel.join()
    stream = channel.stream("burst_msg")
    total = count = 0
    start = time.perf_counter()
    await channel.push("burst", {"n": n, "size": 100})
    async for message in stream:
        total += message.payload["i"]
        count += 1
        if count == n:
            break
    seconds = time.perf_counter() - start
    await socket.disconnect()
    assert stream.dropped == 0, f"the stream dropped {stream.dropped} messages"
    assert total == n * (n - 1) // 2, "burst out of order or incomplete"
    return {"messages": n, "seconds": seconds, "rate": n / seconds}


async def join_all(channels: list[Any]) -> None:
    """Joins every channel at once; returns once nothing of the gather is left (the loop
    handle that resumes us holds the gathering future until the next step)."""
    await asyncio.gather(*(ch.join() for ch in channels))
    await asyncio.sleep(0)


async def heap_per_channel(socket: Socket, n: int) -> float:
    """Python heap per joined channel (tracemalloc, on a second batch of n channels): RSS
    moves by whole allocator arenas, the heap by what the channels really hold."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    channels = [socket.channel(f"load:{RUN}-heap-{i}") for i in range(n)]
    await join_all(channels)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / n


async def s2s3(url: str, scale: float) -> dict[str, Any]:
    n, rounds = round(2000 * scale), 20
    socket = await connect(url)
    before = rss()
    channels = [socket.channel(f"load:{RUN}-{i}") for i in range(n)]
    start = time.perf_counter()
    await join_all(channels)
    join_seconds = time.perf_counter() - start
    per_channel = (rss() - before) / n
    expected = n * rounds
    done = asyncio.get_running_loop().create_future()
    received = [0]

    def on_tick(_payload: Any) -> None:
        received[0] += 1
        if received[0] == expected:
            done.set_result(None)

    for ch in channels:
        ch.on("tick", on_tick)
    start = time.perf_counter()
    fanout = {"prefix": f"load:{RUN}-", "count": n, "n": rounds, "size": 100}
    await channels[0].push("fanout", fanout)
    await done
    fan_seconds = time.perf_counter() - start
    heap = await heap_per_channel(socket, n)
    await socket.disconnect()
    return {
        "s2": {
            "channels": n,
            "seconds": join_seconds,
            "bytes_per_channel": per_channel,
            "heap_bytes_per_channel": heap,
        },
        "s3": {"events": expected, "seconds": fan_seconds, "rate": expected / fan_seconds},
    }


async def s4(url: str, scale: float) -> dict[str, Any]:
    n, window = round(20_000 * scale), 100
    socket = await connect(url)
    channel = socket.channel(f"echo:{RUN}-s4")
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

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(window)))
    seconds = time.perf_counter() - start
    await socket.disconnect()
    return {
        "pushes": n,
        "seconds": seconds,
        "rate": n / seconds,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
    }


async def s5(url: str, scale: float) -> dict[str, Any]:
    n = round(200 * scale)
    before = rss()
    start = time.perf_counter()

    async def one(i: int) -> Socket:
        socket = await connect(url)
        await socket.channel(f"echo:{RUN}-s5-{i}").join()
        return socket

    sockets = await asyncio.gather(*(one(i) for i in range(n)))
    seconds = time.perf_counter() - start
    per_socket = (rss() - before) / n
    await asyncio.gather(*(s.disconnect() for s in sockets))
    return {"sockets": n, "seconds": seconds, "bytes_per_socket": per_socket}


SCENARIOS: dict[str, Callable[[str, float], Awaitable[dict[str, Any]]]] = {
    "s1": s1,
    "s1stream": s1_stream,
    "s4": s4,
    "s2s3": s2s3,
    "s5": s5,
}


def run_scenario(url: str, scenario: str, scale: float) -> dict[str, Any]:
    """Runs one scenario in this process, on uvloop when installed."""
    try:
        import uvloop

        runner: Callable[[Awaitable[Any]], Any] = uvloop.run  # type: ignore[assignment]
    except ImportError:  # pragma: no cover - uvloop is optional
        runner = asyncio.run
    return runner(SCENARIOS[scenario](url, scale))  # type: ignore[no-any-return]


def run_python(url: str, scenario: str, scale: float, transport: str) -> dict[str, Any]:
    """Runs one scenario in a fresh Python process, as the JS client runs in a fresh Node
    process: memory figures then start from the same clean slate for both."""
    cmd = [sys.executable, __file__, "--child", scenario, "--url", url, "--scale", str(scale)]
    env = {**os.environ, "PHOENIX_FAST_BENCH_TRANSPORT": transport}
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"phoenix_fast failed on {scenario}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


#: Scenarios the JS client runs as another one (it has no streams).
JS_EQUIVALENT = {"s1stream": "s1"}


def run_js(url: str, scenario: str, scale: float, transport: str) -> dict[str, Any]:
    scenario = JS_EQUIVALENT.get(scenario, scenario)
    cmd = ["node", "--expose-gc", str(JS_SCRIPT), url, scenario, str(scale), transport]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "{}"
    record = json.loads(line)
    if "result" not in record:
        raise RuntimeError(f"JS client failed on {scenario}: {record.get('error') or out.stderr}")
    return record["result"]  # type: ignore[no-any-return]


def flatten(scenario: str, result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """S2 and S3 run together; report them as two rows."""
    if scenario == "s2s3":
        return {"S2": result["s2"], "S3": result["s3"]}
    if scenario == "s1stream":
        return {"S1 stream": result}
    return {scenario.upper(): result}


# Per row: the figure compared, and whether higher is better.
HEADLINE = {
    "S1": ("rate", True),
    "S1 stream": ("rate", True),
    "S2": ("seconds", False),
    "S3": ("rate", True),
    "S4": ("rate", True),
    "S5": ("seconds", False),
}


def compare(py: dict[str, Any], js: dict[str, Any], row: str) -> float:
    key, higher = HEADLINE[row]
    return py[key] / js[key] if higher else js[key] / py[key]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server (default: start the reference server)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every size")
    parser.add_argument("--only", nargs="*", choices=sorted(SCENARIOS), help="scenarios to run")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--transport", choices=["websocket", "longpoll"], default="websocket")
    parser.add_argument("--child", choices=sorted(SCENARIOS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_scenario(args.url, args.child, args.scale)))
        return 0
    server = None
    if args.url is None:
        server = ServerProcess(max_channels=100_000)
        server.start()
    url = args.url or server.url  # type: ignore[union-attr]
    results: dict[str, Any] = {
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "transport": args.transport,
        "rows": {},
    }
    try:
        for scenario in args.only or list(SCENARIOS):
            py = flatten(scenario, run_python(url, scenario, args.scale, args.transport))
            js = flatten(scenario, run_js(url, scenario, args.scale, args.transport))
            for row in py:
                ratio = compare(py[row], js[row], row)
                results["rows"][row] = {"phoenix_fast": py[row], "js": js[row], "ratio": ratio}
                print(f"{row}: phoenix_fast {fmt(py[row])}")
                print(f"    js           {fmt(js[row])}")
                print(f"    ratio {ratio:.2f}x ({HEADLINE[row][0]})", flush=True)
    finally:
        if server is not None:
            server.stop()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def fmt(row: dict[str, Any]) -> str:
    return ", ".join(
        f"{k}={v:,.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
    )


if __name__ == "__main__":
    sys.exit(main())
