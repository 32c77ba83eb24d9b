"""What waits for the connection to open: stale frames are dropped when it opens (as JS's
send buffer is), and a frame that fails then fails its push alone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from helpers import make_socket, settle

from phoenix_fast.errors import EncodeError


def _logger(lines: list[tuple[str, str]]) -> Any:
    return lambda kind, msg, data: lines.append((kind, msg))


async def test_a_join_left_before_the_connection_opened_is_never_sent() -> None:
    lines: list[tuple[str, str]] = []
    socket, server = make_socket(auto_open=False, logger=_logger(lines))
    connecting = asyncio.ensure_future(socket.connect())
    await settle()
    left = socket.channel("room:left")
    left.join()
    left.leave()  # closed at once: its buffered join (and leave) went stale
    kept = socket.channel("room:kept")
    kept.join()
    server.current.open()
    await connecting
    await settle()
    assert [(m.event, m.topic) for m in server.current.sent] == [("phx_join", "room:kept")]
    assert ("push", "dropping stale room:left phx_join") in lines
    assert ("push", "dropping stale room:left phx_leave") in lines
    await socket.disconnect()


async def test_a_buffered_frame_that_fails_when_sent_fails_its_push_alone() -> None:
    lines: list[tuple[str, str]] = []

    def encode(message: Any) -> str:
        if message.topic == "room:bad":
            raise EncodeError("cannot encode this one")
        return "frame"

    socket, server = make_socket(auto_open=False, logger=_logger(lines), encode=encode)
    connecting = asyncio.ensure_future(socket.connect())
    await settle()
    bad, good = socket.channel("room:bad"), socket.channel("room:good")
    bad_join = bad.join()
    good.join()
    server.current.open()
    await connecting
    await settle()
    with pytest.raises(EncodeError, match="cannot encode this one"):
        await bad_join
    assert [m.topic for m in server.current.sent] == ["room:good"]
    assert ("push", "cannot send room:bad phx_join") in lines
    await socket.disconnect()
