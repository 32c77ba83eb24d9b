"""``Channel``: one topic joined over a socket, with the JS client's state machine."""

from __future__ import annotations

from collections.abc import Callable
from threading import get_ident
from typing import TYPE_CHECKING, Any, Literal

from phoenix_fast._arity import check_callback, positional_arity
from phoenix_fast._constants import (
    CHANNEL_INTERNAL_EVENTS,
    EVENT_CLOSE,
    EVENT_ERROR,
    EVENT_JOIN,
    EVENT_LEAVE,
    EVENT_REPLY,
)
from phoenix_fast._handlers import BatchHandler, BoundedHandler
from phoenix_fast._states import ChannelState
from phoenix_fast._stream import ChannelStream
from phoenix_fast._types import BindingCallback, JoinParams, Payload
from phoenix_fast.errors import (
    ChannelClosed,
    ChannelCrashed,
    ConnectionClosed,
    InvalidState,
    JoinError,
)
from phoenix_fast.message import Message
from phoenix_fast.protocol import channel as machine
from phoenix_fast.protocol.channel import ChannelStep, Do
from phoenix_fast.push import LANE, Push
from phoenix_fast.timer import Timer

if TYPE_CHECKING:
    from phoenix_fast.socket import Socket

__all__ = ["Channel"]

#: ``on_message(event, payload, ref) -> payload``.
MessageHook = Callable[[str, Payload, "str | None"], Payload]
_INTERNAL = CHANNEL_INTERNAL_EVENTS
_JOINED, _JOINING, _LEAVING = ChannelState.JOINED, ChannelState.JOINING, ChannelState.LEAVING
_CLOSED = ChannelState.CLOSED
# The channel machine's actions as module constants, for ``_apply``'s comparisons: on Python
# 3.11 ``Do.X`` goes through EnumType's __getattr__ hook (75 ns against 18 for a constant).
(_LEAVE_DUPLICATE, _SEND_JOIN, _SEND_LEAVE, _RESET_REJOIN, _SCHEDULE_REJOIN) = (
    Do.LEAVE_DUPLICATE,
    Do.SEND_JOIN,
    Do.SEND_LEAVE,
    Do.RESET_REJOIN,
    Do.SCHEDULE_REJOIN,
)
(_CANCEL_JOIN_TIMEOUT, _RESET_JOIN, _FAIL_JOIN, _FAIL_IN_FLIGHT, _FLUSH_BUFFER, _REMOVE) = (
    Do.CANCEL_JOIN_TIMEOUT,
    Do.RESET_JOIN,
    Do.FAIL_JOIN,
    Do.FAIL_IN_FLIGHT,
    Do.FLUSH_BUFFER,
    Do.REMOVE,
)


class _Binding:
    """One ``on(event, callback)``. A slots class rather than a NamedTuple: the receive loop
    reads ``nargs`` and ``callback`` per message, and slot reads are the interpreter's fast
    attribute path (named tuple fields are not)."""

    __slots__ = ("callback", "nargs", "ref")

    def __init__(self, ref: int, callback: BindingCallback, nargs: int) -> None:
        self.ref = ref
        self.callback = callback
        self.nargs = nargs


