"""``socket.stats()`` counts bytes and messages on a real connection, on real loops."""

from __future__ import annotations

from collections.abc import Callable

from phoenix_fast.socket import Socket
from phoenix_fast.testing import ServerThread
from phoenix_fast.testing.waiting import wait_for


async def test_bytes_and_messages_are_counted_on_a_real_connection(
    phoenix_server_factory: Callable[..., ServerThread],
) -> None:
    server = phoenix_server_factory()
    async with Socket(server.url) as socket:
        channel = socket.channel("echo:stats")
        await channel.join()
        for n in range(5):
            await channel.push("ping", {"n": n})
        await wait_for(lambda: socket.stats().messages_in == 6, 10.0)
        stats = socket.stats()
        assert stats.messages_out == 6 and stats.transport == "websocket"
        assert stats.bytes_out > 6 * 20 and stats.bytes_in > 6 * 20
    after = socket.stats()
    assert after.bytes_out >= stats.bytes_out and after.state == "closed"
