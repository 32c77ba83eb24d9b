"""The push lane (``push.LANE``): a new push filed and framed in one native call, and a
reply's push settled in place, checked field by field against what the Python ``Push``
does, without a socket or a network."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from phoenix_fast import _native
from phoenix_fast._outcome import Outcome
from phoenix_fast.errors import EncodeError, PushError
from phoenix_fast.message import Message
from phoenix_fast.push import LANE, Push

#: Every slot of a push, its own and Outcome's.
SLOTS = sorted({*Push.__slots__, *Outcome.__slots__})


class Channel:
    """What a push reads of its channel on the paths the lane leaves to Python."""

    def __init__(self, topic: str = "room:1") -> None:
        self.topic = topic
        self.socket = Socket()
        self.discarded: list[Push] = []

    def _discard_buffered(self, push: Push) -> None:
        self.discarded.append(push)


class Socket:
    def __init__(self) -> None:
        self._callbacks = Callbacks()
        self._loop = SimpleNamespace(loop=None)  # no bound loop: awaiters use the running one


class Callbacks:
    def run(self, callback: Any, *args: Any) -> None:
        callback(*args)


class Sent:
    """A transport's ``send_fields``: records what it was given, or raises."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.error = error

    def __call__(self, *fields: Any) -> None:
        if self.error is not None:
            raise self.error
        self.calls.append(fields)


def slots(push: Push) -> dict[str, Any]:
    return {name: getattr(push, name, "<unset>") for name in SLOTS}


def send_new(
    pending: _native.Pending,
    channel: Channel,
    payload: Any = None,
    sent: Sent | None = None,
    conn: object = "conn",
) -> Push:
    return LANE.send_new(
        pending,
        channel,
        "new_msg",
        {"body": "hi"} if payload is None else payload,
        5.0,
        105.0,
        conn,
        Sent() if sent is None else sent,
        "7",
        channel.topic,
    )


# -- the layout ------------------------------------------------------------------------------


def test_the_lane_knows_every_slot_of_push() -> None:
    assert len(SLOTS) == 16


def test_a_class_with_other_slots_is_refused() -> None:
    class Other:
        __slots__ = ("channel",)

    with pytest.raises(TypeError, match=r"cannot use this Push class.*slots are"):
        _native.PushLane(Other, PushError)


def test_a_class_with_one_slot_more_is_refused() -> None:
    class Bigger(Push):
        __slots__ = ("extra",)

    with pytest.raises(TypeError, match="slots are"):
        _native.PushLane(Bigger, PushError)


def test_a_name_that_is_not_a_slot_is_refused() -> None:
    class Base:
        __slots__ = ("event",)

    class Faked(Base):
        __slots__ = tuple(name for name in SLOTS if name != "event")
        event = "a class attribute hiding the slot"  # type: ignore[misc]

    with pytest.raises(TypeError, match="event is not a slot"):
        _native.PushLane(Faked, PushError)


# -- send_new --------------------------------------------------------------------------------


def test_send_new_leaves_what_push_and_send_leave() -> None:
    pending = _native.Pending()
    channel = Channel()
    sent = Sent()
    push = send_new(pending, channel, sent=sent)
    assert type(push) is Push
    by_python = Push(channel, "new_msg", {"body": "hi"}, 5.0)  # type: ignore[arg-type]
    expected = slots(by_python) | {
        "ref": "1",
        "sent": True,
        "_deadline": 105.0,
        "_conn": "conn",
    }
    assert slots(push) == expected
    assert sent.calls == [("7", "1", "room:1", "new_msg", {"body": "hi"})]
    assert "1" in pending
    assert pending.next_deadline() == pytest.approx(105.0, abs=0.01)
    assert pending.resolve("1") is push


def test_send_new_calls_a_callable_payload() -> None:
    sent = Sent()
    push = send_new(_native.Pending(), Channel(), payload=lambda: {"made": "late"}, sent=sent)
    assert sent.calls[0][4] == {"made": "late"}
    assert callable(push._payload)


