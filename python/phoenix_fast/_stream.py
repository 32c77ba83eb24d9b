"""``ChannelStream``: a channel event as an async iterator over a bounded queue."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Literal

from phoenix_fast._constants import EVENT_CLOSE
from phoenix_fast.errors import StreamOverflow
from phoenix_fast.message import Message, message_from_fields

if TYPE_CHECKING:
    from types import TracebackType

    from phoenix_fast.channel import Channel

__all__ = ["ChannelStream", "Overflow"]

Overflow = Literal["drop_oldest", "drop_newest", "error"]
_POLICIES = ("drop_oldest", "drop_newest", "error")


class ChannelStream(AsyncIterator[Message]):
    """Messages of one event of a channel, queued until read (see ``Channel.stream``).

    Iterating yields :class:`~phoenix_fast.Message` records and stops when the channel
    closes (after the queued messages) or when ``close()`` is called.

    Attributes:
        dropped: how many messages the overflow policy discarded.
    """

    def __init__(self, channel: Channel, event: str, maxsize: int, overflow: Overflow) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, not {maxsize!r}")
        if overflow not in _POLICIES:
            raise ValueError(f"overflow must be one of {', '.join(_POLICIES)}, not {overflow!r}")
        self.channel = channel
        self._topic = channel.topic
        self._socket = channel.socket
        self.event = event
        self.maxsize = maxsize
        self.overflow = overflow
        self.dropped = 0
        self._queue: deque[Message] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._overflowed = False
        self._ref = channel.on(event, self._put)
        self._close_ref = channel.on_close(self._on_channel_close)

    def _put(self, payload: Any, ref: str | None, join_ref: str | None) -> None:
        queue = self._queue
        if len(queue) >= self.maxsize:
            self.dropped += 1
            if self.overflow == "drop_newest":
                return
            if self.overflow == "error":
                self._overflowed = True
                self._wake()
                return
            queue.popleft()
        queue.append(message_from_fields((join_ref, ref, self._topic, self.event, payload)))
        if self._waiter is not None:
            self._wake()
        socket = self._socket
        if socket._yielded is None:
            socket._yield_reading()  # let the reader run before the next network read

    def _on_channel_close(self, _payload: Any) -> None:
        self.close()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None  # woken once: the next puts need not look again
            if not waiter.done():
                waiter.set_result(None)

    def close(self) -> None:
        """Stops queueing; iteration ends once the queued messages are read."""
        if not self._closed:
            self._closed = True
            self.channel.off(self.event, self._ref)
            self.channel.off(EVENT_CLOSE, self._close_ref)
            self._wake()

    async def aclose(self) -> None:
        """Same as ``close()`` (for ``contextlib.aclosing``)."""
        self.close()

    def __len__(self) -> int:
        return len(self._queue)

    def __aiter__(self) -> ChannelStream:
        return self

    async def __anext__(self) -> Message:
        while True:
            if self._overflowed:
                self._overflowed = False
                self.close()
                raise StreamOverflow(
                    f"stream of {self.event!r} on {self.channel.topic} overflowed "
                    f"({self.maxsize} messages queued)"
                )
            if self._queue:
                return self._queue.popleft()
            if self._closed:
                raise StopAsyncIteration
            waiter = self._waiter = self._socket._running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None

    async def __aenter__(self) -> ChannelStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
