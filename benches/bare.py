"""``BareWebSocket``: the least an asyncio Phoenix client does, for the floors
(``s4_floor.py``, ``s5_floor.py``): an ``asyncio.Protocol`` on the native ``WsClient`` and
codec, with no socket or channel objects, timers or state machines."""

from __future__ import annotations

import asyncio
from typing import Any

from phoenix_fast import _native
from phoenix_fast.serializers.native import default_codec


class BareWebSocket(asyncio.Protocol):
    """Sends the upgrade on connect, then hands every decoded message to ``on_messages``
    (``on_open`` first, when the upgrade's answer is in)."""

    def __init__(self, host: str) -> None:
        self._client = _native.WsClient(default_codec(2), 1 << 20)
        self._host = host
        self._open = False
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        request = self._client.handshake_request(self._host, "/socket/websocket?vsn=2.0.0", [], [])
        self._transport.write(request)  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        if self._open:
            items = self._client.feed(data)
        else:
            items = self._client.receive_handshake(data)
            if items is None:
                return
            self._open = True
            self.on_open()
        self.on_messages(items)

    def on_open(self) -> None:
        """The upgrade was answered."""

    def on_messages(self, items: list[Any]) -> None:
        """The messages of one read, as ``(join_ref, ref, topic, event, payload)``."""