def test_a_push_that_cannot_be_sent_is_not_pending() -> None:
    pending = _native.Pending()
    with pytest.raises(EncodeError, match="no"):
        send_new(pending, Channel(), sent=Sent(EncodeError("no")))
    assert len(pending) == 0
    # the next push takes the next ref, as a push that failed in Python does
    assert send_new(pending, Channel()).ref == "2"


def test_a_payload_that_raises_leaves_nothing_pending() -> None:
    pending = _native.Pending()

    def broken() -> dict[str, Any]:
        raise ValueError("params")

    with pytest.raises(ValueError, match="params"):
        send_new(pending, Channel(), payload=broken)
    assert len(pending) == 0


def test_send_new_keeps_no_extra_references() -> None:
    pending = _native.Pending()
    payload = {"body": "hi"}
    channel = Channel()
    before = sys.getrefcount(payload), sys.getrefcount(channel)
    push = send_new(pending, channel, payload=payload)
    pending.resolve(push.ref)
    del push
    gc.collect()
    assert (sys.getrefcount(payload), sys.getrefcount(channel)) == before


# -- settle ----------------------------------------------------------------------------------


def reply(status: Any, response: Any) -> dict[str, Any]:
    return {"status": status, "response": response}


def test_settle_of_an_unknown_ref_is_none() -> None:
    assert LANE.settle(_native.Pending(), "9", reply("ok", {}), Channel()) is None


def test_another_channels_push_stays_pending_with_its_deadline() -> None:
    pending = _native.Pending()
    push = send_new(pending, Channel("room:1"))
    assert LANE.settle(pending, push.ref, reply("ok", {}), Channel("room:1")) is None
    assert pending.next_deadline() == pytest.approx(105.0, abs=0.01)
    assert pending.resolve(push.ref) is push
    assert push.received is None


async def awaited(pending: _native.Pending, channel: Channel) -> tuple[Push, asyncio.Task[Any]]:
    """A new push, and a task that awaits it (already waiting)."""
    push = send_new(pending, channel)
    waiter = asyncio.ensure_future(wait_for(push))
    await asyncio.sleep(0)
    return push, waiter


async def test_an_ok_reply_settles_the_awaiter_as_resolve_does() -> None:
    pending = _native.Pending()
    channel = Channel()
    push, waiter = await awaited(pending, channel)
    response = {"id": 1}
    settled = LANE.settle(pending, push.ref, reply("ok", response), channel)
    assert settled == (push, "ok")
    assert await waiter is response
    assert push.received == ("ok", response)
    assert (push._done, push._value, push._conn, push._waiters) == (True, response, None, None)
    assert len(pending) == 0
    # the same reply through Push._resolve leaves the same fields
    twin, twin_waiter = await awaited(pending, channel)
    pending.resolve(twin.ref)
    twin._resolve("ok", response)
    await twin_waiter
    assert slots(twin) | {"ref": push.ref} == slots(push)


async def wait_for(push: Push) -> Any:
    return await push


def test_an_ok_reply_nobody_awaits_is_kept_for_later() -> None:
    pending = _native.Pending()
    channel = Channel()
    push = send_new(pending, channel)
    assert LANE.settle(pending, push.ref, reply("ok", {"a": 1}), channel) == (push, "ok")
    assert push.result() == {"a": 1}


async def test_a_cancelled_awaiter_is_passed_over() -> None:
    pending = _native.Pending()
    channel = Channel()
    push, waiter = await awaited(pending, channel)
    waiter.cancel()
    await asyncio.sleep(0)
    assert LANE.settle(pending, push.ref, reply("ok", {}), channel) == (push, "ok")
    assert push.done and waiter.cancelled()


async def test_two_awaiters_go_through_resolve() -> None:
    pending = _native.Pending()
    channel = Channel()
    push = send_new(pending, channel)
    waiters = [asyncio.ensure_future(wait_for(push)) for _ in range(2)]
    await asyncio.sleep(0)
    assert isinstance(push._waiters, list)
    LANE.settle(pending, push.ref, reply("ok", "both"), channel)
    assert await asyncio.gather(*waiters) == ["both", "both"]


