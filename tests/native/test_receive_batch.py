"""The fused receive path's batch decoding (issue 17): what the payload decoder is given,
and the cache of topic and event strings, with more topics than it holds."""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from phoenix_fast import _native
from phoenix_fast.errors import DecodeError
from phoenix_fast.serializers.native import default_codec


def ws_text(data: bytes) -> bytes:
    """An unmasked WebSocket text frame (payloads here stay under 64 KiB)."""
    if len(data) < 126:
        return bytes((0x81, len(data))) + data
    return bytes((0x81, 126)) + len(data).to_bytes(2, "big") + data


def frames(messages: list[list[Any]]) -> bytes:
    return b"".join(ws_text(orjson.dumps(m)) for m in messages)


MESSAGES = [["1", None, "room:a", "new", {"i": i, "data": "x" * 50}] for i in range(50)]


def test_a_custom_batch_decoder_gets_bytes_it_may_keep() -> None:
    seen: list[Any] = []

    def loads(raw: Any) -> Any:
        seen.append(raw)
        return json.loads(raw)

    codec = _native.Codec(2, loads, orjson.dumps, True)
    items = _native.WsClient(codec).feed(frames([list(m) for m in MESSAGES]))
    assert [list(t) for t in items] == MESSAGES
    assert len(seen) == 1, "one call for the whole read"
    assert type(seen[0]) is bytes
    # what it kept is still the batch, untouched by later reads
    _native.WsClient(codec).feed(frames([["1", None, "room:b", "e", {"other": True}]] * 10))
    assert json.loads(seen[0]) == [m[4] for m in MESSAGES]


def test_orjson_batch_with_a_bad_payload_keeps_the_others() -> None:
    good = frames([list(m) for m in MESSAGES[:3]])
    bad = ws_text(b'["1",null,"room:a","new",{"i":]')
    items = _native.WsClient(default_codec(2)).feed(good + bad + good)
    assert len(items) == 7
    assert isinstance(items[3], DecodeError)
    assert [list(t) for t in items[:3]] == MESSAGES[:3]
    assert [list(t) for t in items[4:]] == MESSAGES[:3]


def test_topics_beyond_the_string_cache_still_decode_and_repeats_share_one_object() -> None:
    codec = _native.Codec(2, orjson.loads, orjson.dumps, True)
    client = _native.WsClient(codec)
    # 20,000 distinct topics: more than the cache's largest table holds, so it starts over
    topics = [f"load:t-{k}" for k in range(20_000)]
    for start in range(0, len(topics), 2000):
        batch = [
            [None, None, t, "tick", {"k": k}] for k, t in enumerate(topics[start : start + 2000])
        ]
        items = client.feed(frames(batch))
        assert [list(t) for t in items] == batch
    again = client.feed(frames([[None, None, "load:t-19999", "tick", {}]] * 2))
    assert again[0][2] == "load:t-19999"
    assert again[0][2] is again[1][2], "a repeated topic is one cached string"
    assert again[0][3] is again[1][3], "so is a repeated event"


