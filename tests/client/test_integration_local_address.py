"""``Socket(local_address=...)``: connections leave from the given local address."""

from __future__ import annotations

import asyncio

import pytest

from phoenix_fast import LongPoll, Socket
from phoenix_fast.errors import ConnectError


@pytest.mark.parametrize("transport", [None, LongPoll])
async def test_connections_leave_from_the_local_address(
    phoenix_url: str, transport: object
) -> None:
    seen: list[str] = []

    async def note_peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(writer.get_extra_info("peername")[0])
        writer.close()

    # a bare listener shows the peer address; the reference server then checks it works
    listener = await asyncio.start_server(note_peer, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    async with listener:
        probe = Socket(f"ws://127.0.0.1:{port}/socket", local_address="127.0.0.2")
        with pytest.raises(ConnectError):
            await probe.connect()
        await probe.disconnect()
    assert seen and set(seen) == {"127.0.0.2"}
    async with Socket(phoenix_url, local_address="127.0.0.3", transport=transport) as socket:
        await socket.channel("echo:local").join()


async def test_an_address_that_is_not_local_fails_to_connect(phoenix_url: str) -> None:
    socket = Socket(phoenix_url, local_address="192.0.2.1", reconnect_after=lambda _t: 60)
    with pytest.raises(ConnectError, match="assign requested address"):
        await socket.connect()
    await socket.disconnect()
