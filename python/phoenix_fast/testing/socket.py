"""One client connection's Phoenix state (``Phoenix.Socket``), independent of the transport.

Routing follows ``Phoenix.Socket.handle_in``:

- ``heartbeat`` on ``phoenix``: ok reply with a null join_ref.
- ``phx_join`` of a topic not joined: no route -> ``unmatched topic`` error
  (null join_ref); too many channels -> ``too many channels joined`` error;
  else the channel decides. Joins block the socket while they run, as in Phoenix.
- ``phx_join`` of a joined topic: the old channel is shut down, the new join
  is processed, then ``phx_close`` for the old join_ref is sent.
- Other messages of a joined topic go to the channel if their join_ref is null
  or current; a stale join_ref is ignored silently.
- ``phx_leave`` of a topic not joined: ok reply; anything else: ``unmatched topic``.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .channel import Channel
    from .context import ConnectInfo, ServerContext
    from .output import Output
    from .wire import Frame, InMessage, WireSerializer

__all__ = ["PhoenixSocket"]

logger = logging.getLogger("phoenix_fast.testing")

_UNMATCHED = {"reason": "unmatched topic"}
_TOO_MANY = {"reason": "too many channels joined"}
_CRASH = {"reason": "channel_crash"}


def _same(a: Any, b: Any) -> bool:
    return a == b and type(a) is type(b)


class PhoenixSocket:
    """The channels of one connection and the routing of its messages."""

    def __init__(
        self, ctx: ServerContext, serializer: WireSerializer, out: Output, info: ConnectInfo
    ) -> None:
        self.ctx = ctx
        self.serializer = serializer
        self.out = out
        self.info = info
        self.channels: dict[str, Channel] = {}
        self.alive = True
        ctx.sockets.add(self)

    def receive(self, data: str | bytes, binary: bool) -> Coroutine[Any, Any, None] | None:
        """Handle one client frame; a returned coroutine (a join) must be awaited next.

        Raises :class:`~.wire.DecodeError` for a frame Phoenix cannot decode.
        """
        return self.handle_in(self.serializer.decode(data, binary))

    def handle_in(self, msg: InMessage) -> Coroutine[Any, Any, None] | None:
        """Route one decoded message."""
        topic, event = msg.topic, msg.event
        if event == "heartbeat" and topic == "phoenix":
            self._reply(None, msg.ref, topic, "ok", {})
            return None
        chan = self.channels.get(topic)
        if chan is None:
            if event == "phx_join":
                return self._join(msg)
            if event == "phx_leave":
                self._reply(msg.join_ref, msg.ref, topic, "ok", {})
            else:
                self._reply(None, msg.ref, topic, "error", _UNMATCHED)
            return None
        if event == "phx_join":
            return self._duplicate_join(chan, msg)
        join_ref = msg.join_ref
        if join_ref is None or _same(join_ref, chan.join_ref_msg):
            chan.deliver(msg)
        return None

    def _reply(self, join_ref: Any, ref: Any, topic: str, status: str, response: Any) -> None:
        self.out.send(*self.serializer.reply(join_ref, ref, topic, status, response))

    async def _join(self, msg: InMessage, pending: Frame | None = None) -> None:
        """Join; ``pending`` (a duplicate's ``phx_close``) goes out right after the reply."""
        try:
            chan = await self._open_channel(msg)
        finally:
            if pending is not None:
                self.out.send(*pending)
        if chan is not None:
            try:
                chan.after_join()
            except Exception as exc:
                chan.fail(exc)

    async def _open_channel(self, msg: InMessage) -> Channel | None:
        topic = msg.topic
        factory = self.ctx.route(topic)
        if factory is None:
            logger.debug("ignoring unmatched topic %r", topic)
            self._reply(None, msg.ref, topic, "error", _UNMATCHED)
            return None
        if len(self.channels) >= self.ctx.config.max_channels:
            logger.info("reached max channels per transport (%d)", self.ctx.config.max_channels)
            self._reply(msg.join_ref, msg.ref, topic, "error", _TOO_MANY)
            return None
        join_ref = msg.join_ref
        own_ref = msg.ref if join_ref is None or join_ref is False else join_ref
        chan = factory(self, topic, join_ref, own_ref)
        try:
            status, response = await chan.join(msg.payload)
        except Exception as exc:
            logger.warning("join of %r crashed: %r", topic, exc)
            status, response = "error", {"reason": "join crashed"}
        if not self.alive:
            return None
        if status != "ok":
            self._reply(join_ref, msg.ref, topic, status, response)
            return None
        self.channels[topic] = chan
        self.ctx.pubsub.subscribe(chan)
        self._reply(join_ref, msg.ref, topic, "ok", response)
        return chan

    async def _duplicate_join(self, old: Channel, msg: InMessage) -> None:
        logger.debug("duplicate join of %r: closing the existing channel", old.topic)
        del self.channels[old.topic]
        old.shutdown()
        ref = old.join_ref_msg
        await self._join(msg, self.serializer.message(ref, ref, old.topic, "phx_close", {}))

    def channel_exit(self, chan: Channel, crashed: bool) -> None:
        """A channel stopped (``phx_close``) or crashed (``phx_error``)."""
        if self.channels.get(chan.topic) is chan:
            del self.channels[chan.topic]
        chan.shutdown()
        if not self.alive:
            return
        ref = chan.join_ref_msg
        if crashed:
            frame = self.serializer.message(ref, ref, chan.topic, "phx_error", _CRASH)
        else:
            frame = self.serializer.message(ref, ref, chan.topic, "phx_close", {})
        self.out.send(*frame)

    def terminate(self) -> None:
        """The connection is gone: stop every channel silently."""
        if not self.alive:
            return
        self.alive = False
        channels = list(self.channels.values())
        self.channels.clear()
        for chan in channels:
            chan.shutdown()
        self.ctx.sockets.discard(self)
