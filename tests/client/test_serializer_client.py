"""The serializer checklist (serializer_test.js), seen through the socket's wire frames."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import connected, join

from phoenix_fast.errors import EncodeError
from phoenix_fast.message import Message


async def test_json_frames_both_ways() -> None:
    socket, server = await connected()
    socket._sender.push(Message("1", "1", "t", "e", {"foo": 1}))
    assert json.loads(server.current.frames[0]) == ["1", "1", "t", "e", {"foo": 1}]
    seen: list[Message] = []
    socket.on_message(seen.append)
    server.current.receive('["1","1","t","e",{"foo":1}]')
    assert seen == [Message("1", "1", "t", "e", {"foo": 1})]
    await socket.disconnect()


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (("0", "1", "t", "e"), b"\x00\x01\x01\x01\x01" + b"01te" + b"\x01"),
        (("10", "1", "top", "ev"), b"\x00\x02\x01\x03\x02" + b"101topev" + b"\x01"),
    ],
)
async def test_binary_push_bytes(fields: tuple[str, str, str, str], expected: bytes) -> None:
    socket, server = await connected()
    socket._sender.push(Message(*fields, b"\x01"))
    assert server.current.frames == [expected]
    await socket.disconnect()


async def test_binary_utf8_lengths_and_the_255_byte_limit() -> None:
    socket, server = await connected()
    socket._sender.push(Message("1", "1", "café", "🚀", b"\x00"))
    assert server.current.frames[0][:5] == bytes([0, 1, 1, 5, 4])
    with pytest.raises(EncodeError, match="topic"):
        socket._sender.push(Message("1", "1", "x" * 256, "e", b"\x00"))
    await socket.disconnect()


async def test_binary_push_reply_and_broadcast_decode() -> None:
    socket, server = await connected()
    channel = socket.channel("top")
    await join(channel, server.current)
    seen: list[Message] = []
    socket.on_message(seen.append)
    conn = server.current
    conn.receive(b"\x00\x01\x03\x0a" + b"1" + b"top" + b"some-event" + b"\x01\x01")
    conn.receive(b"\x01\x01\x02\x03\x02" + b"1" + b"12" + b"top" + b"ok" + b"\x01\x01")
    conn.receive(b"\x02\x03\x0a" + b"top" + b"some-event" + b"\x01\x01")
    expected: list[Any] = [
        Message("1", None, "top", "some-event", b"\x01\x01"),
        Message("1", "12", "top", "phx_reply", {"status": "ok", "response": b"\x01\x01"}),
        Message(None, None, "top", "some-event", b"\x01\x01"),
    ]
    assert seen[-3:] == expected
    await socket.disconnect()
