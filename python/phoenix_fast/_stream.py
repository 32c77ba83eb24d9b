"""Streams: messages as async iterators over a bounded queue with an overflow policy.

``ChannelStream`` follows one event of one channel (``channel.stream``); ``SocketStream``
follows events across many channels of a socket (``socket.stream``), so that a bot with a
thousand channels needs one reader, not a thousand. Both yield one message at a time, or
with ``batches()`` everything queued at once: what one network read delivered, since the
socket lets the reader run between reads.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Collection, Iterable
from typing import TYPE_CHECKING, Any, Literal

from phoenix_fast._constants import CHANNEL_INTERNAL_EVENTS, EVENT_CLOSE
from phoenix_fast.errors import StreamOverflow
from phoenix_fast.message import Message, message_from_fields

if TYPE_CHECKING:
    from types import TracebackType

    from phoenix_fast.channel import Channel
    from phoenix_fast.socket import Socket

__all__ = ["ChannelStream", "Overflow", "SocketStream", "check_queue_options"]

Overflow = Literal["drop_oldest", "drop_newest", "error"]
_POLICIES = ("drop_oldest", "drop_newest", "error")


def check_queue_options(maxsize: int, overflow: str) -> None:
    """Raises ``ValueError`` for a queue size below 1 or an unknown overflow policy."""
    if maxsize < 1:
        raise ValueError(f"maxsize must be at least 1, not {maxsize!r}")
    if overflow not in _POLICIES:
        raise ValueError(f"overflow must be one of {', '.join(_POLICIES)}, not {overflow!r}")


class _Stream(AsyncIterator[Message]):
    """The queue, the overflow policy and the reading side shared by every stream."""

    def __init__(self, socket: Socket, what: str, maxsize: int, overflow: Overflow) -> None:
        check_queue_options(maxsize, overflow)
        self._socket = socket
        self._what = what
        self.maxsize = maxsize
        self.overflow = overflow
        #: How many messages the overflow policy discarded.
        self.dropped = 0
        self._queue: deque[Message] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._overflowed = False

    def _offer(self, message: Message) -> None:
        """Queues ``message`` under the overflow policy and wakes the reader."""
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
        queue.append(message)
        if self._waiter is not None:
            self._wake()
        router = self._socket._router
        if router.yielded is None:
            # let the reader run before the next network read
            router.yield_reading(self._socket._conn)

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
            self._unbind()
            self._wake()

    def _unbind(self) -> None:
        """Stops feeding the stream (each kind of stream unhooks itself)."""

    async def aclose(self) -> None:
        """Same as ``close()`` (for ``contextlib.aclosing``)."""
        self.close()

    def __len__(self) -> int:
        return len(self._queue)

    def __aiter__(self) -> _Stream:
        return self

    async def _ready(self) -> bool:
        """Waits for a message; False once closed and empty.

        Raises:
            StreamOverflow: with ``overflow="error"``, the queue overflowed (the stream is
                then closed).
        """
        while True:
            if self._overflowed:
                self._overflowed = False
                self.close()
                raise StreamOverflow(
                    f"stream of {self._what} overflowed ({self.maxsize} messages queued)"
                )
            if self._queue:
                return True
            if self._closed:
                return False
            waiter = self._waiter = self._socket._loop.running().create_future()
            try:
                await waiter
            finally:
                self._waiter = None

    async def __anext__(self) -> Message:
        if self._queue and not self._overflowed:
            return self._queue.popleft()
        if not await self._ready():
            raise StopAsyncIteration
        return self._queue.popleft()

    async def batches(self) -> AsyncIterator[list[Message]]:
        """Yields everything queued at once, as a list: the messages of one network read
        (or more, if the reader fell behind). Ends as the stream does."""
        while await self._ready():
            batch = list(self._queue)
            self._queue.clear()
            yield batch

    async def __aenter__(self) -> _Stream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class ChannelStream(_Stream):
    """Messages of one event of a channel, queued until read (see ``Channel.stream``).

    Iterating yields :class:`~phoenix_fast.Message` records and stops when the channel
    closes (after the queued messages) or when ``close()`` is called.

    Attributes:
        dropped: how many messages the overflow policy discarded.
    """

    def __init__(self, channel: Channel, event: str, maxsize: int, overflow: Overflow) -> None:
        super().__init__(channel.socket, f"{event!r} on {channel.topic}", maxsize, overflow)
        self.channel = channel
        self._topic = channel.topic
        self.event = event
        self._ref = channel.on(event, self._put)
        self._close_ref = channel.on_close(self._on_channel_close)

    def _put(self, payload: Any, ref: str | None, join_ref: str | None) -> None:
        # _offer written out, and the Message made without NamedTuple.__new__: this runs for
        # every message a stream gets (S1's stream row)
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
        router = self._socket._router
        if router.yielded is None:
            router.yield_reading(self._socket._conn)

    def _on_channel_close(self, _payload: Any) -> None:
        self.close()

    def _unbind(self) -> None:
        self.channel.off(self.event, self._ref)
        self.channel.off(EVENT_CLOSE, self._close_ref)


class SocketStream(_Stream):
    """Messages of some events on some topics of a socket (see ``Socket.stream``).

    It sees what the channels see: messages to a topic that no channel of the socket has
    joined, and stale ones (an earlier join's), are not queued; nor are replies, closes and
    errors. It lives until ``close()``, across reconnects.
    """

    def __init__(
        self,
        socket: Socket,
        events: Collection[str] | None,
        topics: Collection[str] | str | None,
        maxsize: int,
        overflow: Overflow,
    ) -> None:
        super().__init__(socket, _describe(events, topics), maxsize, overflow)
        self.events = frozenset(events) if events is not None else None
        if isinstance(topics, str):
            self._prefix: str | None = topics
            self.topics: frozenset[str] | None = None
        else:
            self._prefix = None
            self.topics = frozenset(topics) if topics is not None else None
        self._ref = socket.on_message(self._put)

    def _put(self, message: Message) -> None:
        event = message.event
        if event in CHANNEL_INTERNAL_EVENTS or (
            self.events is not None and event not in self.events
        ):
            return
        topic = message.topic
        if self.topics is not None:
            if topic not in self.topics:
                return
        elif self._prefix is not None and not topic.startswith(self._prefix):
            return
        channels = self._socket._router.topics.get(topic)
        if not channels:
            return
        join_ref = message.join_ref
        if join_ref and not any(join_ref == ch._join_push.ref for ch in channels):
            return
        self._offer(message)

    def _unbind(self) -> None:
        self._socket.off([self._ref])


def _describe(events: Iterable[str] | None, topics: Collection[str] | str | None) -> str:
    what = "every event" if events is None else ", ".join(map(repr, sorted(events)))
    if topics is None:
        where = "every topic"
    elif isinstance(topics, str):
        where = f"topics {topics}*"
    else:
        where = f"{len(topics)} topics"
    return f"{what} on {where}"
