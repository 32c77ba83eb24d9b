"""The LongPoll transport against a fake server: the behaviours of Phoenix's longpoll_test.js,
and the rest of the protocol (statuses, tokens, batching, binary frames, closing)."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import orjson
import pytest
from longpoll_support import FakeLongPoll, Recorder, Request, msg, wait_for

from phoenix_fast import _native
from phoenix_fast.errors import ConnectError, ConnectionClosed, ProtocolError, TransportError
from phoenix_fast.message import Message
from phoenix_fast.testing.waiting import scaled
from phoenix_fast.transports.base import TransportOptions
from phoenix_fast.transports.longpoll import (
    MAX_BATCH_SIZE,
    LongPoll,
    auth_token_from_protocols,
    longpoll_url,
)

CODEC = _native.Codec(2, orjson.loads, orjson.dumps)


def options(url: str, **extra: Any) -> TransportOptions:
    return TransportOptions(
        url=url, encode=lambda m: CODEC.encode(*m), decode=CODEC.decode, **extra
    )


async def open_transport(fake: FakeLongPoll, recorder: Recorder, **kw: Any) -> LongPoll:
    transport = LongPoll(options(fake.url), recorder, **kw)
    await asyncio.wait_for(recorder.opened.wait(), scaled(5))
    return transport


async def close(transport: LongPoll, recorder: Recorder) -> None:
    transport.close(1000, "bye")
    await asyncio.wait_for(recorder.closed.wait(), scaled(5))


# -- the endpoint and the auth token (constructor tests) -----------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "ws://h:4000/socket/websocket?a=1&vsn=2.0.0",
            "http://h:4000/socket/longpoll?a=1&vsn=2.0.0",
        ),
        ("wss://h/socket/websocket?vsn=2.0.0", "https://h/socket/longpoll?vsn=2.0.0"),
        ("ws://h/websocket/socket/websocket", "http://h/websocket/socket/longpoll"),
        ("ws://h/socket/websocket?x=%2Fwebsocket", "http://h/socket/longpoll?x=%2Fwebsocket"),
    ],
)
def test_the_endpoint_is_derived_from_the_websocket_url(url: str, expected: str) -> None:
    assert longpoll_url(url) == expected


@pytest.mark.parametrize("protocols", [None, [], ["phoenix"], ["phoenix", "other"]])
def test_no_auth_token_without_the_token_subprotocol(protocols: list[str] | None) -> None:
    assert auth_token_from_protocols(protocols) is None


def test_the_auth_token_is_decoded_from_its_subprotocol_without_padding() -> None:
    for token in ("my-auth-token", "a", "ab", "é→x"):
        encoded = base64.b64encode(token.encode()).decode().rstrip("=")
        protocols = ["phoenix", f"base64url.bearer.phx.{encoded}"]
        assert auth_token_from_protocols(protocols) == token


def test_an_invalid_token_subprotocol_is_refused() -> None:
    with pytest.raises(ValueError, match="base64"):
        auth_token_from_protocols(["phoenix", "base64url.bearer.phx.@@@"])


# -- polling -----------------------------------------------------------------------------


async def test_the_auth_token_header_is_sent_only_when_there_is_a_token(
    fake: FakeLongPoll, recorder: Recorder
) -> None:
    transport = await open_transport(fake, recorder)
    await close(transport, recorder)
    assert all("X-Phoenix-AuthToken" not in r.headers for r in fake.requests)
    assert fake.gets()[0].headers["Accept"] == "application/json"

    before = len(fake.requests)
    recorder2 = Recorder()
    encoded = base64.b64encode(b"secret").decode().rstrip("=")
    protocols = ["phoenix", f"base64url.bearer.phx.{encoded}"]
    transport = LongPoll(options(fake.url, protocols=protocols), recorder2)
    await asyncio.wait_for(recorder2.opened.wait(), scaled(5))
    transport.send(msg("t", "e", {}))
    await wait_for(lambda: fake.posts())
    await close(transport, recorder2)
    later = fake.requests[before:]
    assert {r.method for r in later} == {"GET", "POST"}
    assert all(r.headers["X-Phoenix-AuthToken"] == "secret" for r in later)


async def test_a_first_410_opens_and_the_session_token_travels_in_query_and_header(
    fake: FakeLongPoll, recorder: Recorder
) -> None:
    transport = await open_transport(fake, recorder)
    assert transport.session_token == fake.token
    transport.send(msg("t", "e", {}))
    await wait_for(lambda: fake.posts() and len(fake.gets()) >= 2)
    await close(transport, recorder)
    first, second = fake.gets()[:2]
    assert "token" not in first.query and "X-Phoenix-Longpoll-Token" not in first.headers
    assert first.query["vsn"] == "2.0.0"
    for request in (second, fake.posts()[0]):
        assert request.query["token"] == fake.token  # "tok/1+=" survives the query encoding
        assert request.headers["X-Phoenix-Longpoll-Token"] == fake.token
        assert request.query["vsn"] == "2.0.0"
    assert recorder.close_args == (1000, "bye", True)


@pytest.mark.parametrize("token_in", ["query", "header"])
async def test_the_session_token_can_travel_in_one_place_only(
    fake: FakeLongPoll, recorder: Recorder, token_in: Any
) -> None:
    async def get(request: Request) -> Any:
        held = request.query.get("token") or request.headers.get("X-Phoenix-Longpoll-Token")
        if held != fake.token:
            return {"status": 410, "token": fake.token, "messages": []}
        await asyncio.sleep(fake.window)
        return {"status": 204, "token": fake.token, "messages": []}

    fake.on_get = get
    factory = LongPoll.configure(token_in=token_in)
    transport = factory(options(fake.url), recorder)
    await asyncio.wait_for(recorder.opened.wait(), scaled(5))
    await wait_for(lambda: len(fake.gets()) >= 2)
    await close(transport, recorder)
    second = fake.gets()[1]
    assert ("token" in second.query) is (token_in == "query")
    assert ("X-Phoenix-Longpoll-Token" in second.headers) is (token_in == "header")


async def test_a_410_while_holding_a_token_means_the_session_is_gone(
    fake: FakeLongPoll, recorder: Recorder
) -> None:
    calls = 0

    async def get(_request: Request) -> Any:
        nonlocal calls
        calls += 1
        return {"status": 410, "token": f"t{calls}", "messages": []}

    fake.on_get = get
    transport = LongPoll(options(fake.url), recorder)
    await asyncio.wait_for(recorder.closed.wait(), scaled(5))
    kinds = [kind for kind, _ in recorder.events]
    assert kinds == ["open", "error", "close"]
    assert isinstance(recorder.errors[0], ConnectionClosed)
    assert recorder.errors[0].code == 3410
    assert recorder.close_args == (3410, "session_gone", False)
    assert transport.ready_state.name == "CLOSED"


async def test_messages_of_a_200_are_delivered_as_one_batch_in_order(
    fake: FakeLongPoll, recorder: Recorder
) -> None:
    frames = [CODEC.encode("1", str(i), "room:1", "new", {"i": i}) for i in range(5)]
    frames.insert(2, "not json")
    sent = False

    async def get(request: Request) -> Any:
        nonlocal sent
        if "X-Phoenix-Longpoll-Token" not in request.headers:
            return {"status": 410, "token": "x", "messages": []}
        if not sent:
            sent = True
            return {"status": 200, "token": "x", "messages": frames}
        await asyncio.sleep(fake.window)
        return {"status": 204, "token": "x", "messages": []}

    fake.on_get = get
    transport = await open_transport(fake, recorder)
    await wait_for(lambda: recorder.messages)
    await close(transport, recorder)
    batches = [items for kind, items in recorder.events if kind == "messages"]
    assert len(batches) == 1
    items = batches[0]
    assert [m[4]["i"] for m in items if isinstance(m, tuple)] == [0, 1, 2, 3, 4]
    assert isinstance(items[2], ProtocolError)  # the bad frame is a DecodeError in its place


async def test_a_binary_frame_in_a_poll_answer_is_decoded_as_binary(
    fake: FakeLongPoll, recorder: Recorder
) -> None:
    raw = bytes([2, 6, 3]) + b"room:1" + b"bin" + b"abc"  # a V2 binary broadcast
    answers = [{"status": 200, "token": "x", "messages": [raw.decode()]}]

    async def get(request: Request) -> Any:
        if "X-Phoenix-Longpoll-Token" not in request.headers:
            return {"status": 410, "token": "x", "messages": []}
        if answers:
            return answers.pop()
        await asyncio.sleep(fake.window)
        return {"status": 204, "token": "x", "messages": []}

    fake.on_get = get
    transport = await open_transport(fake, recorder)
    await wait_for(lambda: recorder.messages)
    await close(transport, recorder)
    assert recorder.messages == [Message(None, None, "room:1", "bin", b"abc")]


@pytest.mark.parametrize(
    ("answer", "code", "reason", "error"),
    [
        ({"status": 403}, 1008, "forbidden", ConnectError),
        ({"status": 500}, 1011, "internal server error", ConnectError),
        (b"<html>bad gateway</html>", 1011, "internal server error", ConnectError),
        ({"status": 418}, 1011, "internal server error", ProtocolError),
    ],
)
async def test_failed_polls_report_an_error_then_close(
    fake: FakeLongPoll, recorder: Recorder, answer: Any, code: int, reason: str, error: type
) -> None:
    async def get(_request: Request) -> Any:
        return answer

    fake.on_get = get
    LongPoll(options(fake.url), recorder)
    await asyncio.wait_for(recorder.closed.wait(), scaled(5))
    assert [kind for kind, _ in recorder.events] == ["error", "close"]
    assert isinstance(recorder.errors[0], error)
    assert recorder.close_args == (code, reason, False)
    if code == 1008:
        assert recorder.errors[0].status == 403  # type: ignore[attr-defined]


async def test_an_unreachable_server_is_a_connect_error(recorder: Recorder) -> None:
    LongPoll(options("ws://127.0.0.1:9/socket/websocket?vsn=2.0.0"), recorder)
    await asyncio.wait_for(recorder.closed.wait(), scaled(5))
    assert isinstance(recorder.errors[0], ConnectError)
    assert recorder.close_args == (1011, "internal server error", False)


async def test_a_poll_that_times_out_closes_with_1005(
    fake: FakeLongPoll, recorder: Recorder
) -> None:
    fake.window = 5.0
    transport = LongPoll(options(fake.url), recorder, timeout=0.2)
    await asyncio.wait_for(recorder.closed.wait(), scaled(5))
    assert recorder.events[0][0] == "open"
    assert isinstance(recorder.errors[0], TransportError)
    assert "timed out" in str(recorder.errors[0])
    assert recorder.close_args == (1005, "timeout", False)
    assert transport.ready_state.name == "CLOSED"


# -- sending -------------------------------------------------------------------------------


async def test_posts_are_ndjson(fake: FakeLongPoll, recorder: Recorder) -> None:
    transport = await open_transport(fake, recorder)
    transport.send(msg("t", "a", {"x": 1}, "1"))
    transport.send(msg("t", "b", {"x": 2}, "2"))
    post = await asyncio.wait_for(fake.posted.get(), scaled(5))
    await close(transport, recorder)
    assert post.headers["Content-Type"] == "application/x-ndjson"
    assert [orjson.loads(line)[3] for line in post.lines] == ["a", "b"]


async def test_sends_of_one_turn_coalesce_and_sends_during_a_post_wait_for_its_ack(
    fake: FakeLongPoll, recorder: Recorder
) -> None:
    release = asyncio.Event()

    async def post(_request: Request) -> Any:
        await release.wait()
        return {"status": 200}

    fake.on_post = post
    transport = await open_transport(fake, recorder)
    for event in "abc":
        transport.send(msg("t", event, {}))
    first = await asyncio.wait_for(fake.posted.get(), scaled(5))
    assert [orjson.loads(line)[3] for line in first.lines] == ["a", "b", "c"]
    transport.send(msg("t", "d", {}))
    await asyncio.sleep(0.05)
    transport.send(msg("t", "e", {}))
    await asyncio.sleep(0.05)
    assert len(fake.posts()) == 1  # held while the first POST is in flight
    assert transport.buffered_amount > 0
    release.set()
    second = await asyncio.wait_for(fake.posted.get(), scaled(5))
    assert [orjson.loads(line)[3] for line in second.lines] == ["d", "e"]
    await asyncio.sleep(0.05)
    assert len(fake.posts()) == 2
    await close(transport, recorder)


async def test_150_sends_go_out_as_100_then_50_in_order(
    fake: FakeLongPoll, recorder: Recorder
) -> None:
    transport = await open_transport(fake, recorder)
    for i in range(150):
        transport.send(msg("t", f"m{i}", {}))
    first = await asyncio.wait_for(fake.posted.get(), scaled(5))
    second = await asyncio.wait_for(fake.posted.get(), scaled(5))
    await close(transport, recorder)
    events = [[orjson.loads(line)[3] for line in p.lines] for p in (first, second)]
    assert len(events[0]) == MAX_BATCH_SIZE == 100
    assert events[0] + events[1] == [f"m{i}" for i in range(150)]


async def test_a_post_that_times_out_closes_and_nothing_is_buffered_after(
    fake: FakeLongPoll, recorder: Recorder
) -> None:
    async def post(_request: Request) -> Any:
        await asyncio.sleep(5)
        return {"status": 200}

    fake.on_post = post
    fake.window = 0.05
    transport = await open_transport(fake, recorder, timeout=0.3)
    transport.send(msg("t", "a", {}))
    await asyncio.wait_for(recorder.closed.wait(), scaled(5))
    assert "POST timed out" in str(recorder.errors[0])
    assert recorder.close_args == (1005, "timeout", False)
    assert transport.buffered_amount == 0


@pytest.mark.parametrize("answer", [{"status": 410}, {"status": 500}, b""])
async def test_a_post_not_acknowledged_with_200_closes_with_1011(
    fake: FakeLongPoll, recorder: Recorder, answer: Any
) -> None:
    async def post(_request: Request) -> Any:
        return answer

    fake.on_post = post
    transport = await open_transport(fake, recorder)
    transport.send(msg("t", "a", {}))
    await asyncio.wait_for(recorder.closed.wait(), scaled(5))
    assert [kind for kind, _ in recorder.events] == ["open", "error", "close"]
    assert recorder.close_args == (1011, "internal server error", False)
    assert transport.ready_state.name == "CLOSED"


async def test_binary_pushes_are_base64_lines(fake: FakeLongPoll, recorder: Recorder) -> None:
    transport = await open_transport(fake, recorder)
    transport.send(msg("t", "text", {"a": 1}))
    transport.send(msg("t", "bin", b"\x00\xffdata"))
    post = await asyncio.wait_for(fake.posted.get(), scaled(5))
    await close(transport, recorder)
    text, binary = post.lines
    assert text.startswith("[")
    decoded = base64.b64decode(binary, validate=True)
    assert decoded == CODEC.encode("1", None, "t", "bin", b"\x00\xffdata")


async def test_custom_encode_and_decode_are_ignored(fake: FakeLongPoll, recorder: Recorder) -> None:
    def boom(_item: Any) -> Any:
        raise AssertionError("custom serializer used")

    opts = TransportOptions(url=fake.url, encode=boom, decode=boom, codec=None)
    transport = LongPoll(opts, recorder)
    await asyncio.wait_for(recorder.opened.wait(), scaled(5))
    transport.send(msg("t", "a", {}))
    post = await asyncio.wait_for(fake.posted.get(), scaled(5))
    await close(transport, recorder)
    assert orjson.loads(post.body) == ["1", None, "t", "a", {}]


async def test_v1_frames_are_posted_one_by_one_as_json(
    fake: FakeLongPoll, recorder: Recorder
) -> None:
    url = fake.url.replace("vsn=2.0.0", "vsn=1.0.0")
    transport = LongPoll(options(url), recorder)
    await asyncio.wait_for(recorder.opened.wait(), scaled(5))
    transport.send(msg("t", "a", {}))
    transport.send(msg("t", "b", {}))
    first = await asyncio.wait_for(fake.posted.get(), scaled(5))
    second = await asyncio.wait_for(fake.posted.get(), scaled(5))
    await close(transport, recorder)
    assert first.headers["Content-Type"] == "application/json"
    assert [orjson.loads(p.body)["event"] for p in (first, second)] == ["a", "b"]


async def test_requests_reuse_keep_alive_connections_and_carry_extra_headers(
    fake: FakeLongPoll, recorder: Recorder
) -> None:
    fake.window = 0.01
    transport = LongPoll(options(fake.url, headers=[("X-Custom", "yes")]), recorder)
    await asyncio.wait_for(recorder.opened.wait(), scaled(5))
    for i in range(5):
        transport.send(msg("t", f"e{i}", {}))
        await asyncio.wait_for(fake.posted.get(), scaled(5))
    await wait_for(lambda: len(fake.gets()) >= 10)
    await close(transport, recorder)
    assert len(fake.requests) >= 15
    assert len({r.peer for r in fake.requests}) <= 2  # one connection for polls, one for POSTs
    assert all(r.headers["X-Custom"] == "yes" for r in fake.requests)


# -- closing -------------------------------------------------------------------------------


async def test_close_while_connecting_reports_one_clean_close(
    fake: FakeLongPoll, recorder: Recorder
) -> None:
    transport = LongPoll(options(fake.url), recorder)
    transport.close(1000, "")
    transport.close(1000, "")
    await asyncio.wait_for(recorder.closed.wait(), scaled(5))
    await asyncio.sleep(0.05)
    assert recorder.events == [("close", (1000, "", True))]


async def test_close_cancels_the_pending_poll_and_post(
    fake: FakeLongPoll, recorder: Recorder
) -> None:
    async def post(_request: Request) -> Any:
        await asyncio.sleep(5)
        return {"status": 200}

    fake.on_post = post
    fake.window = 5.0
    transport = await open_transport(fake, recorder)
    transport.send(msg("t", "a", {}))
    await asyncio.wait_for(fake.posted.get(), scaled(5))
    loop = asyncio.get_running_loop()
    start = loop.time()
    await close(transport, recorder)
    assert loop.time() - start < 1.0
    assert recorder.close_args == (1000, "bye", True)
    assert transport.ready_state.name == "CLOSED"


def test_longpoll_skips_heartbeats() -> None:
    assert LongPoll.skip_heartbeat is True
    assert LongPoll.configure(timeout=1.0).skip_heartbeat is True
    with pytest.raises(ValueError, match="positive"):
        LongPoll.configure(timeout=0)


# -- backpressure --------------------------------------------------------------------------


async def test_a_post_the_server_does_not_answer_blocks_writes_past_max_buffer(
    fake: FakeLongPoll, recorder: Recorder
) -> None:
    release = asyncio.Event()

    async def slow_post(_request: Request) -> Any:
        await release.wait()
        return {"status": 200}

    fake.on_post = slow_post
    transport = LongPoll(options(fake.url, max_buffer=4096), recorder)
    await asyncio.wait_for(recorder.opened.wait(), scaled(5))
    transport.send(msg("t", "e", {"data": "x" * 1000}))
    await fake.posted.get()  # the first POST is in flight and unanswered
    while not transport.write_blocked:
        transport.send(msg("t", "e", {"data": "x" * 1000}))
    assert transport.buffered_amount >= 4096
    drained = asyncio.ensure_future(transport.drain())
    await asyncio.sleep(0.01)
    assert not drained.done()
    release.set()
    await asyncio.wait_for(drained, scaled(5))
    assert not transport.write_blocked
    await close(transport, recorder)
