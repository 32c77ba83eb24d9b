"""The per-message half of ``Socket``: refs and push timeouts, sending, routing, callbacks.

Pending pushes live in the native ``Pending`` table (ref -> push, plus a timing wheel for
their deadlines) driven by ONE loop timer armed at the earliest deadline: no asyncio timer
per push. Incoming messages are routed through a dict keyed by topic, then filtered by
``join_ref``, never by scanning every channel.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from phoenix_fast import _native
from phoenix_fast._constants import CHANNEL_INTERNAL_EVENTS, EVENT_JOIN, EVENT_LEAVE
from phoenix_fast._logging import SocketLog
from phoenix_fast._observe import Observer
from phoenix_fast._states import ChannelState, SocketState
from phoenix_fast.errors import BufferFull, InvalidState
from phoenix_fast.message import Message

if TYPE_CHECKING:
    from phoenix_fast._connection import Connection
    from phoenix_fast.channel import Channel, _Binding
    from phoenix_fast.protocol.connection import ConnectionMachine
    from phoenix_fast.push import Push
    from phoenix_fast.transports.base import Transport

__all__ = ["Dispatcher"]

_CLOSED, _JOINED = ChannelState.CLOSED, ChannelState.JOINED
_INTERNAL = CHANNEL_INTERNAL_EVENTS
_OPEN = SocketState.OPEN
#: Pushes that backpressure never refuses: the channel's own life depends on them.
_CONTROL = frozenset((EVENT_JOIN, EVENT_LEAVE))


class Dispatcher:
    """Base of ``Socket`` holding the hot paths (see the module docstring).

    Args:
        log: the socket's log.
        machine: the socket's connection machine: the receive loop recognises its heartbeat
            replies, and the one loop timer also serves its deadlines.
        on_deadline: called with the time when the machine's deadline has come (its
            ``tick``), from the loop timer.
        observer: see ``phoenix_fast._observe``.
    """

    def __init__(
        self,
        log: SocketLog,
        machine: ConnectionMachine,
        on_deadline: Callable[[float], None],
        observer: Observer | None = None,
    ) -> None:
        self._log = log
        #: Called on connects, closes, joins, rejoins and push outcomes (None: nothing is).
        self.observer = observer
        self._machine = machine
        self._on_deadline = on_deadline
        self._conn: Connection | None = None
        #: topic -> channels on it (lists are replaced, never mutated: copy on write)
        self._topics: dict[str, list[Channel]] = {}
        self._callbacks: dict[str, list[tuple[str, Callable[..., object]]]] = {
            "open": [],
            "close": [],
            "error": [],
            "message": [],
        }
        self._pending = _native.Pending(0.001)
        #: The one loop timer, armed at the earliest deadline of the pending pushes and of
        #: the connection machine.
        self._wheel: asyncio.TimerHandle | None = None
        self._wheel_at: float | None = None
        #: (message, channel, push) waiting for the connection to open
        self._send_buffer: list[tuple[Message, Channel | None, Push | None]] = []
        self._tasks: set[asyncio.Future[Any]] = set()
        self._loop_obj: asyncio.AbstractEventLoop | None = None
        #: the thread running ``_loop_obj``: the only one that may call into the socket
        self._owner_thread: int | None = None
        #: the transport whose reading is paused until the next loop iteration, if any
        self._yielded: Transport | None = None
        #: Messages received, counted per read (``stats()``).
        self._messages_in = 0
        #: What the transports of earlier connections counted: bytes in, bytes out, frames
        #: out (``stats()``).
        self._counted = [0, 0, 0]

    def _set_conn(self, conn: Connection | None) -> None:
        """Makes ``conn`` the current connection, counting what the previous one carried."""
        previous = self._conn
        if previous is not None and previous.transport is not None:
            counted = self._counted
            transport = previous.transport
            counted[0] += transport.bytes_in
            counted[1] += transport.bytes_out
            counted[2] += transport.frames_out
        self._conn = conn
        self._yielded = None  # a pause of an earlier transport is not this one's

    def is_connected(self) -> bool:
        """Whether the connection is open."""
        conn = self._conn
        return conn is not None and conn.is_open()

    # -- the loop and its clock --------------------------------------------------------------

    def _loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop_obj
        if loop is None or loop.is_closed():
            loop = self._loop_obj = asyncio.get_running_loop()
            self._owner_thread = threading.get_ident()
        return loop

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        """The running loop, cheaply: the socket's when it is the one running (CPython 3.11's
        ``asyncio.get_running_loop`` makes a ``getpid`` system call on every call)."""
        loop = self._loop_obj
        if loop is not None and loop.is_running():
            return loop
        return asyncio.get_running_loop()

    def _bind_loop(self) -> None:
        self._loop_obj = asyncio.get_running_loop()
        self._owner_thread = threading.get_ident()

    def _check_thread(self) -> None:
        """Raises if called from another thread than the one running the socket's loop.

        asyncio objects are not thread-safe: a push from another thread would corrupt the
        transport's buffers silently. One C call on the push path; the loop is only looked
        at when the threads differ.

        Raises:
            InvalidState: the socket's loop runs in another thread.
        """
        owner = self._owner_thread
        if owner is None or owner == threading.get_ident():
            return
        loop = self._loop_obj
        if loop is not None and loop.is_running():
            raise InvalidState(
                "the Socket was called from another thread than the one running its event "
                "loop; asyncio is not thread-safe: hand the call to the loop with "
                "asyncio.run_coroutine_threadsafe() or loop.call_soon_threadsafe(), or use "
                "phoenix_fast.sync, whose calls are thread-safe"
            )

    def _now(self) -> float:
        return self._loop().time()

    # -- refs and pending pushes --------------------------------------------------------------

    def make_ref(self) -> str:
        """The next ref of this socket: "1", "2", ... (wrapping to "0"), as the JS client."""
        return self._pending.make_ref()

    def _track(self, push: Push, now: float) -> str:
        """Gives ``push`` a new ref and registers it, timing out ``push.timeout`` after
        ``now``; forgets its previous ref. Returns the new ref."""
        pending = self._pending
        if push.ref is not None:
            pending.resolve(push.ref)
        deadline = push._deadline = now + push.timeout
        ref = push.ref = pending.add_next(push, deadline)
        if self._wheel_at is None or deadline < self._wheel_at:
            self._arm(deadline)
        return ref

    def _untrack(self, ref: str) -> bool:
        """Forgets the pending push ``ref``; False if it was not pending."""
        return self._pending.resolve(ref) is not None

    def _fail_in_flight(self, channel: Channel, error: BaseException) -> None:
        """Fails the awaiters of ``channel``'s pushes that went out and still wait for a
        reply, which can no longer come (its server process crashed or stopped).

        Their pending entries stay, so that ``receive("timeout")`` hooks still run at the
        deadline, as in JS; buffered pushes (not sent yet) are left alone. A scan of the
        pending table: this happens once per channel crash, never per message.
        """
        pending = self._pending
        join_push = channel._join_push
        for push in pending.drain():
            pending.add(push.ref, push, push._deadline)
            if push.channel is channel and push._conn is not None and push is not join_push:
                push._conn = None
                push._fail(error)

    def _arm(self, deadline: float) -> None:
        if self._wheel is not None:
            self._wheel.cancel()
        self._wheel_at = deadline
        self._wheel = self._loop().call_at(deadline, self._on_wheel)

    def _rearm(self) -> None:
        """Arms the timer for the connection machine's deadline if it comes first (after
        every machine input; a deadline that moved later only makes the timer fire early
        once, for nothing)."""
        deadline = self._machine.next_deadline()
        if deadline is not None and (self._wheel_at is None or deadline < self._wheel_at):
            self._arm(deadline)

    def _on_wheel(self) -> None:
        # asyncio may run a timer up to its clock resolution early: it fired, so it is time
        now = max(self._loop().time(), self._wheel_at or 0.0)
        self._wheel = self._wheel_at = None
        for push in self._pending.expire(now):
            try:
                push._resolve("timeout", {})
                if self.observer is not None:
                    self._observe_push(push, "timeout")
            except Exception as exc:  # noqa: PERF203 - one failure must not stop the others
                self._log.error("push", "a timeout failed", exc)
        machine = self._machine
        due = machine.next_deadline()
        if due is not None and due <= now:
            try:
                self._on_deadline(now)
            except Exception as exc:  # a bug: logged, and the timer keeps running
                self._log.error("transport", "carrying out the connection's next step failed", exc)
            due = machine.next_deadline()
        deadline = self._pending.next_deadline()
        if due is not None and (deadline is None or due < deadline):
            deadline = due
        if deadline is not None and (self._wheel_at is None or deadline < self._wheel_at):
            self._arm(deadline)

    def _observe(self, event: str, data: dict[str, Any]) -> None:
        """Tells the observer (the callers test ``self.observer`` first: no dict otherwise)."""
        observer = self.observer
        if observer is None:
            return
        try:
            observer(event, data)
        except Exception as exc:
            self._log.error("callback", f"the observer raised {exc!r}", exc)

    def _observe_push(self, push: Any, status: str) -> None:
        sent_at = push._deadline - push.timeout
        self._observe(
            "push",
            {
                "topic": push.channel.topic,
                "event": push.event,
                "status": status,
                "seconds": max(0.0, self._now() - sent_at),
            },
        )

    # -- sending -----------------------------------------------------------------------------

    def _send_new_push(self, push: Push) -> bool:
        """Sends a joined channel's new push over the open connection: the path of every
        ``channel.push``, written out here. False (and nothing done) when the connection
        is not open; the channel then buffers the push."""
        conn = self._conn
        if conn is None:
            return False
        transport = conn.transport
        if transport is None or transport.ready_state is not _OPEN:
            return False
        if transport.write_blocked:
            raise _buffer_full(transport)
        if self._log.enabled:
            self._send_push(push)
            return True
        # an open connection was opened on this loop: no need for _now()'s checks
        ref = self._track(push, self._loop_obj.time())  # type: ignore[union-attr]
        push.sent = True
        channel = push.channel
        payload = push._payload
        try:
            transport.send_fields(
                channel._join_push.ref,
                ref,
                channel.topic,
                push.event,
                payload() if callable(payload) else payload,
            )
        except Exception:
            self._pending.resolve(ref)
            raise
        push._conn = conn
        return True

    def _send_push(self, push: Push) -> None:
        """Sends a channel's push with a fresh ref and starts its timeout (``Push.send``):
        a new ref, the push in the pending table with its deadline, the frame out (or
        buffered while disconnected).

        Raises:
            BufferFull: the connection holds ``max_buffer`` bytes already (never for a join
                or a leave).
            EncodeError: the payload cannot be encoded.
        """
        conn = self._conn
        transport = conn.transport if conn is not None else None
        if transport is not None and transport.write_blocked and push.event not in _CONTROL:
            raise _buffer_full(transport)
        ref = self._track(push, self._now())
        push.sent = True
        channel = push.channel
        payload = push._payload
        try:
            if callable(payload):
                payload = payload()
            message = Message(channel._join_push.ref, ref, channel.topic, push.event, payload)
            self._push(message, channel, push)
        except Exception:
            self._pending.resolve(ref)
            raise

    def _push(
        self, message: Message, channel: Channel | None = None, push: Push | None = None
    ) -> None:
        """Sends now if connected, else buffers until the connection opens."""
        if self._log.enabled:
            self._log(
                "push", f"{message.topic} {message.event} ({message.join_ref}, {message.ref})"
            )
        conn = self._conn
        if conn is not None:
            transport = conn.transport
            if transport is not None and transport.ready_state is _OPEN:
                self._send(conn, message, channel, push)
                return
        self._send_buffer.append((message, channel, push))

    def _send(
        self, conn: Connection, message: Message, channel: Channel | None, push: Push | None
    ) -> None:
        assert conn.transport is not None
        if channel is not None:
            if message.event == EVENT_JOIN:
                channel._join_sent = (conn, message.join_ref)
            # a leave must still reach the server after its channel closed locally
            if message.event != EVENT_LEAVE and _outdated(message, channel):
                return
        conn.transport.send(message)
        if push is not None:
            push._conn = conn

    def _flush_send_buffer(self) -> None:
        conn = self._conn
        if conn is None or not conn.is_open() or not self._send_buffer:
            return
        buffer, self._send_buffer = self._send_buffer, []
        for message, channel, push in buffer:
            # stale frames are dropped here, leaves too (as JS: its exemption for leaves is
            # only in _send, for a channel that closed while the socket was connected)
            if channel is not None and _outdated(message, channel):
                if self._log.enabled:
                    self._log("push", f"dropping stale {message.topic} {message.event}")
                continue
            try:
                self._send(conn, message, channel, push)
            except Exception as exc:
                self._log.error("push", f"cannot send {message.topic} {message.event}", exc)
                if push is not None:
                    push._fail(exc)

    # -- receiving ---------------------------------------------------------------------------

    def _on_conn_messages(self, conn: Connection, items: list[Any]) -> None:  # noqa: C901
        """Routes the messages of one network read (the hot path: locals, no per-message
        method lookups; a message reaches the channels of its topic by one dict lookup, and
        a plain event the bindings of an unhooked channel without a call in between)."""
        transport = conn.transport
        if conn is not self._conn or transport is None:
            return
        topics = self._topics
        log = self._log
        machine = self._machine
        message_callbacks = self._callbacks["message"]
        self._messages_in += len(items)
        for message in items:
            # messages behind a close (ours, or a replacement) are dropped, as browsers do
            if transport.ready_state is not _OPEN or conn is not self._conn:
                return
            # the native decoders give exact tuples (they unpack fastest); a custom decoder
            # gives Messages; anything else is a frame that could not be decoded
            if type(message) is not tuple and not isinstance(message, tuple):
                self._bad_message(message)
                continue
            join_ref, ref, topic, event, payload = message
            if ref is not None and (ref == machine.heartbeat_ref or conn.pings):
                self._on_ref(conn, ref)
            if log.enabled:
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
                            channel._trigger(event, payload, ref, join_ref)
                        except Exception as exc:
                            log.error("channel", f"dispatching {topic} {event} failed", exc)
                        continue
                    # a plain message to an unhooked channel: _run_bindings written out
                    bindings = channel._bindings.get(event)
                    if bindings:
                        for binding in bindings:
                            callback = binding.callback
                            try:
                                if binding.nargs == 1:
                                    result = callback(payload)
                                else:
                                    args = (payload, ref, join_ref or channel._join_push.ref)
                                    result = callback(*args[: binding.nargs])
                            except Exception as exc:
                                self._callback_failed(callback, exc)
                                continue
                            if result is not None:
                                self._after_callback(callback, result)
            if message_callbacks:
                self._run_message_callbacks(message_callbacks, message)

    def _outdated(self, message: tuple[Any, ...]) -> None:
        if self._log.enabled:
            join_ref, _, topic, event, _ = message
            self._log("channel", f"dropping outdated {topic} {event} ({join_ref})")

    def _run_message_callbacks(
        self, callbacks: list[tuple[str, Callable[..., object]]], message: tuple[Any, ...]
    ) -> None:
        if type(message) is not Message:
            message = Message(*message)
        for _, callback in callbacks:
            self._run_callback(callback, message)

    def _on_ref(self, conn: Connection, ref: str) -> None:
        """A message with a ref: a heartbeat reply, or the answer to a ``ping()``."""
        if self._machine.heartbeat_answered(ref, self._now()):
            self._rearm()
        if conn.pings:
            ping = conn.pings.pop(ref, None)
            if ping is not None:
                ping[1].set_result(self._now() - ping[0])

    def _route(self, conn: Connection, message: Message) -> None:
        """Routes one message (the socket's own frames use this; reads use the batch path)."""
        self._on_conn_messages(conn, [message])

    def _bad_message(self, item: Any) -> None:
        if isinstance(item, Exception):
            self._log.error("receive", f"dropping a frame that cannot be decoded: {item}", item)
        else:
            self._log.error("receive", f"dropping a frame decoded as {type(item).__name__}")

    def _safe_trigger(self, channel: Channel, event: str, payload: Any) -> None:
        try:
            channel._trigger(event, payload)
        except Exception as exc:
            self._log.error("channel", f"{channel.topic} {event} failed", exc)

    def _yield_reading(self) -> None:
        """Pauses reading until the next loop iteration, so that stream readers run first.

        A stream queues what a read delivers, and its reader only runs between loop
        iterations; but libuv (uvloop) reads up to 32 buffers, megabytes, in one iteration,
        which overflowed streams that kept up on average. ``ChannelStream`` calls this as it
        queues (a flag check when already yielded).
        """
        if self._yielded is not None:
            return
        conn = self._conn
        transport = conn.transport if conn is not None else None
        if transport is None:
            return
        self._yielded = transport
        transport.pause_reading()
        self._loop().call_soon(self._resume_reading)

    def _resume_reading(self) -> None:
        transport, self._yielded = self._yielded, None
        if transport is not None:
            transport.resume_reading()

    # -- channels ----------------------------------------------------------------------------

    @property
    def channels(self) -> list[Channel]:
        """The socket's channels (joined or not; a channel leaves the list when it closes)."""
        return [channel for channels in self._topics.values() for channel in channels]

    def _remove(self, channel: Channel) -> None:
        channels = [c for c in self._topics.get(channel.topic, ()) if c is not channel]
        if channels:
            self._topics[channel.topic] = channels
        else:
            self._topics.pop(channel.topic, None)

    def _leave_open_topic(self, topic: str, joining: Channel) -> None:
        for channel in self._topics.get(topic, ()):
            if channel is not joining and channel.state in ("joined", "joining"):
                if self._log.enabled:
                    self._log("transport", f'leaving duplicate topic "{topic}"')
                channel.leave()
                return

    # -- user callbacks ----------------------------------------------------------------------

    def _run_callback(self, callback: Callable[..., object], *args: Any) -> None:
        """Calls a user callback: exceptions are logged, awaitables run as tasks."""
        try:
            result = callback(*args)
        except Exception as exc:
            self._callback_failed(callback, exc)
            return
        if result is not None:
            self._after_callback(callback, result)

    def _callback_failed(self, callback: Callable[..., object], exc: Exception) -> None:
        self._log.error("callback", f"{_name(callback)} raised {exc!r}", exc)

    def _after_callback(self, callback: Callable[..., object], result: object) -> None:
        """A callback returned something: an awaitable runs as a task, anything else is ignored."""
        if inspect.isawaitable(result):
            self._start_task(result)

    def _run_bindings(
        self, bindings: list[_Binding], payload: Any, ref: str | None, join_ref: str | None
    ) -> None:
        """Calls a channel's bindings of one event, each with as many of (payload, ref,
        join_ref) as it takes; a raising one is logged and the rest still run."""
        for binding in bindings:
            callback = binding.callback
            try:
                if binding.nargs == 1:
                    result = callback(payload)
                else:
                    result = callback(*(payload, ref, join_ref)[: binding.nargs])
            except Exception as exc:
                self._callback_failed(callback, exc)
                continue
            if result is not None:
                self._after_callback(callback, result)

    def _start_task(self, awaitable: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(awaitable)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self._log.error("callback", f"an async callback raised {exc!r}", exc)


def _buffer_full(transport: Transport) -> BufferFull:
    return BufferFull(
        f"the socket holds {transport.buffered_amount} bytes the server has not read "
        "(max_buffer): await socket.drain() or push more slowly"
    )


def _outdated(message: Message, channel: Channel) -> bool:
    """Whether the message was made for an earlier join of its channel, or it closed since."""
    return message.join_ref != channel._join_push.ref or channel._state is _CLOSED


def _name(callback: Callable[..., object]) -> str:
    return getattr(callback, "__qualname__", None) or repr(callback)