def test_receive_callbacks_go_through_resolve() -> None:
    pending = _native.Pending()
    channel = Channel()
    push = send_new(pending, channel)
    seen: list[Any] = []
    push.receive("ok", seen.append)
    LANE.settle(pending, push.ref, reply("ok", {"x": 1}), channel)
    assert seen == [{"x": 1}]
    assert push.received == ("ok", {"x": 1})


def test_an_owner_reaction_goes_through_resolve() -> None:
    pending = _native.Pending()
    channel = Channel()
    push = send_new(pending, channel)
    outcomes: list[tuple[str, Any]] = []
    push._on_outcome = lambda status, response: outcomes.append((status, response))
    LANE.settle(pending, push.ref, reply("ok", 1), channel)
    assert outcomes == [("ok", 1)]


def test_an_error_reply_fails_the_push() -> None:
    pending = _native.Pending()
    channel = Channel()
    push = send_new(pending, channel)
    assert LANE.settle(pending, push.ref, reply("error", {"reason": "no"}), channel) == (
        push,
        "error",
    )
    with pytest.raises(PushError) as raised:
        push.result()
    assert (raised.value.status, raised.value.response) == ("error", {"reason": "no"})


def test_a_status_that_is_not_a_string_is_made_one() -> None:
    pending = _native.Pending()
    channel = Channel()
    push = send_new(pending, channel)
    assert LANE.settle(pending, push.ref, {"response": 1}, channel) == (push, "None")
    assert push.received == ("None", 1)


def test_a_push_settled_once_keeps_its_first_outcome() -> None:
    pending = _native.Pending()
    channel = Channel()
    push = send_new(pending, channel)
    push.set_result("first")
    pending.add(push.ref, push, None)
    LANE.settle(pending, push.ref, reply("ok", "second"), channel)
    assert push.result() == "first"
    assert push.received == ("ok", "second")


def test_a_dict_subclass_is_read_through_its_get() -> None:
    class Shouting(dict):  # type: ignore[type-arg]
        def get(self, key: Any, default: Any = None) -> Any:
            value = super().get(key, default)
            return value.lower() if isinstance(value, str) else value

    pending = _native.Pending()
    channel = Channel()
    push = send_new(pending, channel)
    LANE.settle(pending, push.ref, Shouting(status="OK", response="R"), channel)
    assert push.received == ("ok", "r")


def test_an_object_of_another_class_is_resolved_through_its_attributes() -> None:
    class Lookalike:
        def __init__(self, channel: Channel) -> None:
            self.channel = channel
            self._deadline = 1.0
            self.resolved: list[tuple[str, Any]] = []

        def _resolve(self, status: str, response: Any) -> None:
            self.resolved.append((status, response))

    pending = _native.Pending()
    channel = Channel()
    item = Lookalike(channel)
    pending.add("5", item, 1.0)
    assert LANE.settle(pending, "5", reply("ok", 2), channel) == (item, "ok")
    assert item.resolved == [("ok", 2)]
    pending.add("6", item, 1.0)
    assert LANE.settle(pending, "6", reply("ok", 2), Channel()) is None
    assert "6" in pending


# -- settle_replies: the plain replies at the head of a read ---------------------------------


class Joined(Channel):
    """A joined channel as the receive loop reads it: its join's ref, no hook, no bindings."""

    def __init__(self, topic: str = "room:1", join_ref: str = "7") -> None:
        super().__init__(topic)
        self._join_push = SimpleNamespace(ref=join_ref)
        self._hooked = False
        self._bindings: dict[str, list[Any]] = {}
        self.socket._push_observer = None  # type: ignore[attr-defined]


def ok(push: Push, response: Any = None, topic: str = "room:1") -> tuple[Any, ...]:
    """The server's ok reply to ``push``, as the native decoder gives it."""
    payload = reply("ok", {"n": 1} if response is None else response)
    return ("7", push.ref, topic, "phx_reply", payload)


