"""permessage-deflate in the native WebSocket client against an independent server.

Each test drives `_native.WsClient(..., compress=True)` over TCP to a `websockets` server on
127.0.0.1 with compression on (its zlib compressor, not ours): the negotiation, large text
and binary messages, many messages in a row (context takeover), the server's no context
takeover, fragmented compressed messages and the inflated-size limit.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from ws_support import Handler, RawClient, Start, open_client, start_servers

from phoenix_fast import Message, Serializer, _native
from phoenix_fast.errors import WebSocketProtocolError


@pytest.fixture
async def server() -> AsyncIterator[Start]:
    async with start_servers(compression="deflate") as start:
        yield start


async def connect(
    port: int, codec: _native.Codec | None = None, *, handshake: bool = True, **kw: Any
) -> RawClient:
    client = await open_client(port, codec, compress=True, **kw)
    if handshake:
        await client.handshake(port)
    return client


def sender(*messages: Any) -> Handler:
    async def send(conn: ServerConnection) -> None:
        for message in messages:
            await conn.send(message)
        await conn.wait_closed()

    return send


def repetitive(n: int) -> str:
    return "".join(f"message {i} says hello; " for i in range(n))


async def test_negotiation_with_the_servers_parameters(server: Start) -> None:
    port = await server(sender())
    client = await connect(port)
    assert client.ws.compressed
    # websockets' defaults: both windows at 12 bits, context kept
    assert client.ws.extensions == (
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
    )
    client.close()


async def test_not_offering_or_server_without_compression_is_plain(server: Start) -> None:
    port = await server(sender("plain"))
    plain = await open_client(port)  # compress defaults to off
    await plain.handshake(port)
    assert not plain.ws.compressed and plain.ws.extensions is None
    assert await plain.receive(1) == ["plain"]
    plain.close()

    port = await server(sender("plain too"), compression=None)
    client = await connect(port)
    assert not client.ws.compressed and client.ws.extensions is None
    assert await client.receive(1) == ["plain too"]
    client.close()


async def test_large_text_and_binary_messages_arrive_intact(server: Start) -> None:
    text = repetitive(100_000)  # ~2.5 MB
    binary = bytes(i % 251 for i in range(1_000_000)) * 2
    port = await server(sender(text, binary, "", b""))
    client = await connect(port)
    assert await client.receive(4) == [text, binary, "", b""]
    # they really came compressed
    assert client.wire_bytes < (len(text) + len(binary)) // 5
    client.close()


async def test_many_messages_in_a_row_keep_the_context(server: Start) -> None:
    messages = [f'{{"i": {i}, "data": "{"abc" * (i % 50)}"}}' for i in range(3000)]
    port = await server(sender(*messages))
    client = await connect(port)
    assert await client.receive(len(messages)) == messages
    client.close()


async def test_server_no_context_takeover(server: Start) -> None:
    factory = ServerPerMessageDeflateFactory(
        server_no_context_takeover=True, server_max_window_bits=10
    )
    messages = [repetitive(20 + i) for i in range(300)] + [b"\x00\x01" * 5000]
    port = await server(sender(*messages), compression=None, extensions=[factory])
    client = await connect(port)
    assert client.ws.extensions is not None
    assert "server_no_context_takeover" in client.ws.extensions
    assert "server_max_window_bits=10" in client.ws.extensions
    assert await client.receive(len(messages)) == messages
    client.close()


async def test_fragmented_compressed_messages(server: Start) -> None:
    parts = [repetitive(1000), "middle", repetitive(2000)]
    port = await server(sender(parts, [b"ab" * 10_000, b"cd" * 10_000], "after"))
    client = await connect(port)
    assert await client.receive(3) == ["".join(parts), b"ab" * 10_000 + b"cd" * 10_000, "after"]
    client.close()


async def test_phoenix_frames_are_decoded_after_inflating(server: Start) -> None:
    frames = [f'[null,null,"room:1","msg",{{"i":{i},"body":"{"x" * 500}"}}]' for i in range(500)]
    port = await server(sender(*frames))
    client = await connect(port, Serializer()._codec)
    received = await client.receive(len(frames))
    assert received == [
        Message(None, None, "room:1", "msg", {"i": i, "body": "x" * 500}) for i in range(500)
    ]
    client.close()


async def test_our_frames_go_out_uncompressed_and_are_understood(server: Start) -> None:
    async def echo(conn: ServerConnection) -> None:
        async for message in conn:
            await conn.send(message)

    port = await server(echo)
    client = await connect(port)
    frame = client.ws.frame_text("hello " * 100)
    assert frame[0] == 0x81  # FIN + text, RSV1 clear
    client.writer.write(frame + client.ws.frame_binary(b"\x00" * 100_000))
    assert await client.receive(2) == ["hello " * 100, b"\x00" * 100_000]
    client.close()


async def test_inflated_size_is_bounded(server: Start) -> None:
    port = await server(sender(b"\x00" * 5_000_000))  # a few KB on the wire
    client = await connect(port, max_message_size=64 * 1024, handshake=False)
    with pytest.raises(WebSocketProtocolError, match="exceeds the maximum of 65536 bytes"):
        await client.handshake(port)  # the message may arrive with the handshake answer
        await client.receive(1)
    assert client.wire_bytes < 64 * 1024
    client.close()


def test_unoffered_or_unknown_extensions_fail_the_handshake() -> None:
    def answer(ws: _native.WsClient, extensions: str) -> None:
        request = ws.handshake_request("h", "/", [], [])
        key = next(
            line.split(b": ")[1].decode()
            for line in request.split(b"\r\n")
            if line.startswith(b"Sec-WebSocket-Key")
        )
        accept = base64.b64encode(
            hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
        ).decode()
        ws.receive_handshake(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
                f"Sec-WebSocket-Extensions: {extensions}\r\n\r\n"
            ).encode()
        )

    with pytest.raises(WebSocketProtocolError, match="did not offer"):
        answer(_native.WsClient(None), "permessage-deflate")
    with pytest.raises(WebSocketProtocolError, match="did not offer"):
        answer(_native.WsClient(None, compress=True), "x-webkit-deflate-frame")
    with pytest.raises(WebSocketProtocolError, match=r"server_max_window_bits must be 8\.\.15"):
        answer(
            _native.WsClient(None, compress=True), "permessage-deflate; server_max_window_bits=16"
        )
    ok = _native.WsClient(None, compress=True)
    answer(ok, "permessage-deflate; server_no_context_takeover")
    assert ok.compressed
    assert ok.extensions == "permessage-deflate; server_no_context_takeover"


def test_rsv1_is_rejected_without_negotiation() -> None:
    ws = _native.WsClient(None)
    with pytest.raises(WebSocketProtocolError, match="reserved bits"):
        ws.feed(bytes([0xC1, 0x01, 0x00]))
