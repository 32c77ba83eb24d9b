"""The WebSocket transport (``Phoenix.Transports.WebSocket``) on aiohttp.

Handshake, as Phoenix with ``auth_token: true``:

- not GET: 400; the ``base64url.bearer.phx.<token>`` subprotocol entry is
  stripped and decoded (standard base64, padding optional); the remaining
  subprotocols must include ``phoenix`` (answered) or the upgrade gets 403;
- an unsupported ``vsn`` or a refused connect (``token=bad``): 403;
- not an upgrade request: 400 (from aiohttp).

Close codes: a frame Phoenix cannot decode crashes the socket (1011); the idle
timeout closes with 1002 and server shutdown with 1001 (Bandit, Phoenix 1.8's
default adapter); a too large message closes with 1009 and invalid UTF-8 with
1007 (from aiohttp).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from .app import accept_connect
from .context import ConnectInfo
from .output import Output, QueuedWsOutput, RawWsOutput
from .query import decode_query
from .socket import PhoenixSocket
from .wire import serializer_for_vsn

if TYPE_CHECKING:
    from .context import ServerContext
    from .wire import WireSerializer

__all__ = ["AUTH_TOKEN_PREFIX", "WebSocketEndpoint"]

logger = logging.getLogger("phoenix_fast.testing")

AUTH_TOKEN_PREFIX = "base64url.bearer.phx."
CLOSE_CRASH = 1011
CLOSE_IDLE = 1002
CLOSE_SHUTDOWN = 1001


def close_reply_code(code: int | None) -> int:
    """The code answering a client's close frame, as Bandit chooses it (RFC 6455 7.4).

    ``code`` is None or 0 when the client's frame had no code.
    """
    if not code:
        return 1000
    if code < 1000 or 1004 <= code <= 1006 or 1012 <= code <= 2999:
        return 1002
    return 1000


class BadToken(ValueError):
    """The auth token subprotocol entry is not valid base64."""


def split_subprotocols(header: str | None) -> tuple[str | None, list[str]]:
    """Split ``Sec-WebSocket-Protocol`` into the auth token (if exactly one) and the rest."""
    if header is None:
        return None, []
    entries = [item.strip() for item in header.split(",") if item.strip()]
    tokens = [item for item in entries if item.startswith(AUTH_TOKEN_PREFIX)]
    if len(tokens) != 1:
        return None, entries
    encoded = tokens[0][len(AUTH_TOKEN_PREFIX) :].rstrip("=")
    try:
        raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        raise BadToken(encoded) from None
    rest = [item for item in entries if not item.startswith(AUTH_TOKEN_PREFIX)]
    return raw.decode(errors="replace"), rest


class WebSocketEndpoint:
    """Serves ``<mount>/websocket`` for one socket mount."""

    def __init__(self, ctx: ServerContext, compress: bool = False) -> None:
        self.ctx = ctx
        self.compress = compress
        self.connections: set[WsConnection] = set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """aiohttp handler: check, upgrade, then run the connection."""
        if request.method != "GET":
            return web.Response(status=400)
        params = decode_query(request.rel_url.raw_query_string)
        try:
            token, protocols = split_subprotocols(request.headers.get("Sec-WebSocket-Protocol"))
        except BadToken:
            return web.Response(status=500)
        if protocols and "phoenix" not in protocols:
            return web.Response(status=403)
        vsn = params.get("vsn")
        serializer = serializer_for_vsn(vsn) if vsn is None or isinstance(vsn, str) else None
        accepted = serializer is not None and accept_connect(params)
        info = ConnectInfo("websocket", request.path, params, vsn, token, accepted)
        self.ctx.connect_log.append(info)
        if serializer is None or not accepted:
            return web.Response(status=403)
        ws = web.WebSocketResponse(
            protocols=("phoenix",) if protocols else (),
            compress=self.compress,
            max_msg_size=self.ctx.config.max_frame_size,
            autoping=False,
            autoclose=False,
            timeout=self.ctx.config.close_timeout,
        )
        await ws.prepare(request)
        conn = WsConnection(self.ctx, request, ws, serializer, info)
        self.connections.add(conn)
        try:
            await conn.run()
        finally:
            self.connections.discard(conn)
        return ws

    async def shutdown(self, code: int = CLOSE_SHUTDOWN) -> None:
        """Close every connection (by default with 1001, going away)."""
        conns = list(self.connections)
        if conns:
            await asyncio.gather(*(c.close(code) for c in conns))


class WsConnection:
    """One upgraded WebSocket: the read loop, the idle timer and closing."""

    def __init__(
        self,
        ctx: ServerContext,
        request: web.Request,
        ws: web.WebSocketResponse,
        serializer: WireSerializer,
        info: ConnectInfo,
    ) -> None:
        self.ws = ws
        self.out: Output = RawWsOutput(request) if not ws.compress else QueuedWsOutput(ws)
        self.socket = PhoenixSocket(ctx, serializer, self.out, info)
        self._loop = asyncio.get_running_loop()
        self._idle = ctx.config.idle_timeout
        self._last = self._loop.time()
        self._timer: asyncio.TimerHandle | None = self._loop.call_at(
            self._last + self._idle, self._check_idle
        )
        self._closer: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Read and handle frames until the connection ends, then clean up."""
        try:
            await self._read()
        finally:
            if self._timer is not None:
                self._timer.cancel()
            self.socket.terminate()
            if self._closer is not None:
                await self._closer
            await self.out.aclose()

    async def _read(self) -> None:
        ws, sock, loop = self.ws, self.socket, self._loop
        text, binary = WSMsgType.TEXT, WSMsgType.BINARY
        while True:
            msg = await ws.receive()
            kind = msg.type
            if kind is text or kind is binary:
                self._last = loop.time()
                try:
                    work = sock.receive(msg.data, kind is binary)
                    if work is not None:
                        await work
                except Exception as exc:
                    logger.warning("closing socket after a bad frame: %r", exc)
                    await self.close(CLOSE_CRASH)
                    return
            elif kind is WSMsgType.PING:
                self._last = loop.time()
                await ws.pong(msg.data)
            elif kind is WSMsgType.PONG:
                self._last = loop.time()
            elif kind is WSMsgType.CLOSE:
                # nothing may follow our close frame: stop the output first
                self.out.close()
                await ws.close(code=close_reply_code(msg.data))
                return
            else:
                return

    def _check_idle(self) -> None:
        deadline = self._last + self._idle
        if self._loop.time() < deadline:
            self._timer = self._loop.call_at(deadline, self._check_idle)
            return
        self._timer = None
        logger.info("closing idle socket after %.3g s", self._idle)
        self._closer = self._loop.create_task(self.close(CLOSE_IDLE))

    async def close(self, code: int) -> None:
        """Send what is queued, then close the WebSocket with ``code``."""
        if self.ws.closed:
            return
        await self.out.settle()
        self.out.close()
        await self.ws.close(code=code)
