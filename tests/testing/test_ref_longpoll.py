"""LongPoll transport: sessions, polls, posts, tokens, expiry."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from refclient import reply

from phoenix_fast.testing import ReferenceServer
from phoenix_fast.testing.waiting import scaled

NDJSON = {"Content-Type": "application/x-ndjson"}


@pytest.fixture
async def lp() -> AsyncIterator[tuple[ReferenceServer, aiohttp.ClientSession]]:
    async with (
        ReferenceServer(longpoll_window=0.2, longpoll_session_timeout=0.4) as server,
        aiohttp.ClientSession() as http,
    ):
        yield server, http


async def _call(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    async with http.request(method, url, **kwargs) as resp:
        assert resp.headers["access-control-allow-origin"] == "*"
        assert resp.headers["content-type"] == "application/json; charset=utf-8"
        assert resp.headers["cache-control"] == "no-store"
        return resp.status, orjson.loads(await resp.read())


async def _open(
    server: ReferenceServer, http: aiohttp.ClientSession, query: str = "vsn=2.0.0"
) -> str:
    status, body = await _call(http, "GET", f"{server.longpoll_url}?{query}")
    assert status == 200
    assert body["status"] == 410 and body["messages"] == [] and isinstance(body["token"], str)
    assert list(body) == ["messages", "status", "token"]
    return str(body["token"])


async def test_session_lifecycle(lp: tuple[ReferenceServer, aiohttp.ClientSession]) -> None:
    server, http = lp
    token = await _open(server, http)
    url = f"{server.longpoll_url}?vsn=2.0.0&token={token}"
    frames = [
        '["1","1","echo:a","phx_join",{}]',
        '["1","2","echo:a","ping",{"x":1}]',
        '[null,"3","phoenix","heartbeat",{}]',
    ]
    status, body = await _call(http, "POST", url, data="\n".join(frames), headers=NDJSON)
    assert (status, body) == (200, {"status": 200})
    status, body = await _call(http, "GET", url)
    assert body["status"] == 200 and body["token"] == token
    assert [orjson.loads(m) for m in body["messages"]] == [
        reply("1", "1", "echo:a", "ok", {"joined": "echo:a", "params": {}}),
        reply("1", "2", "echo:a", "ok", {"x": 1}),
        reply(None, "3", "phoenix", "ok", {}),
    ]
    assert body["messages"][2] == '[null,"3","phoenix","phx_reply",{"response":{},"status":"ok"}]'
    # nothing queued: 204 after the window
    loop = asyncio.get_running_loop()
    start = loop.time()
    status, body = await _call(http, "GET", url)
    assert body == {"messages": [], "status": 204, "token": token}
    assert 0.15 < loop.time() - start < 1.0


async def test_poll_returns_as_soon_as_frames_arrive() -> None:
    async with ReferenceServer(longpoll_window=5.0) as server, aiohttp.ClientSession() as http:
        token = await _open(server, http)
        headers = {"X-Phoenix-Longpoll-Token": token}
        join = '["1","1","echo:a","phx_join",{}]'
        await _call(http, "POST", server.longpoll_url, data=join, headers=headers)
        _, body = await _call(http, "GET", server.longpoll_url, headers=headers)
        assert len(body["messages"]) == 1
        poll = asyncio.ensure_future(_call(http, "GET", server.longpoll_url, headers=headers))
        await asyncio.sleep(0.05)
        assert not poll.done()
        ping = '["1","2","echo:a","ping",{}]'
        await _call(http, "POST", server.longpoll_url, data=ping, headers=headers)
        _, body = await asyncio.wait_for(poll, scaled(2.0))
        assert body["status"] == 200 and len(body["messages"]) == 1


async def test_single_frame_posts_and_v1(lp: tuple[ReferenceServer, aiohttp.ClientSession]) -> None:
    server, http = lp
    token = await _open(server, http, "vsn=1.0.0")
    url = f"{server.longpoll_url}?token={token}"
    frame = '{"topic":"echo:a","event":"phx_join","payload":{},"ref":"1"}'
    headers = {"Content-Type": "application/json"}
    assert await _call(http, "POST", url, data=frame, headers=headers) == (200, {"status": 200})
    _, body = await _call(http, "GET", url)
    assert orjson.loads(body["messages"][0])["event"] == "phx_reply"


async def test_binary_lines_and_binary_replies(
    lp: tuple[ReferenceServer, aiohttp.ClientSession],
) -> None:
    server, http = lp
    token = await _open(server, http)
    url = f"{server.longpoll_url}?token={token}"
    push = b"\x00\x01\x01\x06\x03" + b"12echo:abin" + b"\x05\x06"
    body = '["1","1","echo:a","phx_join",{}]\r\n' + base64.b64encode(push).decode()
    assert (await _call(http, "POST", url, data=body, headers=NDJSON))[1] == {"status": 200}
    _, polled = await _call(http, "GET", url)
    # binary replies travel as their raw bytes in the JSON string, as in Phoenix
    assert polled["messages"][1] == "\x01\x01\x01\x06\x02" + "12echo:aok\x05\x06"


async def test_at_most_100_frames_per_post(
    lp: tuple[ReferenceServer, aiohttp.ClientSession],
) -> None:
    server, http = lp
    token = await _open(server, http)
    url = f"{server.longpoll_url}?token={token}"
    frames = [f'[null,"{i}","phoenix","heartbeat",{{}}]' for i in range(150)]
    assert (await _call(http, "POST", url, data="\n".join(frames), headers=NDJSON))[1] == {
        "status": 200
    }
    _, body = await _call(http, "GET", url)
    assert [orjson.loads(m)[1] for m in body["messages"]] == [str(i) for i in range(100)]


async def test_refused_and_bad_tokens(lp: tuple[ReferenceServer, aiohttp.ClientSession]) -> None:
    server, http = lp
    for query in ("token=bad", "vsn=2.0.0&token=bad", "vsn=3.0.0"):
        assert await _call(http, "GET", f"{server.longpoll_url}?{query}") == (200, {"status": 403})
    assert await _call(http, "POST", f"{server.longpoll_url}?token=nope", data="[]") == (
        200,
        {"status": 410},
    )
    # GET with an unknown token starts a new session
    token = await _open(server, http, "token=unknown-session&vsn=2.0.0")
    assert token != "unknown-session"


async def test_auth_token_header(lp: tuple[ReferenceServer, aiohttp.ClientSession]) -> None:
    server, http = lp
    await _open(server, http, "vsn=2.0.0&foo=bar")
    info = server.connect_log[-1]
    assert (info.transport, info.auth_token, info.params) == (
        "longpoll",
        None,
        {"vsn": "2.0.0", "foo": "bar"},
    )
    headers = {"X-Phoenix-AuthToken": "tok123"}
    await _call(http, "GET", f"{server.longpoll_url}?vsn=2.0.0", headers=headers)
    assert server.connect_log[-1].auth_token == "tok123"


async def test_session_expires_without_polls(
    lp: tuple[ReferenceServer, aiohttp.ClientSession],
) -> None:
    server, http = lp
    token = await _open(server, http)
    url = f"{server.longpoll_url}?token={token}"
    await _call(http, "POST", url, data='["1","1","presence:p","phx_join",{"user_id":"u"}]')
    assert server.stats()["presences"] == 1
    await asyncio.sleep(0.6)
    assert server.stats()["longpoll_sessions"] == 0
    assert server.stats()["presences"] == 0
    assert (await _call(http, "POST", url, data="[]"))[1] == {"status": 410}
    assert (await _call(http, "GET", url))[1]["status"] == 410


async def test_polling_keeps_a_session_alive(
    lp: tuple[ReferenceServer, aiohttp.ClientSession],
) -> None:
    server, http = lp
    token = await _open(server, http)
    url = f"{server.longpoll_url}?token={token}"
    for _ in range(4):
        assert (await _call(http, "GET", url))[1]["status"] == 204
    assert server.stats()["longpoll_sessions"] == 1


async def test_bad_frame_crashes_the_session(
    lp: tuple[ReferenceServer, aiohttp.ClientSession],
) -> None:
    server, http = lp
    token = await _open(server, http)
    url = f"{server.longpoll_url}?token={token}"
    assert await _call(http, "POST", url, data="garbage") == (200, {"status": 408})
    assert (await _call(http, "POST", url, data="[]"))[1] == {"status": 410}
    token = await _open(server, http)
    async with http.post(
        f"{server.longpoll_url}?token={token}", data="!!notbase64", headers=NDJSON
    ) as resp:
        assert resp.status == 500


async def test_burst_over_longpoll(lp: tuple[ReferenceServer, aiohttp.ClientSession]) -> None:
    server, http = lp
    token = await _open(server, http)
    url = f"{server.longpoll_url}?token={token}"
    frames = '["1","1","echo:a","phx_join",{}]\n["1","2","echo:a","burst",{"n":5000,"size":3}]'
    await _call(http, "POST", url, data=frames, headers=NDJSON)
    messages: list[str] = []
    while len(messages) < 5002:
        messages += (await _call(http, "GET", url))[1]["messages"]
    assert messages[2] == '["1",null,"echo:a","burst_msg",{"data":"xxx","i":0}]'
    assert orjson.loads(messages[-1])[4]["i"] == 4999


async def test_options_and_other_methods(lp: tuple[ReferenceServer, aiohttp.ClientSession]) -> None:
    server, http = lp
    headers = {"Access-Control-Request-Headers": "x-phoenix-authtoken"}
    async with http.options(server.longpoll_url, headers=headers) as resp:
        assert resp.status == 200
        assert resp.headers["access-control-allow-headers"] == "x-phoenix-authtoken"
        assert resp.headers["access-control-allow-methods"] == "get, post, options"
        assert resp.headers["access-control-allow-origin"] == "*"
    async with http.put(server.longpoll_url) as resp:
        assert resp.status == 400


async def test_server_stop_ends_sessions(lp: tuple[ReferenceServer, aiohttp.ClientSession]) -> None:
    server, http = lp
    token = await _open(server, http)
    url = f"{server.longpoll_url}?token={token}"
    poll = asyncio.ensure_future(_call(http, "GET", url))
    await asyncio.sleep(0.05)
    await server.stop()
    # a poll waiting on an ended session is answered 204
    assert (await poll)[1]["status"] == 204
    await server.start()
    assert (await _call(http, "GET", url))[1]["status"] == 410
    assert server.stats()["longpoll_sessions"] == 1
