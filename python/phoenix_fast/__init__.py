"""phoenix_fast: a fast Phoenix Channels client for Python with a Rust core."""

from typing import TYPE_CHECKING, Any

from phoenix_fast import errors
from phoenix_fast._fallback import fallback_memory
from phoenix_fast._loop import run
from phoenix_fast._native import __version__
from phoenix_fast._observe import Observer, SocketStats
from phoenix_fast._states import ChannelState, SocketState
from phoenix_fast.channel import Channel
from phoenix_fast.message import Message
from phoenix_fast.presence import Presence
from phoenix_fast.push import Push
from phoenix_fast.serializers import ReferenceSerializer, Serializer
from phoenix_fast.socket import Socket
from phoenix_fast.timer import Timer
from phoenix_fast.transports import MockTransport, Transport, WebSocketTransport

if TYPE_CHECKING:
    from phoenix_fast.transports.longpoll import LongPoll

__all__ = [
    "Channel",
    "ChannelState",
    "LongPoll",
    "Message",
    "MockTransport",
    "Observer",
    "Presence",
    "Push",
    "ReferenceSerializer",
    "Serializer",
    "Socket",
    "SocketState",
    "SocketStats",
    "Timer",
    "Transport",
    "WebSocketTransport",
    "__version__",
    "errors",
    "fallback_memory",
    "run",
]


def __getattr__(name: str) -> Any:
    # LongPoll imports aiohttp (~250 ms): only when asked for
    if name == "LongPoll":
        from phoenix_fast.transports.longpoll import LongPoll

        return LongPoll
    if name == "sync":  # the blocking client: imported when first used
        import importlib

        return importlib.import_module("phoenix_fast.sync")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
