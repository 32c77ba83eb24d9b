"""How a load run's sockets connect: transport, fallback, auth token, headers, serializer
version, compression and TLS, checked before anything connects and turned into
:class:`~phoenix_fast.Socket` arguments.

The TLS context is built once per process (loading a CA file for every socket costs
milliseconds each), from ``--cacert`` or, with ``--insecure``, with verification off.

Secrets (the auth token, header values, connect and join params, the URL's query) never
reach a summary, a report or an error message: :func:`scrubber` masks them in text the run
did not write itself (a server's handshake answer, a library's exception).
"""

from __future__ import annotations

import functools
import re
import ssl
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from phoenix_fast._redact import Redactor

if TYPE_CHECKING:
    from phoenix_fast.load.scenario import Scenario

__all__ = [
    "TRANSPORTS",
    "VSNS",
    "check_connection",
    "header_pairs",
    "insecure_warning",
    "scrubber",
    "socket_options",
    "ssl_context",
]

TRANSPORTS = ("websocket", "longpoll")
VSNS = ("1.0.0", "2.0.0")
_PLACEHOLDER = re.compile(r"\{[a-z]+\}")


def header_pairs(value: Any) -> tuple[tuple[str, str], ...]:
    """Headers as ``(name, value)`` pairs, from pairs, a mapping or ``"Name: value"`` strings.

    Raises:
        ScenarioError: a malformed header.
    """
    from phoenix_fast.load.scenario import ScenarioError, check_header, parse_header

    if isinstance(value, Mapping):
        return tuple(check_header(k, v, "headers") for k, v in value.items())
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ScenarioError(f"headers must be 'Name: value' strings, not {value!r}")
    pairs = []
    for item in value:
        if isinstance(item, str):
            pairs.append(parse_header(item, "--header"))
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            pairs.append(check_header(item[0], item[1], "headers"))
        else:
            raise ScenarioError(f"headers: expected 'Name: value', not {item!r}")
    return tuple(pairs)


def check_connection(s: Scenario) -> None:
    """Raises :class:`ScenarioError` for connection options that cannot work."""
    from phoenix_fast.load.scenario import ScenarioError

    if s.transport not in TRANSPORTS:
        raise ScenarioError(
            f"--transport {s.transport!r} is unknown: give websocket (the default) or longpoll"
        )
    if s.vsn not in VSNS:
        raise ScenarioError(
            f"--vsn {s.vsn!r} is unknown: give 2.0.0 (the default, array frames) or 1.0.0 "
            "(object frames)"
        )
    fallback = s.long_poll_fallback
    if fallback is not None:
        if isinstance(fallback, bool) or not isinstance(fallback, (int, float)) or fallback <= 0:
            raise ScenarioError(
                f"--long-poll-fallback must be a number of seconds > 0, not {fallback!r}"
            )
        if s.transport == "longpoll":
            raise ScenarioError(
                "--long-poll-fallback falls back from WebSocket to LongPoll: drop it with "
                "--transport longpoll"
            )
    if s.compress is True and s.transport == "longpoll":
        raise ScenarioError(
            "--compress is WebSocket's per-message deflate: drop it with --transport longpoll"
        )
    if s.auth_token is not None and (not isinstance(s.auth_token, str) or not s.auth_token):
        raise ScenarioError("--auth-token must be a non-empty string")
    for name in ("compress", "insecure"):
        if not isinstance(getattr(s, name), bool):
            raise ScenarioError(f"{name} must be true or false, not {getattr(s, name)!r}")
    header_pairs(s.headers)
    _check_tls(s)


def _check_tls(s: Scenario) -> None:
    from phoenix_fast.load.scenario import ScenarioError

    if s.cacert is None and not s.insecure:
        return
    option = "--insecure" if s.insecure else "--cacert"
    if s.cacert is not None and s.insecure:
        raise ScenarioError(
            "--cacert verifies the server's certificate and --insecure skips that: give one"
        )
    if s.url is None or not s.url.startswith(("wss://", "https://")):
        where = "the embedded server speaks plain ws://" if s.url is None else f"{s.url} is"
        raise ScenarioError(
            f"{option} is for TLS, but {where} not wss:// or https://: drop {option} "
            "or give a wss:// URL"
        )
    if s.cacert is not None:
        if not isinstance(s.cacert, str):
            raise ScenarioError(f"--cacert must be a file name, not {s.cacert!r}")
        try:
            ssl_context(s.cacert, False)
        except (OSError, ssl.SSLError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
            raise ScenarioError(
                f"--cacert {s.cacert}: cannot load the certificate ({reason}); give a PEM file "
                "of the CA that signed the server's certificate (or the certificate itself)"
            ) from None


@functools.lru_cache(maxsize=4)
def ssl_context(cacert: str | None, insecure: bool) -> ssl.SSLContext:
    """The process's TLS context: trusting ``cacert`` (besides nothing else), or not
    verifying at all with ``insecure``. Built once per process and shared by every socket.

    Raises:
        OSError, ssl.SSLError: ``cacert`` cannot be read or holds no certificate.
    """
    if insecure:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=cacert)


def insecure_warning() -> str:
    """The warning ``--insecure`` prints on stderr."""
    return (
        "phoenix-fast: warning: --insecure: server certificates are not verified, so anyone "
        "on the path can read and change the traffic; use --cacert FILE to trust a private CA"
    )


def socket_options(s: Scenario) -> dict[str, Any]:
    """The :class:`~phoenix_fast.Socket` arguments of the scenario's connection options."""
    options: dict[str, Any] = {"vsn": s.vsn}
    if s.transport == "longpoll":
        from phoenix_fast import LongPoll

        options["transport"] = LongPoll
    if s.long_poll_fallback is not None:
        options["long_poll_fallback"] = float(s.long_poll_fallback)
    if s.auth_token:
        options["auth_token"] = s.auth_token
    if s.headers:
        options["headers"] = list(header_pairs(s.headers))
    if s.compress:
        options["compress"] = True
    if s.cacert is not None or s.insecure:
        options["ssl"] = ssl_context(s.cacert, s.insecure)
    return options


def _leaves(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaves(item)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def scrubber(s: Scenario) -> Redactor:
    """A :class:`phoenix_fast._redact.Redactor` of the scenario's secrets: the URL's query,
    the token, the header values, and the fixed parts of the params' values (a template
    ``"secret-{s}"`` is scrubbed by its ``secret-`` part)."""
    values = [value for _, value in header_pairs(s.headers)]
    for params in (s.socket_params, s.join_params):
        for leaf in _leaves(params):
            values += [part for part in _PLACEHOLDER.split(leaf) if part]
    return Redactor(s.url or "", s.auth_token, values)
