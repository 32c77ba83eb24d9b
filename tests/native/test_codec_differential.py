"""The native serializer against the pure-Python reference, on generated messages."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phoenix_fast import Message, ReferenceSerializer, Serializer
from phoenix_fast.errors import DecodeError

NATIVE = {vsn: Serializer(vsn) for vsn in ("1.0.0", "2.0.0")}
REFERENCE = {vsn: ReferenceSerializer(vsn) for vsn in ("1.0.0", "2.0.0")}

refs = st.none() | st.text(max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
payloads = st.dictionaries(st.text(max_size=8), json_values, max_size=5)
messages = st.builds(Message, refs, refs, st.text(max_size=40), st.text(max_size=20), payloads)
short = st.text(max_size=60).filter(lambda s: len(s.encode()) <= 255)
binary_messages = st.builds(
    Message,
    refs.filter(lambda r: r != ""),
    refs.filter(lambda r: r != ""),
    short,
    short,
    st.binary(max_size=64),
)


@pytest.mark.parametrize("vsn", ["1.0.0", "2.0.0"])
@given(msg=messages)
def test_text_frames_round_trip_both_ways(vsn: str, msg: Message) -> None:
    native, reference = NATIVE[vsn], REFERENCE[vsn]
    native_frame = native.encode(msg)
    reference_frame = reference.encode(msg)
    assert native.decode(native_frame) == msg
    assert native.decode(reference_frame) == msg
    assert reference.decode(native_frame) == msg


@given(msg=binary_messages)
def test_binary_pushes_match_the_reference_byte_for_byte(msg: Message) -> None:
    assert NATIVE["2.0.0"].encode(msg) == REFERENCE["2.0.0"].encode(msg)


def _server_frame(kind: int, fields: list[str], payload: bytes) -> bytes:
    encoded = [f.encode() for f in fields]
    return bytes([kind, *map(len, encoded)]) + b"".join(encoded) + payload


@given(
    kind=st.sampled_from([0, 1, 2]),
    fields=st.lists(short, min_size=4, max_size=4),
    payload=st.binary(max_size=32),
)
def test_server_binary_frames_decode_alike(kind: int, fields: list[str], payload: bytes) -> None:
    header_fields = {0: fields[:3], 1: fields[:4], 2: fields[:2]}[kind]
    raw = _server_frame(kind, header_fields, payload)
    assert NATIVE["2.0.0"].decode(raw) == REFERENCE["2.0.0"].decode(raw)


def _outcome(serializer: Any, raw: str | bytes) -> Any:
    try:
        return serializer.decode(raw)
    except DecodeError:
        return DecodeError


@settings(max_examples=300)
@given(raw=st.text(alphabet='[]{}",:nul 0123abc\\', max_size=40) | st.binary(max_size=24))
def test_garbage_is_rejected_alike(raw: str | bytes) -> None:
    for vsn in ("1.0.0", "2.0.0"):
        assert _outcome(NATIVE[vsn], raw) == _outcome(REFERENCE[vsn], raw)
