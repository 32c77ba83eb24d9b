"""`Message`s built by the native decoder are tuples as CPython builds them (rust/py/message.rs).

They are made through `tuple.__new__` (its C slot), so every per-object field CPython keeps
in a tuple is set as for any tuple subclass: on 3.14, the hash cache, which a bare
`tp_alloc` left at 0. Each decoder path that builds Messages is checked.
"""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

import pytest

from phoenix_fast import Message, Serializer

CODEC = Serializer()._codec
FRAME = '["1","2","room:lobby","new_msg",42]'
# A binary broadcast (kind 2): sizes of topic and event, then both and the payload.
BINARY = bytes([2, 10, 5]) + b"room:lobbyevent" + b"\x00\x01"


def decoded_every_way() -> list[Any]:
    """The same frame through each native path that builds a Message (the client's own
    receive paths, ``WsClient.feed`` and ``decode_poll``, build exact tuples instead)."""
    return [
        CODEC.decode(FRAME),
        CODEC.decode_text(FRAME.encode()),
        *CODEC.decode_batch([FRAME, FRAME]),
    ]


@pytest.mark.parametrize("index", range(4))
def test_hash_and_equality_match_the_plain_tuple(index: int) -> None:
    message = decoded_every_way()[index]
    assert type(message) is Message
    assert message == ("1", "2", "room:lobby", "new_msg", 42)
    assert hash(message) == hash(tuple(message))
    assert hash(message) == hash(Message("1", "2", "room:lobby", "new_msg", 42))
    assert {tuple(message): "found"}[message] == "found"


def test_binary_frames_too() -> None:
    message = CODEC.decode(BINARY)
    assert type(message) is Message
    assert message == (None, None, "room:lobby", "event", b"\x00\x01")
    assert hash(message) == hash(tuple(message))


def test_unhashable_payload_is_unhashable_as_in_a_tuple() -> None:
    message = CODEC.decode('["1","2","t","e",{"a":1}]')
    with pytest.raises(TypeError, match="unhashable"):
        hash(message)


def test_building_messages_leaks_nothing() -> None:
    def churn() -> None:
        for _ in range(2000):
            decoded_every_way()

    churn()  # warm caches and freelists
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        churn()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # 8,000 Messages and their fields went through; a leaked reference to any would hold
    # at least 8,000 objects (over 300 KB).
    assert grown < 64 * 1024, grown
