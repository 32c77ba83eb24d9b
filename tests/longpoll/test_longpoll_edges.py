"""LongPoll's edges: configuration errors, sends made before the session opened, a surprise
while sending, a loop that ends with the transport still open, and how request failures are
described (kind and OS reason only, never the URL)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
import pytest
from longpoll_support import FakeLongPoll, Recorder, msg

from phoenix_fast import _native
from phoenix_fast._redact import Redactor
from phoenix_fast.errors import TransportError
from phoenix_fast.testing.waiting import scaled
from phoenix_fast.transports import longpoll
from phoenix_fast.transports.base import TransportOptions
from phoenix_fast.transports.longpoll import LongPoll

CODEC = _native.Codec(2, orjson.loads, orjson.dumps)


def options(url: str) -> TransportOptions:
    """As the socket makes them: with a redactor of the URL's secrets."""
    return TransportOptions(
        url=url, encode=lambda m: CODEC.encode(*m), decode=CODEC.decode, redactor=Redactor(url)
    )


def test_configure_refuses_an_unknown_token_place_and_shows_its_settings() -> None:
    with pytest.raises(
        ValueError, match="token_in must be 'both', 'query' or 'header', not 'body'"
    ):
        LongPoll.configure(token_in="body")  # type: ignore[arg-type]
    factory = LongPoll.configure(timeout=2.5, token_in="header")
    assert repr(factory) == "LongPoll.configure(timeout=2.5, token_in='header')"


async def test_an_endpoint_that_is_not_http_is_refused_without_its_query(
    recorder: Recorder,
) -> None:
    with pytest.raises(
        ValueError, match=r"http\(s\) endpoint, not 'ftp://h/socket/longpoll\?\*\*\*'"
    ):
        LongPoll(options("ftp://h/socket/websocket?token=sekrit"), recorder)


async def test_what_was_sent_before_the_session_opened_is_posted_once_it_does(
    fake: FakeLongPoll, recorder: Recorder
) -> None:
    transport = LongPoll(options(fake.url), recorder)
    transport.send(msg("room", "early", {"n": 1}))  # the first poll has not even started
    assert transport.buffered_amount > 0
    posted = await asyncio.wait_for(fake.posted.get(), scaled(5))
    assert recorder.opened.is_set()
    assert [orjson.loads(line)[3:] for line in posted.lines] == [["early", {"n": 1}]]
    transport.close(1000, "bye")
    await asyncio.wait_for(recorder.closed.wait(), scaled(5))


async def test_a_surprise_while_sending_is_a_close_the_socket_sees_with_secrets_scrubbed(
    fake: FakeLongPoll, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    transport = LongPoll(options(fake.url + "&token=sekrit"), recorder)
    await asyncio.wait_for(recorder.opened.wait(), scaled(5))

    async def surprise(method: str, headers: Any, data: Any) -> Any:
        raise RuntimeError("a bug near sekrit")

    monkeypatch.setattr(transport, "_request", surprise)
    transport.send(msg("room", "ping", {}))
    await asyncio.wait_for(recorder.closed.wait(), scaled(5))
    (error,) = recorder.errors
    assert isinstance(error, TransportError)
    assert "sending stopped on RuntimeError('a bug near ***')" in str(error)
    assert "sekrit" not in str(error)
    assert recorder.close_args == (1011, "internal server error", False)


async def test_a_loop_that_ends_with_the_transport_open_closes_its_http_session(
    fake: FakeLongPoll,
) -> None:
    """``asyncio.run()`` returning while connected cancels the poll from outside: the HTTP
    session is closed then, or aiohttp would warn of it at exit."""
    seen: dict[str, Any] = {}

    async def main() -> None:
        recorder = Recorder()
        transport = LongPoll(options(fake.url), recorder)
        await asyncio.wait_for(recorder.opened.wait(), scaled(5))
        seen["session"] = transport._session
        seen["transport"] = transport
        # returns with the poll in flight: asyncio.run cancels it

    await asyncio.to_thread(asyncio.run, main())  # the fake server keeps this loop
    session = seen["session"]
    assert isinstance(session, aiohttp.ClientSession) and session.closed
    assert seen["transport"]._session is None


@pytest.mark.parametrize(
    ("exc", "said"),
    [
        (aiohttp.ServerDisconnectedError(), "the server closed the connection before answering"),
        (ConnectionResetError(104, "Connection reset by peer"), "network error ("),
        (aiohttp.ClientPayloadError("payload at http://h/?token=sekrit"), "the request failed"),
        (ValueError("bad URL http://h/?token=sekrit"), "the request failed (ValueError)"),
    ],
)
def test_request_failures_are_described_without_the_url(exc: BaseException, said: str) -> None:
    described = longpoll._network_failure(exc)
    assert described.startswith(said)
    assert "sekrit" not in described and "http" not in described