def settle_replies(
    pending: _native.Pending, messages: Any, *channels: Joined, heartbeat_ref: str | None = None
) -> tuple[int, BaseException | None]:
    topics: dict[str, list[Any]] = {}
    for channel in channels:
        topics.setdefault(channel.topic, []).append(channel)
    return LANE.settle_replies(messages, topics, pending, heartbeat_ref)


async def test_a_run_of_plain_replies_is_settled_in_order() -> None:
    pending = _native.Pending()
    channel = Joined()
    first, first_waiter = await awaited(pending, channel)
    second = send_new(pending, channel)  # nobody awaits it yet
    messages = [ok(first, "a"), ok(second, "b")]
    assert settle_replies(pending, messages, channel) == (2, None)
    assert await first_waiter == "a"
    assert second.result() == "b"
    assert first.received == ("ok", "a") and second.received == ("ok", "b")
    assert len(pending) == 0
    # what settle leaves, field for field
    twin = send_new(pending, channel)
    LANE.settle(pending, twin.ref, reply("ok", "b"), channel)
    assert slots(twin) | {"ref": second.ref} == slots(second)


def test_the_run_ends_at_the_first_message_that_is_not_a_plain_reply() -> None:
    pending = _native.Pending()
    channel = Joined()
    pushes = [send_new(pending, channel) for _ in range(3)]
    event = ("7", None, "room:1", "new_msg", {"body": "hi"})
    messages = [ok(pushes[0]), event, ok(pushes[1]), ok(pushes[2])]
    assert settle_replies(pending, messages, channel) == (1, None)
    assert pushes[0].done
    assert not pushes[1].done and not pushes[2].done
    assert len(pending) == 2


def with_payload(payload: Any) -> Callable[[SimpleNamespace], None]:
    def change(case: SimpleNamespace) -> None:
        case.message = (*case.message[:4], payload)

    return change


def two_awaiters(case: SimpleNamespace) -> None:
    case.push._waiters = [asyncio.get_running_loop().create_future() for _ in range(2)]


#: Each makes a reply need more than its push settled in place (or makes it not a plain reply).
NEEDS_MORE: dict[str, Callable[[SimpleNamespace], None]] = {
    "error status": with_payload(reply("error", {})),
    "status not a string": with_payload(reply(1, {})),
    "payload not a dict": with_payload([1]),
    "a Message, not a tuple": lambda case: setattr(case, "message", Message(*case.message)),
    "ref of the heartbeat": lambda case: setattr(case, "heartbeat_ref", case.push.ref),
    "another join's ref": lambda case: setattr(case.channel._join_push, "ref", "8"),
    "hooked channel": lambda case: setattr(case.channel, "_hooked", True),
    "phx_reply binding": lambda case: setattr(case.channel, "_bindings", {"phx_reply": [1]}),
    "push observer": lambda case: setattr(case.channel.socket, "_push_observer", print),
    "two channels on the topic": lambda case: case.channels.append(Joined()),
    "unknown topic": lambda case: setattr(case, "message", ok(case.push, topic="room:2")),
    "receive callback": lambda case: case.push.receive("ok", print),
    "owner reaction": lambda case: setattr(case.push, "_on_outcome", print),
    "two awaiters": two_awaiters,
    "already settled": lambda case: case.push.set_result("earlier"),
    # reading fails: the caller's loop meets the message as it would any other
    "ref not UTF-8": lambda case: setattr(case, "message", ("7", "\ud800", *case.message[2:])),
    "channel without _hooked": lambda case: delattr(case.channel, "_hooked"),
}


@pytest.mark.parametrize("change", NEEDS_MORE)
async def test_a_reply_that_needs_more_is_left_untouched(change: str) -> None:
    pending = _native.Pending()
    channel = Joined()
    push = send_new(pending, channel)
    case = SimpleNamespace(push=push, channel=channel, message=ok(push), channels=[channel])
    case.heartbeat_ref = None
    NEEDS_MORE[change](case)
    before = slots(push)
    found = settle_replies(
        pending, [case.message], *case.channels, heartbeat_ref=case.heartbeat_ref
    )
    assert found == (0, None)
    assert slots(push) == before
    assert pending.resolve(push.ref) is push


