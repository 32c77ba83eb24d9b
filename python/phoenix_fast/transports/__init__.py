"""Transports: how a socket reaches the server (WebSocket by default, or your own)."""

from phoenix_fast.transports.base import (
    Transport,
    TransportFactory,
    TransportHandler,
    TransportOptions,
)
from phoenix_fast.transports.mock import MockConnection, MockTransport, phoenix_server
from phoenix_fast.transports.websocket import WebSocketTransport

__all__ = [
    "MockConnection",
    "MockTransport",
    "Transport",
    "TransportFactory",
    "TransportHandler",
    "TransportOptions",
    "WebSocketTransport",
    "phoenix_server",
]
