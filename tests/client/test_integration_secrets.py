"""No secret in any log record or exception text, on either transport, whatever fails.

A socket's secrets are its params (in the URL's query), its auth token (in a subprotocol,
or LongPoll's auth header) and its header values. Each test connects somewhere that fails
in its own way, with logging at DEBUG everywhere, lets the socket retry a few times, and
then looks for the secrets in every log record (message, arguments, traceback), in every
error the socket reported or raised (with its causes), and in the socket's ``repr``.
"""

from __future__ import annotations

import base64
import logging
import socket as stdlib_socket
import traceback
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from phoenix_fast import LongPoll, Socket
from phoenix_fast.testing import wait_for

PARAM_SECRET = "p4ram-s3cret-value"
TOKEN_SECRET = "t0ken-s3cret-value"
HEADER_SECRET = "h3ader-s3cret-value"
SECRETS = (
    PARAM_SECRET,
    TOKEN_SECRET,
    HEADER_SECRET,
    base64.b64encode(TOKEN_SECRET.encode()).decode().rstrip("="),
)


class Capture(logging.Handler):
    """Every record at any level, from any logger, as the text a log file would hold."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))
        self.texts.append(repr(record.args))


@pytest.fixture
def capture() -> Any:
    handler = Capture()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def _hostile(request: web.Request) -> web.StreamResponse:
    """A server that fails in the way its first path segment names."""
    kind = request.path.split("/")[1]
    if kind == "redirect":
        raise web.HTTPFound(f"http://127.0.0.1:1/elsewhere?stolen={request.query_string}")
    if kind == "error":
        return web.Response(status=500, text=f"internal error for {request.query_string}")
    if kind == "gone":
        return web.Response(status=410, text="gone")
    if kind == "garbage":
        return web.Response(status=200, text=f"not json {request.query_string}")
    return web.Response(status=404)


@pytest.fixture
async def hostile() -> AsyncIterator[str]:
    """``http://127.0.0.1:PORT``: paths /redirect, /error, /gone and /garbage misbehave."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _hostile)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def _closed_port() -> int:
    with stdlib_socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _texts_of(error: BaseException) -> list[str]:
    return ["".join(traceback.format_exception(error)), repr(error), repr(vars(error))]


LOGGERS: dict[str, Callable[[list[str]], Any]] = {
    "default": lambda _texts: None,
    "stdlib": lambda _texts: logging.getLogger("app.phoenix"),
    "js-style": lambda texts: (
        lambda kind, msg, data: texts.extend((kind, msg, repr(data), str(data)))
    ),
}


async def _fail_a_few_times(url: str, transport: Any, logger_kind: str) -> list[str]:
    """Connects to ``url`` with every kind of secret, lets it fail three times, and
    returns every text the socket produced besides log records."""
    texts: list[str] = []
    errors: list[BaseException] = []
    socket = Socket(
        url,
        params={"token": "bad", "api_key": PARAM_SECRET},
        auth_token=TOKEN_SECRET,
        headers={"X-Api-Key": HEADER_SECRET},
        transport=transport,
        reconnect_after=lambda tries: 0.01,
        longpoller_timeout=2.0,
        connect_timeout=2.0,
        logger=LOGGERS[logger_kind](texts),
    )
    socket.on_error(errors.append)
    try:
        with pytest.raises(Exception) as raised:
            await socket.connect()
        errors.append(raised.value)
        await wait_for(lambda: len(errors) >= 4, timeout=10)
        texts.append(repr(socket))
    finally:
        await socket.disconnect()
    for error in errors:
        texts.extend(_texts_of(error))
    return texts


def _assert_clean(texts: list[str]) -> None:
    assert texts
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} leaked in: {text}"


TRANSPORTS = {"websocket": None, "longpoll": LongPoll}


@pytest.mark.parametrize("logger_kind", LOGGERS)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_connect_refused_leaks_nothing(
    capture: Capture, transport: str, logger_kind: str
) -> None:
    url = f"ws://127.0.0.1:{_closed_port()}/socket"
    texts = await _fail_a_few_times(url, TRANSPORTS[transport], logger_kind)
    _assert_clean(texts + capture.texts)


@pytest.mark.parametrize("logger_kind", LOGGERS)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_refused_upgrade_leaks_nothing(
    capture: Capture, phoenix_url: str, transport: str, logger_kind: str
) -> None:
    # the contract refuses token=bad: 403 on both transports
    texts = await _fail_a_few_times(phoenix_url, TRANSPORTS[transport], logger_kind)
    _assert_clean(texts + capture.texts)
    assert any("403" in text for text in texts), "the refusal itself is still reported"


@pytest.mark.parametrize("kind", ["redirect", "error", "gone", "garbage"])
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_misbehaving_server_leaks_nothing(
    capture: Capture, hostile: str, transport: str, kind: str
) -> None:
    url = f"ws://{hostile}/{kind}/socket"
    texts = await _fail_a_few_times(url, TRANSPORTS[transport], "stdlib")
    _assert_clean(texts + capture.texts)
    assert any("/socket/" in text for text in texts), "errors still show where they went"


async def test_longpoll_failure_says_why_not_status_0(capture: Capture) -> None:
    url = f"ws://127.0.0.1:{_closed_port()}/socket"
    errors: list[BaseException] = []
    socket = Socket(url, transport=LongPoll, reconnect_after=lambda tries: 0.01)
    socket.on_error(errors.append)
    with pytest.raises(Exception) as raised:
        await socket.connect()
    await socket.disconnect()
    text = str(raised.value)
    assert "status 0" not in text
    assert "cannot connect to 127.0.0.1" in text


async def test_transport_options_repr_hides_url_token_and_headers() -> None:
    from phoenix_fast.transports.base import TransportOptions

    options = TransportOptions(
        url=f"ws://h/socket/websocket?api_key={PARAM_SECRET}",
        encode=str,  # type: ignore[arg-type]
        decode=str,  # type: ignore[arg-type]
        protocols=["phoenix", f"base64url.bearer.phx.{SECRETS[3]}"],
        headers=[("X-Api-Key", HEADER_SECRET)],
    )
    _assert_clean([repr(options), options.shown_url])
    assert options.shown_url == "ws://h/socket/websocket?***"
