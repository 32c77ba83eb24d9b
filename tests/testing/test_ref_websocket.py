"""WebSocket transport: handshake, refusal, auth token, compression, heartbeat, closing."""

from __future__ import annotations

import asyncio
import base64

import aiohttp
import pytest
from refclient import Clients, reply, settle

from phoenix_fast.testing import ReferenceServer


async def _status(server: ReferenceServer, query: str, **kwargs: object) -> int:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await session.ws_connect(f"{server.websocket_url}?{query}", **kwargs)  # type: ignore[arg-type]
    return info.value.status


async def test_heartbeat_reply(clients: Clients) -> None:
    c = await clients.connect()
    await c.send([None, "7", "phoenix", "heartbeat", {}])
    assert await c.recv_text() == '[null,"7","phoenix","phx_reply",{"response":{},"status":"ok"}]'


async def test_v1_is_the_default_and_1_0_x(clients: Clients) -> None:
    for query in ("", "vsn=1.0.0", "vsn=1.0.3"):
        c = await clients.connect(query)
        await c.send({"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": "1"})
        assert await c.recv() == {
            "event": "phx_reply",
            "payload": {"response": {}, "status": "ok"},
            "ref": "1",
            "topic": "phoenix",
        }


@pytest.mark.parametrize(
    "query", ["vsn=3.0.0", "vsn=2.1.0", "vsn=1.1.0", "vsn=abc", "vsn=", "token=bad"]
)
async def test_refused_connections_get_403(server: ReferenceServer, query: str) -> None:
    assert await _status(server, query) == 403
    assert server.connect_log[-1].accepted is False


async def test_other_tokens_are_accepted_and_logged(clients: Clients) -> None:
    await clients.connect("vsn=2.0.0&token=good&user[id]=7")
    info = clients.server.connect_log[-1]
    assert info.accepted and info.transport == "websocket" and info.vsn == "2.0.0"
    assert info.params == {"vsn": "2.0.0", "token": "good", "user": {"id": "7"}}


