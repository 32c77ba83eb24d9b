"""Push: receive chaining, awaiting, resend, timeouts in the native table."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from helpers import connected, join, last, make_socket, settle

from phoenix_fast.errors import ConnectionClosed, JoinError, PushError, PushTimeout


async def joined() -> Any:
    socket, server = await connected()
    channel = socket.channel("topic")
    await join(channel, server.current)
    return socket, server, channel


async def test_receive_chains_for_any_status() -> None:
    socket, server, channel = await joined()
    seen: list[Any] = []
    push = (
        channel.push("event")
        .receive("ok", lambda r: seen.append(("ok", r)))
        .receive("rate_limited", lambda r: seen.append(("rate_limited", r)))
    )
    server.current.reply(last(server.current, "event"), "rate_limited", {"retry": 5})
    assert seen == [("rate_limited", {"retry": 5})]
    with pytest.raises(PushError) as info:
        await push
    assert (info.value.status, info.value.response) == ("rate_limited", {"retry": 5})
    await socket.disconnect()


async def test_await_returns_the_ok_response_and_again_at_once() -> None:
    socket, server, channel = await joined()
    push = channel.push("event", {"q": 1})
    waiter = asyncio.ensure_future(_await(push))
    await settle()
    server.current.reply(last(server.current, "event"), "ok", {"a": 1})
    assert await waiter == {"a": 1}
    assert await push == {"a": 1}  # already resolved: returns at once
    await socket.disconnect()


async def _await(push: Any) -> Any:
    return await push


async def test_every_awaiter_gets_the_outcome_and_a_cancelled_one_is_skipped() -> None:
    socket, server, channel = await joined()
    push = channel.push("event")
    first, cancelled, third = (asyncio.ensure_future(_await(push)) for _ in range(3))
    await settle()
    cancelled.cancel()
    await settle()
    server.current.reply(last(server.current, "event"), "error", {"why": 1})
    for waiter in (first, third):
        with pytest.raises(PushError):
            await waiter
    assert cancelled.cancelled()
    await socket.disconnect()


async def test_await_raises_push_error_and_push_timeout() -> None:
    socket, server, channel = await joined()
    failing = channel.push("error_me")
    server.current.reply(last(server.current, "error_me"), "error", {"reason": "requested"})
    with pytest.raises(PushError) as info:
        await failing
    assert info.value.response == {"reason": "requested"} and info.value.status == "error"
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(PushTimeout):
        await channel.push("noreply", timeout=2.5)
    assert loop.time() - start == pytest.approx(2.5, abs=0.002)
    with pytest.raises(TimeoutError):  # PushTimeout is a TimeoutError
        await channel.push("noreply", timeout=1)
    await socket.disconnect()


async def test_join_awaits_raise_join_error_but_the_channel_keeps_rejoining() -> None:
    socket, server = await connected()
    channel = socket.channel("topic")
    joining = asyncio.ensure_future(_await(channel.join()))
    await settle()
    server.current.reply(last(server.current, "phx_join"), "error", {"reason": "unauthorized"})
    with pytest.raises(JoinError) as info:
        await joining
    assert info.value.response == {"reason": "unauthorized"}
    await asyncio.sleep(1)
    assert len(server.current.messages("phx_join")) == 2
    server.current.reply(last(server.current, "phx_join"))
    assert channel.state == "joined"
    with pytest.raises(JoinError):  # awaiting reports the first outcome
        await channel.join_push
    await socket.disconnect()


async def test_join_await_timeout() -> None:
    socket, _ = await connected(heartbeat_interval=None)
    with pytest.raises(PushTimeout):
        await socket.channel("topic").join(timeout=3)
    await socket.disconnect()


async def test_pending_awaits_fail_when_the_connection_drops() -> None:
    socket, server, channel = await joined()
    push = channel.push("slow")
    hooks: list[str] = []
    push.receive("timeout", lambda _r: hooks.append("timeout"))
    joining = socket.channel("other")
    join_push = joining.join()
    await settle()
    server.current.drop()
    with pytest.raises(ConnectionClosed):
        await push
    with pytest.raises(ConnectionClosed):
        await join_push
    assert hooks == []  # the receive("timeout") callbacks keep the JS timing
    await asyncio.sleep(10)
    assert hooks == ["timeout"]
    await socket.disconnect()


async def test_awaiting_a_push_before_connect_times_out_without_a_socket() -> None:
    socket, _ = make_socket(auto_open=False)
    channel = socket.channel("topic")
    with pytest.raises(PushTimeout):
        await channel.join(timeout=1)


async def test_resend_uses_a_new_ref_and_timeout() -> None:
    socket, server, channel = await joined()
    push = channel.push("event", timeout=1)
    first = push.ref
    push.resend(5)
    assert push.ref != first and push.timeout == 5
    assert [m.ref for m in server.current.messages("event")] == [first, push.ref]
    server.current.reply(server.current.messages("event")[0])  # a reply to the old ref
    assert push.received is None
    await asyncio.sleep(4.9)
    assert push.received is None
    await asyncio.sleep(0.2)
    assert push.received == ("timeout", {})
    await socket.disconnect()


async def test_late_receivers_fire_at_once_and_only_for_their_status() -> None:
    socket, _server, channel = await joined()
    push = channel.push("event", timeout=1)
    await asyncio.sleep(1.5)
    seen: list[str] = []
    push.receive("ok", lambda _r: seen.append("ok")).receive("timeout", lambda _r: seen.append("t"))
    assert seen == ["t"]
    await socket.disconnect()


async def test_one_loop_timer_for_many_pushes() -> None:
    socket, server, channel = await joined()
    loop = asyncio.get_running_loop()
    before = len(loop._scheduled)  # type: ignore[attr-defined]
    pushes = [channel.push("event", {"i": i}) for i in range(500)]
    assert len(loop._scheduled) - before <= 1  # type: ignore[attr-defined]
    for message in server.current.messages("event")[:250]:
        server.current.reply(message)
    await asyncio.sleep(11)
    assert sum(p.received == ("timeout", {}) for p in pushes) == 250
    assert len(socket._deadlines.pending) == 0
    await socket.disconnect()


async def test_raising_receive_callback_is_logged_not_raised(caplog: Any) -> None:
    socket, server, channel = await joined()
    after: list[str] = []

    def broken(_response: Any) -> None:
        raise ValueError("bug in user code")

    channel.push("event").receive("ok", broken).receive("ok", lambda _r: after.append("ran"))
    server.current.reply(last(server.current, "event"))
    assert after == ["ran"]
    assert "bug in user code" in caplog.text
    await socket.disconnect()


async def test_async_receive_callback_runs_as_a_task() -> None:
    socket, server, channel = await joined()
    done: list[Any] = []

    async def callback(response: Any) -> None:
        await asyncio.sleep(1)
        done.append(response)

    channel.push("event").receive("ok", callback)
    server.current.reply(last(server.current, "event"), "ok", {"x": 1})
    await asyncio.sleep(1.1)
    assert done == [{"x": 1}]
    await socket.disconnect()
