from __future__ import annotations

from helpers import connected

from phoenix_fast.transports.mock import phoenix_server


async def test_join_push_leave() -> None:
    socket, _server = await connected(phoenix_server)
    channel = socket.channel("room:lobby", {"name": "ada"})
    assert await channel.join() == {}
    assert channel.state == "joined"
    assert await channel.push("ping", {"x": 1}) == {"x": 1}
    assert await channel.leave() == {}
    assert channel.state == "closed"
    await socket.disconnect()
    assert socket.connection_state() == "closed"
