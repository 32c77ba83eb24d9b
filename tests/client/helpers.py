"""Shared helpers of the client unit tests (fake time, MockTransport)."""

from __future__ import annotations

import asyncio
from typing import Any

from phoenix_fast.channel import Channel
from phoenix_fast.message import Message
from phoenix_fast.socket import Socket
from phoenix_fast.transports.mock import MockConnection, MockTransport, ServerHandler

URL = "ws://example.test/socket"


def make_socket(
    handler: ServerHandler | None = None, *, auto_open: bool = True, **options: Any
) -> tuple[Socket, MockTransport]:
    """A socket over a MockTransport (a silent peer unless ``handler`` is given)."""
    server = MockTransport(handler, auto_open=auto_open)
    return Socket(URL, transport=server, **options), server


async def settle(turns: int = 10) -> None:
    """Lets the loop run a few iterations without moving the clock."""
    for _ in range(turns):
        await asyncio.sleep(0)


async def connected(
    handler: ServerHandler | None = None, **options: Any
) -> tuple[Socket, MockTransport]:
    socket, server = make_socket(handler, **options)
    await socket.connect()
    return socket, server


def last(conn: MockConnection, event: str | None = None, topic: str | None = None) -> Message:
    """The last message the client sent (of ``event`` on ``topic``)."""
    messages = conn.messages(event, topic)
    assert messages, f"nothing sent for event={event} topic={topic}: {conn.sent}"
    return messages[-1]


async def join(channel: Channel, conn: MockConnection, response: Any = None) -> Message:
    """Joins ``channel`` and answers ok by hand; returns the join message."""
    channel.join()
    await settle()
    message = last(conn, "phx_join", channel.topic)
    conn.reply(message, "ok", response)
    await settle()
    return message
