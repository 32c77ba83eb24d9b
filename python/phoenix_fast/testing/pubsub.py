"""Topic subscriptions and fastlane broadcasts (``Phoenix.PubSub`` + ``Channel.Server.dispatch``).

A joined channel subscribes to its topic. A broadcast is encoded once per
serializer and written to the socket of every subscriber, the sender included,
as ``[null, null, topic, event, payload]``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .channel import Channel
    from .wire import Frame, WireSerializer

__all__ = ["PubSub"]

_NONE: dict[Channel, None] = {}


class PubSub:
    """Subscribers by topic, and broadcast to them."""

    def __init__(self) -> None:
        self._topics: dict[str, dict[Channel, None]] = {}

    def subscribe(self, channel: Channel) -> None:
        """Subscribe ``channel`` to its topic."""
        self._topics.setdefault(channel.topic, {})[channel] = None

    def unsubscribe(self, channel: Channel) -> None:
        """Remove ``channel``'s subscription, if any."""
        subs = self._topics.get(channel.topic)
        if subs is not None:
            subs.pop(channel, None)
            if not subs:
                del self._topics[channel.topic]

    def subscribers(self, topic: str) -> list[Channel]:
        """A snapshot of the channels subscribed to ``topic``."""
        subs = self._topics.get(topic)
        return list(subs) if subs else []

    def subscribers_view(self, topic: str) -> Iterable[Channel]:
        """The channels subscribed to ``topic``, without a copy: only for synchronous code
        that does not subscribe or unsubscribe while iterating."""
        return self._topics.get(topic, _NONE)

    def count(self) -> int:
        """The number of subscriptions (for leak checks)."""
        return sum(len(subs) for subs in self._topics.values())

    def broadcast(self, topic: str, event: str, payload: Any) -> None:
        """Send a fastlane broadcast to every subscriber of ``topic``.

        Raises :class:`~.wire.EncodeError` if a subscriber's serializer cannot
        encode the payload (in Phoenix the broadcasting process crashes).
        """
        subs = self._topics.get(topic)
        if not subs:
            return
        cache: dict[WireSerializer, Frame] = {}
        for channel in list(subs):
            socket = channel.socket
            ser = socket.serializer
            frame = cache.get(ser)
            if frame is None:
                frame = cache[ser] = ser.broadcast(topic, event, payload)
            socket.out.send(*frame)
