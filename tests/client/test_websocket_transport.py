"""The WebSocket transport against a scripted raw TCP peer (real loops: asyncio, uvloop)."""

from __future__ import annotations

import asyncio
import json
import ssl as _ssl
from pathlib import Path
from typing import Any

import pytest
from raw_server import RawServer, idle

from phoenix_fast.errors import ConnectError, WebSocketProtocolError
from phoenix_fast.socket import Socket
from phoenix_fast.testing.tls import self_signed_certificate
from phoenix_fast.testing.waiting import scaled, wait_for
from phoenix_fast.transports.websocket import FLUSH_EVERY


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One client frame (masked): (opcode, unmasked payload)."""
    head = await reader.readexactly(2)
    length = head[1] & 0x7F
    if length == 126:
        length = int.from_bytes(await reader.readexactly(2), "big")
    elif length == 127:
        length = int.from_bytes(await reader.readexactly(8), "big")
    mask = await reader.readexactly(4)
    data = await reader.readexactly(length)
    return head[0] & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def server_frame(opcode: int, payload: bytes) -> bytes:
    assert len(payload) < 126
    return bytes([0x80 | opcode, len(payload)]) + payload


async def test_handshake_request_carries_path_query_protocols_and_headers() -> None:
    async with RawServer(idle) as server:
        socket = Socket(server.url, params={"a": "1"}, auth_token="tok", headers={"X-Test": "yes"})
        await socket.connect()  # a server that picks no subprotocol is accepted (RFC 6455)
        await socket.disconnect()
    request = server.requests[0].decode()
    assert request.startswith("GET /socket/websocket?a=1&vsn=2.0.0 HTTP/1.1\r\n")
    assert "phoenix, base64url.bearer.phx.dG9r" in request
    assert "X-Test: yes" in request


class Collector:
    """A raw peer that records every client frame, and a socket whose writes are counted."""

    def __init__(self) -> None:
        self.frames: list[tuple[int, bytes]] = []
        self.writes: list[int] = []

    async def collect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            self.frames.append(await read_frame(reader))

    async def connect(self, url: str) -> Socket:
        socket = Socket(url, heartbeat_interval=None)
        await socket.connect()
        ws: Any = socket._conn.transport  # type: ignore[union-attr]
        counting = CountingWrites(ws._transport)
        ws._transport = counting
        self.writes = counting.writes
        return socket


async def test_frames_sent_in_one_loop_turn_go_out_in_one_write() -> None:
    peer = Collector()
    async with RawServer(peer.collect) as server:
        socket = await peer.connect(server.url)
        channel = socket.channel("room")
        channel.join()
        for i in range(20):
            channel.push("event", {"i": i})  # buffered until joined: not sent yet
        for _ in range(10):
            socket._sender.push(socket_message(socket))
        await wait_for(lambda: len(peer.frames) >= 11)
        assert len(peer.writes) == 1
        await socket.disconnect()


async def test_a_long_burst_is_written_in_chunks_of_flush_every_frames() -> None:
    peer = Collector()
    async with RawServer(peer.collect) as server:
        socket = await peer.connect(server.url)
        burst = 2 * FLUSH_EVERY + 5
        for _ in range(burst):
            socket._sender.push(socket_message(socket))
        # the full chunks went out while the burst was still being sent
        assert len(peer.writes) == 2
        await wait_for(lambda: len(peer.frames) >= burst)
        assert len(peer.writes) == 3
        assert peer.writes[2] < peer.writes[0] <= peer.writes[1]  # 5 frames last
        refs = [json.loads(payload)[1] for _, payload in peer.frames]
        assert refs == sorted(refs, key=int)  # in order
        await socket.disconnect()


async def test_frames_due_while_writing_is_paused_wait_for_resume_writing() -> None:
    peer = Collector()
    async with RawServer(peer.collect) as server:
        socket = await peer.connect(server.url)
        transport: Any = socket._conn.transport  # type: ignore[union-attr]
        socket._sender.push(socket_message(socket))  # queued; its flush is due this turn
        transport.pause_writing()  # as asyncio does when its buffer is past high water
        socket._sender.push(socket_message(socket))  # held
        await asyncio.sleep(0.05)
        assert peer.frames == [] and transport.buffered_amount > 0
        transport.resume_writing()
        await wait_for(lambda: len(peer.frames) == 2)
        assert len(peer.writes) == 1 and transport.buffered_amount == 0
        await socket.disconnect()


async def test_a_heartbeat_timeout_sends_a_last_close_frame_and_reconnects_at_once() -> None:
    peer = Collector()
    async with RawServer(peer.collect) as server:
        socket = Socket(server.url, heartbeat_interval=0.2, heartbeat_timeout=0.1)
        await socket.connect()
        # the peer reads but never answers: the heartbeat times out at about 0.3 s
        await wait_for(lambda: server.connections == 2 and len(peer.frames) >= 2, timeout=3)
        opcodes = [opcode for opcode, _ in peer.frames]
        assert opcodes[:2] == [0x1, 0x8]  # the heartbeat, then our close frame
        close = peer.frames[1][1]
        assert int.from_bytes(close[:2], "big") == 1000
        assert close[2:] == b"heartbeat timeout"
        await socket.disconnect()


class CountingWrites:
    """Wraps a transport (uvloop's cannot be patched) to count its writes."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self.writes: list[int] = []

    def write(self, data: bytes) -> None:
        self.writes.append(len(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def socket_message(socket: Socket) -> Any:
    from phoenix_fast.message import Message

    return Message(None, socket.make_ref(), "phoenix", "heartbeat", {})


async def test_pings_are_answered_and_a_server_close_reconnects() -> None:
    seen: list[tuple[int, bytes]] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(server_frame(0x9, b"hello"))
        seen.append(await read_frame(reader))
        writer.write(server_frame(0x8, (4001).to_bytes(2, "big") + b"bye"))
        seen.append(await read_frame(reader))
        await idle(reader, writer)

    async with RawServer(script) as server:
        socket = Socket(server.url, reconnect_after=lambda tries: 0.05)
        closes: list[Any] = []
        socket.on_close(closes.append)
        await socket.connect()
        await wait_for(lambda: bool(closes))
        assert seen[0] == (0xA, b"hello")  # the pong echoes the ping's data
        assert seen[1][0] == 0x8 and seen[1][1][:2] == (4001).to_bytes(2, "big")
        assert (closes[0].code, closes[0].reason, closes[0].was_clean) == (4001, "bye", True)
        await wait_for(lambda: server.connections >= 2)
        await socket.disconnect()


async def test_nothing_is_written_after_echoing_the_servers_close() -> None:
    seen: list[tuple[int, bytes]] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _, join = await read_frame(reader)
        join_ref = json.loads(join)[0]
        reply = [join_ref, join_ref, "t", "phx_reply", {"status": "ok", "response": {}}]
        writer.write(server_frame(0x1, json.dumps(reply).encode()))
        # one write: a message whose binding pushes more than FLUSH_EVERY frames, then a close
        go = json.dumps([join_ref, None, "t", "go", {}]).encode()
        writer.write(server_frame(0x1, go) + server_frame(0x8, (1000).to_bytes(2, "big")))
        while True:
            seen.append(await read_frame(reader))

    async with RawServer(script) as server:
        socket = Socket(server.url, heartbeat_interval=None, reconnect_after=lambda tries: 60)
        await socket.connect()
        channel = socket.channel("t")
        channel.on("go", lambda _: [channel.push("x", {"i": i}) for i in range(FLUSH_EVERY + 8)])
        closes: list[Any] = []
        socket.on_close(closes.append)
        await channel.join()
        await wait_for(lambda: bool(closes))
        await asyncio.sleep(0.05)
        assert [opcode for opcode, _ in seen] == [0x8]  # the echo, and nothing after it
        await socket.disconnect()


async def test_a_framing_violation_is_an_error_then_a_reconnect() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.05)  # (in the handshake's read, it would fail the connect)
        writer.write(bytes([0x83, 0x00]))  # reserved opcode 3
        await idle(reader, writer)

    async with RawServer(script) as server:
        socket = Socket(server.url, reconnect_after=lambda tries: 0.05)
        errors: list[BaseException] = []
        socket.on_error(errors.append)
        await socket.connect()
        await wait_for(lambda: bool(errors))
        assert isinstance(errors[0], WebSocketProtocolError)
        await wait_for(lambda: server.connections >= 2)
        await socket.disconnect()


async def test_garbage_text_frames_keep_the_connection() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(server_frame(0x1, b"garbage"))
        writer.write(server_frame(0x1, b'[null,null,"t","e",{"ok":1}]'))
        await idle(reader, writer)

    async with RawServer(script) as server:
        socket = Socket(server.url)
        got: list[Any] = []
        socket.on_message(got.append)
        await socket.connect()
        await wait_for(lambda: bool(got))
        assert got[0].payload == {"ok": 1} and socket.is_connected()
        await socket.disconnect()


async def test_a_silent_handshake_times_out() -> None:
    async with RawServer(idle, upgrade=False) as server:
        socket = Socket(server.url, connect_timeout=0.2)
        with pytest.raises(ConnectError, match="timed out"):
            await socket.connect()
        await socket.disconnect()


async def test_an_upgrade_refused_before_the_connect_task_resumes_still_fails_connect() -> None:
    """A 403 answered at once can reach the transport before its connect task wakes up
    (uvloop delivers the data first); connect() must still fail, every time, not hang."""

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        for _ in range(50):
            socket = Socket(f"ws://127.0.0.1:{port}/socket", reconnect_after=lambda tries: 60)
            with pytest.raises(ConnectError) as info:
                await asyncio.wait_for(socket.connect(), scaled(2))
            assert info.value.status == 403
            await asyncio.wait_for(socket.disconnect(), scaled(2))
    finally:
        server.close()
        await server.wait_closed()


async def test_a_refused_port_is_a_connect_error() -> None:
    async with RawServer(idle) as server:
        url = server.url
    socket = Socket(url)
    with pytest.raises(ConnectError, match="cannot connect"):
        await socket.connect()
    await socket.disconnect()


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    try:
        return self_signed_certificate(tmp_path)
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


async def test_wss_verifies_certificates_by_default(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server_context = _ssl.SSLContext(_ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    async with RawServer(idle, ssl=server_context) as server:
        url = server.url.replace("ws://", "wss://")
        refused = Socket(url)
        with pytest.raises(ConnectError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify"):
            await refused.connect()
        await refused.disconnect()
        trusting = Socket(url, ssl=_ssl.create_default_context(cafile=str(cert)))
        await trusting.connect()
        assert trusting.is_connected()
        await trusting.disconnect()
