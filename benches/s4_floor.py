"""Where S4's floor is: 20,000 pushes with replies, 100 in flight, by the least an asyncio
client does.

    python benches/s4_floor.py [--rounds 15] [--pushes 20000] [--url ws://...]

Three clients take turns against one reference server, each in a fresh process, and the
medians of their S4 figures (rate, p50 and p99 latency, CPU per push) are printed with
their spread:

- ``bare``: one ``asyncio.Protocol`` on uvloop, with the native ``WsClient`` for the upgrade
  and the frames, and the native codec. A push is a frame encoded into a list that is
  written once per loop turn (in chunks of 24, as phoenix_fast writes), and a future in a
  dict keyed by its ref; a read's replies pop their futures and settle them. No socket or
  channel object, no push object, no timeouts, no checks: what any asyncio client pays to
  do S4, whatever else it does.
- ``phoenix_fast``: ``scenarios.py``'s S4.
- ``rust``: the Rust client's S4 (``benches/rust_peer``), when built (``make rust-peer``).

The gap between ``bare`` and ``phoenix_fast`` in CPU per push is the cost of the client's
own machinery (the ``Push`` object and its awaitable, the channel's and the socket's checks,
the pending table with its timeouts, the router's checks).

Two options change the bare client, to see what S4's tail follows:

- ``--busy-us N`` spins N microseconds in every push, so that the bare client spends what
  phoenix_fast spends: does the p99 follow the CPU per push?
- ``--nagle`` leaves Nagle's algorithm on (no ``TCP_NODELAY``), as the Rust client does;
  with ``--flush-every 1`` the bare client then writes every push at once, as the Rust
  client does, without a TCP segment per write.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scenarios
from bare import BareWebSocket

WINDOW = 100
#: Frames written together at most (phoenix_fast's ``FLUSH_EVERY``); ``--flush-every``.
FLUSH_EVERY = 24


@dataclass(frozen=True)
class Variant:
    """How the bare client writes, and what it spends per push besides."""

    flush_every: int = FLUSH_EVERY
    busy_us: float = 0.0
    nagle: bool = False

    def args(self) -> list[str]:
        nagle = ["--nagle"] if self.nagle else []
        return ["--flush-every", str(self.flush_every), "--busy-us", str(self.busy_us), *nagle]


def spin(seconds: float) -> None:
    """Keeps the CPU busy for ``seconds`` (a stand-in for a client's own work per push)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


class BarePushes(BareWebSocket):
    """One socket: upgrade, join, then pushes whose replies settle futures by ref."""

    def __init__(self, host: str, opened: asyncio.Future[None], variant: Variant) -> None:
        super().__init__(host)
        self._opened = opened
        self._loop = asyncio.get_running_loop()
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._flush_every = variant.flush_every
        self._busy = variant.busy_us / 1e6
        self._nagle = variant.nagle
        self._waiting: dict[str, asyncio.Future[Any]] = {}
        self._ref = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._nagle:  # asyncio sets TCP_NODELAY on every TCP connection
            sock = transport.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
        super().connection_made(transport)

    def push(self, topic: str, event: str, payload: Any) -> asyncio.Future[Any]:
        """Sends a frame and returns the future its reply settles."""
        if self._busy:
            spin(self._busy)
        self._ref += 1
        ref = str(self._ref)
        fut = self._loop.create_future()
        self._waiting[ref] = fut
        out = self._out
        out.append(self._client.encode("1", ref, topic, event, payload))
        if len(out) >= self._flush_every:
            self._flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
        return fut

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._out and self._transport is not None:
            self._transport.write(b"".join(self._out))
            self._out.clear()

    def on_open(self) -> None:
        self._opened.set_result(None)

    def on_messages(self, items: list[Any]) -> None:
        waiting = self._waiting
        for _join_ref, ref, _topic, event, payload in items:
            if event == "phx_reply":
                fut = waiting.pop(ref, None)
                if fut is not None and not fut.done():
                    fut.set_result(payload.get("response"))

    def connection_lost(self, exc: Exception | None) -> None:
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(ConnectionError(f"closed before the reply: {exc}"))


async def bare_s4(url: str, pushes: int, variant: Variant) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    topic = f"echo:bare{os.getpid():x}-s4"
    opened: asyncio.Future[None] = loop.create_future()
    transport, proto = await loop.create_connection(
        lambda: BarePushes(parts.netloc, opened, variant), host, port
    )
    await opened
    await proto.push(topic, "phx_join", {})
    clock = scenarios.Clock()
    latencies = await scenarios.closed_loop(functools.partial(proto.push, topic), pushes, WINDOW)
    seconds, cpu = clock.stop(pushes)
    transport.close()
    return {
        "seconds": seconds,
        "rate": pushes / seconds,
        "p50_ms": scenarios.percentile(latencies, 0.5),
        "p99_ms": scenarios.percentile(latencies, 0.99),
        "cpu_us_per_op": cpu,
    }


def run_bare(url: str, pushes: int, variant: Variant) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", "bare", "--url", url, "--pushes", str(pushes)]
    cmd += variant.args()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"the bare client failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def run_client(name: str, url: str, pushes: int) -> dict[str, float]:
    return scenarios.CLIENTS[name](url, "s4", pushes / 20_000, "websocket")  # type: ignore[return-value]


FIGURES = {
    "rate": "{:,.0f}/s",
    "p50_ms": "{:.3f} ms",
    "p99_ms": "{:.3f} ms",
    "cpu_us_per_op": "{:.2f} µs",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--pushes", type=int, default=20_000)
    parser.add_argument("--url", help="a running server (default: start the reference server)")
    parser.add_argument("--flush-every", type=int, default=FLUSH_EVERY, help="the bare client's")
    parser.add_argument(
        "--busy-us", type=float, default=0.0, help="µs the bare client spins in every push"
    )
    parser.add_argument(
        "--nagle", action="store_true", help="the bare client leaves Nagle's algorithm on"
    )
    parser.add_argument("--child", choices=["bare"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    variant = Variant(args.flush_every, args.busy_us, args.nagle)
    if args.child:
        print(json.dumps(uvloop.run(bare_s4(args.url, args.pushes, variant))))
        return 0
    clients = ["bare", "phoenix_fast"] + (["rust"] if scenarios.RUST_PEER.is_file() else [])
    server = None if args.url else scenarios.ServerProcess(max_channels=1_000_000).start()
    url = args.url or server.url  # type: ignore[union-attr]
    results: dict[str, list[dict[str, float]]] = {name: [] for name in clients}
    try:
        for r in range(args.rounds):
            for name in clients[r % len(clients) :] + clients[: r % len(clients)]:
                if name == "bare":
                    results[name].append(run_bare(url, args.pushes, variant))
                else:
                    results[name].append(run_client(name, url, args.pushes))
    finally:
        if server is not None:
            server.stop()
    for name, runs in results.items():
        parts = []
        for key, shape in FIGURES.items():
            values = sorted(run[key] for run in runs)
            low, high = shape.format(values[0]), shape.format(values[-1])
            parts.append(f"{key} {shape.format(statistics.median(values))} ({low}-{high})")
        print(f"{name:>13}: " + ", ".join(parts))
    print(f"(medians of {args.rounds} rounds, {args.pushes} pushes each, {WINDOW} in flight)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