def test_a_join_ref_left_empty_counts_as_none() -> None:
    pending = _native.Pending()
    channel = Joined()
    push = send_new(pending, channel)
    assert settle_replies(pending, [("", *ok(push)[1:])], channel) == (1, None)
    assert push.done


def test_replies_to_no_push_of_the_channel_are_passed_over() -> None:
    pending = _native.Pending()
    channel, other = Joined("room:1"), Joined("room:2")
    theirs = send_new(pending, other)
    mine = send_new(pending, channel)
    messages = [
        ("7", "999", "room:1", "phx_reply", reply("ok", {})),  # no such push
        ok(theirs, topic="room:1"),  # another channel's: stays pending
        ok(mine),
    ]
    assert settle_replies(pending, messages, channel, other) == (3, None)
    assert mine.done and not theirs.done
    assert pending.resolve(theirs.ref) is theirs
    assert pending.next_deadline() is None


def test_messages_that_are_not_a_list_are_left_to_the_caller() -> None:
    pending = _native.Pending()
    channel = Joined()
    push = send_new(pending, channel)
    assert settle_replies(pending, (ok(push),), channel) == (0, None)
    assert settle_replies(pending, [], channel) == (0, None)
    assert not push.done


class Refusing:
    """An awaiter whose ``set_result`` fails although it is not done."""

    def set_result(self, value: Any) -> None:
        raise RuntimeError("refused")

    def done(self) -> bool:
        return False


def test_a_failure_ends_the_run_after_the_message_that_failed() -> None:
    pending = _native.Pending()
    channel = Joined()
    failing, later = send_new(pending, channel), send_new(pending, channel)
    failing._waiters = Refusing()
    index, error = settle_replies(pending, [ok(failing), ok(later)], channel)
    assert index == 1 and isinstance(error, RuntimeError)
    assert not later.done


@pytest.mark.parametrize("through", ["settle", "settle_replies"])
def test_settling_keeps_no_extra_references(through: str) -> None:
    pending = _native.Pending()
    channel = Joined()
    response = {"id": 1}
    before = sys.getrefcount(response)
    for _ in range(100):
        push = send_new(pending, channel)
        if through == "settle":
            LANE.settle(pending, push.ref, reply("ok", response), channel)
        else:
            assert settle_replies(pending, [ok(push, response)], channel) == (1, None)
    del push
    gc.collect()
    assert sys.getrefcount(response) == before


def test_a_later_reply_is_checked_again_unless_its_topic_and_join_ref_are_the_same() -> None:
    pending = _native.Pending()
    channel = Joined()
    first, second, third = (send_new(pending, channel) for _ in range(3))
    same = ok(first)
    # an equal join_ref in another string object: checked again, and accepted
    equal = (str(int("7")), second.ref, *ok(second)[2:])
    assert equal[0] is not same[0]
    stale = ("8", third.ref, *ok(third)[2:])  # another join's: checked again, and refused
    assert settle_replies(pending, [same, equal, stale], channel) == (2, None)
    assert first.done and second.done and not third.done


class Interrupting(Refusing):
    """An awaiter whose ``set_result`` raises what is not an ``Exception``."""

    def set_result(self, value: Any) -> None:
        raise KeyboardInterrupt


def test_what_is_not_an_exception_goes_up_as_from_the_receive_loop() -> None:
    pending = _native.Pending()
    channel = Joined()
    push = send_new(pending, channel)
    push._waiters = Interrupting()  # type: ignore[assignment]
    with pytest.raises(KeyboardInterrupt):
        settle_replies(pending, [ok(push)], channel)


@pytest.mark.parametrize("through", ["settle", "settle_replies"])
def test_another_channels_push_keeps_its_place_in_the_table(through: str) -> None:
    pending = _native.Pending()
    mine, theirs = Joined("room:1"), Joined("room:2")
    first, second = send_new(pending, theirs), send_new(pending, mine)
    if through == "settle":
        assert LANE.settle(pending, first.ref, reply("ok", {}), mine) is None
    else:
        assert settle_replies(pending, [ok(first)], mine, theirs) == (1, None)
    assert pending.drain() == [first, second]