class Channel:
    """A channel on a topic; make one with ``socket.channel(topic, params)``.

    States, rejoin backoff, push buffering and ``join_ref`` filtering follow the JS client
    (phoenix 1.8.16). ``join()`` may be called once per instance; after ``leave()`` or a
    server ``phx_close``, make a new channel to join again.

    Args:
        topic: the topic, ``"room:lobby"`` say.
        params: the join payload: a mapping, or a callable read again on every (re)join.
        socket: the socket the channel belongs to.
    """

    def __init__(self, topic: str, params: JoinParams | None, socket: Socket) -> None:
        self.topic = topic
        #: The join params (a mapping or a callable); read at every (re)join.
        self.params: JoinParams = {} if params is None else params
        self.socket = socket
        #: The default timeout of this channel's pushes (``join(timeout)`` changes it).
        self.timeout: float = socket.timeout
        self._state = _CLOSED
        # the on_message hook is only called per message when someone overrode it
        self._hooked = type(self).on_message is not _HOOK_PROPERTY
        self._on_message: MessageHook = _pass_payload
        # the empty containers are shared until first written: thousands of channels
        self._bindings: dict[str, list[_Binding]] = _NO_BINDINGS
        #: event -> the callback of its one binding, when it has one taking the payload
        #: alone: the receive loop calls it without looking at the binding (the usual case)
        self._solo: dict[str, BindingCallback] = _NO_SOLO
        self._binding_ref = 0
        self._joined_once = False
        self._push_buffer: dict[Push, None] = _NO_PUSHES
        #: The connection that carried the last join, and that join's ref.
        self._join_sent: tuple[object, str | None] | None = None
        #: Whether a refused join is retried with backoff (as in JS); see ``join()``.
        self.retry_refused = True
        self._join_push = Push(
            self, EVENT_JOIN, self._join_params, self.timeout, error_cls=self._join_error
        )
        self._join_push._on_outcome = self._on_join_outcome
        self._rejoin_timer_obj: Timer | None = None

    # -- properties --------------------------------------------------------------------

    @property
    def state(self) -> ChannelState:
        """closed, errored, joined, joining or leaving."""
        return self._state

    @property
    def join_ref(self) -> str | None:
        """The ref of the current join (None before ``join()`` and after a failed join)."""
        return self._join_push.ref

    @property
    def join_push(self) -> Push:
        """The push that joins (and rejoins) the channel."""
        return self._join_push

    @property
    def joined_once(self) -> bool:
        """Whether ``join()`` was called."""
        return self._joined_once

    def can_push(self) -> bool:
        """Whether a push would go out now: the socket is connected and the channel joined."""
        return self._state is _JOINED and self.socket.is_connected()

    # -- join, leave, push -------------------------------------------------------------

    def join(self, timeout: float | None = None, *, retry_refused: bool = True) -> Push:
        """Joins the topic; returns the join push (awaitable: the server's ok response).

        Awaiting raises :class:`~phoenix_fast.errors.JoinError` (the server said error, with
        its reason), :class:`~phoenix_fast.errors.PushTimeout`, or
        :class:`~phoenix_fast.errors.ConnectionClosed` (the connection dropped first). The
        channel itself keeps rejoining with backoff whatever happened, as in JS: a refused
        join is tried again after 1, 2 and 5 s, then every 10 s, until ``leave()``.

        Args:
            timeout: seconds to wait for the reply; also becomes the channel's default.
            retry_refused: False makes a refusal final: the channel closes (and leaves
                ``socket.channels``) instead of retrying. Timeouts and crashes are still
                retried.

        Raises:
            InvalidState: ``join()`` was already called on this instance.
        """
        self.socket._loop.check_thread()
        if self._joined_once:
            raise InvalidState(
                f"tried to join {self.topic!r} twice: join() can only be called once per "
                "channel instance; make a new one with socket.channel()"
            )
        if timeout is not None:
            self.timeout = timeout
        self.retry_refused = retry_refused
        self._joined_once = True
        self._apply(machine.rejoin(self._state))
        return self._join_push

    def leave(self, timeout: float | None = None) -> Push:
        """Leaves the topic; the channel closes on the server's ok or on timeout.

        If the channel cannot push (socket down or not joined), it closes at once.

        Returns:
            The leave push (awaitable).
        """
        self.socket._loop.check_thread()
        leave_push = self._apply(machine.leave(self._state), leave_timeout=timeout)
        assert leave_push is not None
        if not self.can_push():
            leave_push._trigger("ok", {})
        return leave_push

    def push(self, event: str, payload: Payload = None, timeout: float | None = None) -> Push:
        """Pushes ``event`` with ``payload`` (``bytes`` for a binary frame; ``{}`` if None).

        Before the channel is joined (or while the socket is down) the push waits in a
        buffer and goes out once joined, unless its timeout fired first.

        Raises:
            InvalidState: ``join()`` was never called.
            EncodeError: the payload cannot be encoded.
            BufferFull: the socket already holds ``max_buffer`` bytes the server has not
                read; nothing was sent (``await socket.drain()`` waits for room).
        """
        if not self._joined_once:
            raise InvalidState(
                f"tried to push {event!r} to {self.topic!r} before joining: call join() first"
            )
        socket = self.socket
        if socket._loop.thread != get_ident():  # BoundLoop.check_thread's test, in place
            socket._loop.check_thread()
        if payload is None:
            payload = {}
        if timeout is None:
            timeout = self.timeout
        if self._state is _JOINED:
            sent = socket._sender.send_new(self, event, payload, timeout)
            if sent is not None:
                return sent
        push = Push(self, event, payload, timeout)
        push._start_timeout()
        if self._push_buffer is _NO_PUSHES:
            self._push_buffer = {}
        self._push_buffer[push] = None
        return push

    # -- bindings ----------------------------------------------------------------------

    def on(
        self,
        event: str,
        callback: BindingCallback,
        *,
        max_concurrency: int | None = None,
        maxsize: int = 10_000,
        overflow: Literal["drop_oldest", "drop_newest"] = "drop_oldest",
    ) -> int:
        """Calls ``callback(payload[, ref[, join_ref]])`` for every ``event`` message.

        The callback gets as many of those as it has required positional parameters (read
        once, now; ``*args`` gets all three). A callback may be
        a coroutine function: it then runs as a task. Exceptions are logged, not raised.

        A coroutine callback makes one task per message, without bound. With
        ``max_concurrency=N`` at most N run at once; later messages wait in a queue of
        ``maxsize``, past which ``overflow`` drops the oldest or the newest (logged once).

        Returns:
            A ref for ``off(event, ref)``.

        Raises:
            TypeError: ``callback`` is not callable, or requires more than three arguments.
        """
        check_callback(callback, 3, f"the callback of {event!r}")
        if max_concurrency is not None:
            callback = BoundedHandler(self, callback, max_concurrency, maxsize, overflow)
        ref = self._binding_ref
        self._binding_ref += 1
        binding = _Binding(ref, callback, positional_arity(callback, 3))
        # copy on write: a dispatch in progress keeps iterating the list it started with
        if self._bindings is _NO_BINDINGS:
            self._bindings = {}
        self._bindings[event] = [*self._bindings.get(event, ()), binding]
        self._refresh_solo(event)
        return ref

    def on_batch(self, event: str, handler: Callable[[list[Message]], object]) -> int:
        """Calls ``handler(messages)`` with the ``event`` messages of one network read at
        once (a list of :class:`~phoenix_fast.Message`), for handlers that work better on
        batches (a bulk insert, say). It runs once the read is routed; a coroutine handler
        runs as a task.

        Returns:
            A ref for ``off(event, ref)``.
        """
        check_callback(handler, 1, f"the batch handler of {event!r}")
        return self.on(event, BatchHandler(self, event, handler))

    def off(self, event: str, ref: int | None = None) -> None:
        """Removes the binding ``ref`` of ``event``, or all its bindings if ``ref`` is None."""
        kept = [b for b in self._bindings.get(event, ()) if ref is not None and b.ref != ref]
        if kept:
            self._bindings[event] = kept
        else:
            self._bindings.pop(event, None)
        self._refresh_solo(event)

    def _refresh_solo(self, event: str) -> None:
        bindings = self._bindings.get(event, ())
        if len(bindings) == 1 and bindings[0].nargs == 1:
            if self._solo is _NO_SOLO:
                self._solo = {}
            self._solo[event] = bindings[0].callback
        elif event in self._solo:
            del self._solo[event]

    def on_close(self, callback: BindingCallback) -> int:
        """Calls ``callback(payload)`` when the channel closes; returns a ref for ``off``."""
        return self.on(EVENT_CLOSE, callback)

    def on_error(self, callback: BindingCallback) -> int:
        """Calls ``callback(reason)`` when the channel errors; returns a ref for ``off``."""
        return self.on(EVENT_ERROR, callback)

    @property
    def on_message(self) -> MessageHook:
        """Overridable hook ``on_message(event, payload, ref)``: sees every message before
        the bindings and returns the payload.

        Override it (define ``on_message`` in a subclass, or assign a function to the
        instance) to transform payloads; it must return the payload, modified or not. Left
        alone, it costs nothing per message.
        """
        return self._on_message

    @on_message.setter
    def on_message(self, hook: MessageHook) -> None:
        self._on_message = hook
        self._hooked = True

    def stream(
        self,
        event: str,
        *,
        maxsize: int = 10_000,
        overflow: Literal["drop_oldest", "drop_newest", "error"] = "drop_oldest",
    ) -> ChannelStream:
        """An async iterator over the ``event`` messages, ending when the channel closes.

        Messages are queued from now on, up to ``maxsize``; when the queue is full,
        ``overflow`` says what happens: ``"drop_oldest"`` or ``"drop_newest"`` discard a
        message (counted in ``stream.dropped``), ``"error"`` makes the iteration raise
        :class:`~phoenix_fast.errors.StreamOverflow`. Use it as ``async for message in
        channel.stream("new_msg"): ...``; ``stream.close()`` (or leaving ``async with``)
        unbinds it.

        While a stream holds messages, the socket reads the network once per loop
        iteration, so the reader runs between reads. One read can still carry a few
        thousand small messages (256 KiB on uvloop): keep ``maxsize`` well above that
        for a reader that keeps up on average to lose nothing in a burst.
        """
        return ChannelStream(self, event, maxsize, overflow)

    # -- internal: dispatch ------------------------------------------------------------

    def _join_params(self) -> Any:
        params = self.params
        return params() if callable(params) else params

    def _trigger(
        self, event: str, payload: Any, ref: str | None = None, join_ref: str | None = None
    ) -> None:
        if self._hooked:
            handled = self.on_message(event, payload, ref)
            if handled is None and payload is not None:
                raise InvalidState("channel on_message hooks must return the payload")
            payload = handled
        if event in _INTERNAL:
            self._internal(event, payload, ref)
        bindings = self._bindings.get(event)
        if bindings:
            join_ref = join_ref or self._join_push.ref
            self.socket._callbacks.run_bindings(bindings, payload, ref, join_ref)

    def _internal(self, event: str, payload: Any, ref: str | None) -> None:
        if event == EVENT_REPLY:
            if ref is not None and isinstance(payload, dict):
                # a reply to another channel's push stays pending: not ours to take
                socket = self.socket
                settled = LANE.settle(socket._deadlines.pending, ref, payload, self)
                if settled is not None and socket._push_observer is not None:
                    socket._observe_push(*settled)
        elif event == EVENT_CLOSE:
            self._on_closed()
        else:
            self._on_errored(payload)

    # -- internal: state machine -------------------------------------------------------
    # The decisions are the channel machine's (phoenix_fast.protocol.channel); these methods
    # feed it what happened and carry out its actions.

    def _apply(
        self,
        step: ChannelStep,
        error: BaseException | None = None,
        leave_timeout: float | None = None,
    ) -> Push | None:
        """Moves to the step's state and carries out its actions in order; returns the
        leave push if one was sent. ``error`` fails the join or the pushes in flight."""
        self._state = step.state
        sent: Push | None = None
        socket = self.socket
        for do in step.actions:
            if do is _LEAVE_DUPLICATE:
                socket._router.leave_open_topic(self.topic, self)
            elif do is _SEND_JOIN:
                self._join_push.resend(self.timeout)
            elif do is _SEND_LEAVE:
                sent = self._send_leave(step.state is _LEAVING, leave_timeout)
            elif do is _RESET_REJOIN:
                self._reset_rejoin()
            elif do is _SCHEDULE_REJOIN:
                self._rejoin_timer.schedule_timeout()
            elif do is _CANCEL_JOIN_TIMEOUT:
                self._join_push._cancel_timeout()
            elif do is _RESET_JOIN:
                self._join_push._reset()
            elif do is _FAIL_JOIN:
                assert error is not None
                self._join_push._fail(error)
            elif do is _FAIL_IN_FLIGHT:
                assert error is not None
                self._fail_in_flight(error)
            elif do is _FLUSH_BUFFER:
                self._flush_buffer()
            elif do is _REMOVE:
                socket._router.remove(self)
        return sent

    def _send_leave(self, closes: bool, timeout: float | None) -> Push:
        """Sends a leave; ``closes``: it is the user's, and closes the channel once done."""
        push = Push(self, EVENT_LEAVE, {}, self.timeout if timeout is None else timeout)
        if closes:
            push.receive("ok", self._on_left).receive("timeout", self._on_left)
        push.send()
        return push

    def _fail_in_flight(self, error: BaseException) -> None:
        """Fails the awaiters of this channel's pushes that went out and still wait for a
        reply, which can no longer come (its server process crashed or stopped); the join
        is the channel machine's to fail."""
        join_push = self._join_push
        self.socket._deadlines.fail_sent(
            lambda push: push.channel is self and push is not join_push, error
        )

    def _reset_rejoin(self) -> None:
        if self._rejoin_timer_obj is not None:
            self._rejoin_timer_obj.reset()

    def _rejoin_now(self) -> None:
        """The rejoin timer fired, or the socket reopened: an errored channel rejoins."""
        step = machine.rejoin_due(self._state, self.socket.is_connected())
        self._apply(step)
        if _SEND_JOIN in step.actions and self.socket.observer is not None:
            self.socket._observe("rejoin", {"topic": self.topic})

    @property
    def _rejoin_timer(self) -> Timer:
        """The rejoin backoff timer, made on first use (most channels never need it)."""
        timer = self._rejoin_timer_obj
        if timer is None:
            timer = self._rejoin_timer_obj = Timer(self._rejoin_now, self.socket._rejoin_after)
        return timer

    def _on_join_outcome(self, status: str, response: Any) -> None:
        """The join push resolved (before the user's ``receive`` hooks run, as in JS)."""
        socket = self.socket
        if status == "ok":
            self._apply(machine.join_ok(self._state))
            if socket.observer is not None:
                socket._observe("join", {"topic": self.topic, "join_ref": self.join_ref})
        elif status == "error":
            connected = socket.is_connected()
            self._apply(machine.join_refused(self._state, self.retry_refused, connected))
        elif status == "timeout":
            if socket._log.enabled:
                socket._log(
                    "channel", f"timeout {self.topic} ({self.join_ref})", self._join_push.timeout
                )
            self._apply(machine.join_timeout(self._state, socket.is_connected()))

    def _flush_buffer(self) -> None:
        buffered, self._push_buffer = self._push_buffer, _NO_PUSHES
        for push in buffered:
            try:
                push.send()
            except Exception as exc:  # noqa: PERF203 - one failure must not stop the others
                self.socket._log.error("channel", f"buffered push to {self.topic} failed", exc)
                push._fail(exc)

    def _join_error(self, where: str, status: str, response: Any) -> JoinError:
        """The error an awaited join raises; it says whether the channel retries."""
        error = JoinError(where, status, response)
        if self.retry_refused:
            error.args = (
                f"{error.args[0]}; the channel retries with backoff until leave() "
                "(join(retry_refused=False) makes a refusal final)",
            )
        return error

    def _on_left(self, _response: Any) -> None:
        if self.socket._log.enabled:
            self.socket._log("channel", f"leave {self.topic}")
        self._trigger(EVENT_CLOSE, "leave")

    def _on_closed(self) -> None:
        if self.socket._log.enabled:
            self.socket._log("channel", f"close {self.topic} {self.join_ref}")
        # a join still in flight can no longer succeed: unlike JS, its timeout stops, so that
        # a closed channel never comes back to life through the join-timeout rejoin
        closed = ChannelClosed(f"channel {self.topic} closed: no reply can come")
        self._apply(machine.closed(self._state), closed)

    def _on_errored(self, reason: Any) -> None:
        if self.socket._log.enabled:
            self.socket._log("channel", f"error {self.topic}", None)
        from_transport = _from_transport(reason)
        error: BaseException
        if self._state is _JOINING:
            error = _join_failure(self.topic, reason)
        else:
            # the server's channel process is gone: what it was asked cannot be answered
            error = ChannelCrashed(f"channel {self.topic} crashed on the server")
        self._apply(machine.errored(self._state, from_transport, self.socket.is_connected()), error)
        if self.socket.observer is not None:
            self.socket._observe(
                "channel_error", {"topic": self.topic, "from_transport": from_transport}
            )

    def _on_socket_open(self) -> None:
        step = machine.socket_opened(self._state)
        self._apply(step)
        if _SEND_JOIN in step.actions and self.socket.observer is not None:
            self.socket._observe("rejoin", {"topic": self.topic})

    def _on_socket_error(self) -> None:
        self._apply(machine.socket_errored(self._state))

    def _discard_buffered(self, push: Push) -> None:
        self._push_buffer.pop(push, None)

    def __repr__(self) -> str:
        return f"<Channel {self.topic} {self._state.value} join_ref={self.join_ref}>"


def _from_transport(reason: Any) -> bool:
    """Whether a ``phx_error`` is the socket's own (the connection dropped), not the
    server's word that the channel crashed."""
    return isinstance(reason, dict) and reason.get("source") == "transport"


def _join_failure(topic: str, reason: Any) -> Exception:
    if _from_transport(reason):
        return ConnectionClosed(f"the connection dropped while joining {topic}")
    return ChannelCrashed(f"channel {topic} crashed on the server while joining")


def _pass_payload(event: str, payload: Payload, ref: str | None) -> Payload:
    """The default ``on_message`` hook, as the JS client's: the payload unchanged."""
    return payload


_HOOK_PROPERTY = Channel.on_message
_NO_BINDINGS: dict[str, list[_Binding]] = {}
_NO_SOLO: dict[str, BindingCallback] = {}
_NO_PUSHES: dict[Push, None] = {}
