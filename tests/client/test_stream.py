"""channel.stream(): a bounded queue with an explicit overflow policy."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from helpers import connected, join

from phoenix_fast.errors import StreamOverflow
from phoenix_fast.message import Message


async def joined() -> Any:
    socket, server = await connected()
    channel = socket.channel("room")
    await join(channel, server.current)
    return socket, server.current, channel


async def test_stream_yields_messages_and_ends_when_the_channel_closes() -> None:
    socket, conn, channel = await joined()
    stream = channel.stream("msg")
    conn.push("room", "msg", {"n": 1})
    conn.push("room", "other", {"n": 0})
    conn.receive(Message(channel.join_ref, None, "room", "msg", {"n": 2}))
    conn.push("room", "phx_close", {}, join_ref=channel.join_ref)
    got = [m async for m in stream]
    assert got == [
        Message(channel.join_ref, None, "room", "msg", {"n": 1}),
        Message(channel.join_ref, None, "room", "msg", {"n": 2}),
    ]
    await socket.disconnect()


async def test_stream_waits_for_messages() -> None:
    socket, conn, channel = await joined()
    stream = channel.stream("msg")
    asyncio.get_running_loop().call_later(5, conn.push, "room", "msg", {"late": True})
    message = await stream.__anext__()
    assert message.payload == {"late": True}
    stream.close()
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()
    assert "msg" not in channel._bindings
    await socket.disconnect()


@pytest.mark.parametrize(
    ("policy", "kept"), [("drop_oldest", [3, 4, 5]), ("drop_newest", [1, 2, 3])]
)
async def test_drop_policies_count_what_they_drop(policy: Any, kept: list[int]) -> None:
    socket, conn, channel = await joined()
    async with channel.stream("msg", maxsize=3, overflow=policy) as stream:
        for n in range(1, 6):
            conn.push("room", "msg", {"n": n})
        assert stream.dropped == 2 and len(stream) == 3
        assert [(await stream.__anext__()).payload["n"] for _ in range(3)] == kept
    await socket.disconnect()


async def test_error_policy_raises_after_the_queued_messages_were_read() -> None:
    socket, conn, channel = await joined()
    stream = channel.stream("msg", maxsize=2, overflow="error")
    for n in range(3):
        conn.push("room", "msg", {"n": n})
    with pytest.raises(StreamOverflow):
        async for _ in stream:
            pass
    assert stream.dropped == 1
    await socket.disconnect()


def test_bad_stream_arguments() -> None:
    from helpers import make_socket

    socket, _ = make_socket()
    channel = socket.channel("room")
    with pytest.raises(ValueError, match="maxsize"):
        channel.stream("msg", maxsize=0)
    with pytest.raises(ValueError, match="overflow"):
        channel.stream("msg", overflow="block")  # type: ignore[arg-type]
