"""Secrets out of messages: URLs shown without query or user info, and known secrets scrubbed
from text the client did not write, in every form they travel in."""

from __future__ import annotations

import base64

import pytest

from phoenix_fast._redact import MASK, Redactor, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "ws://user:pw@host:4000/socket/websocket?token=x#frag",
            "ws://host:4000/socket/websocket?***",
        ),
        ("wss://host/socket", "wss://host/socket"),
        ("ws://host/socket?", "ws://host/socket"),  # an empty query is no query
        ("ws://[::1]:4000/socket?t=1", "ws://[::1]:4000/socket?***"),  # IPv6 keeps its brackets
        ("http://[fe80::1]/socket", "http://[fe80::1]/socket"),
    ],
)
def test_a_url_is_shown_without_query_fragment_or_user_info(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize("url", ["ws://host:99999/s?token=x", "http://[not-closed/s?token=x"])
def test_what_does_not_even_parse_as_a_url_is_not_shown_at_all(url: str) -> None:
    assert redact_url(url) == MASK


def test_every_form_of_every_secret_is_scrubbed() -> None:
    token = "tok-secret"
    encoded = base64.b64encode(token.encode()).decode()
    redactor = Redactor(
        "ws://h/s?token=abc%20def&vsn=2.0.0&on=1", token=token, header_values=["Bearer zzzz"]
    )
    text = (
        f"url ws://h/s?token=abc%20def&vsn=2.0.0&on=1 | raw abc def | plus abc+def | "
        f"token {token} | b64 {encoded} | unpadded {encoded.rstrip('=')} | "
        f"header Bearer zzzz / Bearer%20zzzz / Bearer+zzzz | vsn=2.0.0 on=1"
    )
    scrubbed = redactor.scrub(text)
    for secret in ("abc", "tok-secret", encoded.rstrip("="), "zzzz"):
        assert secret not in scrubbed
    # the whole query went first (longest first), then each value in each of its forms;
    # the serializer version and values too short to be credentials are left alone
    assert scrubbed == (
        "url ws://h/s?*** | raw *** | plus *** | token *** | b64 *** | unpadded *** | "
        "header *** / *** / *** | vsn=2.0.0 on=1"
    )
    assert repr(redactor) == "<Redactor of 10 secrets>"


def test_nothing_to_hide_leaves_text_alone() -> None:
    redactor = Redactor()
    assert redactor.scrub("ws://h/s failed: refused") == "ws://h/s failed: refused"
    assert repr(redactor) == "<Redactor of 0 secrets>"
