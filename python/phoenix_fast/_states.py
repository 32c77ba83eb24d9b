"""The states of a channel and of a socket's connection, as string enums.

Both subclass ``str``, so ``channel.state == "joined"`` works as in the JS client.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["ChannelState", "SocketState"]


class ChannelState(str, Enum):
    """The five states of a channel (JS ``CHANNEL_STATES``)."""

    CLOSED = "closed"
    ERRORED = "errored"
    JOINED = "joined"
    JOINING = "joining"
    LEAVING = "leaving"

    def __str__(self) -> str:
        return self.value


class SocketState(str, Enum):
    """The state of the socket's current connection (JS ``connectionState()``)."""

    CONNECTING = "connecting"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"

    def __str__(self) -> str:
        return self.value
