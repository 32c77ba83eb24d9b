"""A fan-in bot: many channels, one consumer, and a count of what arrived.

It joins ``--channels`` topics ``load:0`` ... ``load:N-1`` (one socket per 100 channels,
Phoenix's default limit per socket), asks the server to broadcast ``--rounds`` rounds of
``tick`` to all of them, and counts the ticks, either with callbacks (``--mode callbacks``,
the fastest: the callback runs inside the receive loop) or with one bounded stream per channel
(``--mode stream``: ``async for`` with an explicit overflow policy)::

    phoenix-fast serve
    python examples/fan_in.py --channels 500 --rounds 20 --mode stream --overflow drop_oldest

The URL comes from ``--url``, else ``$PHOENIX_URL``, else the reference server's default.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import TYPE_CHECKING, Any, Literal

import phoenix_fast
from phoenix_fast import Channel, Socket
from phoenix_fast.errors import PhoenixError, StreamOverflow

if TYPE_CHECKING:
    from phoenix_fast._stream import ChannelStream  # what channel.stream() returns

DEFAULT_URL = "ws://127.0.0.1:4000/socket"
CHANNELS_PER_SOCKET = 100  # Phoenix's max_channels_per_transport default
Overflow = Literal["drop_oldest", "drop_newest", "error"]


class Tally:
    """What arrived, across every channel."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.received = 0
        self.streams: list[ChannelStream] = []
        self.overflowed: list[str] = []
        self.complete = asyncio.Event()

    @property
    def dropped(self) -> int:
        return sum(stream.dropped for stream in self.streams)

    def add(self) -> None:
        self.received += 1
        # A drop calls nothing, but a message is dropped only while its queue is full, so the
        # reader's next message comes after it: checking here sees every drop in the end.
        if self.received + self.dropped >= self.expected:
            self.complete.set()


def count_with_callbacks(channels: list[Channel], tally: Tally) -> list[asyncio.Task[None]]:
    def on_tick(_payload: Any) -> None:
        tally.add()

    for channel in channels:
        channel.on("tick", on_tick)
    return []


def count_with_streams(
    channels: list[Channel], tally: Tally, maxsize: int, overflow: Overflow
) -> list[asyncio.Task[None]]:
    async def consume(stream: ChannelStream) -> None:
        async with stream:  # unbinds the stream on the way out
            try:
                async for _message in stream:
                    tally.add()
            except StreamOverflow:
                # overflow="error": this reader could not keep up, and it must not lose
                # messages silently, so the run stops and says so
                tally.overflowed.append(stream.channel.topic)
                tally.complete.set()

    # each stream queues from the moment it is made: make them before the broadcasts start
    tally.streams = [
        channel.stream("tick", maxsize=maxsize, overflow=overflow) for channel in channels
    ]
    return [asyncio.create_task(consume(stream)) for stream in tally.streams]


async def main(args: argparse.Namespace) -> int:
    sockets = [
        Socket(args.url, params={"token": "fan-in"})
        for _ in range(-(-args.channels // CHANNELS_PER_SOCKET))
    ]
    channels = [
        sockets[n // CHANNELS_PER_SOCKET].channel(f"load:{n}") for n in range(args.channels)
    ]
    tally = Tally(expected=args.channels * args.rounds)
    if args.mode == "callbacks":
        consumers = count_with_callbacks(channels, tally)
    else:
        consumers = count_with_streams(channels, tally, args.maxsize, args.overflow)
    try:
        await asyncio.gather(*(socket.connect() for socket in sockets))
        await asyncio.gather(*(channel.join() for channel in channels))
        print(f"joined {len(channels)} channels on {len(sockets)} socket(s)", flush=True)

        started = time.perf_counter()
        await channels[0].push(
            "fanout", {"prefix": "load:", "count": args.channels, "n": args.rounds, "size": 64}
        )
        try:
            await asyncio.wait_for(tally.complete.wait(), args.timeout)
        except asyncio.TimeoutError:
            pass
        elapsed = time.perf_counter() - started
    finally:
        for task in consumers:
            task.cancel()
        await asyncio.gather(*consumers, return_exceptions=True)
        await asyncio.gather(*(socket.disconnect() for socket in sockets))

    rate = tally.received / elapsed if elapsed > 0 else 0.0
    print(
        f"received {tally.received:,} of {tally.expected:,} ticks in {elapsed:.3f} s "
        f"({rate:,.0f}/s, mode {args.mode}), dropped {tally.dropped:,}",
        flush=True,
    )
    if tally.overflowed:
        print(f"overflowed (overflow='error'): {', '.join(tally.overflowed)}", flush=True)
        return 1
    return 0 if tally.received + tally.dropped == tally.expected else 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", default=os.environ.get("PHOENIX_URL", DEFAULT_URL))
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--mode", choices=("callbacks", "stream"), default="callbacks")
    parser.add_argument("--maxsize", type=int, default=10_000, help="queue size of each stream")
    parser.add_argument(
        "--overflow", choices=("drop_oldest", "drop_newest", "error"), default="drop_oldest"
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="give up after, s")
    return parser.parse_args()


if __name__ == "__main__":
    try:
        raise SystemExit(phoenix_fast.run(main(parse_args())))
    except PhoenixError as exc:
        raise SystemExit(f"fan_in: {exc}") from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
