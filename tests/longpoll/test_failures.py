"""LongPoll never stops silently: every way a poll can fail becomes a reported close.

LongPoll has no heartbeat, so a poll loop that ended without reporting would leave a socket
that believes it is connected and never hears from the server again. Each failure here must
reach the handler as an error and then a close, and a socket must reconnect after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from longpoll_support import FakeLongPoll, Recorder, Request, wait_for
from test_transport import open_transport

from phoenix_fast import Socket
from phoenix_fast.testing.waiting import scaled
from phoenix_fast.transports.longpoll import LongPoll


def _after_open(fake: FakeLongPoll, answer: Any) -> None:
    """Makes the first poll that holds the session token get ``answer`` (then normal)."""
    used = False

    async def on_get(request: Request) -> Any:
        nonlocal used
        if request.headers.get("X-Phoenix-Longpoll-Token") == fake.token and not used:
            used = True
            return await answer(request) if callable(answer) else answer
        return await fake.default_get(request)

    fake.on_get = on_get


async def _plain_410(_request: Request) -> web.StreamResponse:
    return web.Response(status=410, text="Gone")


async def _bad_gateway(_request: Request) -> web.StreamResponse:
    return web.Response(status=502, text="<html>bad gateway</html>")


FAILURES: dict[str, tuple[Any, int]] = {
    "malformed body": (b"this is not json", 1011),
    "json that is not a poll answer": (b"[1, 2, 3]", 1011),
    "empty body": (b"", 1011),
    "plain HTTP 410": (_plain_410, 3410),
    "JSON status 410": ({"status": 410, "messages": []}, 3410),
    "proxy error page": (_bad_gateway, 1011),
    "status 500": ({"status": 500}, 1011),
}


@pytest.mark.parametrize("failure", FAILURES)
async def test_each_failure_reports_an_error_then_a_close(
    fake: FakeLongPoll, recorder: Recorder, failure: str
) -> None:
    answer, code = FAILURES[failure]
    _after_open(fake, answer)
    await open_transport(fake, recorder)
    await asyncio.wait_for(recorder.closed.wait(), scaled(5))
    assert recorder.errors, "the failure is reported before the close"
    assert recorder.close_args is not None and recorder.close_args[0] == code
    assert [kind for kind, _ in recorder.events][-1] == "close"


async def test_an_unexpected_exception_in_the_poll_loop_is_a_close(
    fake: FakeLongPoll, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    transport = await open_transport(fake, recorder)

    class Broken:
        def decode_poll(self, _raw: bytes) -> Any:
            raise RuntimeError("a bug in the decoder")

    monkeypatch.setattr(transport, "_codec", Broken())
    await asyncio.wait_for(recorder.closed.wait(), scaled(5))
    assert recorder.close_args is not None and recorder.close_args[0] == 1011
    assert "RuntimeError" in str(recorder.errors[-1])


@pytest.fixture
async def vanishing() -> AsyncIterator[str]:
    """A LongPoll server that opens a session, then drops the connection mid-poll without
    answering (a crash, a restart, a load balancer giving up)."""
    polls = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal polls
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if not head:
                break
            polls += 1
            if polls > 1:  # vanish mid-poll: no answer, the connection just goes
                writer.transport.abort()
                return
            body = b'{"status": 410, "token": "t1", "messages": []}'
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            await writer.drain()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}/socket/websocket?vsn=2.0.0"
    finally:
        server.close()
        await server.wait_closed()


async def test_a_server_vanishing_mid_poll_is_a_close(vanishing: str, recorder: Recorder) -> None:
    from test_transport import options

    LongPoll(options(vanishing), recorder)
    await asyncio.wait_for(recorder.opened.wait(), scaled(5))
    await asyncio.wait_for(recorder.closed.wait(), scaled(5))
    assert recorder.close_args is not None and recorder.close_args[0] == 1011
    assert "closed the connection" in str(recorder.errors[-1])


@pytest.mark.parametrize("failure", ["malformed body", "plain HTTP 410", "proxy error page"])
async def test_the_socket_reconnects_after_each_failure(fake: FakeLongPoll, failure: str) -> None:
    answer, _ = FAILURES[failure]
    _after_open(fake, answer)
    opened: list[None] = []
    endpoint = fake.url.split("/websocket")[0]
    socket = Socket(endpoint, transport=LongPoll, reconnect_after=lambda tries: 0.01)
    socket.on_open(lambda: opened.append(None))
    try:
        await socket.connect()
        await wait_for(lambda: len(opened) == 2, timeout=5)
        assert socket.is_connected()
    finally:
        await socket.disconnect()
