"""Bad frames and bad payloads: the native serializer and its pure-Python twin refuse the same
input with the same exception type, each saying what is wrong."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from phoenix_fast import Message, ReferenceSerializer, Serializer
from phoenix_fast.errors import DecodeError, EncodeError

SERIALIZERS = [Serializer, ReferenceSerializer]


def push(payload: Any, *, join_ref: str | None = None, topic: str = "t") -> Message:
    return Message(join_ref, "1", topic, "e", payload)


ENCODE_ERRORS = [
    pytest.param("1.0.0", push(b"raw"), "binary payloads need the V2 serializer", id="v1-binary"),
    pytest.param("2.0.0", push({"x": object()}), "could not be encoded", id="not-json"),
    pytest.param("2.0.0", push({"n": [2**64]}), "Integer exceeds 64-bit range", id="big-int"),
    pytest.param("1.0.0", push({"n": -(2**63) - 1}), "exceeds 64-bit", id="small-int"),
    pytest.param("2.0.0", push({"x": {1: "one"}}), "Dict key must be str", id="int-key"),
    pytest.param(
        "2.0.0", push(b"raw", topic="t" * 300), "field topic is 300 bytes long", id="long-topic"
    ),
    pytest.param(
        "2.0.0", push(b"raw", join_ref="j" * 256), "field join_ref is 256 bytes", id="long-ref"
    ),
]


@pytest.mark.parametrize("make", SERIALIZERS)
@pytest.mark.parametrize(("vsn", "message", "says"), ENCODE_ERRORS)
def test_payloads_that_cannot_be_sent_raise_encode_error(
    make: type[Serializer | ReferenceSerializer], vsn: str, message: Message, says: str
) -> None:
    with pytest.raises(EncodeError, match=re.escape(says)):
        make(vsn).encode(message)


@pytest.mark.parametrize("make", SERIALIZERS)
def test_a_circular_payload_raises_encode_error(
    make: type[Serializer | ReferenceSerializer],
) -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(EncodeError):
        make().encode(push({"loop": loop}))


DECODE_ERRORS = [
    pytest.param("2.0.0", 42, "must be str (text) or bytes (binary), not int", id="int"),
    pytest.param("2.0.0", bytearray(b"\x00"), "not bytearray", id="bytearray"),
    pytest.param("2.0.0", '[null,5,"t","e",{}]', "field ref must be a string or null", id="ref"),
    pytest.param("2.0.0", '[null,"1",5,"e",{}]', "field topic must be a string", id="topic"),
    pytest.param("2.0.0", '[null,"1","t","e"]', "array of 5 elements, found 4", id="short"),
    pytest.param("2.0.0", '{"a":1}', "expected '['", id="v2-object"),
    pytest.param("1.0.0", "[1]", "expected '{'", id="v1-array"),
    pytest.param("1.0.0", '{"topic":"t","event":"e"}', "missing key", id="v1-key"),
    pytest.param(
        "1.0.0", '{"topic":"t","event":5,"payload":1}', "field event must be a string", id="event"
    ),
    pytest.param("2.0.0", b"\x00\x00\x02\x01\xff\xfee", "topic is not valid UTF-8", id="utf8"),
    pytest.param("2.0.0", b"\x00\x00\x02\x01t", "truncated binary frame", id="truncated"),
    pytest.param("2.0.0", b"\x09", "unknown binary frame kind 9", id="kind"),
    pytest.param("2.0.0", b"", "empty frame", id="empty"),
    pytest.param("1.0.0", b"\x00", "binary frames need the V2 serializer", id="v1-binary"),
]


@pytest.mark.parametrize("make", SERIALIZERS)
@pytest.mark.parametrize(("vsn", "raw", "says"), DECODE_ERRORS)
def test_malformed_frames_raise_decode_error(
    make: type[Serializer | ReferenceSerializer], vsn: str, raw: Any, says: str
) -> None:
    with pytest.raises(DecodeError, match=re.escape(says)):
        make(vsn).decode(raw)


@pytest.mark.parametrize("vsn", ["1.0.0", "2.0.0"])
def test_nan_and_infinity_are_sent_as_null_by_both(vsn: str) -> None:
    payload = {"nan": math.nan, "up": [math.inf, {"down": -math.inf}], "text": "NaN", "x": 1.5}
    frames = {make.__name__: make(vsn).encode(push(payload)) for make in SERIALIZERS}
    native = frames["Serializer"]
    assert frames["ReferenceSerializer"] == native
    assert isinstance(native, str)
    assert "NaN" not in native.replace('"NaN"', "") and "Infinity" not in native
    decoded = Serializer(vsn).decode(native).payload
    assert decoded == {"nan": None, "up": [None, {"down": None}], "text": "NaN", "x": 1.5}


@pytest.mark.parametrize("make", SERIALIZERS)
def test_the_widest_64_bit_ints_are_sent(make: type[Serializer | ReferenceSerializer]) -> None:
    frame = make().encode(push({"top": 2**64 - 1, "bottom": -(2**63)}))
    assert frame == '[null,"1","t","e",{"top":18446744073709551615,"bottom":-9223372036854775808}]'


def test_the_native_serializer_shows_its_version() -> None:
    assert repr(Serializer("1.0.0")) == "Serializer(vsn='1.0.0')"
