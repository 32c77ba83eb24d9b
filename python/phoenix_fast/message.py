"""The record every layer passes around: one Phoenix frame, decoded."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple, cast

from phoenix_fast import _native

__all__ = ["Message", "message_from_fields"]


class Message(NamedTuple):
    """One Phoenix frame: ``[join_ref, ref, topic, event, payload]``.

    ``payload`` is the decoded JSON value, or ``bytes`` for a binary push or broadcast. A binary
    reply has event ``"phx_reply"`` and payload ``{"status": ..., "response": <bytes>}``, as the
    JS client presents it.
    """

    join_ref: str | None
    ref: str | None
    topic: str
    event: str
    payload: Any


_native.set_message_class(Message)

#: ``message_from_fields((join_ref, ref, topic, event, payload))``: a ``Message`` without the
#: named tuple's Python-level ``__new__`` (half the cost; for paths that run per message).
message_from_fields = cast(
    "Callable[[tuple[str | None, str | None, str, str, Any]], Message]",
    functools.partial(tuple.__new__, Message),
)
