"""Building the WebSocket URL and the auth subprotocols, as the JS client does."""

from __future__ import annotations

import base64
import functools
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from phoenix_fast._constants import AUTH_TOKEN_PREFIX

__all__ = ["auth_protocols", "endpoint_url", "query_string", "with_query"]

_SCHEMES = {"ws": "ws", "wss": "wss", "http": "ws", "https": "wss"}
# encodeURIComponent leaves these unescaped besides letters and digits ("-_." are kept by quote)
_URI_COMPONENT_SAFE = "!~*'()"


@functools.lru_cache(maxsize=256)
def endpoint_url(endpoint: str, base: str | None = None, transport: str = "websocket") -> str:
    """The absolute ``ws(s)://.../<transport>`` URL for ``endpoint``, with its query if any.

    ``http(s)://`` maps to ``ws(s)://``. A path (``/socket``) or protocol-relative
    (``//host/socket``) endpoint takes its scheme and host from ``base`` (any of the four
    schemes; ``https`` gives ``wss``). An endpoint that already ends in ``/websocket`` or
    ``/longpoll`` (the URL a server's log shows, or the load tool's form) is taken as the
    socket's URL: the suffix is not added twice.

    Raises:
        ValueError: for a relative endpoint without ``base``, an unknown scheme, or a URL
            that does not parse.

    Cached: a load test makes thousands of sockets of one endpoint (1.5 to 0.05 us a
    socket, timeit).
    """
    endpoint = endpoint.rstrip("/")
    if endpoint.startswith("/"):
        if base is None:
            raise ValueError(
                f"endpoint {endpoint!r} is a path: pass base='https://host' (or ws://, http://, "
                "wss://) to say where it lives, or give a full ws:// or wss:// URL"
            )
        parts = urlsplit(base)
        scheme = _scheme(parts.scheme, base)
        if endpoint.startswith("//"):
            endpoint = f"{scheme}:{endpoint}"
        else:
            endpoint = f"{scheme}://{parts.netloc}{endpoint}"
    try:
        parts = urlsplit(endpoint)
        hostname = parts.hostname
    except ValueError as exc:  # an unclosed IPv6 bracket, say: urlsplit names no URL
        raise ValueError(f"endpoint {endpoint!r} is not a valid URL: {exc}") from None
    scheme = _scheme(parts.scheme, endpoint)
    if not hostname:
        raise ValueError(f"endpoint {endpoint!r} has no host")
    rest = endpoint[len(parts.scheme) :]
    path, _, query = f"{scheme}{rest}".partition("?")
    path = path.rstrip("/")
    for suffix in ("/websocket", "/longpoll"):
        if urlsplit(path).path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return f"{path}/{transport}?{query}" if query else f"{path}/{transport}"


def _scheme(scheme: str, where: str) -> str:
    try:
        return _SCHEMES[scheme.lower()]
    except KeyError:
        raise ValueError(
            f"endpoint {where!r}: scheme must be ws, wss, http or https, not {scheme!r}"
        ) from None


def query_string(params: Mapping[str, Any], parent: str | None = None) -> str:
    """``params`` as a query, nested mappings as ``parent[child]=value`` (JS ``serialize``)."""
    parts: list[str] = []
    for key, value in params.items():
        name = f"{parent}[{key}]" if parent is not None else str(key)
        if isinstance(value, Mapping):
            nested = query_string(value, name)
            if nested:
                parts.append(nested)
        elif isinstance(value, (list, tuple)):
            nested = query_string({str(i): v for i, v in enumerate(value)}, name)
            if nested:
                parts.append(nested)
        elif value is not None:
            parts.append(f"{_component(name)}={_component(_scalar(value))}")
    return "&".join(parts)


def _scalar(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def _component(text: str) -> str:
    return quote(text, safe=_URI_COMPONENT_SAFE)


def with_query(url: str, params: Mapping[str, Any], vsn: str) -> str:
    """``url`` with ``params`` then ``vsn`` appended to its query (``vsn`` always last)."""
    if params:
        query = query_string(params)
        if query:
            url = f"{url}{'&' if '?' in url else '?'}{query}"
    return f"{url}{'&' if '?' in url else '?'}{_vsn_query(vsn)}"


@functools.lru_cache(maxsize=16)
def _vsn_query(vsn: str) -> str:
    """``vsn=...``, escaped. Cached, as every connect asks (with no params, ``with_query``
    went from 1.9 to 0.15 us, timeit)."""
    return query_string({"vsn": vsn})


def auth_protocols(token: str) -> list[str]:
    """The subprotocols carrying ``token``: standard base64 without ``=`` padding (as ``btoa``)."""
    encoded = base64.b64encode(token.encode()).decode("ascii").rstrip("=")
    return ["phoenix", f"{AUTH_TOKEN_PREFIX}{encoded}"]
