"""Fan-in: one stream over many channels, batch handlers, bounded coroutine handlers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from helpers import connected, join, settle

from phoenix_fast.errors import StreamOverflow
from phoenix_fast.message import Message


async def _joined(topics: list[str]) -> Any:
    socket, server = await connected()
    channels = [socket.channel(topic) for topic in topics]
    for channel in channels:
        await join(channel, server.current)
    return socket, server, channels


def _msg(channel: Any, event: str, n: int) -> Message:
    return Message(channel.join_ref, None, channel.topic, event, {"n": n})


async def test_one_stream_follows_a_prefix_of_topics() -> None:
    socket, server, (a, b, other) = await _joined(["room:1", "room:2", "lobby"])
    async with socket.stream("msg", topics="room:") as stream:
        server.current.receive(
            _msg(a, "msg", 1),
            _msg(other, "msg", 2),  # another topic
            _msg(b, "other", 3),  # another event
            _msg(b, "msg", 4),
            Message("stale", None, "room:1", "msg", {"n": 5}),  # an earlier join's
            Message(None, None, "room:9", "msg", {"n": 6}),  # no channel on it
        )
        assert [(m.topic, m.payload["n"]) for m in (await anext(stream), await anext(stream))] == [
            ("room:1", 1),
            ("room:2", 4),
        ]
        assert len(stream) == 0
    await socket.disconnect()


async def test_a_list_of_topics_and_several_events() -> None:
    socket, server, (a, b) = await _joined(["room:1", "room:2"])
    stream = socket.stream(["x", "y"], topics=["room:2"])
    server.current.receive(_msg(a, "x", 1), _msg(b, "x", 2), _msg(b, "y", 3), _msg(b, "z", 4))
    assert [m.payload["n"] for m in (await anext(stream), await anext(stream))] == [2, 3]
    stream.close()
    with pytest.raises(StopAsyncIteration):
        await anext(stream)
    await socket.disconnect()


async def test_batches_yield_what_one_read_delivered() -> None:
    socket, server, (a,) = await _joined(["room:1"])
    stream = socket.stream("msg")
    batches = stream.batches()
    server.current.receive(*(_msg(a, "msg", n) for n in range(5)))
    first = await anext(batches)
    assert [m.payload["n"] for m in first] == [0, 1, 2, 3, 4]
    server.current.receive(_msg(a, "msg", 5))
    assert [m.payload["n"] for m in await anext(batches)] == [5]
    stream.close()
    with pytest.raises(StopAsyncIteration):
        await anext(batches)
    await socket.disconnect()


async def test_a_socket_stream_overflows_by_its_policy() -> None:
    socket, server, (a,) = await _joined(["room:1"])
    stream = socket.stream("msg", maxsize=2, overflow="error")
    server.current.receive(*(_msg(a, "msg", n) for n in range(3)))
    with pytest.raises(StreamOverflow, match="'msg' on every topic"):
        await anext(stream)
    await socket.disconnect()


async def test_on_batch_gets_a_read_at_once() -> None:
    socket, server, (a,) = await _joined(["room:1"])
    calls: list[list[int]] = []
    a.on_batch("msg", lambda messages: calls.append([m.payload["n"] for m in messages]))
    server.current.receive(*(_msg(a, "msg", n) for n in range(4)))
    server.current.receive(_msg(a, "noise", 9))
    await settle()
    server.current.receive(_msg(a, "msg", 4))
    await settle()
    assert calls == [[0, 1, 2, 3], [4]]
    await socket.disconnect()


async def test_max_concurrency_bounds_coroutine_handlers() -> None:
    socket, server, (a,) = await _joined(["room:1"])
    release = asyncio.Event()
    running: list[int] = []
    done: list[int] = []
    peak = 0

    async def handler(payload: Any) -> None:
        nonlocal peak
        running.append(payload["n"])
        peak = max(peak, len(running))
        await release.wait()
        running.remove(payload["n"])
        done.append(payload["n"])

    a.on("msg", handler, max_concurrency=2)
    server.current.receive(*(_msg(a, "msg", n) for n in range(6)))
    await settle()
    assert running == [0, 1]
    release.set()
    await settle(30)
    assert sorted(done) == list(range(6)) and peak == 2
    await socket.disconnect()


async def test_a_bounded_handler_drops_past_its_queue() -> None:
    socket, server, (a,) = await _joined(["room:1"])
    release = asyncio.Event()
    done: list[int] = []

    async def handler(payload: Any) -> None:
        await release.wait()
        done.append(payload["n"])

    a.on("msg", handler, max_concurrency=1, maxsize=2, overflow="drop_oldest")
    server.current.receive(*(_msg(a, "msg", n) for n in range(6)))
    release.set()
    await settle(30)
    assert done == [0, 4, 5]  # 0 ran at once; of 1..5 the newest two stayed queued
    await socket.disconnect()


async def test_bounded_handler_arguments_are_checked() -> None:
    socket, _server, (a,) = await _joined(["room:1"])
    with pytest.raises(TypeError, match="coroutine handlers"):
        a.on("msg", lambda payload: None, max_concurrency=2)

    async def handler(payload: Any) -> None:
        return None

    with pytest.raises(ValueError, match="at least 1"):
        a.on("msg", handler, max_concurrency=0)
    with pytest.raises(ValueError, match="nobody could receive"):
        a.on("msg", handler, max_concurrency=1, overflow="error")  # type: ignore[arg-type]
    await socket.disconnect()
