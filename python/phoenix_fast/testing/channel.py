"""A channel "process" (``Phoenix.Channel.Server``) in asyncio terms.

Messages of one channel are handled in order. A handler runs synchronously;
if it returns a coroutine (long work such as a burst) the channel is busy until
it finishes, and messages arriving meanwhile wait in the channel's queue, as
they would in the mailbox of a Phoenix channel process. An exception in a
handler is a crash: the client gets ``phx_error``.
"""

from __future__ import annotations

import inspect
import logging
from collections import deque
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from .output import OutputClosed

if TYPE_CHECKING:
    import asyncio

    from .socket import PhoenixSocket
    from .wire import InMessage

__all__ = ["Channel", "ChannelCrash"]

logger = logging.getLogger("phoenix_fast.testing")

Work = Coroutine[Any, Any, None]


class ChannelCrash(RuntimeError):
    """Raised by a handler to crash its channel on purpose."""


class Channel:
    """Base class of the contract's channels.

    Attributes:
        socket: The socket the channel belongs to.
        topic: The channel's topic.
        join_ref_msg: The ``join_ref`` of the join message (may be None); Phoenix
            uses it for ``phx_close``/``phx_error`` and to spot stale messages.
        join_ref: The channel's own join_ref (``join_ref || ref`` of the join),
            carried by its replies and pushes.
    """

    def __init__(self, socket: PhoenixSocket, topic: str, join_ref_msg: Any, join_ref: Any) -> None:
        self.socket = socket
        self.ctx = socket.ctx
        self.topic = topic
        self.join_ref_msg = join_ref_msg
        self.join_ref = join_ref
        self.alive = True
        self._queue: deque[InMessage] | None = None
        self._task: asyncio.Task[Any] | None = None
        self._work: Work | None = None

    # -- hooks for subclasses ------------------------------------------------

    async def join(self, params: Any) -> tuple[str, Any]:
        """Decide the join: ``("ok", response)`` or ``("error", response)``."""
        return "ok", {}

    def after_join(self) -> None:
        """Run once the join reply has been sent."""

    def handle_in(self, event: str, payload: Any, ref: Any) -> Work | None:
        """Handle a client event; return a coroutine for long work."""
        self.reply(ref, "error", {"event": event, "reason": "unknown event"})
        return None

    def terminate(self) -> None:
        """Clean up when the channel stops for any reason."""

    # -- what handlers can do ------------------------------------------------

    def reply(self, ref: Any, status: str, response: Any) -> None:
        """Reply to the client message ``ref``."""
        ser = self.socket.serializer
        self.socket.out.send(*ser.reply(self.join_ref, ref, self.topic, status, response))

    def push(self, event: str, payload: Any) -> None:
        """Push ``event`` to this channel's client (``[join_ref, null, topic, event, payload]``)."""
        ser = self.socket.serializer
        self.socket.out.send(*ser.message(self.join_ref, None, self.topic, event, payload))

    def broadcast(self, event: str, payload: Any) -> None:
        """Broadcast ``event`` to every subscriber of the topic, this client included."""
        self.ctx.pubsub.broadcast(self.topic, event, payload)

    def stop(self) -> None:
        """Stop normally: the client gets ``phx_close``."""
        if self.alive:
            self.socket.channel_exit(self, crashed=False)

    def crash(self) -> None:
        """Crash: the client gets ``phx_error`` ``{"reason": "channel_crash"}``."""
        if self.alive:
            self.socket.channel_exit(self, crashed=True)

    # -- message loop --------------------------------------------------------

    def deliver(self, msg: InMessage) -> None:
        """Handle ``msg`` now, or after the work in progress."""
        if self._queue is not None:
            self._queue.append(msg)
            return
        work = self._dispatch(msg)
        if work is not None:
            self._queue = deque()
            self._work = work
            self._task = self.ctx.spawn(self._busy(work))

    def _dispatch(self, msg: InMessage) -> Work | None:
        try:
            if msg.event == "phx_leave":
                self.reply(msg.ref, "ok", {})
                self.stop()
                return None
            return self.handle_in(msg.event, msg.payload, msg.ref)
        except Exception as exc:
            self.fail(exc)
            return None

    async def _busy(self, work: Work | None) -> None:
        try:
            while work is not None:
                try:
                    await work
                except OutputClosed:
                    return
                except Exception as exc:
                    self.fail(exc)
                    return
                work = None
                while work is None and self._queue and self.alive:
                    work = self._work = self._dispatch(self._queue.popleft())
        finally:
            self._queue = None
            self._task = None
            self._work = None

    def fail(self, exc: BaseException) -> None:
        """Crash because of ``exc`` (logged)."""
        if isinstance(exc, ChannelCrash):
            logger.debug("channel %s crashed on purpose", self.topic)
        else:
            logger.warning("channel %s crashed: %r", self.topic, exc)
        self.crash()

    def shutdown(self) -> None:
        """Stop without telling the client (socket gone, duplicate join)."""
        if not self.alive:
            return
        self.alive = False
        self.ctx.pubsub.unsubscribe(self)
        self.ctx.tracker.untrack(self)
        task, work = self._task, self._work
        if task is not None:
            task.cancel()
        if work is not None and inspect.getcoroutinestate(work) == inspect.CORO_CREATED:
            work.close()
        self.terminate()
