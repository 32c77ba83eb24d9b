"""Payloads of the simple shapes are written by the codec itself when ``dumps`` is orjson's:
the bytes must be orjson's, and anything else must still go to orjson (its output, its
errors)."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from phoenix_fast import _native
from phoenix_fast.errors import EncodeError
from phoenix_fast.serializers.native import default_codec

CODECS = {2: default_codec(2), 1: default_codec(1)}

texts = st.text(
    st.characters(codec="utf-8") | st.sampled_from('"\\\x00\x08\x0c\n\r\t\x1f\x7f/'), max_size=24
)
simple = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=16,
)


def through_codec(payload: Any, vsn: int = 2) -> str:
    """The payload's JSON as the codec wrote it into a frame."""
    frame: str = CODECS[vsn].encode("1", "2", "t", "e", payload)
    if vsn == 2:
        prefix = '["1","2","t","e",'
        assert frame.startswith(prefix) and frame.endswith("]")
        return frame[len(prefix) : -1]
    prefix, suffix = '{"topic":"t","event":"e","payload":', ',"ref":"2","join_ref":"1"}'
    assert frame.startswith(prefix) and frame.endswith(suffix)
    return frame[len(prefix) : -len(suffix)]


@pytest.mark.parametrize("vsn", [1, 2])
@given(payload=simple)
def test_simple_payloads_are_written_as_orjson_writes_them(vsn: int, payload: Any) -> None:
    assert through_codec(payload, vsn) == orjson.dumps(payload).decode()


class Tagged(dict):  # type: ignore[type-arg]
    pass


class Name(str):
    pass


@dataclasses.dataclass
class Point:
    x: int
    y: int


OTHER_SHAPES = [
    {"f": 1.5, "g": [0.1, -2.0, 1e16]},
    {"big": 2**63, "small": -(2**63)},
    {"ok": 2**64 - 1},
    (1, "a", None),
    Tagged(a=1),
    {"name": Name("x")},
    Point(1, 2),
    {"when": datetime.datetime(2026, 12, 5, 15, 0, tzinfo=datetime.timezone.utc)},
    {"deep": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]},
]


@pytest.mark.parametrize("payload", OTHER_SHAPES, ids=lambda p: type(p).__name__)
def test_other_shapes_are_left_to_orjson(payload: Any) -> None:
    assert through_codec(payload) == orjson.dumps(payload).decode()


@pytest.mark.parametrize(
    "payload",
    [{1: "int key"}, {"x": 2**64}, {"s": "\ud800"}, {"nested": {(1, 2): 3}}, object()],
    ids=["int key", "huge int", "lone surrogate", "tuple key", "object"],
)
def test_what_orjson_refuses_is_refused_with_its_error(payload: Any) -> None:
    with pytest.raises(orjson.JSONEncodeError) as refused:
        orjson.dumps(payload)
    with pytest.raises(EncodeError, match="payload could not be encoded") as raised:
        through_codec(payload)
    assert raised.value.__cause__ is not None
    assert type(raised.value.__cause__) is type(refused.value)


def test_a_payload_that_contains_itself_is_refused() -> None:
    payload: dict[str, Any] = {}
    payload["self"] = payload
    with pytest.raises(EncodeError):
        through_codec(payload)


def test_a_custom_dumps_is_always_called() -> None:
    calls: list[Any] = []

    def dumps(payload: Any) -> bytes:
        calls.append(payload)
        return b'{"custom":true}'

    codec = _native.Codec(2, orjson.loads, dumps)
    assert codec.encode(None, "1", "t", "e", {"a": 1}) == '[null,"1","t","e",{"custom":true}]'
    assert calls == [{"a": 1}]


def test_envelope_strings_use_the_short_escapes() -> None:
    frame = CODECS[2].encode(None, None, "a\bb\fc", "e", {})
    assert frame == '[null,null,"a\\bb\\fc","e",{}]'