async def test_non_get_and_non_upgrade_get_400(server: ReferenceServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(server.websocket_url) as resp:
            assert resp.status == 400
        async with session.get(f"{server.websocket_url}?vsn=2.0.0") as resp:
            assert resp.status == 400
        async with session.get(f"{server.websocket_url}?token=bad") as resp:
            assert resp.status == 403


async def test_auth_token_subprotocol(clients: Clients) -> None:
    token = base64.b64encode(b"s3cret:\xff").decode().rstrip("=")
    c = await clients.connect(protocols=("phoenix", f"base64url.bearer.phx.{token}"))
    assert c.ws.protocol == "phoenix"
    assert clients.server.connect_log[-1].auth_token == "s3cret:\ufffd"
    await c.send([None, "1", "phoenix", "heartbeat", {}])
    assert (await c.recv())[3] == "phx_reply"


async def test_auth_token_alone_and_no_subprotocol(clients: Clients) -> None:
    c = await clients.connect(protocols=("base64url.bearer.phx.YWJj",))
    assert c.ws.protocol is None
    assert clients.server.connect_log[-1].auth_token == "abc"
    c = await clients.connect()
    assert c.ws.protocol is None
    assert clients.server.connect_log[-1].auth_token is None


async def test_unknown_subprotocol_is_refused(server: ReferenceServer) -> None:
    assert await _status(server, "vsn=2.0.0", protocols=("chat",)) == 403


async def test_compressed_socket_negotiates_deflate(clients: Clients) -> None:
    c = await clients.connect(path="/socket_compress/websocket", compress=15)
    assert c.ws.compress == 15
    assert await c.join("echo:z") == reply(
        "1", "1", "echo:z", "ok", {"joined": "echo:z", "params": {}}
    )
    await c.send(["1", "2", "echo:z", "burst", {"n": 300, "size": 2000}])
    assert (await c.recv())[4] == {"status": "ok", "response": {"sent": 300}}
    frames = await c.recv_n(300)
    assert [f[4]["i"] for f in frames] == list(range(300))
    assert frames[0] == ["1", None, "echo:z", "burst_msg", {"data": "x" * 2000, "i": 0}]
    # the plain socket does not compress even when asked to
    plain = await clients.connect(compress=15)
    assert plain.ws.compress == 0


async def test_idle_timeout_closes_with_1002() -> None:
    async with ReferenceServer(idle_timeout=0.3, close_timeout=0.5) as server:
        pool = Clients(server)
        try:
            quiet = await pool.connect()
            chatty = await pool.connect()
            loop = asyncio.get_running_loop()
            start = loop.time()
            for _ in range(8):
                await asyncio.sleep(0.05)
                await chatty.send([None, "1", "phoenix", "heartbeat", {}])
                await chatty.recv()
            assert await quiet.closed() == 1002
            assert loop.time() - start < 1.5
            assert not chatty.ws.closed
            await chatty.ws.ping()  # pings count as traffic too
            assert await chatty.closed() == 1002
        finally:
            await pool.close()


async def test_malformed_frames_close_with_1011(clients: Clients) -> None:
    for bad in ("nope", '["1","1","t"]', '{"a":1}', "[1,2,3,4,5]"):
        c = await clients.connect()
        await c.send_text(bad)
        assert await c.closed() == 1011
    c = await clients.connect()
    await c.send_binary(b"\x07\x00")
    assert await c.closed() == 1011
    v1 = await clients.connect("vsn=1.0.0")
    await v1.send_text('["1","1","t","e",{}]')
    assert await v1.closed() == 1011
    assert (await settle(clients.server))["sockets"] == 0


async def test_invalid_utf8_text_closes_with_1007(clients: Clients) -> None:
    c = await clients.connect()
    # aiohttp's client cannot send invalid UTF-8 as text: write the frame by hand
    writer = c.ws._writer
    await writer.send_frame(b"\xff\xfe", aiohttp.WSMsgType.TEXT)
    assert await c.closed() == 1007


async def test_oversized_message_closes_with_1009() -> None:
    async with ReferenceServer(max_frame_size=1000, close_timeout=0.5) as server:
        pool = Clients(server)
        try:
            c = await pool.connect()
            await c.send(["1", "1", "echo:a", "phx_join", {"pad": "x" * 900}])
            assert (await c.recv())[4]["status"] == "ok"
            await c.send(["1", "2", "echo:a", "ping", {"pad": "x" * 2000}])
            assert await c.closed() == 1009
        finally:
            await pool.close()


async def test_server_stop_closes_with_1001_and_restarts_on_same_port() -> None:
    server = ReferenceServer(close_timeout=0.5)
    await server.start()
    pool = Clients(server)
    try:
        c = await pool.connect()
        await c.join("echo:a")
        port = server.port
        await server.stop()
        assert await c.closed() == 1001
        await server.start()
        assert server.port == port
        c2 = await pool.connect()
        await c2.send([None, "1", "phoenix", "heartbeat", {}])
        assert (await c2.recv())[3] == "phx_reply"
        await server.disconnect_all()
        assert await c2.closed() == 1001
    finally:
        await pool.close()
        await server.stop()


async def test_abrupt_disconnect_mid_burst_leaves_nothing_behind(clients: Clients) -> None:
    for _ in range(3):
        c = await clients.connect()
        await c.join("echo:a")
        await c.send(["1", "2", "echo:a", "burst", {"n": 200_000, "size": 100}])
        assert (await c.recv())[4]["response"] == {"sent": 200_000}
        await c.recv()
        c.ws._response.connection.transport.abort()  # type: ignore[union-attr]
    stats = await settle(clients.server)
    assert stats == dict.fromkeys(stats, 0)


@pytest.mark.parametrize(
    ("code", "answer"), [(1000, 1000), (1001, 1000), (4000, 1000), (1012, 1002)]
)
async def test_client_close_is_answered(clients: Clients, code: int, answer: int) -> None:
    c = await clients.connect()
    await c.join("echo:a")
    await c.send(["1", "2", "echo:a", "burst", {"n": 50_000, "size": 10}])
    await c.ws.close(code=code)
    assert c.ws.close_code == answer
    stats = await settle(clients.server)
    assert stats == dict.fromkeys(stats, 0)
