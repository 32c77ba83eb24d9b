"""The WebSocket transport's edges against a raw peer (real loops): a disconnect while the
upgrade is unanswered, a wrong accept key, and a burst through a custom encoder."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from raw_server import RawServer, idle

from phoenix_fast import ReferenceSerializer
from phoenix_fast.errors import WebSocketProtocolError
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


async def _wrong_accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: bm90IHRoZSBhY2NlcHQ=\r\n\r\n"
    )
    await idle(reader, writer)


async def test_a_wrong_accept_key_fails_the_connect_at_once_without_the_query() -> None:
    async with RawServer(_wrong_accept, upgrade=False) as server:
        url = server.url
        socket = Socket(f"{url}?token=sekrit")
        with pytest.raises(WebSocketProtocolError) as failed:
            await socket.connect()
        await socket.disconnect()
    text = str(failed.value)
    assert text.startswith(f"{url}/websocket?***: WebSocket handshake failed")
    assert "Sec-WebSocket-Accept" in text and "sekrit" not in text
