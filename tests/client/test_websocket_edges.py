"""The WebSocket transport's edges against a raw peer (real loops): a disconnect while the
upgrade is unanswered, and a burst through a custom encoder."""

from __future__ import annotations

import asyncio
from typing import Any

from raw_server import RawServer, idle

from phoenix_fast import ReferenceSerializer
from phoenix_fast.socket import Socket
from phoenix_fast.testing.waiting import wait_for
from phoenix_fast.transports.websocket import FLUSH_EVERY


async def test_a_disconnect_while_the_upgrade_is_unanswered_gives_up_at_once() -> None:
    async with RawServer(idle, upgrade=False) as server:
        socket = Socket(server.url)
        closes: list[Any] = []
        socket.on_close(closes.append)
        attempt = asyncio.ensure_future(socket.connect())
        await wait_for(lambda: server.requests)  # the request went; no answer will come
        assert str(socket.connection_state()) == "connecting"
        await socket.disconnect()
        assert str(socket.connection_state()) == "closed"
        assert [c.was_clean for c in closes] == [False]
        await asyncio.gather(attempt, return_exceptions=True)
        assert server.connections == 1  # and no reconnect after a disconnect


async def test_a_burst_through_a_custom_encoder_goes_out_in_chunks(phoenix_url: str) -> None:
    serializer = ReferenceSerializer("2.0.0")
    async with Socket(phoenix_url, encode=serializer.encode, decode=serializer.decode) as socket:
        channel = socket.channel("echo:custom-burst")
        await channel.join()
        count = 2 * FLUSH_EVERY + 5  # pushed in one loop turn: flushed every FLUSH_EVERY
        replies = await asyncio.gather(*(channel.push("ping", {"i": i}) for i in range(count)))
        assert [reply["i"] for reply in replies] == list(range(count))
