"""The LongPoll transport: Phoenix channels over plain HTTP, for where WebSockets are blocked.

Follows ``Phoenix.LongPoll`` of the JS client (1.8.16) against ``Phoenix.Transports.LongPoll``:

- The endpoint is the socket's, ``ws(s)://`` turned into ``http(s)://`` and the trailing
  ``/websocket`` into ``/longpoll``, with the same query.
- The server answers every request with HTTP 200 and a JSON body ``{"status": N, ...}``. A poll
  (GET) without a session gets ``410`` and a new session token: the transport is then open. It
  then gets ``200`` with messages, or ``204`` after the server's window, and polls again. A
  ``410`` while holding a token means the session is gone (closed with 3410 ``session_gone``,
  and the socket reconnects and rejoins); ``403`` closes with 1008 ``forbidden``; a network
  failure or ``500`` closes with 1011; a request timeout closes with 1005 ``timeout``.
- The session token travels in the ``token`` query param and the ``X-Phoenix-Longpoll-Token``
  header (servers before 1.8.10 read the query, later ones prefer the header); the auth token,
  when the socket has one, in ``X-Phoenix-AuthToken``.
- Sends go out as ``application/x-ndjson`` POSTs, one frame a line (a binary frame as a base64
  line). Every send of one loop iteration goes into one POST, sends made while a POST is in
  flight wait for its acknowledgement, and a POST carries at most 100 frames.
- A binary frame from the server travels as its bytes in the JSON body (Phoenix does not
  encode them): a message not starting with ``[`` is decoded as a binary frame.
- There are no heartbeats (``skip_heartbeat``), and custom ``encode``/``decode`` are ignored,
  as in the JS client: frames always use the default serializer of the socket's ``vsn``.

Requests run on one ``aiohttp.ClientSession`` per transport instance (a connection attempt),
with keep-alive connections; it is closed before ``transport_close`` is reported.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ssl as _ssl
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import aiohttp
import orjson
from yarl import URL

from phoenix_fast._constants import AUTH_TOKEN_PREFIX, DEFAULT_LONGPOLLER_TIMEOUT, DEFAULT_VSN
from phoenix_fast._logging import LOGGER
from phoenix_fast._redact import redact_url
from phoenix_fast._states import SocketState
from phoenix_fast.errors import (
    ConnectError,
    ConnectionClosed,
    DecodeError,
    ProtocolError,
    TransportError,
)
from phoenix_fast.message import Message
from phoenix_fast.serializers.native import default_codec
from phoenix_fast.transports.base import (
    DrainWaiters,
    Transport,
    TransportHandler,
    TransportOptions,
    client_ssl,
    describe_os_error,
    guard,
    local_bind,
)

__all__ = [
    "DEFAULT_LONGPOLLER_TIMEOUT",
    "MAX_BATCH_SIZE",
    "LongPoll",
    "LongPollFactory",
    "auth_token_from_protocols",
    "longpoll_url",
]

#: Frames in one POST at most (the JS client's and the server's limit).
MAX_BATCH_SIZE = 100

CLOSE_NO_STATUS = 1005  # also what a timed-out request reports
CLOSE_FORBIDDEN = 1008
CLOSE_INTERNAL_ERROR = 1011
CLOSE_SESSION_GONE = 3410

TOKEN_HEADER = "X-Phoenix-Longpoll-Token"
AUTH_HEADER = "X-Phoenix-AuthToken"
NDJSON = "application/x-ndjson"

TokenIn = Literal["both", "query", "header"]

_CONNECTING, _OPEN = SocketState.CONNECTING, SocketState.OPEN
_CLOSING, _CLOSED = SocketState.CLOSING, SocketState.CLOSED


class _Timeout(Exception):
    """A request took longer than the longpoller timeout."""


class _RequestFailed(Exception):
    """A request got no usable answer; the message says why, with no secret in it."""


def longpoll_url(url: str) -> str:
    """The LongPoll URL of a WebSocket ``url``: ``http(s)://``, ``/longpoll``, same query."""
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    path = parts.path
    if path.endswith("/websocket"):
        path = path[: -len("websocket")] + "longpoll"
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


