"""Channel behaviour pinned by the JS suite (channel_test.js), on fake time."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from helpers import connected, join, last, make_socket, settle

from phoenix_fast._states import ChannelState
from phoenix_fast.channel import Channel
from phoenix_fast.errors import InvalidState, JoinError, PushTimeout
from phoenix_fast.message import Message
from phoenix_fast.transports.mock import phoenix_server

# -- constructor and params --


def test_defaults() -> None:
    socket, _ = make_socket(timeout=1234)
    channel = socket.channel("topic", {"one": "two"})
    assert channel.state is ChannelState.CLOSED and channel.state == "closed"
    assert channel._bindings == {}
    assert channel.timeout == 1234
    assert not channel.joined_once
    assert channel.join_push.event == "phx_join"
    assert channel.join_push.payload == {"one": "two"}
    assert channel.join_ref is None


def test_join_params_may_be_a_callable() -> None:
    socket, _ = make_socket()
    channel = socket.channel("topic", lambda: {"value": 1})
    assert channel.join_push.payload == {"value": 1}


async def test_auth_token_callable_becomes_the_subprotocol() -> None:
    socket, server = make_socket(auth_token=lambda: "token")
    socket.connect()
    assert server.current.options.protocols == ["phoenix", "base64url.bearer.phx.dG9rZW4"]
    await socket.disconnect()


async def test_updated_params_are_sent_on_rejoin() -> None:
    socket, server = await connected()
    params = {"value": 1}
    channel = socket.channel("topic", params)
    channel.join()
    await settle()
    params["value"] = 2  # the mapping is read again on rejoin
    server.current.push("topic", "phx_error", {}, join_ref=channel.join_ref)
    await asyncio.sleep(1)
    channel.params = {"other": 3}  # and a new one replaces it
    server.current.push("topic", "phx_error", {}, join_ref=channel.join_ref)
    await asyncio.sleep(2)
    frames = [json.loads(f) for f in server.current.frames]
    joins = [f[4] for f in frames if f[3] == "phx_join"]
    assert joins == [{"value": 1}, {"value": 2}, {"other": 3}]
    await socket.disconnect()


# -- join --


async def test_join_sets_joining_and_sends_the_join() -> None:
    socket, server = await connected()
    channel = socket.channel("topic", {"one": "two"})
    push = channel.join()
    assert channel.state == "joining" and channel.joined_once
    await settle()
    message = last(server.current, "phx_join")
    assert message == Message(push.ref, push.ref, "topic", "phx_join", {"one": "two"})
    assert channel.join_ref == push.ref
    await socket.disconnect()


async def test_join_twice_raises() -> None:
    socket, _ = make_socket()
    channel = socket.channel("topic")
    channel.join()
    with pytest.raises(InvalidState, match="once per channel"):
        channel.join()


async def test_join_timeout_sets_the_push_and_channel_timeout() -> None:
    socket, _ = make_socket()
    channel = socket.channel("topic")
    channel.join(timeout=5)
    assert channel.join_push.timeout == 5 and channel.timeout == 5


async def test_joining_leaves_a_duplicate_open_topic() -> None:
    socket, server = await connected()
    first = socket.channel("topic")
    await join(first, server.current)
    second = socket.channel("topic")
    second.join()
    assert first.state == "closed"
    await settle()
    assert [m.event for m in server.current.sent] == ["phx_join", "phx_leave", "phx_join"]
    assert last(server.current, "phx_leave").join_ref == first.join_ref
    await socket.disconnect()


# -- join timeouts --


async def test_join_ok_before_timeout() -> None:
    socket, server = await connected()
    channel = socket.channel("topic")
    channel.join(timeout=1)
    await asyncio.sleep(0.5)
    server.current.reply(last(server.current, "phx_join"))
    await asyncio.sleep(10)
    assert channel.state == "joined"
    assert len(server.current.messages("phx_join")) == 1
    await socket.disconnect()


async def test_join_retries_with_backoff_after_timeouts() -> None:
    socket, server = await connected(heartbeat_interval=None)
    conn = server.current
    loop = asyncio.get_running_loop()
    channel = socket.channel("topic")
    channel.join(timeout=1)
    # join at 0, times out at 1 (leave), rejoin after 1 s: 2, timeout 3, rejoin after 2 s: 5 ...
    await asyncio.sleep(5.5)
    events = [(m.event, m.join_ref) for m in conn.sent]
    joins = [m for m in conn.sent if m.event == "phx_join"]
    assert [e for e, _ in events] == ["phx_join", "phx_leave", "phx_join", "phx_leave", "phx_join"]
    # each leave carries the join_ref of the join that timed out
    assert events[1][1] == joins[0].ref and events[3][1] == joins[1].ref
    assert channel.state == "joining"
    conn.reply(joins[-1])
    assert channel.state == "joined" and loop.time() == pytest.approx(5.5)
    await socket.disconnect()


async def test_join_before_a_late_socket_open() -> None:
    socket, server = make_socket(auto_open=False)
    channel = socket.channel("topic")
    channel.join(timeout=1)
    socket.connect()
    await asyncio.sleep(1)  # the buffered join timed out
    assert channel.state == "errored"
    server.current.open()  # the errored channel rejoins at once
    await settle()
    joins = server.current.messages("phx_join")
    assert len(joins) == 1 and channel.state == "joining"
    server.current.reply(joins[0])
    assert channel.state == "joined"
    await socket.disconnect()


async def test_join_with_socket_delay_only() -> None:
    socket, server = make_socket(auto_open=False)
    channel = socket.channel("topic")
    channel.join(timeout=5)
    socket.connect()
    await asyncio.sleep(1)
    server.current.open()
    await settle()
    server.current.reply(last(server.current, "phx_join"))
    assert channel.state == "joined"
    await socket.disconnect()


# -- join replies --


async def test_join_ok() -> None:
    socket, server = await connected()
    channel = socket.channel("topic")
    seen: list[Any] = []
    push = channel.join().receive("ok", lambda r: seen.append(("ok", r)))
    push.receive("error", lambda r: seen.append(("error", r)))
    push.receive("timeout", lambda r: seen.append(("timeout", r)))
    channel._rejoin_timer.tries = 2
    buffered = channel.push("early", {"n": 1})
    await settle()
    server.current.reply(last(server.current, "phx_join"), "ok", {"welcome": True})
    assert channel.state == "joined"
    assert seen == [("ok", {"welcome": True})]
    assert push.received == ("ok", {"welcome": True})
    assert (
        push.ref not in socket._deadlines.pending
    )  # the timeout is gone, and so is the reply entry
    assert channel._rejoin_timer.tries == 0
    assert channel._push_buffer == {}
    assert last(server.current, "early").ref == buffered.ref
    push.receive("ok", lambda r: seen.append(("late ok", r)))  # a late receiver fires at once
    assert seen[-1] == ("late ok", {"welcome": True})
    await asyncio.sleep(20)
    assert len(seen) == 2
    await socket.disconnect()


async def test_join_timeout() -> None:
    socket, _server = await connected(heartbeat_interval=None)
    channel = socket.channel("topic")
    seen: list[str] = []
    push = channel.join(timeout=1)
    for status in ("ok", "error", "timeout"):
        push.receive(status, lambda _r, s=status: seen.append(s))
    await asyncio.sleep(1)
    assert channel.state == "errored" and seen == ["timeout"]
    assert channel._rejoin_timer.scheduled
    await socket.disconnect()


async def test_join_error() -> None:
    socket, server = await connected()
    channel = socket.channel("topic")
    seen: list[Any] = []
    push = channel.join()
    for status in ("ok", "error", "timeout"):
        push.receive(status, lambda r, s=status: seen.append((s, r)))
    buffered = channel.push("early")
    await settle()
    server.current.reply(last(server.current, "phx_join"), "error", {"reason": "nope"})
    assert seen == [("error", {"reason": "nope"})]
    assert push.received == ("error", {"reason": "nope"})
    assert push.ref not in socket._deadlines.pending
    assert channel.state == "errored"
    assert channel._rejoin_timer.scheduled
    push.receive("error", lambda r: seen.append(("late", r)))
    assert seen[-1] == ("late", {"reason": "nope"})
    assert server.current.messages("early") == [] and buffered in channel._push_buffer
    await asyncio.sleep(0.9)  # (the rejoin, after 1 s, resends the same push)
    assert len(seen) == 2
    await socket.disconnect()


# -- errors and closes from the server --


async def test_phx_error_errors_and_rejoins_with_backoff() -> None:
    socket, server = await connected()
    channel = socket.channel("topic")
    await join(channel, server.current)
    reasons: list[Any] = []
    channel.on_error(reasons.append)
    server.current.push("topic", "phx_error", {"reason": "boom"}, join_ref=channel.join_ref)
    assert channel.state == "errored" and reasons == [{"reason": "boom"}]
    # a second error while backing off does not schedule a second rejoin
    server.current.push("topic", "phx_error", {}, join_ref=None)
    await asyncio.sleep(0.999)
    assert len(server.current.messages("phx_join")) == 1
    await asyncio.sleep(0.002)
    assert len(server.current.messages("phx_join")) == 2 and channel.state == "joining"
    await socket.disconnect()


@pytest.mark.parametrize("state", [ChannelState.LEAVING, ChannelState.CLOSED])
async def test_no_rejoin_when_leaving_or_closed(state: ChannelState) -> None:
    socket, server = await connected()
    channel = socket.channel("topic")
    await join(channel, server.current)
    channel._state = state
    server.current.fail(OSError("reset"))
    await asyncio.sleep(30)
    assert len([m for m in server.sent if m.event == "phx_join"]) == 1
    assert channel.state == state
    await socket.disconnect()


async def test_phx_close_closes_and_removes_without_rejoin() -> None:
    socket, server = await connected()
    channel = socket.channel("topic")
    await join(channel, server.current)
    closes: list[Any] = []
    channel.on_close(closes.append)
    server.current.push("topic", "phx_close", {}, join_ref=channel.join_ref)
    assert channel.state == "closed" and closes == [{}]
    assert socket.channels == []
    await asyncio.sleep(60)
    assert len(server.current.messages("phx_join")) == 1
    await socket.disconnect()


async def test_phx_close_of_an_old_join_is_ignored_after_rejoin() -> None:
    socket, server = await connected()
    channel = socket.channel("topic")
    old = await join(channel, server.current)
    server.current.push("topic", "phx_error", {}, join_ref=old.ref)
    await asyncio.sleep(1)
    server.current.reply(last(server.current, "phx_join"))
    assert channel.join_ref != old.ref and channel.state == "joined"
    server.current.receive(Message(old.ref, old.ref, "topic", "phx_close", {}))
    assert channel.state == "joined"
    await socket.disconnect()


# -- join_ref filtering --


async def test_stale_join_refs_are_dropped_null_and_empty_ones_accepted() -> None:
    socket, server = await connected()
    channel = socket.channel("topic")
    await join(channel, server.current)
    got: list[Any] = []
    channel.on("msg", got.append)
    conn = server.current
    conn.receive(Message(None, None, "topic", "msg", {"n": "broadcast"}))
    conn.receive(Message(channel.join_ref, None, "topic", "msg", {"n": "current"}))
    conn.receive(Message("999", None, "topic", "msg", {"n": "stale"}))
    conn.receive(Message(None, None, "other", "msg", {"n": "other topic"}))
    conn.receive(Message("", None, "topic", "msg", {"n": "empty join_ref"}))  # JS: falsy, kept
    assert got == [{"n": "broadcast"}, {"n": "current"}, {"n": "empty join_ref"}]
    await socket.disconnect()


# -- bindings --


async def test_on_binds_and_ignores_other_events_with_increasing_refs() -> None:
    socket, server = await connected()
    channel = socket.channel("topic")
    await join(channel, server.current)
    got: list[Any] = []
    refs = [channel.on("event", lambda p: got.append(("a", p))), channel.on("other", got.append)]
    refs.append(channel.on("event", lambda: got.append("no args")))
    assert refs == sorted(refs) and len(set(refs)) == 3
    server.current.push("topic", "event", {"x": 1})
    assert got == [("a", {"x": 1}), "no args"]
    await socket.disconnect()


async def test_bindings_get_as_many_of_payload_ref_and_join_ref_as_they_take() -> None:
    socket, server = await connected()
    channel = socket.channel("topic")
    await join(channel, server.current)
    got: list[tuple[Any, ...]] = []
    channel.on("event", lambda: got.append(()))
    channel.on("event", lambda payload: got.append((payload,)))
    channel.on("event", lambda payload, ref: got.append((payload, ref)))
    channel.on("event", lambda payload, ref, join_ref: got.append((payload, ref, join_ref)))
    server.current.receive(Message(None, "9", "topic", "event", {"n": 1}))
    one = {"n": 1}
    assert got == [(), (one,), (one, "9"), (one, "9", channel.join_ref)]
    await socket.disconnect()


async def test_callbacks_unbound_during_dispatch_still_run() -> None:
    socket, server = await connected()
    channel = socket.channel("topic")
    await join(channel, server.current)
    got: list[str] = []
    ref2 = 0

    def first(_payload: Any) -> None:
        got.append("first")
        channel.off("event", ref2)

    channel.on("event", first)
    ref2 = channel.on("event", lambda _p: got.append("second"))
    server.current.push("topic", "event")
    server.current.push("topic", "event")
    assert got == ["first", "second", "first"]
    await socket.disconnect()


async def test_every_binding_runs_whatever_was_bound_and_unbound_before() -> None:
    # one binding taking the payload alone takes a shorter path through the receive loop:
    # the path must follow every on() and off()
    socket, server = await connected()
    channel = socket.channel("topic")
    await join(channel, server.current)
    got: list[Any] = []

    def deliver() -> list[Any]:
        got.clear()
        server.current.push("topic", "event", {"n": 1})
        return list(got)

    a = channel.on("event", lambda p: got.append(("a", p)))
    assert deliver() == [("a", {"n": 1})]
    b = channel.on("event", lambda p, ref: got.append(("b", ref)))
    assert deliver() == [("a", {"n": 1}), ("b", None)]
    channel.off("event", a)
    assert deliver() == [("b", None)]  # one binding, but it takes two arguments
    channel.off("event", b)
    assert deliver() == []
    c = channel.on("event", lambda p: got.append(("c", p)))
    assert deliver() == [("c", {"n": 1})]
    channel.off("event")
    assert deliver() == []
    assert c != a
    await socket.disconnect()


async def test_off_all_or_by_ref() -> None:
    socket, server = await connected()
    channel = socket.channel("topic")
    await join(channel, server.current)
    got: list[str] = []
    channel.on("a", lambda _p: got.append("a1"))
    channel.on("a", lambda _p: got.append("a2"))
    b1 = channel.on("b", lambda _p: got.append("b1"))
    channel.on("b", lambda _p: got.append("b2"))
    channel.off("a")
    channel.off("b", b1)
    server.current.push("topic", "a")
    server.current.push("topic", "b")
    assert got == ["b2"]
    await socket.disconnect()


async def test_on_message_hook_is_the_identity_by_default_and_can_transform() -> None:
    socket, server = await connected()
    channel = socket.channel("topic")
    assert channel.on_message("event", {"a": 1}, None) == {"a": 1}
    await join(channel, server.current)
    channel.on_message = lambda event, payload, ref: {**payload, "seen": event}
    got: list[Any] = []
    channel.on("event", got.append)
    server.current.push("topic", "event", {"a": 1})
    assert got == [{"a": 1, "seen": "event"}]
    await socket.disconnect()


async def test_a_subclass_can_override_the_on_message_hook() -> None:
    class Tagging(Channel):
        def on_message(self, event: str, payload: Any, ref: str | None) -> Any:  # type: ignore[override]
            return {**payload, "tagged": True} if isinstance(payload, dict) else payload

    socket, server = await connected()
    channel = Tagging("topic", None, socket)
    socket._router.topics["topic"] = [channel]
    await join(channel, server.current)
    got: list[Any] = []
    channel.on("event", got.append)
    server.current.push("topic", "event", {"a": 1})
    assert got == [{"a": 1, "tagged": True}]
    await socket.disconnect()


async def test_can_push_only_when_connected_and_joined() -> None:
    socket, server = await connected()
    channel = socket.channel("topic")
    assert not channel.can_push()
    await join(channel, server.current)
    assert channel.can_push()
    server.current.drop()
    assert not channel.can_push()
    await socket.disconnect()


# -- push --


async def test_push_before_join_raises() -> None:
    socket, _ = make_socket()
    with pytest.raises(InvalidState, match="before joining"):
        socket.channel("topic").push("event")


async def test_push_is_sent_when_joined() -> None:
    socket, server = await connected()
    channel = socket.channel("topic")
    await join(channel, server.current)
    push = channel.push("event", {"foo": "bar"})
    assert last(server.current, "event") == Message(
        channel.join_ref, push.ref, "topic", "event", {"foo": "bar"}
    )
    assert push.timeout == 10.0
    assert channel.push("other", None, timeout=2).timeout == 2
    await socket.disconnect()


async def test_push_uses_the_channel_timeout_by_default() -> None:
    socket, server = await connected(timeout=10)
    channel = socket.channel("topic")
    join_push = channel.join(timeout=3)  # join(timeout) sets the channel's timeout
    server.current.reply(last(server.current, "phx_join"), "ok", {})
    await join_push
    loop = asyncio.get_running_loop()
    start = loop.time()
    push = channel.push("noreply")
    assert push.timeout == 3
    with pytest.raises(PushTimeout):
        await push
    assert loop.time() - start == pytest.approx(3, abs=0.002)
    await socket.disconnect()


async def test_push_buffered_until_join_and_dropped_if_it_timed_out_first() -> None:
    socket, server = await connected()
    channel = socket.channel("topic")
    channel.join(timeout=30)
    late = channel.push("late", timeout=1)
    kept = channel.push("kept", timeout=20)
    await asyncio.sleep(2)
    assert late.received == ("timeout", {}) and late not in channel._push_buffer
    server.current.reply(last(server.current, "phx_join"))
    assert [m.event for m in server.current.sent] == ["phx_join", "kept"]
    assert kept.sent
    await socket.disconnect()


async def test_push_does_not_time_out_after_ok() -> None:
    socket, server = await connected()
    channel = socket.channel("topic")
    await join(channel, server.current)
    seen: list[str] = []
    push = channel.push("event", timeout=1).receive("timeout", lambda _r: seen.append("timeout"))
    server.current.reply(last(server.current, "event"))
    await asyncio.sleep(5)
    assert seen == [] and push.received == ("ok", {})
    await socket.disconnect()


async def test_buffered_push_leaks_no_pending_entry() -> None:
    socket, server = await connected()
    channel = socket.channel("topic")
    channel.join()
    for _ in range(5):
        channel.push("event")
    await settle()
    assert len(socket._deadlines.pending) == 6  # the join and 5 buffered pushes
    server.current.reply(last(server.current, "phx_join"))
    assert len(socket._deadlines.pending) == 5  # re-sent with fresh refs: the old entries are gone
    for message in server.current.messages("event"):
        server.current.reply(message)
    assert len(socket._deadlines.pending) == 0
    await socket.disconnect()


# -- leave --


async def test_leave_pushes_phx_leave_and_closes() -> None:
    socket, server = await connected()
    channel = socket.channel("topic")
    await join(channel, server.current)
    closes: list[Any] = []
    channel.on_close(closes.append)
    push = channel.leave()
    leave = last(server.current, "phx_leave")
    assert leave == Message(channel.join_ref, push.ref, "topic", "phx_leave", {})
    assert channel.state == "closed" and closes == ["leave"]
    assert socket.channels == []
    assert await push == {}
    await socket.disconnect()


async def test_leave_while_disconnected_closes_at_once() -> None:
    socket, _ = make_socket()
    channel = socket.channel("topic")
    channel.join()
    assert await channel.leave() == {}
    assert channel.state == "closed"


async def test_leave_and_server_reply_with_the_phoenix_server() -> None:
    socket, _ = await connected(phoenix_server)
    channel = socket.channel("topic")
    await channel.join()
    await channel.leave()
    await settle()
    assert channel.state == "closed"
    await socket.disconnect()


# -- binary --


async def test_binary_payloads_in_and_out() -> None:
    socket, server = await connected()
    channel = socket.channel("t")
    await join(channel, server.current)
    got: list[Any] = []
    channel.on("bin", got.append)
    push = channel.push("e", b"\x01")
    assert push.ref == "2" and channel.join_ref == "1"
    assert server.current.frames[-1] == bytes([0, 1, 1, 1, 1]) + b"12te\x01"
    server.current.receive(bytes([0, 1, 1, 3]) + b"1tbin\x02\x03")
    server.current.receive(bytes([1, 1, 1, 1, 2]) + b"1" + push.ref.encode() + b"tok\x04")
    assert got == [b"\x02\x03"]
    assert await push == b"\x04"
    await socket.disconnect()


# -- checks made when a binding is registered --


async def test_on_rejects_what_could_never_be_called_at_binding_time() -> None:
    socket, _ = make_socket()
    channel = socket.channel("topic")
    with pytest.raises(TypeError, match="must be callable"):
        channel.on("event", "not a function")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="requires 4 positional arguments"):
        channel.on("event", lambda a, b, c, d: None)
    channel.on("event", lambda a, b, c, d=None: None)  # a default is fine


async def test_a_refused_join_can_be_final() -> None:
    socket, server = await connected()
    channel = socket.channel("topic")
    push = channel.join(retry_refused=False)
    await settle()
    server.current.reply(last(server.current, "phx_join"), "error", {"reason": "no"})
    with pytest.raises(JoinError, match=r"\(no\)$"):
        await push
    assert channel.state == "closed" and socket.channels == []
    await asyncio.sleep(60)
    assert len(server.current.messages("phx_join")) == 1
    await socket.disconnect()


async def test_a_refused_join_is_retried_and_its_error_says_so() -> None:
    socket, server = await connected()
    channel = socket.channel("topic")
    push = channel.join()
    await settle()
    server.current.reply(last(server.current, "phx_join"), "error", {"reason": "no"})
    with pytest.raises(JoinError, match=r"\(no\); the channel retries") as raised:
        await push
    assert raised.value.response == {"reason": "no"}
    await asyncio.sleep(1.01)
    assert len(server.current.messages("phx_join")) == 2
    await socket.disconnect()
