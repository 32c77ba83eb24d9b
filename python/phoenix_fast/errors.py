"""Every exception phoenix_fast raises, in one tree::

    PhoenixError
    ├── ProtocolError (also ValueError)      the peer or the caller broke the wire format
    │   ├── DecodeError                      a frame that cannot be decoded
    │   ├── EncodeError                      a message that cannot be encoded
    │   └── WebSocketProtocolError           a WebSocket framing or handshake violation
    ├── TransportError                       the connection itself failed
    │   ├── ConnectError                     could not connect (refused, 403, bad handshake)
    │   ├── ConnectionClosed                 the connection closed under a pending operation
    │   └── HeartbeatTimeout                 the server stopped answering heartbeats
    ├── ChannelError                         a channel operation failed on the server's word
    │   ├── JoinError                        the server refused a join (carries its response)
    │   ├── PushError                        a push was answered with a non-ok status
    │   ├── ChannelClosed                    the channel closed while an operation waited
    │   └── ChannelCrashed                   the server's channel process crashed (phx_error)
    ├── PushTimeout (also TimeoutError)      no reply within the push's timeout
    ├── StreamOverflow (also BufferError)    a channel stream with overflow="error" overflowed
    ├── BufferFull (also BufferError)        a push met a full outgoing buffer (max_buffer)
    └── InvalidState (also RuntimeError)     misuse: joining twice, pushing before join, ...

Catch ``PhoenixError`` for everything; the builtin bases let ``except ValueError`` and
``except TimeoutError`` work as Python users expect.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BufferFull",
    "ChannelClosed",
    "ChannelCrashed",
    "ChannelError",
    "ConnectError",
    "ConnectionClosed",
    "DecodeError",
    "EncodeError",
    "HeartbeatTimeout",
    "InvalidState",
    "JoinError",
    "PhoenixError",
    "ProtocolError",
    "PushError",
    "PushTimeout",
    "StreamOverflow",
    "TransportError",
    "WebSocketProtocolError",
]


class PhoenixError(Exception):
    """The root of every phoenix_fast exception."""


class ProtocolError(PhoenixError, ValueError):
    """Data that breaks the Phoenix or WebSocket wire format."""


class DecodeError(ProtocolError):
    """A frame that cannot be decoded; the message says what was wrong and where."""


class EncodeError(ProtocolError):
    """A message that cannot be encoded (a binary field over 255 bytes, say)."""


class WebSocketProtocolError(ProtocolError):
    """The server broke RFC 6455 (bad framing, bad handshake, oversized message)."""


class TransportError(PhoenixError):
    """The connection failed."""


class ConnectError(TransportError):
    """The connection could not be established.

    ``status`` is the HTTP status when the server answered the upgrade with one (403 for a
    refused connect), else None.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ConnectionClosed(TransportError):
    """The connection closed while an operation was waiting on it.

    ``code`` and ``reason`` are the WebSocket close code and reason when there was one (1009
    for a message too big, say); the message shows them too.
    """

    def __init__(self, message: str, code: int | None = None, reason: str = "") -> None:
        if code is not None:
            message = f"{message} (code {code}{f': {reason}' if reason else ''})"
        super().__init__(message)
        self.code = code
        self.reason = reason


class HeartbeatTimeout(TransportError):
    """A heartbeat got no reply in time: the link is presumed dead."""


class ChannelError(PhoenixError):
    """A channel operation failed on the server's word."""


#: Longest server response shown in an error message (the whole is in ``.response``).
_SHOWN_RESPONSE = 200


class _ServerAnswer(ChannelError):
    """A failure that carries the server's reply: its ``status`` and ``response``.

    The message ends with the server's reason: ``response["reason"]`` when there is one,
    else the response itself, cut short.
    """

    def __init__(self, message: str, status: str, response: Any) -> None:
        super().__init__(f"{message}: {status}{_why(response)}")
        self.status = status
        self.response = response


def _why(response: Any) -> str:
    if isinstance(response, dict) and isinstance(response.get("reason"), str):
        text = response["reason"]
    elif response is None or response == {}:
        return ""
    else:
        text = repr(response)
    if len(text) > _SHOWN_RESPONSE:
        text = text[: _SHOWN_RESPONSE - 3] + "..."
    return f" ({text})"


class JoinError(_ServerAnswer):
    """The server refused a join; ``response`` is its reply (``{"reason": ...}`` usually)."""


class PushError(_ServerAnswer):
    """A push was answered with a status other than ``ok``."""


class ChannelClosed(ChannelError):
    """The channel closed while an operation waited on it."""


class ChannelCrashed(ChannelError):
    """The server's channel process crashed (``phx_error``) while an operation waited on it:
    no reply can come. The channel itself rejoins with backoff, as in JS."""


class PushTimeout(PhoenixError, TimeoutError):
    """No reply arrived within the push's timeout."""


class StreamOverflow(PhoenixError, BufferError):
    """A ``channel.stream(..., overflow="error")`` received more messages than it could queue."""


class BufferFull(PhoenixError, BufferError):
    """A push was refused: the socket already holds ``max_buffer`` bytes that the server has
    not read (it reads slower than we push, or stopped reading). Nothing was sent and the push
    is not pending. ``await socket.drain()`` waits until pushes are accepted again."""


class InvalidState(PhoenixError, RuntimeError):
    """The API was used out of order (joining twice, pushing before ``join()``, ...)."""