def same(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down (1 is not 1.0 nor True) and key order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def decoded_payloads(payloads: list[bytes]) -> list[Any]:
    """Each payload through the fused decoder, in one read, inside a frame of its own."""
    reads = b"".join(ws_text(b'["1",null,"t:1","e",' + p + b"]") for p in payloads)
    items = _native.WsClient(default_codec(2)).feed(reads)
    assert len(items) == len(payloads)
    return [item if isinstance(item, DecodeError) else item[4] for item in items]


def check_against_orjson(payloads: list[bytes]) -> None:
    for raw, got in zip(payloads, decoded_payloads(payloads), strict=True):
        try:
            want = orjson.loads(raw)
        except orjson.JSONDecodeError:
            assert isinstance(got, DecodeError), f"{raw!r}: orjson refuses it, got {got!r}"
            continue
        assert same(got, want), f"{raw!r}: {got!r} != orjson's {want!r}"


EDGES = [
    b"-0",
    b"0",
    b"-",
    b"01",
    b"-01",
    b"1.5",
    b"1e5",
    b"1E+2",
    b"123456789012345678",
    b"-123456789012345678",
    b"1234567890123456789",
    b"99999999999999999999999",
    b'"\\u00e9"',
    '"é 🚀"'.encode(),
    '{"ключ":"значение"}'.encode(),
    b'{"a":1,"a":2}',
    b'{"b":1,"a":2,"b":3}',
    b'[1, [2, {"b": []}], {}]',
    b' {"a" : true , "b" :false,"c":null } ',
    b"[" * 70 + b"]" * 70,
    b'{"a":' * 70 + b"1" + b"}" * 70,
    b'{"a":1,}',
    b"[1,]",
    b"[tru]",
    b"nul",
    b'{"a" 1}',
    b'{"a":"x\x01"}',
    b'{"a\\"b":1}',
    b'{"x":"' + b"y" * 40 + b'\\n"}',
    b'"' + b"z" * 33 + b'"',
    b"{1:2}",
    b"[1 2]",
    b"truex",
    b"NaN",
    b"[-]",
    b'{"data":"' + b"x" * 100 + b'","i":12}',
    # nested, and not of the simple shapes deep inside: the frame's end is found by going
    # on from where the native decoder gave up (orjson then decodes the payload)
    b'{"a":{"b":[true,false,null,1.0]},"c":{"d":"e"}}',
    b'{"a":[{"b":1},{"c":2.5},{"d":"\\u0041"}],"e":[[],{}]}',
    b'{"a":[1,{"b":[2,{"c":0.5}]}],"d":"\\"}]"}',
    b'[[1, 2], [3.25, {"k": [4]}], "\\n"]',
    b'{"a":[1.5,{"b":"\\n"}],"c":[',
    b"[[1.5]",
    b'{"a":{"b":1e5}}}',
    b'{"a":"\\u00e9","b":[1,2',
    b"[" * 65 + b"1" + b"]" * 64,
    b'{"a":' * 66 + b"1" + b"}" * 66,
    # a simple value followed by more: the frame's tail, not the payload, is wrong
    b'{"a":1}, 5',
    b'{"a":1}]',
    b"1 2",
    b"12x",
    b"truex",
    b'"s" "t"',
    b"[]]",
]


def test_payload_edges_decode_as_orjson_decodes_them() -> None:
    check_against_orjson(EDGES)


def test_a_bad_frame_fails_as_the_single_frame_decoder_says() -> None:
    """The fused path's error for a frame is the one ``Codec.decode`` gives for it alone."""
    codec = default_codec(2)
    for raw in EDGES:
        frame = b'["1",null,"t:1","e",' + raw + b"]"
        (item,) = _native.WsClient(codec).feed(ws_text(frame))
        try:
            codec.decode(frame.decode())
        except DecodeError as exc:
            assert isinstance(item, DecodeError), f"{frame!r}: decoded as {item!r}"
            assert str(item) == str(exc)
        else:
            assert not isinstance(item, DecodeError), f"{frame!r}: {item}"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(json_values, min_size=1, max_size=8), spaced=st.booleans())
def test_any_payload_decodes_as_orjson_decodes_it(values: list[Any], spaced: bool) -> None:
    payloads = []
    for v in values:
        raw = json.dumps(v, ensure_ascii=False, separators=(", ", " : ") if spaced else (",", ":"))
        payloads.append(raw.encode())
    check_against_orjson(payloads)


def test_v1_payloads_decode_as_orjson_decodes_them() -> None:
    """V1 frames (objects) take the general envelope parser, then the same payload decoder."""
    codec = _native.Codec(1, orjson.loads, orjson.dumps, True)
    reads = b"".join(
        ws_text(b'{"topic":"t:1","event":"e","payload":' + raw + b',"ref":null}') for raw in EDGES
    )
    items = _native.WsClient(codec).feed(reads)
    assert len(items) == len(EDGES)
    for raw, item in zip(EDGES, items, strict=True):
        try:
            want = orjson.loads(raw)
        except orjson.JSONDecodeError:
            assert isinstance(item, DecodeError), f"{raw!r}: orjson refuses it, got {item!r}"
            continue
        assert not isinstance(item, DecodeError), f"{raw!r}: {item}"
        assert same(item[4], want), f"{raw!r}: {item[4]!r} != orjson's {want!r}"
