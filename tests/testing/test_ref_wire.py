"""Server-side serializers, vsn negotiation and query decoding (no network)."""

from __future__ import annotations

import pytest

from phoenix_fast.testing.query import decode_query
from phoenix_fast.testing.wire import V1, V2, DecodeError, EncodeError, serializer_for_vsn


def test_v2_reply_push_broadcast_text() -> None:
    assert V2.reply("1", "2", "t", "ok", {"a": 1}) == (
        False,
        b'["1","2","t","phx_reply",{"response":{"a":1},"status":"ok"}]',
    )
    assert V2.message("1", None, "t", "e", {}) == (False, b'["1",null,"t","e",{}]')
    assert V2.broadcast("t", "e", {"x": 1}) == (False, b'[null,null,"t","e",{"x":1}]')


def test_v2_binary_vectors_from_the_js_suite() -> None:
    # server push: 00 03 03 0a "123" "top" "some-event" 01 01
    assert V2.message("123", None, "top", "some-event", b"\x01\x01") == (
        True,
        b"\x00\x03\x03\x0a123topsome-event\x01\x01",
    )
    # reply: 01 03 02 03 02 "100" "12" "top" "ok" 01 01
    assert V2.reply("100", "12", "top", "ok", b"\x01\x01") == (
        True,
        b"\x01\x03\x02\x03\x02100\x31\x32topok\x01\x01",
    )
    # broadcast: 02 03 0a "top" "some-event" 01 01
    assert V2.broadcast("top", "some-event", b"\x01\x01") == (
        True,
        b"\x02\x03\x0atopsome-event\x01\x01",
    )


def test_v2_binary_null_refs_are_empty_and_lengths_are_utf8_bytes() -> None:
    assert V2.reply(None, None, "café", "ok", b"") == (True, b"\x01\x00\x00\x05\x02caf\xc3\xa9ok")
    with pytest.raises(EncodeError):
        V2.broadcast("t" * 256, "e", b"")


def test_v2_decode_text_and_binary() -> None:
    msg = V2.decode('["1","2","t","e",{"a":1},"extra"]', False)
    assert msg == ("1", "2", "t", "e", {"a": 1})
    # test vector: join_ref "10", ref "1", topic "top", event "ev", payload 01
    raw = b"\x00\x02\x01\x03\x0210\x31topev\x01"
    assert V2.decode(raw, True) == ("10", "1", "top", "ev", b"\x01")


@pytest.mark.parametrize(
    ("data", "binary"),
    [
        ("not json", False),
        ('["1","2","t","e"]', False),
        ('{"topic":"t"}', False),
        ('[1,"2",3,"e",{}]', False),
        (b"\x01\x00\x00\x00\x00", True),
        (b"\x00\x05\x00\x00\x00ab", True),
        (b"\x00", True),
        (b"\x00\x00\x00\x01\x00\xff", True),
    ],
)
def test_v2_decode_errors(data: str | bytes, binary: bool) -> None:
    with pytest.raises(DecodeError):
        V2.decode(data, binary)


def test_v1_encodes_sorted_objects_without_join_ref() -> None:
    assert V1.reply("1", "2", "t", "ok", {}) == (
        False,
        b'{"event":"phx_reply","payload":{"response":{},"status":"ok"},"ref":"2","topic":"t"}',
    )
    assert V1.broadcast("t", "e", {}) == (
        False,
        b'{"event":"e","payload":{},"ref":null,"topic":"t"}',
    )
    with pytest.raises(EncodeError):
        V1.message("1", None, "t", "e", b"\x01")
    with pytest.raises(EncodeError):
        V1.reply("1", "1", "t", "ok", b"\x01")


def test_v1_decode() -> None:
    msg = V1.decode('{"topic":"t","event":"e","payload":{},"ref":"1","join_ref":"2"}', False)
    assert msg == ("2", "1", "t", "e", {})
    assert V1.decode(b'{"topic":"t","event":"e","payload":{},"ref":null}', True).join_ref is None
    for bad in ('["1","1","t","e",{}]', '{"topic":"t","event":"e","payload":{}}', "{"):
        with pytest.raises(DecodeError):
            V1.decode(bad, False)


@pytest.mark.parametrize(
    ("vsn", "name"),
    [
        (None, "v1"),
        ("1.0.0", "v1"),
        ("1.0.7", "v1"),
        ("2.0.0", "v2"),
        ("2.0.1-rc.1", "v2"),
        ("2.0.0+build", "v2"),
        ("1.1.0", None),
        ("2.1.0", None),
        ("3.0.0", None),
        ("2.0.0-rc", None),
        ("2.0", None),
        ("", None),
        ("02.0.0", None),
        ("banana", None),
    ],
)
def test_vsn_negotiation_matches_phoenix_requirements(vsn: str | None, name: str | None) -> None:
    ser = serializer_for_vsn(vsn)
    assert (ser.name if ser else None) == name


def test_decode_query_nests_like_plug() -> None:
    assert decode_query("vsn=2.0.0&token=abc") == {"vsn": "2.0.0", "token": "abc"}
    assert decode_query("a[b]=1&a[c][d]=2&l[]=x&l[]=y&s=a+b%20c&t=1&t=2") == {
        "a": {"b": "1", "c": {"d": "2"}},
        "l": ["x", "y"],
        "s": "a b c",
        "t": "2",
    }
    assert decode_query("&x&y=") == {"x": "", "y": ""}
    assert decode_query("a[b=1") == {"a[b": "1"}


def test_counted_frames_match_one_by_one_encoding() -> None:
    from phoenix_fast.testing.burst import MARK, CountedFrame
    from phoenix_fast.testing.output import ws_frame

    topic = "echo:100%"
    _, encoded = V2.message("1", None, topic, "burst_msg", {"data": "%d%%", "i": MARK})
    frame = CountedFrame(encoded)
    expected = [
        V2.message("1", None, topic, "burst_msg", {"data": "%d%%", "i": i})[1] for i in range(1005)
    ]
    assert frame.payloads(0, 1005) == expected
    assert frame.ws_frames(7, 1005) == b"".join(ws_frame(p) for p in expected[7:])
    assert frame.ws_frame(1004) == ws_frame(expected[1004])
    big = CountedFrame(V2.message("1", None, "t", "e", {"d": "x" * 70000, "i": MARK})[1])
    assert big.ws_frames(99, 101) == ws_frame(big.payload(99)) + ws_frame(big.payload(100))
    assert big.size(100) == len(ws_frame(big.payload(100)))
    with pytest.raises(ValueError):
        CountedFrame(b"no marker")


def test_v2_messages_must_be_objects_but_replies_need_not() -> None:
    with pytest.raises(EncodeError):
        V2.message("1", None, "t", "e", [1])
    with pytest.raises(EncodeError):
        V2.broadcast("t", "e", "text")
    assert (
        V2.reply("1", "1", "t", "ok", [1])[1]
        == b'["1","1","t","phx_reply",{"response":[1],"status":"ok"}]'
    )
    assert V1.broadcast("t", "e", [1])[1] == b'{"event":"e","payload":[1],"ref":null,"topic":"t"}'
