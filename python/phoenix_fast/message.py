"""The record every layer passes around: one Phoenix frame, decoded."""

from __future__ import annotations

from typing import Any, NamedTuple

from phoenix_fast import _native

__all__ = ["Message"]


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