def auth_token_from_protocols(protocols: list[str] | None) -> str | None:
    """The auth token carried by ``["phoenix", "base64url.bearer.phx.<base64>"]``, if any.

    Raises:
        ValueError: the token subprotocol is not valid base64 of UTF-8 text.
    """
    if not protocols or len(protocols) != 2 or not protocols[1].startswith(AUTH_TOKEN_PREFIX):
        return None
    encoded = protocols[1][len(AUTH_TOKEN_PREFIX) :]
    try:
        raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        return raw.decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"the auth token subprotocol is not valid base64: {exc}") from None


def _vsn_major(url: str) -> int:
    vsn = DEFAULT_VSN
    for key, value in parse_qsl(urlsplit(url).query):
        if key == "vsn":
            vsn = value  # the socket appends vsn last; the last one is the server's
    return 1 if vsn.startswith("1.") else 2


class LongPollFactory:
    """A transport factory making :class:`LongPoll` instances with given settings.

    Args:
        timeout: seconds a poll or a POST may take before the connection is closed
            (code 1005 ``timeout``) and retried; the JS client's ``longpollerTimeout``.
        token_in: where the session token travels: ``"both"`` (the ``token`` query param and
            the ``X-Phoenix-Longpoll-Token`` header, the default), ``"query"`` (Phoenix JS
            1.8.16) or ``"header"`` (Phoenix JS 1.9, servers since 1.8.10).

    Raises:
        ValueError: a timeout that is not positive, or an unknown ``token_in``.
    """

    skip_heartbeat = True
    transport_name = "longpoll"

    def __init__(
        self, *, timeout: float = DEFAULT_LONGPOLLER_TIMEOUT, token_in: TokenIn = "both"
    ) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, not {timeout!r}")
        if token_in not in ("both", "query", "header"):
            raise ValueError(f"token_in must be 'both', 'query' or 'header', not {token_in!r}")
        self.timeout = timeout
        self.token_in: TokenIn = token_in

    def __call__(self, options: TransportOptions, handler: TransportHandler) -> LongPoll:
        return LongPoll(options, handler, timeout=self.timeout, token_in=self.token_in)

    def __repr__(self) -> str:
        return f"LongPoll.configure(timeout={self.timeout!r}, token_in={self.token_in!r})"


