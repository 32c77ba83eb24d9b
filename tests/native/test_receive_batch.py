"""The fused receive path's batch decoding (issue 17): what the payload decoder is given,
and the cache of topic and event strings, with more topics than it holds."""

from __future__ import annotations

import json
from typing import Any

import orjson

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
