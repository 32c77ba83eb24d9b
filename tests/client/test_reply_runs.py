"""Replies read as raw frames, as the WebSocket transport hands them over (exact tuples from
the native decoder): the run of plain replies at the head of a read is settled by the push
lane in one call, and everything else in the read goes through the receive loop, in order."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from helpers import connected, join, settle

from phoenix_fast.channel import Channel
from phoenix_fast.push import Push
from phoenix_fast.socket import Socket
from phoenix_fast.transports.mock import MockTransport


async def joined(**options: Any) -> tuple[Socket, MockTransport, Channel]:
    """A connected socket over a MockTransport, and its channel on "room:a", joined."""
    socket, server = await connected(**options)
    channel = socket.channel("room:a")
    await join(channel, server.current)
    return socket, server, channel


def reply_frame(channel: Channel, push: Push, response: Any, status: str = "ok") -> str:
    payload = {"status": status, "response": response}
    return json.dumps([channel.join_ref, push.ref, channel.topic, "phx_reply", payload])


def event_frame(channel: Channel, event: str, payload: Any) -> str:
    return json.dumps([channel.join_ref, None, channel.topic, event, payload])


async def test_replies_and_events_of_one_read_are_handled_in_order() -> None:
    socket, server, channel = await joined()
    first, second, third = (channel.push(event, {}) for event in ("a", "b", "c"))
    seen: list[Any] = []
    channel.on("news", lambda payload: seen.append([p.received for p in (first, second, third)]))
    server.current.receive(
        reply_frame(channel, first, 1),
        event_frame(channel, "news", {}),
        reply_frame(channel, second, 2),
        reply_frame(channel, third, 3),
    )
    assert seen == [[("ok", 1), None, None]]
    assert [await push for push in (first, second, third)] == [1, 2, 3]
    assert socket.stats().pending_pushes == 0
    assert socket.stats().messages_in == 5  # the join's reply and this read's four
    await socket.disconnect()


async def test_a_reply_behind_an_error_reply_still_settles_its_push() -> None:
    socket, server, channel = await joined()
    refused, accepted = channel.push("a", {}), channel.push("b", {})
    server.current.receive(
        reply_frame(channel, refused, {"reason": "no"}, "error"),
        reply_frame(channel, accepted, "yes"),
    )
    with pytest.raises(Exception, match="error"):
        await refused
    assert await accepted == "yes"
    await socket.disconnect()


async def test_an_observer_still_hears_of_every_push_settled_by_a_reply() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    socket, server, channel = await joined(
        observer=lambda event, data: seen.append((event, dict(data)))
    )
    pushes = [channel.push("a", {}), channel.push("b", {})]
    server.current.receive(*(reply_frame(channel, push, {}) for push in pushes))
    await settle()
    assert [(data["event"], data["status"]) for event, data in seen if event == "push"] == [
        ("phx_join", "ok"),
        ("a", "ok"),
        ("b", "ok"),
    ]
    await socket.disconnect()


async def test_phx_reply_bindings_still_see_every_reply() -> None:
    socket, server, channel = await joined()
    bound: list[Any] = []
    channel.on("phx_reply", bound.append)
    pushes = [channel.push("a", {}), channel.push("b", {})]
    server.current.receive(*(reply_frame(channel, push, n) for n, push in enumerate(pushes)))
    assert [await push for push in pushes] == [0, 1]
    assert [payload["response"] for payload in bound] == [0, 1]
    await socket.disconnect()


async def test_tracing_still_logs_every_reply(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="replies")
    socket, server, channel = await joined(logger=logging.getLogger("replies"))
    pushes = [channel.push("a", {}), channel.push("b", {})]
    caplog.clear()
    server.current.receive(*(reply_frame(channel, push, n) for n, push in enumerate(pushes)))
    assert [await push for push in pushes] == [0, 1]
    assert sum("phx_reply" in record.getMessage() for record in caplog.records) == 2
    await socket.disconnect()


async def test_a_reply_read_after_a_close_in_the_same_read_is_dropped() -> None:
    socket, server, channel = await joined()
    closing, late = channel.push("a", {}), channel.push("b", {})
    closing.receive("ok", lambda response: socket.disconnect())
    server.current.receive(reply_frame(channel, closing, 1), reply_frame(channel, late, 2))
    assert closing.received == ("ok", 1)
    assert late.received is None
