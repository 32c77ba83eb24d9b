"""The native WebSocket client framing against an independent server (the `websockets` library).

Each test drives `_native.WsClient` over a real TCP connection to a `websockets` server on
127.0.0.1: the handshake, text and binary messages both ways, pings answered with pongs,
fragmented and large messages, close codes, and the errors for a refused upgrade.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets
from websockets.asyncio.server import ServerConnection, serve
from ws_support import RawClient, Start, open_client, start_servers

from phoenix_fast import Message, Serializer, _native
from phoenix_fast.errors import ConnectError, WebSocketProtocolError
from phoenix_fast.testing.waiting import scaled


@pytest.fixture
async def server() -> AsyncIterator[Start]:
    async with start_servers(compression=None) as start:
        yield start


async def connect(port: int, codec: _native.Codec | None = None, **kw: Any) -> RawClient:
    return await open_client(port, codec, **kw)


async def echo(conn: ServerConnection) -> None:
    async for message in conn:
        await conn.send(message)


async def test_handshake_and_echo_of_raw_text_and_binary(server: Any) -> None:
    port = await server(echo)
    client = await connect(port)
    await client.handshake(port)
    client.writer.write(client.ws.frame_text("héllo") + client.ws.frame_binary(b"\x00\xff" * 10))
    assert await client.receive(2) == ["héllo", b"\x00\xff" * 10]
    client.close()


async def test_phoenix_messages_are_decoded_on_the_way_in(server: Any) -> None:
    port = await server(echo)
    codec = Serializer()._codec
    client = await connect(port, codec)
    await client.handshake(port)
    ws = client.ws
    client.writer.write(
        ws.encode("1", "2", "room:1", "new_msg", {"body": "hi"})
        + ws.encode("1", "3", "room:1", "upload", b"\x01\x02")
        + ws.frame_text("not a phoenix frame")
    )
    first, second, third = await client.receive(3)
    assert first == Message("1", "2", "room:1", "new_msg", {"body": "hi"})
    # The server echoes our client binary push (kind 0 with a ref), which is not a server
    # frame layout: the decoder reads it as a server push and reports what it sees.
    assert isinstance(second, (tuple, ValueError))
    assert isinstance(third, ValueError)
    client.close()


async def test_subprotocol_negotiation(server: Any) -> None:
    port = await server(echo, subprotocols=["phoenix"])
    client = await connect(port)
    await client.handshake(port, ["phoenix", "base64url.bearer.phx.dG9rZW4"])
    assert client.ws.protocol == "phoenix"
    client.close()


async def test_server_pings_are_answered_with_pongs(server: Any) -> None:
    pong_seen = asyncio.Event()

    async def pinger(conn: ServerConnection) -> None:
        waiter = await conn.ping(b"are you there")
        await asyncio.wait_for(waiter, scaled(5))
        pong_seen.set()
        await conn.send("after ping")

    port = await server(pinger)
    client = await connect(port)
    await client.handshake(port)
    assert await client.receive(1) == ["after ping"]
    assert pong_seen.is_set()
    client.close()


async def test_fragmented_and_large_messages(server: Any) -> None:
    big = "x" * 3_000_000

    async def fragments(conn: ServerConnection) -> None:
        await conn.send(["frag", "men", "ted"])
        await conn.send(big)

    port = await server(fragments)
    client = await connect(port)
    await client.handshake(port)
    assert await client.receive(2) == ["fragmented", big]
    client.close()


async def test_message_over_the_limit_is_a_protocol_error(server: Any) -> None:
    async def sender(conn: ServerConnection) -> None:
        await conn.send("y" * 2048)

    port = await server(sender)
    client = await connect(port, max_message_size=1024)
    with pytest.raises(WebSocketProtocolError, match="exceeds the maximum of 1024 bytes"):
        await client.handshake(port)  # the message may arrive with the handshake answer
        await client.receive(1)
    client.close()


async def test_server_close_is_reported_and_echoed(server: Any) -> None:
    async def closer(conn: ServerConnection) -> None:
        await conn.close(4001, "go away")

    port = await server(closer)
    client = await connect(port)
    await client.handshake(port)
    if not client.ws.closed:
        await client.receive(1)
    assert client.ws.closed
    assert (client.ws.close_code, client.ws.close_reason) == (4001, "go away")
    client.close()


async def test_client_close_is_accepted_by_the_server(server: Any) -> None:
    closed: asyncio.Future[tuple[int | None, str | None]] = (
        asyncio.get_running_loop().create_future()
    )

    async def watcher(conn: ServerConnection) -> None:
        try:
            await conn.recv()
        except websockets.ConnectionClosed as exc:
            closed.set_result(
                (exc.rcvd.code if exc.rcvd else None, exc.rcvd.reason if exc.rcvd else None)
            )

    port = await server(watcher)
    client = await connect(port)
    await client.handshake(port)
    client.writer.write(client.ws.frame_close(1000, "bye"))
    await client.receive(1)  # the server's close echo, then EOF
    assert client.ws.closed
    assert client.ws.close_code == 1000
    client.close()
    assert await asyncio.wait_for(closed, scaled(5)) == (1000, "bye")


async def test_refused_upgrade_raises_connect_error_with_status(server: Any) -> None:
    async def refuse(conn: ServerConnection) -> None:  # pragma: no cover - never reached
        pass

    srv = await serve(
        refuse, "127.0.0.1", 0, process_request=lambda conn, req: conn.respond(403, "no\n")
    )
    port = int(srv.sockets[0].getsockname()[1])
    client = await connect(port)
    with pytest.raises(ConnectError) as info:
        await client.handshake(port)
    assert info.value.status == 403
    client.close()
    srv.close()
    await srv.wait_closed()


def test_frames_are_masked_and_sized() -> None:
    ws = _native.WsClient(None)
    frame = ws.frame_text("abc")
    assert frame[0] == 0x81  # FIN + text
    assert frame[1] == 0x80 | 3  # masked, 3 bytes
    mask, body = frame[2:6], frame[6:]
    assert bytes(b ^ mask[i % 4] for i, b in enumerate(body)) == b"abc"
    assert ws.frame_binary(b"x" * 200)[1] == 0x80 | 126
    assert ws.frame_binary(b"x" * 70000)[1] == 0x80 | 127


def test_bad_frames_from_the_server_raise() -> None:
    ws = _native.WsClient(None)
    with pytest.raises(WebSocketProtocolError, match="opcode"):
        ws.feed(bytes([0x83, 0x00]))  # reserved opcode 3
    ws = _native.WsClient(None)
    with pytest.raises(WebSocketProtocolError, match="mask"):
        ws.feed(bytes([0x81, 0x81, 1, 2, 3, 4, 5]))  # servers must not mask
    ws = _native.WsClient(None)
    with pytest.raises(WebSocketProtocolError):
        ws.feed(bytes([0x81, 0x7F]) + (2**63 - 1).to_bytes(8, "big"))  # absurd length
