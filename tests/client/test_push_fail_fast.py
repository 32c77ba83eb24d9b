"""Pushes fail as soon as their reply cannot come, on fake time.

After ``phx_error`` (the server's channel process crashed) or ``phx_close`` (it stopped),
an awaited push raises at once instead of waiting out its timeout. The ``receive`` hooks
keep the JS semantics: the ``timeout`` hooks still run at the deadline.
"""

from __future__ import annotations

import asyncio

import pytest
from helpers import connected, join, last, settle

from phoenix_fast.errors import ChannelClosed, ChannelCrashed, ChannelError, PushTimeout


async def _raises_within(awaitable: object, error: type[BaseException], seconds: float) -> str:
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(error) as raised:
        await awaitable  # type: ignore[misc]
    assert loop.time() - start <= seconds
    return str(raised.value)


async def test_phx_error_fails_in_flight_pushes_at_once() -> None:
    socket, server = await connected()
    channel = socket.channel("room:1")
    await join(channel, server.current)
    first = channel.push("slow", timeout=10)
    second = channel.push("slower", timeout=10)
    server.current.push("room:1", "phx_error", {}, join_ref=channel.join_ref)
    text = await _raises_within(first, ChannelCrashed, 0.0)
    assert "room:1" in text and "crashed" in text
    await _raises_within(second, ChannelError, 0.0)
    assert channel.state == "errored"
    await socket.disconnect()


async def test_phx_close_fails_in_flight_pushes_with_channel_closed() -> None:
    socket, server = await connected()
    channel = socket.channel("room:1")
    await join(channel, server.current)
    push = channel.push("slow", timeout=10)
    server.current.push("room:1", "phx_close", {}, join_ref=channel.join_ref)
    await _raises_within(push, ChannelClosed, 0.0)
    await socket.disconnect()


async def test_receive_timeout_hooks_still_run_at_the_deadline_as_in_js() -> None:
    socket, server = await connected()
    channel = socket.channel("room:1")
    await join(channel, server.current)
    seen: list[str] = []
    push = channel.push("slow", timeout=3).receive("timeout", lambda _r: seen.append("timeout"))
    server.current.push("room:1", "phx_error", {}, join_ref=channel.join_ref)
    with pytest.raises(ChannelCrashed):
        await push
    assert seen == []
    await asyncio.sleep(3.01)
    assert seen == ["timeout"]
    assert len(socket._deadlines.pending) <= 1  # only the rejoin may be pending: no leaked entry
    await socket.disconnect()


async def test_other_channels_and_buffered_pushes_are_untouched() -> None:
    socket, server = await connected()
    crashed = socket.channel("room:1")
    healthy = socket.channel("room:2")
    await join(crashed, server.current)
    await join(healthy, server.current)
    other = healthy.push("slow", timeout=5)
    server.current.push("room:1", "phx_error", {}, join_ref=crashed.join_ref)
    # a push made while errored is buffered for the rejoin, not failed
    buffered = crashed.push("after", timeout=5)
    await settle()
    assert not buffered.done and not other.done
    await asyncio.sleep(1.01)  # the rejoin goes out after the first backoff step
    server.current.reply(last(server.current, "phx_join", "room:1"))
    server.current.reply(last(server.current, "after"), "ok", {"fine": True})
    assert await buffered == {"fine": True}
    server.current.reply(last(server.current, "slow", "room:2"), "ok", {})
    assert await other == {}
    await socket.disconnect()


async def test_a_push_answered_before_the_crash_keeps_its_reply() -> None:
    socket, server = await connected()
    channel = socket.channel("room:1")
    await join(channel, server.current)
    push = channel.push("quick")
    server.current.reply(last(server.current, "quick"), "ok", {"n": 1})
    server.current.push("room:1", "phx_error", {}, join_ref=channel.join_ref)
    assert await push == {"n": 1}
    await socket.disconnect()


async def test_without_a_crash_a_push_still_times_out() -> None:
    socket, server = await connected()
    channel = socket.channel("room:1")
    await join(channel, server.current)
    with pytest.raises(PushTimeout):
        await channel.push("noreply", timeout=1)
    await socket.disconnect()
