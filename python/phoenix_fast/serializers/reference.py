"""A pure-Python serializer, written for clarity, kept for differential tests of the native one.

It implements the same wire formats as :class:`~phoenix_fast.Serializer` with the standard
library's ``json`` and ``struct``-free byte slicing, and raises the same exception types.
"""

from __future__ import annotations

import json
from typing import Any

from phoenix_fast._constants import DEFAULT_VSN, EVENT_REPLY
from phoenix_fast.errors import DecodeError, EncodeError
from phoenix_fast.message import Message
from phoenix_fast.serializers._version import vsn_major
from phoenix_fast.serializers.base import RawFrame

__all__ = ["ReferenceSerializer"]

_PUSH, _REPLY, _BROADCAST = 0, 1, 2
_V1_KEYS = ("topic", "event", "payload")


class ReferenceSerializer:
    """Pure-Python twin of :class:`~phoenix_fast.Serializer` (slow; for tests)."""

    def __init__(self, vsn: str = DEFAULT_VSN) -> None:
        self.vsn = vsn
        self._major = vsn_major(vsn)

    def encode(self, message: Message) -> RawFrame:
        join_ref, ref, topic, event, payload = message
        if isinstance(payload, (bytes, bytearray, memoryview)):
            if self._major != 2:
                raise EncodeError("binary payloads need the V2 serializer")
            return _encode_binary_push(join_ref, ref, topic, event, bytes(payload))
        _check_json(payload)
        if self._major == 2:
            frame: Any = [join_ref, ref, topic, event, payload]
        else:
            frame = {"topic": topic, "event": event, "payload": payload, "ref": ref}
            if join_ref is not None:
                frame["join_ref"] = join_ref
        try:
            return json.dumps(frame, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError):
            pass  # not encodable, or a NaN or infinity in it: tried again below
        try:
            lenient = json.dumps(frame, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise EncodeError(f"payload could not be encoded: {exc}") from exc
        # NaN and Infinity are no JSON: null instead, as orjson and JS's JSON.stringify write
        finite = json.loads(lenient, parse_constant=lambda _constant: None)
        return json.dumps(finite, separators=(",", ":"), ensure_ascii=False)

    def decode(self, raw: RawFrame) -> Message:
        if isinstance(raw, str):
            return self._decode_text(raw)
        if isinstance(raw, bytes):
            if self._major != 2:
                raise DecodeError("binary frames need the V2 serializer")
            return _decode_binary(raw)
        raise DecodeError(f"a frame must be str (text) or bytes (binary), not {type(raw).__name__}")

    def _decode_text(self, raw: str) -> Message:
        try:
            frame = json.loads(raw)
        except ValueError as exc:
            raise DecodeError(f"malformed frame: {exc}") from exc
        if self._major == 2:
            return _from_array(frame)
        return _from_object(frame)


#: The ints the native serializer (orjson) writes: 64 bits, signed or not.
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


def _check_json(payload: Any) -> None:
    """Refuses, among JSON's own types, what the native serializer (orjson) refuses and
    ``json`` would write: a dict key that is not exactly a ``str``, an int beyond 64 bits."""
    seen: set[int] = set()
    stack = [payload]
    while stack:
        item = stack.pop()
        if isinstance(item, (dict, list, tuple)):
            if id(item) in seen:
                continue  # shared, or a cycle (which json.dumps refuses next)
            seen.add(id(item))
            if isinstance(item, dict):
                if any(type(key) is not str for key in item):
                    raise EncodeError("payload could not be encoded: Dict key must be str")
                stack.extend(item.values())
            else:
                stack.extend(item)
        elif type(item) is int and not _INT_MIN <= item <= _INT_MAX:
            raise EncodeError("payload could not be encoded: Integer exceeds 64-bit range")


def _check_ref(value: Any, field: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise DecodeError(f"malformed frame: field {field} must be a string or null")


def _check_str(value: Any, field: str) -> str:
    if isinstance(value, str):
        return value
    raise DecodeError(f"malformed frame: field {field} must be a string")


def _from_array(frame: Any) -> Message:
    if not isinstance(frame, list):
        raise DecodeError("malformed frame: expected '['")
    if len(frame) != 5:
        raise DecodeError(f"malformed frame: expected an array of 5 elements, found {len(frame)}")
    join_ref, ref, topic, event, payload = frame
    return Message(
        _check_ref(join_ref, "join_ref"),
        _check_ref(ref, "ref"),
        _check_str(topic, "topic"),
        _check_str(event, "event"),
        payload,
    )


def _from_object(frame: Any) -> Message:
    if not isinstance(frame, dict):
        raise DecodeError("malformed frame: expected '{'")
    for key in _V1_KEYS:
        if key not in frame:
            raise DecodeError(f"malformed frame: missing key {key!r}")
    return Message(
        _check_ref(frame.get("join_ref"), "join_ref"),
        _check_ref(frame.get("ref"), "ref"),
        _check_str(frame["topic"], "topic"),
        _check_str(frame["event"], "event"),
        frame["payload"],
    )


def _encode_binary_push(
    join_ref: str | None, ref: str | None, topic: str, event: str, payload: bytes
) -> bytes:
    fields = [(join_ref or "", "join_ref"), (ref or "", "ref"), (topic, "topic"), (event, "event")]
    encoded = [value.encode() for value, _ in fields]
    for data, (_, name) in zip(encoded, fields, strict=True):
        if len(data) > 255:
            raise EncodeError(
                f"binary frame field {name} is {len(data)} bytes long; the limit is 255"
            )
    return bytes([_PUSH, *map(len, encoded)]) + b"".join(encoded) + payload


class _Reader:
    def __init__(self, raw: bytes) -> None:
        self.raw, self.kind, self.pos = raw, raw[0], 1

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.raw):
            have = len(self.raw)
            raise DecodeError(
                f"truncated binary frame of kind {self.kind}: needs {end} bytes, has {have}"
            )
        data, self.pos = self.raw[self.pos : end], end
        return data

    def text(self, n: int, field: str) -> str:
        try:
            return self.take(n).decode()
        except UnicodeDecodeError as exc:
            raise DecodeError(f"malformed frame: field {field} is not valid UTF-8") from exc

    def opt_text(self, n: int, field: str) -> str | None:
        return self.text(n, field) or None

    def rest(self) -> bytes:
        return self.raw[self.pos :]


def _decode_binary(raw: bytes) -> Message:
    if not raw:
        raise DecodeError("empty frame")
    r = _Reader(raw)
    if r.kind == _PUSH:
        h = r.take(3)
        join_ref = r.opt_text(h[0], "join_ref")
        topic, event = r.text(h[1], "topic"), r.text(h[2], "event")
        return Message(join_ref, None, topic, event, r.rest())
    if r.kind == _REPLY:
        h = r.take(4)
        join_ref, ref = r.opt_text(h[0], "join_ref"), r.opt_text(h[1], "ref")
        topic, status = r.text(h[2], "topic"), r.text(h[3], "status")
        return Message(join_ref, ref, topic, EVENT_REPLY, {"status": status, "response": r.rest()})
    if r.kind == _BROADCAST:
        h = r.take(2)
        topic, event = r.text(h[0], "topic"), r.text(h[1], "event")
        return Message(None, None, topic, event, r.rest())
    raise DecodeError(f"unknown binary frame kind {r.kind}")
