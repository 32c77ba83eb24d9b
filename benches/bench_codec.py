"""The codec on the hot path: 1,000 V2 push frames with 100-byte payloads.

Compares, in one run, the native codec, the pure-Python reference serializer and the bar
to beat: a plain per-frame ``orjson.loads`` / ``orjson.dumps`` loop. Each benchmark checks its
result before it is timed.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from phoenix_fast import Message, ReferenceSerializer, Serializer

N = 1000
DATA = "x" * 73  # with the key and the counter, each payload encodes to 100 bytes


def _payload(i: int) -> dict[str, Any]:
    return {"i": i % 10, "data": DATA, "ok": True}


MESSAGES = [Message("7", None, "room:lobby", "new_msg", _payload(i)) for i in range(N)]
FRAMES = [orjson.dumps(list(m)).decode() for m in MESSAGES]
assert len(orjson.dumps(MESSAGES[0].payload)) == 100

native = Serializer()
reference = ReferenceSerializer()


def _orjson_decode_loop(frames: list[str]) -> list[Any]:
    return [orjson.loads(f) for f in frames]


def _native_encode_loop(messages: list[Message]) -> list[str | bytes]:
    encode = native.encode
    return [encode(m) for m in messages]


def _orjson_encode_loop(messages: list[Message]) -> list[bytes]:
    return [orjson.dumps(list(m)) for m in messages]


@pytest.mark.benchmark(group="decode-1000-frames")
def test_decode_native_batch(benchmark: Any) -> None:
    assert native.decode_batch(FRAMES) == MESSAGES
    benchmark(native.decode_batch, FRAMES)


@pytest.mark.benchmark(group="decode-1000-frames")
def test_decode_orjson_per_frame_loop(benchmark: Any) -> None:
    assert [Message(*f) for f in _orjson_decode_loop(FRAMES)] == MESSAGES
    benchmark(_orjson_decode_loop, FRAMES)


@pytest.mark.benchmark(group="decode-1000-frames")
def test_decode_pure_python_reference(benchmark: Any) -> None:
    assert [reference.decode(f) for f in FRAMES] == MESSAGES
    benchmark(lambda: [reference.decode(f) for f in FRAMES])


@pytest.mark.benchmark(group="encode-1000-pushes")
def test_encode_native(benchmark: Any) -> None:
    assert [orjson.loads(f) for f in _native_encode_loop(MESSAGES)] == [list(m) for m in MESSAGES]
    benchmark(_native_encode_loop, MESSAGES)


@pytest.mark.benchmark(group="encode-1000-pushes")
def test_encode_orjson_per_frame_loop(benchmark: Any) -> None:
    benchmark(_orjson_encode_loop, MESSAGES)


@pytest.mark.benchmark(group="encode-1000-pushes")
def test_encode_pure_python_reference(benchmark: Any) -> None:
    assert [reference.encode(m) for m in MESSAGES] == [native.encode(m) for m in MESSAGES]
    benchmark(lambda: [reference.encode(m) for m in MESSAGES])
