"""The edges of fan-in: bounded handlers that queue nothing, drop the newest or raise, and a
socket stream's drop policies and its wake-up of a waiting reader."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from helpers import connected, join, settle

from phoenix_fast.message import Message


async def _joined(**options: Any) -> Any:
    socket, server = await connected(**options)
    channel = socket.channel("room:1")
    await join(channel, server.current)
    return socket, server.current, channel


def _msgs(channel: Any, count: int, event: str = "msg") -> list[Message]:
    return [Message(channel.join_ref, None, channel.topic, event, {"n": n}) for n in range(count)]


@pytest.mark.parametrize(
    ("maxsize", "overflow", "ran"),
    [
        (0, "drop_oldest", [0]),  # nothing queued: everything past the running one is dropped
        (0, "drop_newest", [0]),
        (2, "drop_newest", [0, 1, 2]),  # the first two queued are kept
    ],
)
async def test_a_bounded_handler_keeps_what_its_policy_keeps(
    maxsize: int, overflow: Any, ran: list[int]
) -> None:
    logged: list[str] = []
    socket, conn, channel = await _joined(logger=lambda kind, msg, data: logged.append(msg))
    release = asyncio.Event()
    done: list[int] = []

    async def handler(payload: Any) -> None:
        await release.wait()
        done.append(payload["n"])

    channel.on("msg", handler, max_concurrency=1, maxsize=maxsize, overflow=overflow)
    conn.receive(*_msgs(channel, 6))
    release.set()
    await settle(30)
    assert done == ran
    drops = [line for line in logged if "fell behind" in line]
    assert len(drops) == 1  # said once, not once per dropped message
    assert f"dropping the {overflow.removeprefix('drop_')} messages" in drops[0]
    await socket.disconnect()


async def test_a_bounded_handler_refuses_a_negative_queue() -> None:
    socket, _conn, channel = await _joined()

    async def handler(payload: Any) -> None:
        return None

    with pytest.raises(ValueError, match="maxsize must not be negative, not -1"):
        channel.on("msg", handler, max_concurrency=1, maxsize=-1)
    await socket.disconnect()


async def test_a_raising_bounded_handler_is_logged_and_the_next_message_still_runs() -> None:
    logged: list[tuple[str, str, Any]] = []
    socket, conn, channel = await _joined(logger=lambda *line: logged.append(line))
    done: list[int] = []

    async def handler(payload: Any) -> None:
        if payload["n"] == 0:
            raise KeyError("first")
        done.append(payload["n"])

    channel.on("msg", handler, max_concurrency=1)
    conn.receive(*_msgs(channel, 3))
    await settle(30)
    assert done == [1, 2]
    errors = [line for line in logged if line[0] == "callback"]
    assert [(kind, msg) for kind, msg, _ in errors] == [
        ("callback", "a handler of room:1 raised KeyError('first')")
    ]
    assert isinstance(errors[0][2], KeyError)
    await socket.disconnect()


@pytest.mark.parametrize(("overflow", "kept"), [("drop_oldest", [3, 4]), ("drop_newest", [0, 1])])
async def test_a_socket_stream_drops_by_its_policy(overflow: Any, kept: list[int]) -> None:
    socket, conn, channel = await _joined()
    async with socket.stream("msg", maxsize=2, overflow=overflow) as stream:
        conn.receive(*_msgs(channel, 5))
        assert stream.dropped == 3 and len(stream) == 2
        assert [(await anext(stream)).payload["n"] for _ in range(2)] == kept
    await socket.disconnect()


async def test_a_socket_stream_wakes_its_waiting_reader_and_aclose_ends_it() -> None:
    socket, conn, channel = await _joined()
    stream = socket.stream("msg")
    reader = asyncio.ensure_future(anext(stream))
    await settle()
    assert not reader.done()
    conn.receive(*_msgs(channel, 1))
    assert (await reader).payload == {"n": 0}
    async with contextlib.aclosing(stream):
        pass
    with pytest.raises(StopAsyncIteration):
        await anext(stream)
    await socket.disconnect()
