"""One push, many awaiters; the text of a push; a push that timed out is never sent again."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from helpers import connected, join, last, settle

from phoenix_fast.channel import Channel
from phoenix_fast.errors import PushError, PushTimeout
from phoenix_fast.push import Push
from phoenix_fast.socket import Socket
from phoenix_fast.transports.mock import MockConnection


async def _joined() -> tuple[Socket, MockConnection, Channel]:
    socket, server = await connected()
    channel = socket.channel("room")
    await join(channel, server.current)
    return socket, server.current, channel


async def test_every_awaiter_of_one_push_gets_its_reply() -> None:
    socket, conn, channel = await _joined()
    push = channel.push("ping", {"n": 1})
    assert repr(push).startswith("<Push room ping ref=") and repr(push).endswith(" pending>")
    waiting = [asyncio.ensure_future(_await(push)) for _ in range(3)]
    await settle()
    conn.reply(last(conn, "ping"), "ok", {"n": 1})
    assert await asyncio.gather(*waiting) == [{"n": 1}] * 3
    assert await push == {"n": 1}  # and after, at once
    assert repr(push).endswith(" ok>")
    await socket.disconnect()


async def test_awaiters_and_receive_callbacks_of_one_push_all_get_its_reply() -> None:
    # a push with a receive() callback takes the general path of a reply, the others a
    # shorter one: both settle every awaiter
    socket, conn, channel = await _joined()
    heard: list[Any] = []
    push = channel.push("ping", {}).receive("ok", heard.append)
    waiting = [asyncio.ensure_future(_await(push)) for _ in range(2)]
    await settle()
    conn.reply(last(conn, "ping"), "ok", {"n": 2})
    assert await asyncio.gather(*waiting) == [{"n": 2}] * 2
    await settle()
    assert heard == [{"n": 2}]
    await socket.disconnect()


async def test_a_cancelled_awaiter_does_not_keep_the_others_from_the_reply() -> None:
    socket, conn, channel = await _joined()
    for awaiters in (1, 3):
        push = channel.push("ping", {})
        waiting = [asyncio.ensure_future(_await(push)) for _ in range(awaiters)]
        await settle()
        waiting[0].cancel()
        await settle()
        conn.reply(last(conn, "ping"), "ok", {"n": awaiters})
        assert await asyncio.gather(*waiting[1:]) == [{"n": awaiters}] * (awaiters - 1)
        assert waiting[0].cancelled()
        assert await push == {"n": awaiters}
    await socket.disconnect()


async def test_every_awaiter_of_one_refused_push_gets_the_error() -> None:
    socket, conn, channel = await _joined()
    push = channel.push("ping", {})
    waiting = [asyncio.ensure_future(_await(push)) for _ in range(3)]
    await settle()
    conn.reply(last(conn, "ping"), "error", {"reason": "no"})
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert [type(o) for o in outcomes] == [PushError] * 3
    assert [o.response for o in outcomes if isinstance(o, PushError)] == [{"reason": "no"}] * 3
    await socket.disconnect()


async def test_a_push_that_timed_out_is_not_sent_again() -> None:
    socket, conn, channel = await _joined()
    push = channel.push("ping", {}, timeout=1.0)
    with pytest.raises(PushTimeout):
        await push
    sent = len(conn.messages("ping"))
    push.send()  # as JS: a timed-out push stays unsent
    await settle()
    assert len(conn.messages("ping")) == sent
    assert repr(push).endswith(" timeout>")
    await socket.disconnect()


async def _await(push: Push) -> Any:
    return await push
