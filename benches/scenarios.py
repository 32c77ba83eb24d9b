"""Client scenarios S1-S5: phoenix_fast against the JS client and a Rust client, in one run.

    python benches/scenarios.py [--url ws://host:port/socket] [--scale 1.0] [--json out.json]
                                [--transport websocket|longpoll] [--only s1 s4 ...]
                                [--peers js rust] [--rounds 5] [--pin]

Without ``--url`` it starts the reference server in a subprocess (its own core) with a channel
limit high enough for S2. Each scenario runs with phoenix_fast (a fresh Python process, on
uvloop when installed) and with each peer against the same server, one after the other, and the
table shows them all and phoenix_fast's ratio to each peer. The peers:

- ``js``: the official JS client (a Node subprocess, ``benches/js/scenarios.mjs``);
- ``rust``: phoenix_channels_client 0.1.2 on a tokio current_thread runtime
  (``benches/rust_peer``, built by ``make rust-peer``; its quirks are in its README.md).

With ``--transport longpoll`` phoenix_fast and the JS client use their LongPoll transport
instead (the JS client's Ajax uses fetch under Node); the Rust client has none and sits out.

``--pin`` runs the server on CPU 1 and every client on CPU 0, so that the scheduler never
puts a client and the server on one core for part of a run. (It does not tame S4's p99,
which jumps between about 0.5 and 1.3 ms from run to run for phoenix_fast either way.)

``--rounds N`` runs everything N times, interleaved: each round runs every scenario with every
client in turn (the order of the clients rotates from round to round), and the table reports the
median of each figure and ratio with its spread (min-max over the rounds). This machine's
run-to-run noise is 10-20%: compare medians of at least 5 rounds, never single runs.

- S1: one channel receives 200,000 pushes of 100-byte payloads, each delivered to a callback.
- S1 stream: the same burst read with ``async for`` from ``channel.stream()`` (against the JS
  client's S1: it has no streams).
- S2: 2,000 channels joined on one socket (time, memory per channel).
- S3: 20 rounds of broadcasts to those 2,000 channels (40,000 events).
- S4: 20,000 pushes with replies, at most 100 in flight (rate, p50/p99 latency).
- S5: 200 sockets each joining a channel (time, memory per socket).

Every row also has ``cpu_us_per_op``: the client's CPU time (its whole process, user and
system) over the timed section, per message, channel, event, push or socket. Against the
seconds per operation it shows whether the client or the server sets the pace.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import statistics
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
RUST_PEER = ROOT / "benches" / "rust_peer" / "target" / "release" / "rust_peer"
RUN = f"py{os.getpid():x}"
TRANSPORT = os.environ.get("PHOENIX_FAST_BENCH_TRANSPORT", "websocket")


def rss() -> int:
    """Resident memory of this process in bytes, after a collection."""
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Clock:
    """The wall time and this process's CPU time (all threads, user and system) of a timed
    section. CPU per operation says which side of a run is the bottleneck: in S4 a client
    busy for nearly all of the wall time is one, whatever the server does."""

    __slots__ = ("cpu", "wall")

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def stop(self, ops: int) -> tuple[float, float]:
        """(seconds, CPU microseconds per operation) since the clock started."""
        cpu = time.process_time() - self.cpu
        return time.perf_counter() - self.wall, cpu / ops * 1e6


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
    clock = Clock()
    await channel.push("burst", {"n": n, "size": 100})
    await done
    seconds, cpu = clock.stop(n)
    await socket.disconnect()
    assert state["sum"] == n * (n - 1) // 2, "burst out of order or incomplete"
    return {"messages": n, "seconds": seconds, "rate": n / seconds, "cpu_us_per_op": cpu}


async def s1_stream(url: str, scale: float) -> dict[str, Any]:
    """S1 read through ``channel.stream()`` (the JS client has no streams: compared with its
    callbacks). Nothing may be dropped at the default ``maxsize``."""
    n = round(200_000 * scale)
    socket = await connect(url)
    channel = socket.channel(f"echo:{RUN}-s1-stream")
    await channel.join()
    stream = channel.stream("burst_msg")
    total = count = 0
    clock = Clock()
    await channel.push("burst", {"n": n, "size": 100})
    async for message in stream:
        total += message.payload["i"]
        count += 1
        if count == n:
            break
    seconds, cpu = clock.stop(n)
    await socket.disconnect()
    assert stream.dropped == 0, f"the stream dropped {stream.dropped} messages"
    assert total == n * (n - 1) // 2, "burst out of order or incomplete"
    return {"messages": n, "seconds": seconds, "rate": n / seconds, "cpu_us_per_op": cpu}


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
    clock = Clock()
    await join_all(channels)
    join_seconds, join_cpu = clock.stop(n)
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
    clock = Clock()
    fanout = {"prefix": f"load:{RUN}-", "count": n, "n": rounds, "size": 100}
    await channels[0].push("fanout", fanout)
    await done
    fan_seconds, fan_cpu = clock.stop(expected)
    heap = await heap_per_channel(socket, n)
    await socket.disconnect()
    return {
        "s2": {
            "channels": n,
            "seconds": join_seconds,
            "bytes_per_channel": per_channel,
            "heap_bytes_per_channel": heap,
            "cpu_us_per_op": join_cpu,
        },
        "s3": {
            "events": expected,
            "seconds": fan_seconds,
            "rate": expected / fan_seconds,
            "cpu_us_per_op": fan_cpu,
        },
    }


async def closed_loop(
    push: Callable[[str, Any], Awaitable[Any]], n: int, window: int
) -> list[float]:
    """``n`` awaited ``push("ping", ...)`` calls of a 64-byte body, at most ``window`` in
    flight (S4's load, shared with ``s4_floor.py``); the latency of each, in milliseconds."""
    latencies: list[float] = []
    sent = 0
    body = {"body": "x" * 64}

    async def worker() -> None:
        nonlocal sent
        while sent < n:
            sent += 1
            t = time.perf_counter()
            await push("ping", body)
            latencies.append((time.perf_counter() - t) * 1000)

    await asyncio.gather(*(worker() for _ in range(window)))
    return latencies


async def s4(url: str, scale: float) -> dict[str, Any]:
    n, window = round(20_000 * scale), 100
    socket = await connect(url)
    channel = socket.channel(f"echo:{RUN}-s4")
    await channel.join()
    clock = Clock()
    latencies = await closed_loop(channel.push, n, window)
    seconds, cpu = clock.stop(n)
    await socket.disconnect()
    return {
        "pushes": n,
        "seconds": seconds,
        "rate": n / seconds,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "cpu_us_per_op": cpu,
    }


async def s5(url: str, scale: float) -> dict[str, Any]:
    n = round(200 * scale)
    before = rss()
    clock = Clock()

    async def one(i: int) -> Socket:
        socket = await connect(url)
        await socket.channel(f"echo:{RUN}-s5-{i}").join()
        return socket

    sockets = await asyncio.gather(*(one(i) for i in range(n)))
    seconds, cpu = clock.stop(n)
    per_socket = (rss() - before) / n
    await asyncio.gather(*(s.disconnect() for s in sockets))
    return {"sockets": n, "seconds": seconds, "bytes_per_socket": per_socket, "cpu_us_per_op": cpu}


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


def run_peer(name: str, cmd: list[str], scenario: str) -> dict[str, Any]:
    """Runs a peer's scenario runner: arguments in, one JSON line out."""
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "{}"
    record = json.loads(line)
    if "result" not in record:
        raise RuntimeError(f"{name} failed on {scenario}: {record.get('error') or out.stderr}")
    return record["result"]  # type: ignore[no-any-return]


def run_js(url: str, scenario: str, scale: float, transport: str) -> dict[str, Any]:
    scenario = JS_EQUIVALENT.get(scenario, scenario)
    cmd = ["node", "--expose-gc", str(JS_SCRIPT), url, scenario, str(scale), transport]
    return run_peer("JS client", cmd, scenario)


def run_rust(url: str, scenario: str, scale: float, transport: str) -> dict[str, Any]:
    """phoenix_channels_client (benches/rust_peer); it has no streams either."""
    scenario = JS_EQUIVALENT.get(scenario, scenario)
    cmd = [str(RUST_PEER), url, scenario, str(scale), transport]
    return run_peer("Rust client", cmd, scenario)


Runner = Callable[[str, str, float, str], dict[str, Any]]
#: Every client: phoenix_fast first, then the peers it is compared with.
CLIENTS: dict[str, Runner] = {"phoenix_fast": run_python, "js": run_js, "rust": run_rust}
#: The transports each peer has (the Rust client has no LongPoll).
PEER_TRANSPORTS = {"js": {"websocket", "longpoll"}, "rust": {"websocket"}}


def ratio_key(peer: str) -> str:
    """The JSON key of phoenix_fast's ratio to a peer ("ratio" stays the JS client's)."""
    return "ratio" if peer == "js" else f"ratio_{peer}"


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


def summarize(
    runs: list[dict[str, Any]], order: list[str]
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """The median of each figure over the rounds, and its spread [min, max]; the figures in
    ``order`` first (the Rust peer's JSON comes with its keys sorted)."""
    keys = [k for k in order if k in runs[0]] + [k for k in runs[0] if k not in order]
    median = {k: statistics.median(r[k] for r in runs) for k in keys}
    spread = {k: [min(r[k] for r in runs), max(r[k] for r in runs)] for k in keys}
    return median, spread


def build_row(row: str, runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """One row of the JSON: each client's median figures, phoenix_fast's median ratio to each
    peer (per round, then the median), and with more than one round the spreads, the runs and
    the paired counts (``ahead``: the rounds phoenix_fast won on the headline figure; for a
    row with latencies, ``p99``: the median of the per-round p99 ratios, ours to the peer's,
    and the rounds in which ours was the lower)."""
    rounds = len(runs["phoenix_fast"])
    out: dict[str, Any] = {"rounds": rounds}
    spreads: dict[str, Any] = {}
    paired: dict[str, Any] = {}
    for client, client_runs in runs.items():
        out[client], spreads[client] = summarize(client_runs, list(runs["phoenix_fast"][0]))
    for peer in (c for c in runs if c != "phoenix_fast"):
        pairs = list(zip(runs["phoenix_fast"], runs[peer], strict=True))
        ratios = [compare(py, other, row) for py, other in pairs]
        out[ratio_key(peer)] = statistics.median(ratios)
        spreads[ratio_key(peer)] = [min(ratios), max(ratios)]
        paired[peer] = {"ahead": sum(ratio > 1 for ratio in ratios)}
        if "p99_ms" in runs["phoenix_fast"][0]:
            p99s = [py["p99_ms"] / other["p99_ms"] for py, other in pairs]
            paired[peer]["p99"] = statistics.median(p99s)
            paired[peer]["p99_lower"] = sum(ratio < 1 for ratio in p99s)
    if rounds > 1:
        out["spread"] = spreads
        out["paired"] = paired
        out["runs"] = runs
    return out


def print_row(row: str, record: dict[str, Any]) -> None:
    spread = record.get("spread")
    key = HEADLINE[row][0]
    clients = [c for c in CLIENTS if c in record]
    for i, client in enumerate(clients):
        label = f"{row}: {client}" if i == 0 else f"    {client:<12}"
        figures = (
            fmt(record[client]) if spread is None else fmt_spread(record[client], spread[client])
        )
        print(f"{label} {figures}")
    for peer in clients[1:]:
        ratio = record[ratio_key(peer)]
        text = f"{ratio:.2f}x"
        if spread is not None:
            low, high = spread[ratio_key(peer)]
            text += f" [{low:.2f}-{high:.2f}]"
        name = "" if peer == "js" else f" to {peer}"
        print(f"    ratio{name} {text} ({key}{paired_note(record, peer)})", flush=True)


def paired_note(record: dict[str, Any], peer: str) -> str:
    """``; ahead in 22 of 30 rounds`` (and the paired p99), when there were rounds."""
    paired = record.get("paired", {}).get(peer)
    if paired is None:
        return ""
    rounds = record["rounds"]
    note = f"; ahead in {paired['ahead']} of {rounds} rounds"
    if "p99" in paired:
        note += f"; p99 {paired['p99']:.2f}x the peer's, lower in {paired['p99_lower']}"
    return note


def run_rounds(
    url: str, scenarios: list[str], clients: list[str], args: argparse.Namespace
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Every scenario with every client, ``args.rounds`` times; returns
    ``runs[row][client]``, one result per round. With one round each scenario's rows are
    printed as soon as they are measured."""
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for r in range(args.rounds):
        # Rotate the order of the clients so that none always runs first (or last).
        order = clients[r % len(clients) :] + clients[: r % len(clients)]
        for scenario in scenarios:
            for client in order:
                result = CLIENTS[client](url, scenario, args.scale, args.transport)
                for row, figures in flatten(scenario, result).items():
                    runs.setdefault(row, {c: [] for c in clients})[client].append(figures)
            if args.rounds == 1:
                for row in flatten_rows(scenario):
                    print_row(row, build_row(row, runs[row]))
        if args.rounds > 1:
            print(f"round {r + 1}/{args.rounds} done", flush=True)
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server (default: start the reference server)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every size")
    parser.add_argument("--only", nargs="*", choices=sorted(SCENARIOS), help="scenarios to run")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--transport", choices=["websocket", "longpoll"], default="websocket")
    parser.add_argument(
        "--peers",
        nargs="*",
        choices=sorted(PEER_TRANSPORTS),
        default=["js", "rust"],
        help="the clients phoenix_fast is compared with (default: js rust; none: alone)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="interleaved rounds; with more than one, medians and spreads (use at least 5)",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="run the server on CPU 1 and every client on CPU 0 (Linux)",
    )
    parser.add_argument("--child", choices=sorted(SCENARIOS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_scenario(args.url, args.child, args.scale)))
        return 0
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    peers = [p for p in dict.fromkeys(args.peers) if args.transport in PEER_TRANSPORTS[p]]
    if "rust" in peers and not RUST_PEER.is_file():
        parser.error(
            f"the Rust peer is not built ({RUST_PEER.relative_to(ROOT)}): run `make rust-peer`,"
            " or pass --peers js"
        )
    for peer in sorted(set(args.peers) - set(peers)):
        print(f"({peer}: no {args.transport} transport, left out)")
    if args.pin and (not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2):
        parser.error("--pin needs Linux and two CPUs")
    server = None
    if args.url is None:
        server = ServerProcess(max_channels=100_000)
        if args.pin:
            os.sched_setaffinity(0, {1})  # the server inherits this process's CPU...
        server.start()
    if args.pin:
        os.sched_setaffinity(0, {0})  # ...and every client this one
    url = args.url or server.url  # type: ignore[union-attr]
    results: dict[str, Any] = {
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "transport": args.transport,
        "peers": peers,
        "rounds": args.rounds,
        "rows": {},
    }
    clients = ["phoenix_fast", *peers]
    try:
        runs = run_rounds(url, args.only or list(SCENARIOS), clients, args)
    finally:
        if server is not None:
            server.stop()
    for row, row_runs in runs.items():
        results["rows"][row] = build_row(row, row_runs)
        if args.rounds > 1:
            print_row(row, results["rows"][row])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def flatten_rows(scenario: str) -> list[str]:
    """The rows a scenario reports (see ``flatten``)."""
    return {"s2s3": ["S2", "S3"], "s1stream": ["S1 stream"]}.get(scenario, [scenario.upper()])


def fmt(row: dict[str, Any]) -> str:
    return ", ".join(
        f"{k}={v:,.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
    )


def fmt_spread(row: dict[str, Any], spread: dict[str, list[float]]) -> str:
    """Each figure as its median and [min-max] over the rounds."""
    parts = []
    for k, v in row.items():
        low, high = spread[k]
        if low == high:
            parts.append(f"{k}={v:,.4g}")
        else:
            parts.append(f"{k}={v:,.4g} [{low:,.4g}-{high:,.4g}]")
    return ", ".join(parts)


if __name__ == "__main__":
    sys.exit(main())
