"""The native serializer: Phoenix's test vectors byte for byte, and every malformed shape."""

from __future__ import annotations

import re

import orjson
import pytest

from phoenix_fast import Message, Serializer
from phoenix_fast.errors import DecodeError, EncodeError, ProtocolError

V2 = Serializer()
V1 = Serializer("1.0.0")


def test_v2_text_round_trip() -> None:
    msg = Message("1", "2", "room:lobby", "new_msg", {"body": "hi"})
    frame = V2.encode(msg)
    assert frame == '["1","2","room:lobby","new_msg",{"body":"hi"}]'
    decoded = V2.decode(frame)
    assert decoded == msg
    assert type(decoded) is Message


def test_v2_heartbeat_frame_shape() -> None:
    msg = Message(None, "7", "phoenix", "heartbeat", {})
    assert V2.encode(msg) == '[null,"7","phoenix","heartbeat",{}]'


def test_v1_object_frames() -> None:
    msg = Message(None, "3", "room:lobby", "new_msg", {"a": 1})
    frame = V1.encode(msg)
    assert orjson.loads(frame) == {
        "topic": "room:lobby",
        "event": "new_msg",
        "payload": {"a": 1},
        "ref": "3",
    }
    assert V1.decode(frame) == msg
    with_join_ref = V1.decode('{"topic":"t","event":"e","payload":{},"ref":null,"join_ref":"4"}')
    assert with_join_ref == Message("4", None, "t", "e", {})


# Binary layouts from Phoenix's serializer test suite.


def test_binary_push_encoding_vectors() -> None:
    assert V2.encode(Message("0", "1", "t", "e", b"\x01")) == bytes(
        [0x00, 0x01, 0x01, 0x01, 0x01, 0x30, 0x31, 0x74, 0x65, 0x01]
    )
    assert V2.encode(Message("10", "1", "top", "ev", b"\x01")) == (
        bytes([0x00, 0x02, 0x01, 0x03, 0x02]) + b"101topev" + b"\x01"
    )


def test_binary_push_accepts_any_bytes_like_payload() -> None:
    expected = V2.encode(Message("1", "2", "t", "e", b"\x00\xff"))
    assert V2.encode(Message("1", "2", "t", "e", bytearray(b"\x00\xff"))) == expected
    assert V2.encode(Message("1", "2", "t", "e", memoryview(b"\x00\xff"))) == expected


def test_binary_push_uses_utf8_byte_lengths() -> None:
    frame = V2.encode(Message("1", "2", "café", "🚀", b""))
    assert isinstance(frame, bytes)
    assert frame[:5] == bytes([0, 1, 1, 5, 4])


@pytest.mark.parametrize("field", ["join_ref", "ref", "topic", "event"])
def test_binary_field_over_255_bytes_names_the_field(field: str) -> None:
    fields = {"join_ref": "1", "ref": "2", "topic": "t", "event": "e"}
    fields[field] = "x" * 256
    with pytest.raises(EncodeError, match=field):
        V2.encode(Message(payload=b"", **fields))


def test_decodes_server_binary_push() -> None:
    raw = bytes([0x00, 0x03, 0x03, 0x0A]) + b"123topsome-event" + b"\x01\x01"
    assert V2.decode(raw) == Message("123", None, "top", "some-event", b"\x01\x01")


def test_decodes_server_binary_reply_as_js_presents_it() -> None:
    raw = bytes([0x01, 0x03, 0x02, 0x03, 0x02]) + b"10012topok" + b"\x01\x01"
    assert V2.decode(raw) == Message(
        "100", "12", "top", "phx_reply", {"status": "ok", "response": b"\x01\x01"}
    )


def test_decodes_server_binary_broadcast() -> None:
    raw = bytes([0x02, 0x03, 0x0A]) + b"topsome-event" + b"\x01\x01"
    assert V2.decode(raw) == Message(None, None, "top", "some-event", b"\x01\x01")


