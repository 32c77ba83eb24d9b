"""Backpressure on fake time: a blocked transport refuses pushes, never joins or leaves."""

from __future__ import annotations

import pytest
from helpers import connected, join, last, settle

from phoenix_fast.errors import BufferFull


async def test_a_blocked_transport_refuses_pushes_and_keeps_no_pending_entry() -> None:
    socket, server = await connected()
    channel = socket.channel("room:1")
    await join(channel, server.current)
    server.current.write_blocked = True
    with pytest.raises(BufferFull, match="max_buffer"):
        channel.push("new_msg", {"body": "hi"})
    assert len(socket._deadlines.pending) == 0
    assert server.current.messages("new_msg") == []
    server.current.write_blocked = False
    push = channel.push("new_msg", {"body": "again"})
    server.current.reply(last(server.current, "new_msg"), "ok", {"n": 1})
    assert await push == {"n": 1}
    await socket.disconnect()


async def test_joins_and_leaves_go_out_while_blocked() -> None:
    socket, server = await connected()
    server.current.write_blocked = True
    channel = socket.channel("room:1")
    channel.join()
    await settle()
    assert server.current.messages("phx_join")
    channel.leave()
    await settle()
    assert server.current.messages("phx_leave")
    await socket.disconnect()


def test_max_buffer_must_be_positive() -> None:
    from phoenix_fast import Socket

    with pytest.raises(ValueError, match="max_buffer"):
        Socket("ws://h/socket", max_buffer=0)
    assert Socket("ws://h/socket", max_buffer=None).max_buffer is None
    assert Socket("ws://h/socket").max_buffer == 8 * 1024 * 1024
