"""Channel edges: a buffered push that cannot be encoded when the join lets it go, the
traces of a join timeout and a leave, the channel's text, and the socket's heartbeat
settings changed on a live socket."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from helpers import connected, last, settle

from phoenix_fast.errors import EncodeError, PushTimeout
from phoenix_fast.transports.mock import phoenix_server


def _logger(lines: list[tuple[str, str]]) -> Any:
    return lambda kind, msg, data: lines.append((kind, msg))


async def test_a_buffered_push_that_cannot_be_encoded_fails_alone() -> None:
    lines: list[tuple[str, str]] = []
    socket, server = await connected(logger=_logger(lines))
    conn = server.current
    channel = socket.channel("room")
    channel.join()
    bad = channel.push("bad", {"x": object()})  # buffered until joined: not encoded yet
    good = channel.push("good", {"n": 1})
    await settle()
    conn.reply(last(conn, "phx_join"), "ok", {})
    await settle()
    with pytest.raises(EncodeError):
        await bad
    assert [m.payload for m in conn.messages("good")] == [{"n": 1}]
    assert not conn.messages("bad")
    assert ("channel", "buffered push to room failed") in lines
    conn.reply(last(conn, "good"), "ok", {"n": 1})
    assert await good == {"n": 1}
    await socket.disconnect()


async def test_a_join_timeout_and_a_leave_are_traced() -> None:
    lines: list[tuple[str, str]] = []
    socket, server = await connected(logger=_logger(lines), timeout=2.0)
    conn = server.current
    channel = socket.channel("room")
    channel.join()
    await settle()
    first = last(conn, "phx_join")
    assert repr(channel) == f"<Channel room joining join_ref={first.join_ref}>"
    with pytest.raises(PushTimeout):
        await channel.join_push
    assert ("channel", f"timeout room ({first.join_ref})") in lines
    await channel.leave()
    assert ("channel", "leave room") in lines
    assert str(channel.state) == "closed"
    await socket.disconnect()


async def test_heartbeat_settings_apply_to_a_live_socket() -> None:
    socket, server = await connected(phoenix_server, heartbeat_interval=30.0)
    socket.heartbeat_interval = 5.0
    socket.heartbeat_timeout = 7.0
    assert (socket.heartbeat_interval, socket.heartbeat_timeout) == (5.0, 7.0)
    sent_at: list[float] = []
    loop = asyncio.get_running_loop()
    while len(sent_at) < 3:
        await asyncio.sleep(1.0)
        if len(server.current.messages("heartbeat")) > len(sent_at):
            sent_at.append(loop.time())
    gaps = [round(b - a) for a, b in itertools.pairwise(sent_at)]
    assert gaps == [5, 5]  # the new interval, from the reply to the next heartbeat
    await socket.disconnect()
