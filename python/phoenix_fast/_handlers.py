"""Bindings with a shape of their own: coroutine handlers with bounded concurrency, and
handlers that take the messages of a network read as one list.

A coroutine bound with plain ``channel.on`` runs as one task per message, without bound: a
bot that receives 100,000 messages a second would hold 100,000 tasks. ``BoundedHandler``
runs at most ``max_concurrency`` at once and queues the rest under an overflow policy.
``BatchHandler`` collects a read's messages and calls its handler once with all of them.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from phoenix_fast._arity import positional_arity
from phoenix_fast.message import Message, message_from_fields

if TYPE_CHECKING:
    from phoenix_fast.channel import Channel

__all__ = ["BatchHandler", "BoundedHandler"]

HANDLER_POLICIES = ("drop_oldest", "drop_newest")


class BoundedHandler:
    """Runs a coroutine handler for each message, at most ``limit`` at a time.

    Messages that arrive while ``limit`` runs are under way wait in a queue of ``maxsize``;
    past it, ``overflow`` drops the oldest or the newest (counted in ``dropped``, and
    logged once per overflow).
    """

    __slots__ = (
        "_channel",
        "_handler",
        "_nargs",
        "_queue",
        "_warned",
        "dropped",
        "limit",
        "maxsize",
        "overflow",
        "running",
    )

    def __init__(
        self,
        channel: Channel,
        handler: Callable[..., Any],
        limit: int,
        maxsize: int,
        overflow: str,
    ) -> None:
        if not _is_coroutine_function(handler):
            raise TypeError(
                "max_concurrency bounds coroutine handlers (async def); a plain callback "
                "already runs one message at a time"
            )
        if limit < 1:
            raise ValueError(f"max_concurrency must be at least 1, not {limit!r}")
        if maxsize < 0:
            raise ValueError(f"maxsize must not be negative, not {maxsize!r}")
        if overflow not in HANDLER_POLICIES:
            raise ValueError(
                f"a handler's overflow must be one of {', '.join(HANDLER_POLICIES)}, not "
                f"{overflow!r} (nobody could receive the error)"
            )
        self._channel = channel
        self._handler = handler
        self._nargs = positional_arity(handler, 3)
        self.limit = limit
        self.maxsize = maxsize
        self.overflow = overflow
        self.running = 0
        self.dropped = 0
        self._warned = False
        self._queue: deque[tuple[Any, ...]] = deque()

    def __call__(self, payload: Any, ref: str | None, join_ref: str | None) -> None:
        args = (payload, ref, join_ref)[: self._nargs]
        if self.running < self.limit:
            self._start(args)
            return
        queue = self._queue
        if len(queue) >= self.maxsize:
            self._drop()
            if self.overflow == "drop_newest" or not queue:
                return
            queue.popleft()
        queue.append(args)

    def _start(self, args: tuple[Any, ...]) -> None:
        self.running += 1
        task = asyncio.ensure_future(self._handler(*args))
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Future[Any]) -> None:
        self.running -= 1
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self._channel.socket._log.error(
                "callback", f"a handler of {self._channel.topic} raised {exc!r}", exc
            )
        if self._queue and self.running < self.limit:
            self._start(self._queue.popleft())

    def _drop(self) -> None:
        self.dropped += 1
        if not self._warned:
            self._warned = True
            self._channel.socket._log.error(
                "channel",
                f"a handler of {self._channel.topic} fell behind: {self.limit} running and "
                f"{self.maxsize} queued; dropping the {self.overflow.removeprefix('drop_')} "
                "messages (raise max_concurrency or maxsize, or make it faster)",
            )


class BatchHandler:
    """Collects one event's messages and calls ``handler(list_of_messages)`` once they
    stop arriving in the current loop iteration: one call per network read (or a few reads
    that arrived together)."""

    __slots__ = ("_batch", "_channel", "_event", "_handler")

    def __init__(self, channel: Channel, event: str, handler: Callable[[list[Message]], Any]):
        self._channel = channel
        self._event = event
        self._handler = handler
        self._batch: list[Message] = []

    def __call__(self, payload: Any, ref: str | None, join_ref: str | None) -> None:
        batch = self._batch
        if not batch:
            self._channel.socket._loop.running().call_soon(self._deliver)
        batch.append(
            message_from_fields((join_ref, ref, self._channel.topic, self._event, payload))
        )

    def _deliver(self) -> None:
        batch, self._batch = self._batch, []
        if batch:
            self._channel.socket._callbacks.run(self._handler, batch)


def _is_coroutine_function(handler: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(handler):
        return True
    call = getattr(handler, "__call__", None)  # noqa: B004 - an object with an async __call__
    return call is not None and inspect.iscoroutinefunction(call)
