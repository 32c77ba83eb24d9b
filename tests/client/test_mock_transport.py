"""``MockTransport`` as a test's server: its guards (what happens on a connection that is not
open) and a decoder that raises something other than ``DecodeError``."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import connected, make_socket, settle

from phoenix_fast.message import Message
from phoenix_fast.transports.mock import MockTransport


def test_current_before_any_connection_says_so() -> None:
    with pytest.raises(LookupError, match="no connection was made yet"):
        MockTransport().current  # noqa: B018 - the property raises


async def test_a_closed_connection_refuses_sends_and_ignores_what_comes_after() -> None:
    events: list[Any] = []
    socket, server = await connected()
    socket.on_close(events.append)
    socket.on_error(events.append)
    socket.on_message(events.append)
    conn = server.current
    conn.server_close(4000, "bye")
    await socket.disconnect()
    await settle()
    assert [type(e).__name__ for e in events] == ["CloseEvent"]
    with pytest.raises(RuntimeError, match="send on a closed MockConnection"):
        conn.send(Message(None, "1", "room", "ping", {}))
    conn.close(1000)  # already closed: nothing more
    conn.abort(reason="late")
    conn.fail(ConnectionResetError())
    conn.receive(Message(None, None, "room", "msg", {}))
    await settle()
    assert (conn.close_code, conn.close_reason) == (None, "")
    assert [type(e).__name__ for e in events] == ["CloseEvent"]  # nothing else reached it


async def test_close_twice_reports_one_close() -> None:
    socket, server = await connected()
    closes: list[Any] = []
    socket.on_close(closes.append)
    conn = server.current
    conn.close(4001, "first")
    conn.close(4002, "second")  # closing already: ignored
    await settle()
    assert (conn.close_code, conn.close_reason) == (4001, "first")
    assert [(c.code, c.reason) for c in closes] == [(4001, "first")]
    await socket.disconnect()


async def test_a_decoder_that_raises_anything_costs_only_its_frame() -> None:
    logged: list[tuple[str, str]] = []

    def decode(raw: str | bytes) -> Message:
        if raw == "bad":
            raise ValueError("not a frame")
        return Message(None, None, "room", "msg", {"raw": raw})

    socket, server = make_socket(
        decode=decode, logger=lambda kind, msg, data: logged.append((kind, msg))
    )
    await socket.connect()
    messages: list[Message] = []
    socket.on_message(messages.append)
    server.current.receive("bad", "good")
    await settle()
    assert [m.payload for m in messages] == [{"raw": "good"}]
    assert (
        "receive",
        "dropping a frame that cannot be decoded: the decoder raised ValueError('not a frame')",
    ) in logged
    await socket.disconnect()
