"""Where S4's floor is: the asyncio await machinery alone, against phoenix_fast's client side.

    python benches/await_floor.py [--round-trips 200000] [--rounds 5] [--window 100]

Each figure is microseconds per round trip, the median of ``--rounds`` runs, on uvloop (as
the scenarios run), with ``--window`` coroutines in flight and replies resolved in batches,
once per loop iteration, as a network read resolves them:

- ``floor``: each coroutine awaits a bare future, that a batch resolver settles: what any
  asyncio client pays per awaited request, whatever it does besides.
- ``client``: each coroutine awaits ``channel.push()`` on a joined channel of a real
  ``Socket``, over an in-memory transport that answers every push with a ``phx_reply``
  tuple in the next batch: phoenix_fast's facade (push, pending table, routing, settling),
  with no codec and no network.
- ``client+codec``: the same with the frames really encoded (the native encoder
  ``send_fields`` uses) and the replies really decoded from their JSON frames.

S4 against the reference server adds the server's turn, the WebSocket framing and two
system calls a batch. Run it on an idle machine; under ``valgrind --tool=callgrind`` the
differences between two sizes give instructions per round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import uvloop

from phoenix_fast import Socket
from phoenix_fast._native import Codec
from phoenix_fast._states import SocketState
from phoenix_fast.message import Message
from phoenix_fast.serializers.native import default_codec
from phoenix_fast.transports.base import Transport, TransportHandler, TransportOptions


async def floor(round_trips: int, window: int) -> float:
    loop = asyncio.get_running_loop()
    waiting: list[asyncio.Future[None]] = []
    remaining = round_trips

    def resolve_batch() -> None:
        batch = waiting[:]
        waiting.clear()
        for fut in batch:
            fut.set_result(None)
        if remaining > 0 or waiting:
            loop.call_soon(resolve_batch)

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            fut = loop.create_future()
            waiting.append(fut)
            await fut

    loop.call_soon(resolve_batch)
    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(window)))
    return time.perf_counter() - start


class Answering(Transport):
    """An in-memory peer that replies ok to every push, in one batch per loop iteration."""

    transport_name = "in-memory"
    ready_state = SocketState.CONNECTING

    def __init__(self, options: TransportOptions, handler: TransportHandler, codec: Codec | None):
        self._handler = handler
        self._codec = codec
        self._out: list[Any] = []
        self._scheduled = False
        self._loop = asyncio.get_running_loop()
        self._loop.call_soon(self._open)

    def _open(self) -> None:
        self.ready_state = SocketState.OPEN
        self._handler.transport_open()

    def send(self, message: Message) -> None:
        self.send_fields(*message)

    def send_fields(
        self, join_ref: str | None, ref: str | None, topic: str, event: str, payload: Any
    ) -> None:
        codec = self._codec
        if codec is not None:
            codec.encode(join_ref, ref, topic, event, payload)
        self._out.append((join_ref, ref, topic, event))
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._answer)

    def _answer(self) -> None:
        self._scheduled = False
        out, self._out = self._out, []
        codec = self._codec
        if codec is None:
            batch = [
                (join_ref, ref, topic, "phx_reply", {"status": "ok", "response": {}})
                for join_ref, ref, topic, event in out
                if event != "heartbeat"
            ]
        else:
            batch = [
                codec.decode(
                    f'["{join_ref}","{ref}","{topic}","phx_reply",'
                    '{"status":"ok","response":{}}]'
                )
                for join_ref, ref, topic, event in out
                if event != "heartbeat"
            ]
        self._handler.transport_messages(batch)

    def close(self, code: int | None = None, reason: str = "") -> None:
        self.ready_state = SocketState.CLOSED
        self._handler.transport_close(code, reason, True)


async def client(round_trips: int, window: int, with_codec: bool) -> float:
    codec = default_codec(2) if with_codec else None
    socket = Socket(
        "ws://in-memory/socket",
        transport=lambda options, handler: Answering(options, handler, codec),
        heartbeat_interval=None,
    )
    await socket.connect()
    channel = socket.channel("room:floor")
    await channel.join()
    remaining = round_trips
    body = {"body": "x" * 64}

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await channel.push("ping", body)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(window)))
    seconds = time.perf_counter() - start
    await socket.disconnect()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round-trips", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--window", type=int, default=100)
    args = parser.parse_args()
    n, window = args.round_trips, args.window
    runs: dict[str, list[float]] = {"floor": [], "client": [], "client+codec": []}
    for _ in range(args.rounds):
        runs["floor"].append(uvloop.run(floor(n, window)))
        runs["client"].append(uvloop.run(client(n, window, with_codec=False)))
        runs["client+codec"].append(uvloop.run(client(n, window, with_codec=True)))
    for name, seconds in runs.items():
        per = sorted(s / n * 1e6 for s in seconds)
        print(
            f"{name:>13}: {statistics.median(per):.2f} us per round trip "
            f"(min {per[0]:.2f}, max {per[-1]:.2f}; {args.rounds} runs of {n:,})"
        )


if __name__ == "__main__":
    main()
