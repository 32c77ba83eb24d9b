"""How many arguments a callback is given: as many as it requires, at most what the event
has (JS callbacks ignore extra arguments), one when its signature cannot be read."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
from helpers import connected, join, settle

from phoenix_fast._arity import check_callback, positional_arity


class Unreadable:
    """A callable whose signature ``inspect`` cannot read (as some C callables)."""

    __signature__ = "not a Signature"

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def __call__(self, *args: Any) -> None:
        self.calls.append(args)


def one(a: Any) -> None: ...
def two(a: Any, b: Any) -> None: ...
def four(a: Any, b: Any, c: Any, d: Any) -> None: ...
def defaulted(a: Any, topic: str = "t") -> None: ...
def star(*args: Any) -> None: ...
def one_then_star(a: Any, *args: Any) -> None: ...
def keyword_only(a: Any, *, b: Any) -> None: ...
def positional_only(a: Any, b: Any, /) -> None: ...


class Handler:
    def on(self, payload: Any) -> None: ...
    def on_two(self, payload: Any, ref: Any, topic: str = "t") -> None: ...
    def on_star(self, *args: Any) -> None: ...


@functools.wraps(two)
def wrapping_two(*args: Any) -> None: ...  # inspect follows __wrapped__: two parameters


def declared(*args: Any) -> None: ...


declared.__signature__ = __import__("inspect").signature(one)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("callback", "star_gets", "expected"),
    [
        (one, None, 1),
        (two, None, 2),
        (four, None, 3),  # at most what there is to give
        (defaulted, None, 1),  # `lambda p, t=topic: ...` keeps its default
        (star, None, 3),
        (star, 1, 1),
        (one_then_star, 0, 1),  # the required one even when *args gets none
        (keyword_only, None, 1),
        (positional_only, None, 2),
        (functools.partial(two, 1), None, 1),
        (Unreadable(), None, 1),
        (max, None, 1),  # a builtin without a text signature
        (Handler().on, None, 1),  # bound methods: read from the code, self not counted
        (Handler().on_two, None, 2),
        (Handler().on_star, 1, 1),
        (wrapping_two, None, 2),
        (declared, None, 1),  # an explicit __signature__ wins over the code
        (lambda p, t="topic": None, None, 1),
    ],
)
def test_positional_arity(
    callback: Callable[..., Any], star_gets: int | None, expected: int
) -> None:
    assert positional_arity(callback, 3, star=star_gets) == expected


def test_check_callback_refuses_what_would_fail_on_every_call() -> None:
    with pytest.raises(TypeError, match="the callback of 'x' must be callable, not str"):
        check_callback("one", 3, "the callback of 'x'")
    with pytest.raises(TypeError, match=r"four requires 4 positional arguments, but is called"):
        check_callback(four, 3, "the callback of 'x'")
    check_callback(Unreadable(), 3, "the callback of 'x'")  # unreadable: given the benefit
    check_callback(max, 1, "the callback of 'x'")
    check_callback(keyword_only, 1, "the callback of 'x'")


async def test_a_channel_callback_with_an_unreadable_signature_gets_the_payload() -> None:
    socket, server = await connected()
    channel = socket.channel("room")
    await join(channel, server.current)
    unreadable = Unreadable()
    channel.on("msg", unreadable)
    server.current.push("room", "msg", {"n": 1})
    await settle()
    assert unreadable.calls == [({"n": 1},)]
    await socket.disconnect()


async def test_a_channel_callback_requiring_too_much_is_refused_at_registration() -> None:
    socket, _server = await connected()
    channel = socket.channel("room")
    with pytest.raises(TypeError, match="requires 4 positional arguments"):
        channel.on("msg", four)
    await socket.disconnect()
