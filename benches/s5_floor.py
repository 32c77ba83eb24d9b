"""Where S5's floor is: 200 sockets connected and joined by the least an asyncio client does.

    python benches/s5_floor.py [--rounds 9] [--sockets 200] [--url ws://...]

Three clients take turns against one reference server, each in a fresh process, and the
medians of their S5 times (connect and join every socket at once, as ``scenarios.py s5``)
are printed with their spread:

- ``bare``: an ``asyncio.Protocol`` per socket on uvloop, with the native ``WsClient`` for the
  upgrade and the frames: connect, send the upgrade request, send the join once upgraded,
  done at the reply. No socket object, no channel, no timers, no state machines: what any
  asyncio client pays to do S5, whatever else it does.
- ``phoenix_fast``: ``scenarios.py``'s S5.
- ``rust``: the Rust client's S5 (``benches/rust_peer``), when built (``make rust-peer``).

The gap between ``bare`` and ``phoenix_fast`` is the cost of the client's own machinery
(the socket and channel objects, their state machines, the pending-push table, the
awaitables); under ``valgrind --tool=callgrind`` the ``--child bare`` run at two sizes gives
the floor's instructions per socket.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scenarios
from bare import BareWebSocket


class BareJoin(BareWebSocket):
    """One socket: upgrade, join ``topic``, and settle ``done`` at the join's reply."""

    def __init__(self, host: str, topic: str, done: asyncio.Future[None]) -> None:
        super().__init__(host)
        self._topic = topic
        self._done = done

    def on_open(self) -> None:
        join = self._client.encode("1", "1", self._topic, "phx_join", {})
        self._transport.write(join)  # type: ignore[union-attr]

    def on_messages(self, items: list[Any]) -> None:
        if any(item[3] == "phx_reply" for item in items) and not self._done.done():
            self._done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._done.done():
            self._done.set_exception(ConnectionError(f"closed before the join's reply: {exc}"))


async def bare_s5(url: str, sockets: int) -> float:
    loop = asyncio.get_running_loop()
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    run = f"bare{os.getpid():x}"

    async def one(i: int) -> asyncio.BaseTransport:
        done: asyncio.Future[None] = loop.create_future()
        topic = f"echo:{run}-{i}"
        transport, _ = await loop.create_connection(
            lambda: BareJoin(parts.netloc, topic, done), host, port
        )
        await done
        return transport

    start = time.perf_counter()
    transports = await asyncio.gather(*(one(i) for i in range(sockets)))
    seconds = time.perf_counter() - start
    for transport in transports:
        transport.close()
    await asyncio.sleep(0.05)  # let the closes go out before the process ends
    return seconds


def run_bare(url: str, sockets: int) -> float:
    cmd = [sys.executable, __file__, "--child", "bare", "--url", url, "--sockets", str(sockets)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"the bare client failed: {out.stderr[-2000:]}")
    return float(json.loads(out.stdout)["seconds"])


def run_client(name: str, url: str, sockets: int) -> float:
    result: dict[str, Any] = scenarios.CLIENTS[name](url, "s5", sockets / 200, "websocket")
    return float(result["seconds"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--url", help="a running server (default: start the reference server)")
    parser.add_argument("--child", choices=["bare"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps({"seconds": uvloop.run(bare_s5(args.url, args.sockets))}))
        return 0
    clients = ["bare", "phoenix_fast"] + (["rust"] if scenarios.RUST_PEER.is_file() else [])
    server = None if args.url else scenarios.ServerProcess(max_channels=1_000_000).start()
    url = args.url or server.url  # type: ignore[union-attr]
    times: dict[str, list[float]] = {name: [] for name in clients}
    try:
        for r in range(args.rounds):
            for name in clients[r % len(clients) :] + clients[: r % len(clients)]:
                time.sleep(0.3)  # the previous client's closes are the server's work
                run = run_bare if name == "bare" else lambda u, n, c=name: run_client(c, u, n)
                times[name].append(run(url, args.sockets) * 1000)
    finally:
        if server is not None:
            server.stop()
    for name, values in times.items():
        values.sort()
        print(
            f"{name:>13}: {statistics.median(values):.1f} ms "
            f"(min {values[0]:.1f}, max {values[-1]:.1f}; {args.rounds} rounds, "
            f"{args.sockets} sockets)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
