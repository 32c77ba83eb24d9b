"""Client scenarios S1 and S4 over LongPoll, phoenix_fast against the official JS client's
LongPoll, in one run.

    python benches/longpoll_scenarios.py [--url ws://host:port/socket] [--scale 1.0]
                                         [--only s1 s4] [--json out.json]

Without ``--url`` it starts the reference server in a subprocess (its own core). Each scenario
runs with phoenix_fast (this process, on uvloop when installed, ``transport=LongPoll``) and with
the JS client (a Node subprocess, ``benches/js/longpoll_scenarios.mjs``, ``transport: LongPoll``,
whose Ajax uses fetch under Node) against the same server, one after the other.

- S1: one channel receives 200,000 pushes of 100-byte payloads, each delivered to a callback.
- S4: 20,000 pushes with replies, at most 100 in flight (rate, p50/p99 latency).

The figures compared and the table follow ``benches/scenarios.py`` (the WebSocket run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from phoenix_fast.socket import Socket
from phoenix_fast.testing import ServerProcess
from phoenix_fast.transports.longpoll import LongPoll
from scenarios import HEADLINE, compare, fmt, percentile  # benches/ is on sys.path as a script

ROOT = Path(__file__).resolve().parent.parent
JS_SCRIPT = ROOT / "benches" / "js" / "longpoll_scenarios.mjs"
RUN = f"pylp{os.getpid():x}"


async def connect(url: str) -> Socket:
    transport = LongPoll.configure(timeout=20.0)
    socket = Socket(url, transport=transport, heartbeat_interval=60.0, timeout=30.0)
    await socket.connect()
    return socket


async def s1(url: str, scale: float) -> dict[str, Any]:
    """S1 over LongPoll: a burst of pushes from the server to one channel."""
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


async def s4(url: str, scale: float) -> dict[str, Any]:
    """S4 over LongPoll: pushes with replies, 100 in flight."""
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


SCENARIOS: dict[str, Callable[[str, float], Awaitable[dict[str, Any]]]] = {"s1": s1, "s4": s4}


def run_python(url: str, scenario: str, scale: float) -> dict[str, Any]:
    try:
        import uvloop

        runner: Callable[[Awaitable[Any]], Any] = uvloop.run  # type: ignore[assignment]
    except ImportError:  # pragma: no cover - uvloop is optional
        runner = asyncio.run
    return runner(SCENARIOS[scenario](url, scale))  # type: ignore[no-any-return]


def run_js(url: str, scenario: str, scale: float) -> dict[str, Any]:
    cmd = ["node", str(JS_SCRIPT), url, scenario, str(scale)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "{}"
    record = json.loads(line)
    if "result" not in record:
        raise RuntimeError(f"JS client failed on {scenario}: {record.get('error') or out.stderr}")
    return record["result"]  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server (default: start the reference server)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every size")
    parser.add_argument("--only", nargs="*", choices=sorted(SCENARIOS), help="scenarios to run")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    server = None
    if args.url is None:
        server = ServerProcess(max_channels=100_000)
        server.start()
    url = args.url or server.url  # type: ignore[union-attr]
    results: dict[str, Any] = {
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "transport": "longpoll",
        "scale": args.scale,
        "rows": {},
    }
    try:
        for scenario in args.only or list(SCENARIOS):
            row = scenario.upper()
            py = run_python(url, scenario, args.scale)
            js = run_js(url, scenario, args.scale)
            ratio = compare(py, js, row)
            results["rows"][row] = {"phoenix_fast": py, "js": js, "ratio": ratio}
            print(f"{row} (LongPoll): phoenix_fast {fmt(py)}")
            print(f"    js           {fmt(js)}")
            print(f"    ratio {ratio:.2f}x ({HEADLINE[row][0]})", flush=True)
    finally:
        if server is not None:
            server.stop()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
