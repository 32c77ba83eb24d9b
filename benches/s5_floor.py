"""Where S5's floor is: 200 sockets connected and joined by the least an asyncio client does.

    python benches/s5_floor.py [--rounds 9] [--sockets 200] [--url ws://...] [--pin] [--wire]

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

``--pin`` runs the server (when this script starts it) on CPU 1 and the clients on CPU 0, as
``scenarios.py --pin``.

``--wire`` (Linux, root and ``tcpdump``) records each run's packets on the loopback and tells
when the wire saw each step, from the first SYN: the last SYN, the first and last upgrade
request (``GET``), the last ``101`` answer and the last join reply; and ``before wire``, the
client's own time before its first SYN (its time minus the span from the first SYN to the
last reply). Session 9 found with it that phoenix_fast's S5 loses to the Rust client before
the first SYN (the sockets' set-up in Python), and that its fastest run is ahead after it
(CHANGELOG).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
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


#: The wire's steps, in the order they happen, as ``--wire`` reports them.
WIRE_STEPS = ("last SYN", "first GET", "last GET", "last 101", "last reply")

_PACKET = re.compile(r"^(\d+\.\d+) IP \S+ > (\S+): Flags \[([^\]]*)\].* length (\d+)")


@contextlib.contextmanager
def captured(port: int) -> Iterator[dict[str, float]]:
    """tcpdump on the loopback for ``port`` while the block runs (the first 256 bytes of each
    packet: the headers, the HTTP start line, a short frame); the dict it yields is filled
    with the ``wire_steps`` of what it saw when the block ends."""
    steps: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "s5.pcap"
        cmd = ["tcpdump", "-i", "lo", "-n", "-s", "256", "-w", str(path), f"tcp port {port}"]
        dump = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        assert dump.stderr is not None
        said = dump.stderr.readline()  # "listening on lo ...": the capture is on
        if "listening on" not in said:
            dump.kill()
            dump.wait()
            dump.stderr.close()
            raise RuntimeError(f"tcpdump did not start (root is needed): {said.strip()}")
        try:
            yield steps
        finally:
            time.sleep(0.1)
            dump.terminate()
            dump.wait()
            dump.stderr.close()
        steps.update(wire_steps(path, port))


def wire_steps(path: Path, port: int) -> dict[str, float]:
    """When each of ``WIRE_STEPS`` happened in the capture at ``path``, in ms after the first
    SYN."""
    dump = subprocess.run(
        ["tcpdump", "-r", str(path), "-n", "-tt", "-A"], capture_output=True, text=True, check=True
    )
    return steps_from_dump(dump.stdout, port)


def steps_from_dump(text: str, port: int) -> dict[str, float]:
    """``wire_steps`` of tcpdump's text (``-n -tt -A``): a line per packet, then its bytes."""
    seen: dict[str, list[float]] = {"SYN": [], "GET": [], "101": [], "reply": []}
    packet: tuple[float, bool, str, int] | None = None
    body: list[str] = []
    for line in [*text.splitlines(), "0.0 IP end > end: Flags [] length 0"]:
        match = _PACKET.match(line)
        if match is None:
            body.append(line)
            continue
        if packet is not None:
            _classify(*packet, "".join(body), seen)
        to_server = match.group(2).endswith(f".{port}")
        packet, body = (float(match.group(1)), to_server, match.group(3), int(match.group(4))), []
    if not all(seen.values()):
        missing = [name for name, times in seen.items() if not times]
        raise RuntimeError(f"no {', '.join(missing)} seen on port {port}: not an S5 run?")
    start = min(seen["SYN"])
    at = {name: [(t - start) * 1000 for t in times] for name, times in seen.items()}
    return {
        "last SYN": max(at["SYN"]),
        "first GET": min(at["GET"]),
        "last GET": max(at["GET"]),
        "last 101": max(at["101"]),
        "last reply": max(at["reply"]),
    }


def _classify(
    at: float, to_server: bool, flags: str, length: int, body: str, seen: dict[str, list[float]]
) -> None:
    if to_server and flags == "S":
        seen["SYN"].append(at)
    elif length and to_server and "GET /" in body:
        seen["GET"].append(at)
    elif length and not to_server and "HTTP/1.1 101" in body:
        seen["101"].append(at)
    elif length and not to_server and "phx_reply" in body:
        seen["reply"].append(at)


def _runner(name: str) -> Callable[[str, int], float]:
    if name == "bare":
        return run_bare
    return lambda url, sockets: run_client(name, url, sockets)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--url", help="a running server (default: start the reference server)")
    parser.add_argument("--pin", action="store_true", help="server on CPU 1, clients on CPU 0")
    parser.add_argument("--wire", action="store_true", help="time the steps on the wire")
    parser.add_argument("--child", choices=["bare"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps({"seconds": uvloop.run(bare_s5(args.url, args.sockets))}))
        return 0
    if args.wire and shutil.which("tcpdump") is None:
        parser.error("--wire needs tcpdump (apt-get install tcpdump) and root")
    clients = ["bare", "phoenix_fast"] + (["rust"] if scenarios.RUST_PEER.is_file() else [])
    if args.pin:
        os.sched_setaffinity(0, {1})  # the server inherits this process's CPU...
    server = None if args.url else scenarios.ServerProcess(max_channels=1_000_000).start()
    if args.pin:
        os.sched_setaffinity(0, {0})  # ...and every client this one
    url = args.url or server.url  # type: ignore[union-attr]
    port = urlsplit(url).port or 80
    times: dict[str, list[float]] = {name: [] for name in clients}
    wire: dict[str, list[dict[str, float]]] = {name: [] for name in clients}
    try:
        for r in range(args.rounds):
            for name in clients[r % len(clients) :] + clients[: r % len(clients)]:
                time.sleep(0.3)  # the previous client's closes are the server's work
                capture: contextlib.AbstractContextManager[dict[str, float]] = (
                    captured(port) if args.wire else contextlib.nullcontext({})
                )
                with capture as steps:
                    times[name].append(_runner(name)(url, args.sockets) * 1000)
                if steps:
                    wire[name].append(steps)
    finally:
        if server is not None:
            server.stop()
    for name, values in times.items():
        print(
            f"{name:>13}: {statistics.median(values):.1f} ms "
            f"(min {min(values):.1f}, max {max(values):.1f}; {args.rounds} rounds, "
            f"{args.sockets} sockets)"
        )
        if wire[name]:
            print(" " * 15 + _wire_line(times[name], wire[name]))
    return 0


def _wire_line(times: list[float], runs: list[dict[str, float]]) -> str:
    """The medians of the wire's steps, and of the time before the first SYN."""
    steps = [f"{step} {statistics.median(run[step] for run in runs):.1f}" for step in WIRE_STEPS]
    before = statistics.median(t - run["last reply"] for t, run in zip(times, runs, strict=True))
    return f"wire, ms after the first SYN: {', '.join(steps)}; before wire {before:.1f}"


if __name__ == "__main__":
    sys.exit(main())
