"""The LongPoll transport (``Phoenix.Transports.LongPoll`` and ``LongPoll.Server``).

Every answer is HTTP 200 with the real status in a JSON body (except 400 for
other methods and 500 for an invalid base64 line), with
``access-control-allow-origin: *``:

- GET without a valid session token: connect; refused (``token=bad`` or an
  unsupported ``vsn``) -> ``{"status": 403}``; else a new session
  ``{"messages": [], "status": 410, "token": T}``.
- GET with a valid token: ``{"messages": [...], "status": 200, "token": T}`` as
  soon as frames are queued, or status 204 after the poll window.
- POST with a valid token: ``application/x-ndjson`` bodies are split on
  ``\\n``/``\\r\\n``, at most the first 100 lines are used, lines not starting with
  ``[`` are base64 binary frames; any other content type is one text frame.
  Answer ``{"status": 200}``; an invalid token gives ``{"status": 410}``; a frame
  that crashes the session gives ``{"status": 408}`` after the poll window.
- The session token is read from ``X-Phoenix-Longpoll-Token``, else the ``token``
  query param; the auth token from ``X-Phoenix-AuthToken``.
- A session ends after ``session_timeout`` seconds without a poll.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
import secrets
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from .app import accept_connect
from .context import ConnectInfo
from .output import Output
from .query import decode_query
from .socket import PhoenixSocket
from .wire import serializer_for_vsn

if TYPE_CHECKING:
    from .context import ServerContext
    from .wire import WireSerializer

__all__ = ["LongPollEndpoint", "LongPollOutput", "LongPollSession"]

logger = logging.getLogger("phoenix_fast.testing")

MAX_BATCH = 100
MAX_BODY = 8_000_000
_LINES = re.compile(rb"\r\n|\n")
_CORS = {"access-control-allow-origin": "*"}


def _json(body: dict[str, Any]) -> web.Response:
    headers = {
        **_CORS,
        "content-type": "application/json; charset=utf-8",
        "cache-control": "no-store",
    }
    return web.Response(body=orjson.dumps(body), headers=headers)


class LongPollOutput(Output):
    """Frames waiting for the next poll, and the poll waiting for frames."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self._waiter: asyncio.Future[None] | None = None

    def send(self, binary: bool, data: bytes) -> None:
        """Queue one frame (binary frames travel as their raw bytes, as in Phoenix)."""
        if self.closed:
            return
        self.messages.append(data)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def polling(self) -> bool:
        """True while a poll is waiting."""
        return self._waiter is not None and not self._waiter.done()

    async def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for frames; True if there are some."""
        if self.messages:
            return True
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(waiter, timeout)
        except asyncio.TimeoutError:
            return bool(self.messages) and self._waiter is waiter
        return True

    def take(self) -> list[bytes]:
        """Remove and return the queued frames."""
        messages, self.messages = self.messages, []
        return messages

    def close(self) -> None:
        """Drop the queue and release a waiting poll (it answers 204)."""
        self.closed = True
        self.messages = []
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class LongPollSession:
    """One LongPoll client: its socket, its frame queue and its inactivity timer."""

    def __init__(
        self, endpoint: LongPollEndpoint, token: str, ser: WireSerializer, info: ConnectInfo
    ) -> None:
        self.endpoint = endpoint
        self.token = token
        self.out = LongPollOutput()
        self.socket = PhoenixSocket(endpoint.ctx, ser, self.out, info)
        self.lock = asyncio.Lock()
        self._loop = asyncio.get_running_loop()
        self._timeout = endpoint.ctx.config.session_timeout
        self.last_poll = self._loop.time()
        self._timer = self._loop.call_at(self.last_poll + self._timeout, self._check)

    def touch(self) -> None:
        """A poll started now."""
        self.last_poll = self._loop.time()

    def _check(self) -> None:
        deadline = self.last_poll + self._timeout
        if self.out.polling or self._loop.time() < deadline:
            self._timer = self._loop.call_at(max(deadline, self._loop.time() + 0.05), self._check)
            return
        logger.info("longpoll session expired")
        self.end()

    async def dispatch(self, data: bytes, binary: bool) -> bool:
        """Handle one frame; False if it crashed the session."""
        async with self.lock:
            if not self.socket.alive:
                return False
            try:
                work = self.socket.receive(data, binary)
                if work is not None:
                    await work
            except Exception as exc:
                logger.warning("longpoll session crashed on a bad frame: %r", exc)
                self.end()
                return False
            return True

    def end(self) -> None:
        """End the session: its channels stop and its token becomes invalid."""
        self._timer.cancel()
        self.socket.terminate()
        self.out.close()
        self.endpoint.sessions.pop(self.token, None)


class LongPollEndpoint:
    """Serves ``<mount>/longpoll``."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.sessions: dict[str, LongPollSession] = {}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """aiohttp handler for every method."""
        if request.method == "GET":
            return await self._get(request)
        if request.method == "POST":
            return await self._post(request)
        if request.method == "OPTIONS":
            headers = {
                **_CORS,
                "access-control-allow-headers": request.headers.get(
                    "access-control-request-headers", ""
                ),
                "access-control-allow-methods": "get, post, options",
                "access-control-max-age": "3600",
            }
            return web.Response(status=200, headers=headers)
        return web.Response(status=400, headers=_CORS)

    def _resume(self, request: web.Request) -> LongPollSession | None:
        token = request.headers.get("X-Phoenix-Longpoll-Token")
        if token is None:
            token = decode_query(request.rel_url.raw_query_string).get("token")
        return self.sessions.get(token) if isinstance(token, str) else None

    def _new_session(self, request: web.Request) -> web.Response:
        params = decode_query(request.rel_url.raw_query_string)
        vsn = params.get("vsn")
        ser = serializer_for_vsn(vsn) if vsn is None or isinstance(vsn, str) else None
        accepted = ser is not None and accept_connect(params)
        auth = request.headers.get("X-Phoenix-AuthToken")
        info = ConnectInfo("longpoll", request.path, params, vsn, auth, accepted)
        self.ctx.connect_log.append(info)
        if ser is None or not accepted:
            return _json({"status": 403})
        token = secrets.token_urlsafe(32)
        self.sessions[token] = LongPollSession(self, token, ser, info)
        return _json({"messages": [], "status": 410, "token": token})

    async def _get(self, request: web.Request) -> web.Response:
        session = self._resume(request)
        if session is None:
            return self._new_session(request)
        session.touch()
        has_messages = await session.out.wait(self.ctx.config.longpoll_window)
        if not has_messages or session.out.closed:
            return _json({"messages": [], "status": 204, "token": session.token})
        try:
            messages = [m.decode() for m in session.out.take()]
        except UnicodeDecodeError:
            return web.Response(status=500, headers=_CORS)
        return _json({"messages": messages, "status": 200, "token": session.token})

    async def _post(self, request: web.Request) -> web.Response:
        session = self._resume(request)
        if session is None:
            return _json({"status": 410})
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.Response(status=400, headers=_CORS)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=400, headers=_CORS)
        ndjson = request.headers.getall("Content-Type", []) == ["application/x-ndjson"]
        frames = _LINES.split(body)[:MAX_BATCH] if ndjson else [body]
        for line in frames:
            binary = ndjson and not line.startswith(b"[")
            if binary:
                try:
                    line = base64.b64decode(line, validate=True)
                except binascii.Error:
                    return web.Response(status=500, headers=_CORS)
            if not await session.dispatch(line, binary):
                await asyncio.sleep(self.ctx.config.longpoll_window)
                return _json({"status": 408})
        return _json({"status": 200})

    def shutdown(self) -> None:
        """End every session."""
        for session in list(self.sessions.values()):
            session.end()
