"""``Router``: a socket's channels by topic, and the routing of every message read to them.

This is the per-message hot path. A transport hands over each network read as one batch;
a message reaches the channels of its topic by one dict lookup, is filtered by ``join_ref``
(never by scanning every channel), and a plain event reaches the bindings of an unhooked
channel without a call in between.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from phoenix_fast import _native
from phoenix_fast._callbacks import Callbacks, Registered
from phoenix_fast._constants import CHANNEL_INTERNAL_EVENTS, EVENT_REPLY
from phoenix_fast._logging import SocketLog
from phoenix_fast._states import SocketState
from phoenix_fast.message import Message
from phoenix_fast.push import LANE
from phoenix_fast.transports.base import NotAMessage

if TYPE_CHECKING:
    from phoenix_fast._bound_loop import BoundLoop
    from phoenix_fast._connection import Connection
    from phoenix_fast.channel import Channel
    from phoenix_fast.protocol.connection import ConnectionMachine
    from phoenix_fast.transports.base import Transport

__all__ = ["Router"]

_INTERNAL = CHANNEL_INTERNAL_EVENTS
_REPLY = EVENT_REPLY
_OPEN = SocketState.OPEN


class Router:
    """Where the messages of a socket's connections go.

    Args:
        log: the socket's log.
        callbacks: the socket's callbacks (``on_message``) and callback runner.
        machine: the connection machine, read for the ref of the heartbeat in flight.
        on_ref: called with ``(conn, ref)`` for a message that may answer a heartbeat or a
            ``ping()``.
        pending: the socket's pending pushes (a reply finds its push there).
        loop: the socket's loop (to resume reading on the next iteration).
    """

    __slots__ = (
        "_callbacks",
        "_log",
        "_loop",
        "_machine",
        "_on_ref",
        "_pending",
        "messages_in",
        "topics",
        "yielded",
    )

    def __init__(
        self,
        log: SocketLog,
        callbacks: Callbacks,
        machine: ConnectionMachine,
        on_ref: Callable[[Connection, str], None],
        pending: _native.Pending,
        loop: BoundLoop,
    ) -> None:
        self._log = log
        self._callbacks = callbacks
        self._machine = machine
        self._on_ref = on_ref
        self._pending = pending
        self._loop = loop
        #: topic -> channels on it (lists are replaced, never mutated: copy on write)
        self.topics: dict[str, list[Channel]] = {}
        #: Messages received, counted per read (``stats()``).
        self.messages_in = 0
        #: The transport whose reading is paused until the next loop iteration, if any.
        self.yielded: Transport | None = None

    # -- the channels ------------------------------------------------------------------------

    def add(self, channel: Channel) -> None:
        self.topics[channel.topic] = [*self.topics.get(channel.topic, ()), channel]

    def remove(self, channel: Channel) -> None:
        channels = [c for c in self.topics.get(channel.topic, ()) if c is not channel]
        if channels:
            self.topics[channel.topic] = channels
        else:
            self.topics.pop(channel.topic, None)

    def channels(self) -> list[Channel]:
        """Every channel, in the order their topics first came."""
        return [channel for channels in self.topics.values() for channel in channels]

    def __len__(self) -> int:
        return sum(len(on_topic) for on_topic in self.topics.values())

    def leave_open_topic(self, topic: str, joining: Channel) -> None:
        """Leaves another channel joined (or joining) on ``topic``: a topic is joined once
        per socket, as in JS."""
        for channel in self.topics.get(topic, ()):
            if channel is not joining and channel.state in ("joined", "joining"):
                if self._log.enabled:
                    self._log("transport", f'leaving duplicate topic "{topic}"')
                channel.leave()
                return

    # -- routing -----------------------------------------------------------------------------

    def route(self, conn: Connection, items: list[Any]) -> None:  # noqa: C901
        """Routes the messages of one network read of ``conn`` (the hot path: locals, no
        per-message method lookups)."""
        transport = conn.transport
        if not conn.current or transport is None:
            return
        topics = self.topics
        log = self._log
        tracing = log.enabled  # read once per read, not per message
        machine = self._machine
        callbacks = self._callbacks
        message_callbacks = callbacks.message
        pending = self._pending
        settle = LANE.settle
        self.messages_in += len(items)
        if transport.ready_state is _OPEN and not (tracing or message_callbacks or conn.pings):
            # The replies at the head of the read that need nothing but their push settled
            # (every reply of S4) go through one native call instead of this loop; the rest
            # of the read, if any, through the loop below (callgrind, S4: 29,018 -> 25,665
            # instructions and 296 -> 190 bytecodes a round trip; 3.86 -> 3.61 µs of CPU a
            # push in 20 interleaved rounds, before the lane kept its verdict on a channel).
            start, error = LANE.settle_replies(items, topics, pending, machine.heartbeat_ref)
            if error is not None:
                _, _, topic, event, _ = items[start - 1]
                log.error("channel", f"dispatching {topic} {event} failed", error)
            if start:
                if start == len(items):
                    return
                items = items[start:]
        for message in items:
            # messages behind a close (ours, or a replacement) are dropped, as browsers do
            if transport.ready_state is not _OPEN or not conn.current:
                return
            # The native decoders give exact tuples, a custom decoder Messages (its transport
            # checks that: transports.base.decode_frame), and a frame that could not be
            # decoded is an exception, which does not unpack. No type test per message
            # (callgrind, a plain event: -181 instructions a message).
            try:
                join_ref, ref, topic, event, payload = message
            except (TypeError, ValueError):
                self._bad_message(message)
                continue
            if ref is not None and (ref == machine.heartbeat_ref or conn.pings):
                self._on_ref(conn, ref)
            if tracing:
                log("receive", f"{topic} {event} ({join_ref}, {ref})")
            channels = topics.get(topic)
            if channels is not None:
                for channel in channels:
                    # an empty join_ref counts as none, as in JS
                    if join_ref and join_ref != channel._join_push.ref:
                        self._outdated(message)
                        continue
                    if channel._hooked or event in _INTERNAL:
                        try:
                            if (
                                event == _REPLY
                                and ref is not None
                                and type(payload) is dict
                                and not channel._hooked
                            ):
                                # a reply, the other half of every awaited push: what
                                # channel._trigger and _internal do, written out (two calls
                                # fewer per reply), the push settled by the native lane
                                # (with the lane's send_new, callgrind, S4: 32,791 -> 29,596
                                # instructions a round trip)
                                settled = settle(pending, ref, payload, channel)
                                if (
                                    settled is not None
                                    and channel.socket._push_observer is not None
                                ):
                                    channel.socket._observe_push(*settled)
                                bindings = channel._bindings.get(event)
                                if bindings:
                                    callbacks.run_bindings(
                                        bindings, payload, ref, join_ref or channel._join_push.ref
                                    )
                            else:
                                channel._trigger(event, payload, ref, join_ref)
                        except Exception as exc:
                            log.error("channel", f"dispatching {topic} {event} failed", exc)
                        continue
                    # a plain message to an unhooked channel: Callbacks.run_bindings written
                    # out, and for the usual one binding taking the payload alone, no look at
                    # the binding at all (callgrind, a plain event to one callback: 3,926 -> 3,356
                    # instructions a message)
                    solo = channel._solo.get(event)
                    if solo is not None:
                        try:
                            result = solo(payload)
                        except Exception as exc:
                            callbacks.failed(solo, exc)
                            continue
                        if result is not None:
                            callbacks.returned(result)
                        continue
                    bindings = channel._bindings.get(event)
                    if bindings:
                        for binding in bindings:
                            callback = binding.callback
                            try:
                                nargs = binding.nargs
                                if nargs == 1:
                                    result = callback(payload)
                                elif nargs == 3:
                                    # a stream's binding: no tuple sliced and spread
                                    result = callback(
                                        payload, ref, join_ref or channel._join_push.ref
                                    )
                                else:
                                    args = (payload, ref, join_ref or channel._join_push.ref)
                                    result = callback(*args[:nargs])
                            except Exception as exc:
                                callbacks.failed(callback, exc)
                                continue
                            if result is not None:
                                callbacks.returned(result)
            if message_callbacks:
                self._run_message_callbacks(message_callbacks, message)

    def safe_trigger(self, channel: Channel, event: str, payload: Any) -> None:
        """Triggers ``event`` on ``channel``, logging what it raises."""
        try:
            channel._trigger(event, payload)
        except Exception as exc:
            self._log.error("channel", f"{channel.topic} {event} failed", exc)

    def _outdated(self, message: tuple[Any, ...]) -> None:
        if self._log.enabled:
            join_ref, _, topic, event, _ = message
            self._log("channel", f"dropping outdated {topic} {event} ({join_ref})")

    def _run_message_callbacks(self, registered: Registered, message: tuple[Any, ...]) -> None:
        if type(message) is not Message:
            message = Message(*message)
        self._callbacks.run_all(registered, message)

    def _bad_message(self, item: Any) -> None:
        if isinstance(item, NotAMessage):
            item = item.value
        if isinstance(item, Exception):
            self._log.error("receive", f"dropping a frame that cannot be decoded: {item}", item)
        else:
            self._log.error("receive", f"dropping a frame decoded as {type(item).__name__}")

    # -- letting stream readers run ----------------------------------------------------------

    def yield_reading(self, conn: Connection | None) -> None:
        """Pauses reading ``conn`` until the next loop iteration, so that stream readers run
        first.

        A stream queues what a read delivers, and its reader only runs between loop
        iterations; but libuv (uvloop) reads up to 32 buffers, megabytes, in one iteration,
        which overflowed streams that kept up on average. ``ChannelStream`` calls this as it
        queues (a flag check when already yielded).
        """
        if self.yielded is not None:
            return
        transport = conn.transport if conn is not None else None
        if transport is None:
            return
        self.yielded = transport
        transport.pause_reading()
        self._loop.get().call_soon(self._resume_reading)

    def _resume_reading(self) -> None:
        transport, self.yielded = self.yielded, None
        if transport is not None:
            transport.resume_reading()