class LongPoll(Transport):
    """A LongPoll connection; use the class itself as a socket's transport factory.

    ::

        socket = Socket("wss://example.com/socket", transport=LongPoll)
        socket = Socket(url, transport=LongPoll.configure(timeout=30.0))

    See the module docstring for the protocol and ``transports.base`` for the life cycle.

    Args:
        options: the connection attempt's options (the socket makes them).
        handler: what the transport reports to.
        timeout: seconds a poll or a POST may take (``longpoller_timeout``).
        token_in: where the session token travels, see :class:`LongPollFactory`.

    Raises:
        ValueError: an invalid auth token subprotocol, or ``ssl=False`` with ``https``.
    """

    skip_heartbeat = True
    transport_name = "longpoll"

    def __init__(
        self,
        options: TransportOptions,
        handler: TransportHandler,
        *,
        timeout: float = DEFAULT_LONGPOLLER_TIMEOUT,
        token_in: TokenIn = "both",
    ) -> None:
        self._handler = handler
        self._auth_token = auth_token_from_protocols(options.protocols)
        self.endpoint = longpoll_url(options.url)
        parts = urlsplit(self.endpoint)
        if parts.scheme not in ("http", "https"):
            shown = redact_url(self.endpoint)
            raise ValueError(f"LongPoll needs an http(s) endpoint, not {shown!r}")
        self._ssl: _ssl.SSLContext | bool = (
            client_ssl(options.ssl, "https") if parts.scheme == "https" else False
        )
        self._shown_url = redact_url(self.endpoint)
        self._redactor = options.redactor
        self._local_address = options.local_address
        ndjson = _vsn_major(options.url) == 2
        # the default serializer always: custom encode/decode are ignored, as in the JS client
        self._codec = default_codec(2 if ndjson else 1)
        self._batch_size = MAX_BATCH_SIZE if ndjson else 1
        self._content_type = NDJSON if ndjson else "application/json"
        self._extra_headers = list(options.headers)
        self._request_timeout = aiohttp.ClientTimeout(total=timeout)
        self._token_in = token_in
        self._token: str | None = None
        self._url = URL(self.endpoint, encoded=True)
        self._state = _CONNECTING
        self._out: list[str] = []
        #: characters in ``_out`` (frames are ASCII JSON or base64: bytes on the wire)
        self._out_size = 0
        self._max_buffer = options.max_buffer
        self._drainers = DrainWaiters()
        self._session: aiohttp.ClientSession | None = None
        self._poster: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None
        self._close_reported = False
        self._loop = asyncio.get_running_loop()
        self._poller: asyncio.Task[None] | None = self._loop.create_task(self._poll_loop())

    @classmethod
    def configure(
        cls, *, timeout: float = DEFAULT_LONGPOLLER_TIMEOUT, token_in: TokenIn = "both"
    ) -> LongPollFactory:
        """A factory of LongPoll transports with these settings (see :class:`LongPollFactory`).

        Raises:
            ValueError: a timeout that is not positive, or an unknown ``token_in``.
        """
        return LongPollFactory(timeout=timeout, token_in=token_in)

    # -- Transport -----------------------------------------------------------------------

    @property
    def ready_state(self) -> SocketState:
        return self._state

    @property
    def buffered_amount(self) -> int:
        return self._out_size

    async def drain(self) -> None:
        if self.write_blocked and self._state is _OPEN:
            await self._drainers.wait(self._loop)

    def _wake_drainers(self) -> None:
        self.write_blocked = False
        self._drainers.wake()

    @property
    def session_token(self) -> str | None:
        """The server session's token, once the first poll answered."""
        return self._token

    def send(self, message: Message) -> None:
        frame = self._codec.encode(*message)
        if isinstance(frame, bytes):
            frame = base64.b64encode(frame).decode("ascii")
        self._out.append(frame)
        self._out_size += len(frame)
        if self._max_buffer is not None and self._out_size >= self._max_buffer:
            self.write_blocked = True
        if self._poster is None and self._state is _OPEN:
            # the task starts on the next loop iteration: sends made until then go with it
            self._poster = self._loop.create_task(self._post_loop())

    def close(self, code: int | None = None, reason: str = "") -> None:
        self._finish(None, CLOSE_NO_STATUS if code is None else code, reason, was_clean=True)

    # -- polling -------------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        """Polls until closed. Every way a poll can fail ends in a reported close, which the
        socket answers with a reconnect: LongPoll has no heartbeat to notice otherwise."""
        try:
            while self._state is _CONNECTING or self._state is _OPEN:
                try:
                    status, raw = await self._fetch("GET", {"Accept": "application/json"}, None)
                    answer = self._decode_poll(status, raw)
                except _Timeout:
                    self._fail("the poll timed out", CLOSE_NO_STATUS, "timeout")
                    return
                except _RequestFailed as exc:
                    self._fail(f"the poll failed: {exc}", CLOSE_INTERNAL_ERROR)
                    return
                self._on_poll(*answer)
        except asyncio.CancelledError:
            if self._closer is None and self._session is not None:
                # cancelled from outside, not by close(): asyncio.run() ending with the socket
                # still connected; close the HTTP session now, or aiohttp warns at exit
                session, self._session = self._session, None
                await session.close()
            raise
        except Exception as exc:  # a bug or a surprise: still a close the socket sees
            detail = self._redactor.scrub(repr(exc))
            self._fail(f"polling stopped on {detail}", CLOSE_INTERNAL_ERROR)
        finally:
            if self._poller is asyncio.current_task():
                self._poller = None

    def _decode_poll(self, http_status: int, raw: bytes) -> tuple[Any, Any, list[Any]]:
        """(status, token, messages) of a poll answer, decoded in one native call.

        Raises:
            _RequestFailed: the answer is not a LongPoll body.
        """
        try:
            return self._codec.decode_poll(raw)
        except DecodeError:
            if http_status == 410 and self._token is not None:
                return 410, None, []  # a proxy's plain 410: the session is gone all the same
            raise _RequestFailed(_bad_body(http_status, raw)) from None

    def _on_poll(self, status: Any, token: Any, items: list[Any]) -> None:
        if status == 410 and self._token is not None:
            self._fail("the LongPoll session is gone", CLOSE_SESSION_GONE, "session_gone")
            return
        if isinstance(token, str) and token != self._token:
            self._set_token(token)
        if status == 200:
            if items and self._state is _OPEN:
                guard(self._handler.transport_messages, items)
        elif status == 410 and self._token is not None:
            self._state = _OPEN
            guard(self._handler.transport_open)
            if self._out and self._poster is None and self._state is _OPEN:
                self._poster = self._loop.create_task(self._post_loop())
        elif status == 403:
            refused = ConnectError("the server refused the LongPoll connection (403)", 403)
            self._finish(refused, CLOSE_FORBIDDEN, "forbidden", was_clean=False)
        elif status == 500:
            self._fail("the poll failed: the server answered status 500", CLOSE_INTERNAL_ERROR)
        elif status != 204:
            unknown = ProtocolError(f"unhandled LongPoll status {status!r}")
            self._finish(unknown, CLOSE_INTERNAL_ERROR, "internal server error", was_clean=False)

    def _set_token(self, token: str) -> None:
        self._token = token
        if self._token_in == "header":
            return
        sep = "&" if "?" in self.endpoint else "?"
        self._url = URL(f"{self.endpoint}{sep}token={quote(token, safe='')}", encoded=True)

    # -- sending -------------------------------------------------------------------------

    async def _post_loop(self) -> None:
        try:
            while self._out and self._state is _OPEN:
                batch = self._out[: self._batch_size]
                del self._out[: self._batch_size]
                self._out_size -= sum(map(len, batch))
                headers = {"Content-Type": self._content_type}
                try:
                    self.frames_out += len(batch)
                    body = await self._request("POST", headers, "\n".join(batch).encode())
                except _Timeout:
                    self._fail("a POST timed out", CLOSE_NO_STATUS, "timeout")
                    return
                except _RequestFailed as exc:
                    self._fail(f"a POST failed: {exc}", CLOSE_INTERNAL_ERROR)
                    return
                status = body.get("status")
                if status != 200:
                    self._fail(
                        f"a POST failed: the server answered status {status!r}",
                        CLOSE_INTERNAL_ERROR,
                    )
                    return
                if self.write_blocked and (
                    self._max_buffer is None or self._out_size < self._max_buffer
                ):
                    self._wake_drainers()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            detail = self._redactor.scrub(repr(exc))
            self._fail(f"sending stopped on {detail}", CLOSE_INTERNAL_ERROR)
        finally:
            if self._poster is asyncio.current_task():
                self._poster = None

    # -- HTTP ----------------------------------------------------------------------------

    async def _request(
        self, method: str, headers: dict[str, str], data: bytes | None
    ) -> dict[str, Any]:
        """The answer's JSON object.

        Raises:
            _Timeout: the request took longer than the longpoller timeout.
            _RequestFailed: a network error, or a body that is not a JSON object.
        """
        status, raw = await self._fetch(method, headers, data)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            raise _RequestFailed(_bad_body(status, raw))
        return body

    async def _fetch(
        self, method: str, headers: dict[str, str], data: bytes | None
    ) -> tuple[int, bytes]:
        """The answer's HTTP status and body. Redirects are not followed: a LongPoll
        endpoint never redirects, and following one would hand the auth token's header to
        wherever it points.

        Raises:
            _Timeout: the request took longer than the longpoller timeout.
            _RequestFailed: the request failed on the network (the message says how).
        """
        session = self._session
        if session is None:
            connector = aiohttp.TCPConnector(
                ssl=self._ssl, limit=0, local_addr=local_bind(self._local_address)
            )
            session = self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._request_timeout
            )
        for name, value in self._extra_headers:
            headers.setdefault(name, value)
        if self._auth_token:
            headers[AUTH_HEADER] = self._auth_token
        if self._token is not None and self._token_in != "query":
            headers[TOKEN_HEADER] = self._token
        try:
            async with session.request(
                method, self._url, headers=headers, data=data, allow_redirects=False
            ) as resp:
                body = await resp.read()
        except asyncio.TimeoutError:
            raise _Timeout from None
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            why = self._redactor.scrub(_network_failure(exc))
            LOGGER.debug("LongPoll %s %s failed: %s", method, self._shown_url, why)
            raise _RequestFailed(why) from None
        # counted per request: a POST carries a batch, a poll answer many messages
        self.bytes_in += len(body)
        if data is not None:
            self.bytes_out += len(data)
        return resp.status, body

    # -- closing -------------------------------------------------------------------------

    def _fail(self, message: str, code: int, reason: str = "internal server error") -> None:
        """Closes on a failure the socket retries after: an error report, then the close."""
        opened = self._state is _OPEN
        error: TransportError
        if code == CLOSE_SESSION_GONE:
            error = ConnectionClosed(message, code, reason)
        elif opened:
            error = TransportError(f"{message} ({self._shown_url})")
        else:
            error = ConnectError(f"{message} ({self._shown_url})")
        self._finish(error, code, reason, was_clean=False)

    def _finish(
        self, error: BaseException | None, code: int, reason: str, *, was_clean: bool
    ) -> None:
        """Stops everything; reports ``error``, then the close once the HTTP session closed."""
        if self._state is _CLOSING or self._state is _CLOSED:
            return
        self._state = _CLOSING
        self._out.clear()
        self._out_size = 0
        self._wake_drainers()
        if error is not None:
            guard(self._handler.transport_error, error)
        current = asyncio.current_task()
        tasks = [t for t in (self._poller, self._poster) if t is not None and t is not current]
        for task in tasks:
            task.cancel()
        self._poller = self._poster = None
        self._closer = self._loop.create_task(self._shut_down(tasks, code, reason, was_clean))

    async def _shut_down(
        self, tasks: list[asyncio.Task[None]], code: int, reason: str, was_clean: bool
    ) -> None:
        try:
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            if self._session is not None:
                await self._session.close()
        finally:
            self._session = None
            self._state = _CLOSED
            if not self._close_reported:
                self._close_reported = True
                guard(self._handler.transport_close, code, reason, was_clean)


def _network_failure(exc: BaseException) -> str:
    """What went wrong with a request, in words that carry no URL.

    aiohttp's exceptions may print the request's URL, query included; only their kind and
    the operating system's reason are shown.
    """
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port} ({describe_os_error(exc.os_error)})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection before answering"
    if isinstance(exc, OSError):
        return f"network error ({describe_os_error(exc)})"
    return f"the request failed ({type(exc).__name__})"


def _bad_body(http_status: int, raw: bytes) -> str:
    if 300 <= http_status < 400:
        return (
            f"the server answered HTTP {http_status} (a redirect, which LongPoll does not follow)"
        )
    if http_status != 200:
        return f"the server answered HTTP {http_status} without a LongPoll body"
    if not raw:
        return "the server answered with an empty body"
    return "the server's answer is not a LongPoll body"
