"""Server-side Phoenix serializers: V1 JSON objects, V2 JSON arrays and V2 binary frames.

Pure Python (orjson for JSON), independent of the client's codec, written from
``Phoenix.Socket.V1.JSONSerializer`` and ``Phoenix.Socket.V2.JSONSerializer``.

Phoenix encodes maps with Jason, which writes the keys of small maps in sorted
order; the maps built here follow that order (``{"response": ..., "status": ...}``,
V1 ``{"event", "payload", "ref", "topic"}``) so frames match Phoenix byte for byte
when the payload's own keys are sorted.

A payload of type :class:`bytes` is a binary payload (``{:binary, data}`` in Phoenix).
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import orjson

__all__ = [
    "DecodeError",
    "EncodeError",
    "Frame",
    "InMessage",
    "V1Serializer",
    "V2Serializer",
    "WireSerializer",
    "serializer_for_vsn",
]

Frame = tuple[bool, bytes]
"""An outbound frame: ``(is_binary, data)``."""

_PUSH = 0
_REPLY = 1
_BROADCAST = 2
_MAX_FIELD = 255


class DecodeError(ValueError):
    """A client frame Phoenix could not decode (its socket process would crash)."""


class EncodeError(ValueError):
    """A message Phoenix could not encode (the encoding process would crash)."""


class InMessage(NamedTuple):
    """A decoded client message (``Phoenix.Socket.Message``)."""

    join_ref: Any
    ref: Any
    topic: str
    event: str
    payload: Any


def _json(value: Any) -> Any:
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"invalid JSON: {exc}") from None


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError as exc:
        raise EncodeError(str(exc)) from None


def _check_names(topic: Any, event: Any) -> None:
    if not isinstance(topic, str) or not isinstance(event, str):
        raise DecodeError("topic and event must be strings")


class WireSerializer:
    """Interface of a server-side serializer (one instance per version, stateless)."""

    name = "abstract"

    def decode(self, data: str | bytes, binary: bool) -> InMessage:
        """Decode one client frame, raising :class:`DecodeError`."""
        raise NotImplementedError

    def reply(self, join_ref: Any, ref: Any, topic: str, status: str, response: Any) -> Frame:
        """Encode a ``phx_reply`` (``Phoenix.Socket.Reply``)."""
        raise NotImplementedError

    def message(self, join_ref: Any, ref: Any, topic: str, event: str, payload: Any) -> Frame:
        """Encode a ``Phoenix.Socket.Message`` (channel push, ``phx_close``, ``phx_error``)."""
        raise NotImplementedError

    def broadcast(self, topic: str, event: str, payload: Any) -> Frame:
        """Encode a fastlane broadcast (``Phoenix.Socket.Broadcast``)."""
        raise NotImplementedError


class V1Serializer(WireSerializer):
    """``vsn`` 1.0.x: JSON objects ``{topic, event, payload, ref}``; never emits ``join_ref``."""

    name = "v1"

    def decode(self, data: str | bytes, binary: bool) -> InMessage:
        """Decode a JSON object; text and binary opcodes are treated alike, as in Phoenix."""
        obj = _json(data)
        if not isinstance(obj, dict):
            raise DecodeError("V1 JSON Serializer expected a map")
        try:
            msg = InMessage(
                obj.get("join_ref"), obj["ref"], obj["topic"], obj["event"], obj["payload"]
            )
        except KeyError as exc:
            raise DecodeError(f"missing key {exc}") from None
        _check_names(msg.topic, msg.event)
        return msg

    def reply(self, join_ref: Any, ref: Any, topic: str, status: str, response: Any) -> Frame:
        """Encode a reply as a V1 object (binary responses cannot be encoded)."""
        payload = {"response": response, "status": status}
        return self.message(None, ref, topic, "phx_reply", payload)

    def message(self, join_ref: Any, ref: Any, topic: str, event: str, payload: Any) -> Frame:
        """Encode a message as a V1 object (``join_ref`` is dropped, as Phoenix does)."""
        if isinstance(payload, bytes | bytearray) or (
            isinstance(payload, dict) and isinstance(payload.get("response"), bytes | bytearray)
        ):
            raise EncodeError("the V1 serializer cannot encode a binary payload")
        obj = {"event": event, "payload": payload, "ref": ref, "topic": topic}
        return False, _dumps(obj)

    def broadcast(self, topic: str, event: str, payload: Any) -> Frame:
        """Encode a broadcast as a V1 object with a null ``ref``."""
        return self.message(None, None, topic, event, payload)


def _field(value: Any, kind: str) -> bytes:
    data = b"" if value is None else str(value).encode()
    if len(data) > _MAX_FIELD:
        raise EncodeError(f"unable to convert {kind} to binary: {len(data)} bytes > 255")
    return data


def _text(raw: bytes, kind: str) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise DecodeError(f"{kind} is not valid UTF-8") from None


class V2Serializer(WireSerializer):
    """``vsn`` 2.0.x: JSON arrays ``[join_ref, ref, topic, event, payload]`` and binary frames."""

    name = "v2"

    def decode(self, data: str | bytes, binary: bool) -> InMessage:
        """Decode a JSON array (text opcode) or a kind-0 push (binary opcode)."""
        if binary:
            return self._decode_binary(bytes(data) if isinstance(data, bytes) else data.encode())
        arr = _json(data)
        if type(arr) is not list or len(arr) < 5:
            raise DecodeError("expected an array of at least 5 elements")
        topic, event = arr[2], arr[3]
        if type(topic) is not str or type(event) is not str:
            raise DecodeError("topic and event must be strings")
        return InMessage(arr[0], arr[1], topic, event, arr[4])

    @staticmethod
    def _decode_binary(data: bytes) -> InMessage:
        if len(data) < 5 or data[0] != _PUSH:
            raise DecodeError("binary frame is not a kind 0 push")
        sizes = data[1:5]
        end = 5 + sum(sizes)
        if len(data) < end:
            raise DecodeError("binary frame shorter than its header")
        fields = []
        pos = 5
        for size, kind in zip(sizes, ("join_ref", "ref", "topic", "event"), strict=True):
            fields.append(_text(data[pos : pos + size], kind))
            pos += size
        return InMessage(fields[0], fields[1], fields[2], fields[3], data[end:])

    def reply(self, join_ref: Any, ref: Any, topic: str, status: str, response: Any) -> Frame:
        """Encode a reply; a bytes response gives a kind-1 binary frame."""
        if isinstance(response, bytes | bytearray):
            jr, rf, tp, st = (
                _field(join_ref, "join_ref"),
                _field(ref, "ref"),
                _field(topic, "topic"),
                _field(status, "status"),
            )
            head = bytes((_REPLY, len(jr), len(rf), len(tp), len(st)))
            return True, b"".join((head, jr, rf, tp, st, response))
        arr = [join_ref, ref, topic, "phx_reply", {"response": response, "status": status}]
        return False, _dumps(arr)

    def message(self, join_ref: Any, ref: Any, topic: str, event: str, payload: Any) -> Frame:
        """Encode a message; a bytes payload gives a kind-0 frame (without ``ref``).

        Other payloads must be objects, as in Phoenix (replies may carry any value).
        """
        if isinstance(payload, bytes | bytearray):
            jr = _field(join_ref, "join_ref")
            tp, ev = _field(topic, "topic"), _field(event, "event")
            head = bytes((_PUSH, len(jr), len(tp), len(ev)))
            return True, b"".join((head, jr, tp, ev, payload))
        if type(payload) is not dict:
            raise EncodeError("expected payload to be a map")
        return False, _dumps([join_ref, ref, topic, event, payload])

    def broadcast(self, topic: str, event: str, payload: Any) -> Frame:
        """Encode a broadcast; a bytes payload gives a kind-2 frame, else it must be an object."""
        if isinstance(payload, bytes | bytearray):
            tp, ev = _field(topic, "topic"), _field(event, "event")
            return True, b"".join((bytes((_BROADCAST, len(tp), len(ev))), tp, ev, payload))
        if type(payload) is not dict:
            raise EncodeError("expected broadcasted payload to be a map")
        return False, _dumps([None, None, topic, event, payload])


V1 = V1Serializer()
V2 = V2Serializer()

_SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)


def serializer_for_vsn(vsn: str | None) -> WireSerializer | None:
    """The serializer Phoenix negotiates for ``vsn``, or None when Phoenix refuses it.

    Phoenix requires ``~> 1.0.0`` (V1) or ``~> 2.0.0`` (V2): a valid semantic version
    ``1.0.x`` or ``2.0.x`` (a pre-release of ``x.0.0`` does not match); no ``vsn``
    means ``1.0.0``. Anything else makes the connection fail with 403.
    """
    if vsn is None:
        return V1
    match = _SEMVER.fullmatch(vsn)
    if match is None:
        return None
    major, minor, patch, pre = match.groups()
    if minor != "0" or (patch == "0" and pre is not None):
        return None
    return {"1": V1, "2": V2}.get(major)
