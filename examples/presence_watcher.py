"""A presence watcher: prints who joins and leaves a room, and who is there after each change.

    phoenix-fast serve
    python examples/presence_watcher.py --room lobby

It joins ``presence:<room>`` itself (the contract application requires a ``user_id``), so it
appears in the list too. It runs until Ctrl-C (or SIGTERM), or for ``--duration`` seconds.
The URL comes from ``--url``, else ``$PHOENIX_URL``, else the reference server's default.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from typing import Any

import phoenix_fast
from phoenix_fast import Presence, Socket
from phoenix_fast.errors import PhoenixError

DEFAULT_URL = "ws://127.0.0.1:4000/socket"


def describe(presence: dict[str, Any]) -> str:
    statuses = sorted({meta.get("status", "?") for meta in presence["metas"]})
    return ", ".join(statuses)


async def main(url: str, room: str, duration: float | None) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows
            loop.add_signal_handler(sig, stop.set)

    async with Socket(url) as socket:
        channel = socket.channel(f"presence:{room}", {"user_id": "watcher", "status": "watching"})
        presence = Presence(channel)

        @presence.on_join
        def joined(key: str, current: dict[str, Any] | None, new: dict[str, Any]) -> None:
            # current is None for a first appearance, else the key was already there
            # (another tab, another device) and only gained metas
            what = "joined" if current is None else "is here again"
            print(f"{key} {what} ({describe(new)})", flush=True)

        @presence.on_leave
        def left(key: str, current: dict[str, Any] | None, gone: dict[str, Any]) -> None:
            what = "left" if not current or not current["metas"] else "left one session"
            print(f"{key} {what}", flush=True)

        @presence.on_sync
        def synced() -> None:
            online = presence.list(lambda key, p: f"{key} ({describe(p)})")
            print(f"online: {', '.join(sorted(online))}", flush=True)

        await channel.join()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), duration)
        presence.close()
    print("watcher: stopped", flush=True)
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", default=os.environ.get("PHOENIX_URL", DEFAULT_URL))
    parser.add_argument("--room", default="lobby")
    parser.add_argument("--duration", type=float, default=None, help="stop after, s")
    return parser.parse_args()


if __name__ == "__main__":
    args = parse_args()
    try:
        raise SystemExit(phoenix_fast.run(main(args.url, args.room, args.duration)))
    except PhoenixError as exc:
        raise SystemExit(f"presence_watcher: {exc}") from None
