"""Connect params from a query string, decoded as Plug does (``a[b]=c`` nests, ``a[]=`` lists)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote_plus

__all__ = ["decode_query"]

_KEY = re.compile(r"([^\[\]]*)((?:\[[^\[\]]*\])*)")
_SUBKEY = re.compile(r"\[([^\[\]]*)\]")


def _assign(target: dict[str, Any], key: str, value: str) -> None:
    match = _KEY.fullmatch(key)
    if match is None or not match.group(2):
        target[key] = value
        return
    path = [match.group(1), *_SUBKEY.findall(match.group(2))]
    node = target
    for name in path[:-2]:
        child = node.get(name)
        if not isinstance(child, dict):
            child = node[name] = {}
        node = child
    parent, last = path[-2], path[-1]
    if last == "":
        items = node.get(parent)
        if not isinstance(items, list):
            items = node[parent] = []
        items.append(value)
        return
    child = node.get(parent)
    if not isinstance(child, dict):
        child = node[parent] = {}
    child[last] = value


def decode_query(query: str) -> dict[str, Any]:
    """Decode a raw (percent-encoded) query string into nested params; later keys win."""
    params: dict[str, Any] = {}
    for part in query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        _assign(params, unquote_plus(key), unquote_plus(value))
    return params
