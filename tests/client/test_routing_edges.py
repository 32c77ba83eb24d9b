"""Routing's less travelled paths: a second join of a topic, a reply carrying another
channel's ref, reply bindings, stale messages, a decoder that returns no message, and what
arrives in the same read after a close."""

from __future__ import annotations

from typing import Any

from helpers import connected, join, last, settle

from phoenix_fast.message import Message


def _logger(lines: list[tuple[str, str]]) -> Any:
    return lambda kind, msg, data: lines.append((kind, msg))


async def test_joining_a_topic_twice_leaves_the_first_channel() -> None:
    lines: list[tuple[str, str]] = []
    socket, server = await connected(logger=_logger(lines))
    first = socket.channel("room")
    await join(first, server.current)
    second = socket.channel("room")
    await join(second, server.current)
    assert ("transport", 'leaving duplicate topic "room"') in lines
    assert str(first.state) == "closed"  # as in JS: leave() closes at once, the leave goes out
    assert last(server.current, "phx_leave", "room").join_ref == first.join_ref
    assert str(second.state) == "joined"
    await socket.disconnect()


async def test_a_reply_with_another_channels_ref_is_not_taken() -> None:
    socket, server = await connected()
    conn = server.current
    a, b = socket.channel("room:a"), socket.channel("room:b")
    await join(a, conn)
    await join(b, conn)
    reply_bindings: list[Any] = []
    a.on("phx_reply", lambda payload, ref: reply_bindings.append((payload["status"], ref)))
    push = b.push("ping", {})
    await settle()
    sent = last(conn, "ping", "room:b")
    # the ref of b's push, on a's topic: a's bindings see it, b's push stays pending
    conn.receive(Message(a.join_ref, sent.ref, "room:a", "phx_reply", {"status": "ok"}))
    await settle()
    assert reply_bindings == [("ok", sent.ref)]
    assert not push.done
    conn.reply(sent, "ok", {"right": "topic"})
    assert await push == {"right": "topic"}
    await socket.disconnect()


async def test_a_stale_message_is_dropped_with_a_trace() -> None:
    lines: list[tuple[str, str]] = []
    socket, server = await connected(logger=_logger(lines))
    channel = socket.channel("room")
    await join(channel, server.current)
    got: list[Any] = []
    channel.on("msg", got.append)
    server.current.receive(Message("old-join", None, "room", "msg", {"stale": True}))
    await settle()
    assert got == []
    assert ("channel", "dropping outdated room msg (old-join)") in lines
    await socket.disconnect()


async def test_a_decoder_returning_no_message_costs_that_frame_only() -> None:
    lines: list[tuple[str, str]] = []

    def decode(raw: str | bytes) -> Any:
        if raw == "odd":
            return {"not": "a message"}
        return Message(None, None, "room", "msg", {"raw": raw})

    socket, server = await connected(decode=decode, logger=_logger(lines))
    messages: list[Message] = []
    socket.on_message(messages.append)
    server.current.receive("odd", "fine")
    await settle()
    assert [m.payload for m in messages] == [{"raw": "fine"}]
    assert ("receive", "dropping a frame decoded as dict") in lines
    await socket.disconnect()


async def test_a_decoder_returning_five_things_that_are_not_a_message_is_refused() -> None:
    # the receive loop unpacks without a type test: a list or a string of five would unpack
    lines: list[tuple[str, str]] = []
    odd: dict[str, Any] = {"list": [None, None, "room", "msg", {}], "str": "abcde"}

    def decode(raw: str | bytes) -> Any:
        if raw in odd:
            return odd[raw]
        return Message(None, None, "room", "msg", {"raw": raw})

    socket, server = await connected(decode=decode, logger=_logger(lines))
    messages: list[Message] = []
    socket.on_message(messages.append)
    server.current.receive("list", "str", "fine")
    await settle()
    assert [m.payload for m in messages] == [{"raw": "fine"}]
    assert ("receive", "dropping a frame decoded as list") in lines
    assert ("receive", "dropping a frame decoded as str") in lines
    await socket.disconnect()


async def test_messages_after_a_close_in_the_same_read_are_dropped() -> None:
    socket, server = await connected()
    channel = socket.channel("room")
    conn = server.current
    await join(channel, conn)
    got: list[Any] = []

    def on_msg(payload: Any) -> None:
        got.append(payload["n"])
        if payload["n"] == 1:
            conn.close(1000, "")  # the client closes while handling the read

    channel.on("msg", on_msg)
    conn.receive(*(Message(channel.join_ref, None, "room", "msg", {"n": n}) for n in range(4)))
    await settle()
    assert got == [0, 1]  # as browsers do: nothing behind a close
    await socket.disconnect()


async def test_a_raising_callback_on_the_short_path_costs_its_message_only() -> None:
    lines: list[tuple[str, str]] = []
    socket, server = await connected(logger=_logger(lines))
    channel = socket.channel("room")
    await join(channel, server.current)
    got: list[Any] = []

    def picky(payload: Any) -> None:  # one binding, the payload alone: the short path
        if payload.get("bad"):
            raise ValueError("bad payload")
        got.append(payload)

    channel.on("msg", picky)
    server.current.push("room", "msg", {"bad": True})
    server.current.push("room", "msg", {"n": 2})
    await settle()
    assert got == [{"n": 2}]
    assert any("picky raised ValueError('bad payload')" in msg for _, msg in lines)
    await socket.disconnect()


async def test_a_coroutine_among_several_bindings_runs_as_a_task() -> None:
    socket, server = await connected()
    channel = socket.channel("room")
    await join(channel, server.current)
    got: list[Any] = []

    async def later(payload: Any, ref: Any) -> None:
        got.append(("task", payload))

    channel.on("msg", lambda payload: got.append(("sync", payload)))
    channel.on("msg", later)
    server.current.push("room", "msg", {"n": 1})
    await settle()
    assert got == [("sync", {"n": 1}), ("task", {"n": 1})]
    await socket.disconnect()


async def test_a_hook_raising_on_a_dropped_connection_is_logged() -> None:
    lines: list[tuple[str, str]] = []
    socket, server = await connected(logger=_logger(lines))
    channel = socket.channel("room")

    def hook(event: str, payload: Any, ref: Any) -> Any:
        if event == "phx_error":
            raise RuntimeError("hook bug")
        return payload

    channel.on_message = hook
    await join(channel, server.current)
    server.current.drop()
    await settle()
    assert ("channel", "room phx_error failed") in lines
    await socket.disconnect()
