"""Endpoint forms, query encoding and the auth-token subprotocol."""

from __future__ import annotations

import pytest

from phoenix_fast._endpoint import auth_protocols, endpoint_url, query_string, with_query
from phoenix_fast.socket import Socket


@pytest.mark.parametrize(
    ("endpoint", "base", "expected"),
    [
        ("ws://example.com/socket", None, "ws://example.com/socket/websocket"),
        ("wss://example.com/socket/", None, "wss://example.com/socket/websocket"),
        ("http://example.com:4000/socket", None, "ws://example.com:4000/socket/websocket"),
        ("https://example.com", None, "wss://example.com/websocket"),
        ("/socket", "https://example.com", "wss://example.com/socket/websocket"),
        ("/socket", "http://example.com:4000/app", "ws://example.com:4000/socket/websocket"),
        ("//example.com/socket", "https://other.org", "wss://example.com/socket/websocket"),
        ("ws://example.com/socket?a=b", None, "ws://example.com/socket/websocket?a=b"),
        # the full socket URL, as a server logs it: the suffix is not added twice
        ("ws://example.com/socket/websocket", None, "ws://example.com/socket/websocket"),
        ("ws://example.com/socket/websocket/", None, "ws://example.com/socket/websocket"),
        ("ws://h/socket/longpoll?a=b", None, "ws://h/socket/websocket?a=b"),
        ("ws://websocket.example.com/socket", None, "ws://websocket.example.com/socket/websocket"),
    ],
)
def test_endpoint_forms(endpoint: str, base: str | None, expected: str) -> None:
    assert endpoint_url(endpoint, base) == expected


def test_path_endpoint_needs_a_base() -> None:
    with pytest.raises(ValueError, match="base="):
        Socket("/socket")
    with pytest.raises(ValueError, match="scheme"):
        Socket("ftp://example.com/socket")


def test_an_endpoint_that_does_not_parse_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match=r"endpoint 'ws://\[bad/socket' is not a valid URL"):
        Socket("ws://[bad/socket")


def test_query_encoding_as_encode_uri_component() -> None:
    params = {"a b": "c&d", "flag": True, "n": 1, "none": None, "nested": {"x": {"y": "é"}}}
    assert query_string(params) == "a%20b=c%26d&flag=true&n=1&nested%5Bx%5D%5By%5D=%C3%A9"
    assert query_string({"safe": "-_.!~*'()"}) == "safe=-_.!~*'()"


def test_vsn_is_last_and_appended_to_an_existing_query() -> None:
    assert with_query("ws://h/websocket", {}, "2.0.0") == "ws://h/websocket?vsn=2.0.0"
    assert with_query("ws://h/websocket?a=1", {"b": 2}, "1.0.0") == (
        "ws://h/websocket?a=1&b=2&vsn=1.0.0"
    )


def test_auth_token_is_standard_base64_without_padding() -> None:
    # "??>" encodes to "Pz8+" in standard base64 (the url-safe alphabet would give "Pz8-")
    assert auth_protocols("??>") == ["phoenix", "base64url.bearer.phx.Pz8+"]
    assert auth_protocols("1234") == ["phoenix", "base64url.bearer.phx.MTIzNA"]