def test_decodes_utf8_field_lengths() -> None:
    topic, event = "café:🚀", "🚀"
    raw = bytes([0x02, len(topic.encode()), len(event.encode())]) + (topic + event).encode()
    assert V2.decode(raw) == Message(None, None, topic, event, b"")


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ("", "empty frame"),
        ("{}", "expected '['"),
        ("[]", "found 0"),
        ('["1","2","t","e"]', "found 4"),
        ('["1","2","t","e",{},6]', "found 6"),
        ('[1,"2","t","e",{}]', "join_ref must be a string or null"),
        ('["1",{},"t","e",{}]', "ref must be a string or null"),
        ('["1","2",null,"e",{}]', "topic must be a string"),
        ('["1","2","t",[],{}]', "event must be a string"),
        ('["1","2","t","e",{"a":}]', "payload is not valid JSON"),
        ('["1","2","t","e",{}] [', "trailing data"),
        ('["1","2","t\\x","e",{}]', "invalid escape"),
        (b"", "empty frame"),
        (bytes([0x00, 0x05]), "truncated binary frame of kind 0"),
        (bytes([0x01, 0x01, 0x01, 0x01, 0x01, 0x31]), "truncated binary frame of kind 1"),
        (bytes([0x09, 0x00]), "unknown binary frame kind 9"),
        (bytes([0x02, 0x01, 0x00, 0xFF]), "topic is not valid UTF-8"),
    ],
)
def test_malformed_frames_raise_decode_error(raw: str | bytes, needle: str) -> None:
    with pytest.raises(DecodeError, match=re.escape(needle)):
        V2.decode(raw)


def test_decode_error_is_a_value_error_and_protocol_error() -> None:
    with pytest.raises(ValueError):
        V2.decode("nope")
    assert issubclass(DecodeError, ProtocolError)


def test_v1_rejects_missing_keys_and_binary() -> None:
    with pytest.raises(DecodeError, match='missing key "payload"'):
        V1.decode('{"topic":"t","event":"e"}')
    with pytest.raises(DecodeError, match="V2"):
        V1.decode(b"\x02\x01\x01te")
    with pytest.raises(EncodeError, match="V2"):
        V1.encode(Message("1", "2", "t", "e", b"x"))


def test_decode_rejects_other_types() -> None:
    with pytest.raises(DecodeError, match="str \\(text\\) or bytes"):
        V2.decode(123)  # type: ignore[arg-type]


def test_unencodable_payload_raises_encode_error_with_cause() -> None:
    with pytest.raises(EncodeError, match="payload could not be encoded") as info:
        V2.encode(Message("1", "2", "t", "e", {"x": object()}))
    assert info.value.__cause__ is not None


def test_batch_keeps_good_frames_around_a_bad_one() -> None:
    good = '[null,null,"t","e",{"i":1}]'
    out = V2.decode_batch([good, "[oops", b"\x02\x01\x01te!", good])
    assert out[0] == Message(None, None, "t", "e", {"i": 1})
    assert isinstance(out[1], DecodeError)
    assert out[2] == Message(None, None, "t", "e", b"!")
    assert out[3] == out[0]


def test_pluggable_loads_and_dumps() -> None:
    seen: list[bytes] = []

    def loads(data: bytes) -> object:
        seen.append(data)
        return {"wrapped": orjson.loads(data)}

    s = Serializer(loads=loads, dumps=lambda obj: '{"fixed":true}')
    assert s.decode('["1","2","t","e",{"a":[1,2]}]').payload == {"wrapped": {"a": [1, 2]}}
    assert seen == [b'{"a":[1,2]}']
    assert s.encode(Message("1", "2", "t", "e", {})) == '["1","2","t","e",{"fixed":true}]'


def test_unsupported_vsn_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported vsn"):
        Serializer("3.0.0")


def test_topic_and_event_strings_are_shared_between_frames() -> None:
    a = V2.decode('[null,null,"room:1","tick",{}]')
    b = V2.decode('[null,null,"room:1","tick",{}]')
    assert a.topic is b.topic
    assert a.event is b.event


def test_longpoll_answers_decode_in_one_call() -> None:
    codec = V2._codec
    body = orjson.dumps(
        {
            "status": 200,
            "token": "tok",
            "messages": ['["1",null,"t","e",{"a":1}]', "\x02\x01\x01tex", "[oops"],
        }
    )
    status, token, items = codec.decode_poll(body)
    assert (status, token) == (200, "tok")
    assert items[0] == Message("1", None, "t", "e", {"a": 1})
    assert items[1] == Message(None, None, "t", "e", b"x")  # a binary frame passed as text
    assert isinstance(items[2], DecodeError)
    assert codec.decode_poll(b'{"status":204}') == (204, None, [])


def test_longpoll_v1_messages_are_all_text() -> None:
    body = orjson.dumps(
        {"status": 200, "messages": ['{"topic":"t","event":"e","payload":{},"ref":null}']}
    )
    assert V1._codec.decode_poll(body)[2] == [Message(None, None, "t", "e", {})]


@pytest.mark.parametrize("body", [b"", b"[]", b'{"status":"200"}', b'{"messages":[1]}', b"\xff"])
def test_malformed_longpoll_answers_raise_decode_error(body: bytes) -> None:
    with pytest.raises(DecodeError):
        V2._codec.decode_poll(body)
