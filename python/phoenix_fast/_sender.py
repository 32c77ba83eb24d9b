"""``Sender``: how a socket's frames go out, or wait for the connection to open."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from phoenix_fast._bound_loop import BoundLoop
from phoenix_fast._constants import EVENT_JOIN, EVENT_LEAVE
from phoenix_fast._deadlines import Deadlines
from phoenix_fast._logging import SocketLog
from phoenix_fast._states import ChannelState, SocketState
from phoenix_fast._types import Payload
from phoenix_fast.errors import BufferFull
from phoenix_fast.message import Message
from phoenix_fast.push import LANE, Push

if TYPE_CHECKING:
    from phoenix_fast._connection import Connection
    from phoenix_fast.channel import Channel
    from phoenix_fast.transports.base import Transport

__all__ = ["Sender"]

_CLOSED = ChannelState.CLOSED
_OPEN = SocketState.OPEN
#: Pushes that backpressure never refuses: the channel's own life depends on them.
_CONTROL = frozenset((EVENT_JOIN, EVENT_LEAVE))


class HasConnection(Protocol):
    """The socket, as the sender sees it: where its current connection is."""

    _conn: Connection | None


class Sender:
    """Sends frames over the socket's current connection, or buffers them until it opens.

    Args:
        socket: the socket (the sender reads its current connection).
        deadlines: the socket's pending pushes (a push sent gets a ref and a deadline).
        loop: the socket's loop.
        log: the socket's log.
    """

    __slots__ = ("_deadlines", "_log", "_loop", "_socket", "buffer")

    def __init__(
        self, socket: HasConnection, deadlines: Deadlines, loop: BoundLoop, log: SocketLog
    ) -> None:
        self._socket = socket
        self._deadlines = deadlines
        self._loop = loop
        self._log = log
        #: (message, channel, push) waiting for the connection to open
        self.buffer: list[tuple[Message, Channel | None, Push | None]] = []

    def send_new(
        self, channel: Channel, event: str, payload: Payload, timeout: float
    ) -> Push | None:
        """A joined channel's new push, sent over the open connection: the path of every
        ``channel.push``. None (and nothing done) when the connection is not open; the
        channel then buffers a push of its own.

        Raises:
            BufferFull: the connection holds ``max_buffer`` bytes already.
            EncodeError: the payload cannot be encoded (the push is then not pending).
        """
        conn = self._socket._conn
        if conn is None:
            return None
        transport = conn.transport
        if transport is None or transport.ready_state is not _OPEN:
            return None
        if transport.write_blocked:
            raise _buffer_full(transport)
        if self._log.enabled:
            traced = Push(channel, event, payload, timeout)
            self.send_push(traced)
            return traced
        # Push(), Deadlines.track and the send in one native call (with the lane's settle in
        # the router, callgrind, S4: 32,791 -> 29,596 instructions a round trip); an open
        # connection was opened on this loop, so no need for BoundLoop.get()'s checks
        deadlines = self._deadlines
        deadline = self._loop.loop.time() + timeout  # type: ignore[union-attr]
        push: Push = LANE.send_new(
            deadlines.pending,
            channel,
            event,
            payload,
            timeout,
            deadline,
            conn,
            transport.send_fields,
            channel._join_push.ref,
            channel.topic,
        )
        if deadlines.at is None or deadline < deadlines.at:
            deadlines.arm(deadline)
        return push

    def send_push(self, push: Push) -> None:
        """Sends a channel's push with a fresh ref and starts its timeout (``Push.send``):
        a new ref, the push in the pending table with its deadline, the frame out (or
        buffered while disconnected).

        Raises:
            BufferFull: the connection holds ``max_buffer`` bytes already (never for a join
                or a leave).
            EncodeError: the payload cannot be encoded.
        """
        conn = self._socket._conn
        transport = conn.transport if conn is not None else None
        if transport is not None and transport.write_blocked and push.event not in _CONTROL:
            raise _buffer_full(transport)
        ref = self._deadlines.track(push, self._loop.time())
        push.sent = True
        channel = push.channel
        payload = push._payload
        try:
            if callable(payload):
                payload = payload()
            message = Message(channel._join_push.ref, ref, channel.topic, push.event, payload)
            self.push(message, channel, push)
        except Exception:
            self._deadlines.pending.resolve(ref)
            raise

    def push(
        self, message: Message, channel: Channel | None = None, push: Push | None = None
    ) -> None:
        """Sends now if connected, else buffers until the connection opens."""
        if self._log.enabled:
            self._log(
                "push", f"{message.topic} {message.event} ({message.join_ref}, {message.ref})"
            )
        conn = self._socket._conn
        if conn is not None:
            transport = conn.transport
            if transport is not None and transport.ready_state is _OPEN:
                self._send(conn, message, channel, push)
                return
        self.buffer.append((message, channel, push))

    def flush(self) -> None:
        """Sends what waited for the connection to open, less the frames gone stale."""
        conn = self._socket._conn
        if conn is None or not conn.is_open() or not self.buffer:
            return
        buffer, self.buffer = self.buffer, []
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


def _buffer_full(transport: Transport) -> BufferFull:
    return BufferFull(
        f"the socket holds {transport.buffered_amount} bytes the server has not read "
        "(max_buffer): await socket.drain() or push more slowly"
    )


def _outdated(message: Message, channel: Channel) -> bool:
    """Whether the message was made for an earlier join of its channel, or it closed since."""
    return message.join_ref != channel._join_push.ref or channel._state is _CLOSED
