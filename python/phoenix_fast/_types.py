"""Type aliases shared by the client modules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NamedTuple, TypeAlias

from phoenix_fast.message import Message

__all__ = [
    "BindingCallback",
    "CloseEvent",
    "ErrorCallback",
    "JoinParams",
    "LoggerFunc",
    "MessageCallback",
    "OpenCallback",
    "Payload",
    "PushCallback",
    "SocketParams",
    "TokenSource",
]

#: A message payload: a JSON-compatible value (usually a dict) or ``bytes`` for binary frames.
Payload: TypeAlias = Any

#: What a callback may return: nothing, or an awaitable that the client runs as a task.
_Ret: TypeAlias = "object"

#: ``channel.on(event, cb)``: called with the payload, then ``ref`` and ``join_ref`` if it
#: accepts them (the arity is read once, when the callback is bound).
BindingCallback: TypeAlias = Callable[..., _Ret]
#: ``push.receive(status, cb)``: called with the response.
PushCallback: TypeAlias = Callable[[Payload], _Ret]
OpenCallback: TypeAlias = Callable[[], _Ret]
#: ``socket.on_error(cb)``: called with the error, then the transport factory and the count
#: of established connections if it accepts them (as in JS).
ErrorCallback: TypeAlias = Callable[..., _Ret]
MessageCallback: TypeAlias = Callable[[Message], _Ret]

#: Socket params: a mapping, or a callable (sync or async) read again on every connect.
SocketParams: TypeAlias = (
    Mapping[str, Any] | Callable[[], Mapping[str, Any] | Awaitable[Mapping[str, Any]]]
)
#: Channel join params: a mapping, or a callable read again on every (re)join.
JoinParams: TypeAlias = Mapping[str, Any] | Callable[[], Mapping[str, Any]]
#: An auth token: a string, or a callable (sync or async) read again on every connect.
TokenSource: TypeAlias = str | Callable[[], str | Awaitable[str]]
#: The JS-style logger: ``logger(kind, msg, data)``.
LoggerFunc: TypeAlias = Callable[[str, str, Any], object]


class CloseEvent(NamedTuple):
    """What ``socket.on_close`` callbacks receive.

    ``code`` is the WebSocket close code (None when the connection died without a close
    frame, reported as 1006 by browsers), ``was_clean`` whether a close handshake happened.
    """

    code: int | None
    reason: str
    was_clean: bool
