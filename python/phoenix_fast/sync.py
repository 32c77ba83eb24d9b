"""A synchronous client, for scripts, notebooks, bots without asyncio, and threaded frameworks.

::

    import phoenix_fast.sync

    with phoenix_fast.sync.connect("ws://localhost:4000/socket", params={"token": "..."}) as socket:
        channel = socket.channel("room:1")
        channel.join()
        channel.push("new_msg", {"body": "hi"})           # the ok reply's response
        for message in channel.stream("new_msg", timeout=30):
            print(message.payload)

It is the asyncio client underneath, not a second client: every call is marshalled onto one
background event loop thread per process (shared by every sync socket, started on first
use) and the calling thread blocks until the result, with a timeout. So:

- Calls are thread-safe: any thread may use any sync socket, channel or stream.
- Every blocking call has a ``timeout`` (the socket's ``timeout`` by default, 10 s). Joins and
  pushes raise what their async counterparts raise (``JoinError``, ``PushError``,
  ``PushTimeout``, ``ConnectionClosed``); other waits raise ``TimeoutError``.
- Callbacks registered here (``channel.on``, ``socket.on_open``, ...) run in the loop thread,
  not in the thread that registered them. They must return quickly and must not call the
  blocking sync API (that raises ``RuntimeError``: it would wait for itself); from a
  callback, use the async objects (``channel.async_channel.push(...)``) without waiting.
- ``socket.async_socket`` and ``channel.async_channel`` are the asyncio objects, for what
  this module does not wrap; use them only in the loop thread (from a callback, or through
  ``socket.run(make_coroutine)``).
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from phoenix_fast._loop_thread import LoopThread
from phoenix_fast._redact import redact_url
from phoenix_fast.errors import StreamOverflow
from phoenix_fast.socket import Socket as AsyncSocket

if TYPE_CHECKING:
    from types import TracebackType

    from phoenix_fast._states import ChannelState, SocketState
    from phoenix_fast._stream import ChannelStream
    from phoenix_fast._types import JoinParams
    from phoenix_fast.channel import Channel as AsyncChannel
    from phoenix_fast.message import Message

__all__ = ["Channel", "Socket", "Stream", "connect"]

T = TypeVar("T")

DEFAULT_TIMEOUT = 10.0
#: Extra seconds the caller waits beyond an operation's own timeout, so that the operation's
#: own error (``PushTimeout`` say) is what the caller sees.
_GRACE = 1.0


def connect(endpoint: str, *, timeout: float = DEFAULT_TIMEOUT, **options: Any) -> Socket:
    """Connects a :class:`Socket` and returns it (use it with ``with`` to close it).

    Args:
        endpoint: the socket URL, ``ws://localhost:4000/socket`` say.
        timeout: default seconds of every blocking call (connect, joins, pushes, ...).
        **options: the other arguments of :class:`phoenix_fast.Socket` (``params``,
            ``auth_token``, ``vsn``, ``transport``, ``compress``, ...).

    Raises:
        ConnectError: the first connection attempt failed (the socket is closed).
        TimeoutError: no connection within ``timeout`` seconds (the socket is closed).
    """
    socket = Socket(endpoint, timeout=timeout, **options)
    try:
        socket.connect()
    except BaseException:
        socket.close()
        raise
    return socket


class Socket:
    """A blocking, thread-safe face of :class:`phoenix_fast.Socket`.

    Args:
        endpoint: the socket URL.
        timeout: default seconds of every blocking call; also the async socket's default
            join and push timeout.
        **options: the other arguments of :class:`phoenix_fast.Socket`.
    """

    def __init__(self, endpoint: str, *, timeout: float = DEFAULT_TIMEOUT, **options: Any) -> None:
        self._thread = LoopThread.shared()
        self.timeout = timeout
        #: The asyncio socket underneath (touch it only in the loop thread).
        self.async_socket: AsyncSocket = self._call(
            lambda: AsyncSocket(endpoint, timeout=timeout, **options)
        )

    # -- running in the loop thread ----------------------------------------------------------

    def run(self, make: Callable[[], Awaitable[T]], timeout: float | None = None) -> T:
        """Runs ``await make()`` in the loop thread and returns the result: the way to use
        the async API where this module does not wrap it.

        Raises:
            TimeoutError: no result within ``timeout`` seconds (the socket's by default).
        """
        return self._thread.run(make, self._wait(timeout))

    def _call(self, fn: Callable[[], T], timeout: float | None = None) -> T:
        """``fn()`` in the loop thread."""
        return self._thread.call(fn, self._wait(timeout))

    def _wait(self, timeout: float | None) -> float:
        return self.timeout if timeout is None else timeout

    # -- connecting --------------------------------------------------------------------------

    def connect(self, timeout: float | None = None) -> None:
        """Connects (no-op if connected) and waits until the socket is open.

        As the async socket does, it keeps reconnecting with backoff afterwards, and after a
        failed first attempt too, until :meth:`close`.

        Raises:
            ConnectError: the first attempt failed.
            TimeoutError: not open within ``timeout`` seconds.
        """
        wait = self._wait(timeout)
        socket = self.async_socket

        async def connect() -> None:
            try:
                await asyncio.wait_for(_awaitable(socket.connect()), wait)
            except asyncio.TimeoutError:
                shown = redact_url(socket.endpoint)  # its query may hold the connect params
                raise TimeoutError(f"{shown} not connected within {wait} s") from None

        self._thread.run(connect, wait + _GRACE)

    def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Disconnects and stops reconnecting (waits at most 1.5 s for the close)."""
        socket = self.async_socket

        async def disconnect() -> None:
            await socket.disconnect(code, reason)

        self._thread.run(disconnect, 1.5 + _GRACE)

    #: The same as :meth:`close`.
    disconnect = close

    def __enter__(self) -> Socket:
        """Connects, as ``async with`` does for the async socket (no-op if connected)."""
        try:
            self.connect()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def is_connected(self) -> bool:
        """Whether the connection is open."""
        return self._call(self.async_socket.is_connected)

    def connection_state(self) -> SocketState:
        """connecting, open, closing or closed."""
        return self._call(self.async_socket.connection_state)

    def ping(self, timeout: float | None = None) -> float | None:
        """A heartbeat round trip in seconds; None if not connected or closed meanwhile."""
        socket = self.async_socket
        return self._thread.run(socket.ping, self._wait(timeout))

    @property
    def endpoint(self) -> str:
        """The endpoint's URL, with the query it was given (connect params are added when
        connecting); show it with ``redact_url`` (``repr`` does)."""
        return self.async_socket.endpoint

    # -- channels and callbacks ----------------------------------------------------------------

    def channel(self, topic: str, params: JoinParams | None = None) -> Channel:
        """A new channel on ``topic`` (not joined yet: call ``join()``)."""
        socket = self.async_socket
        return Channel(self, self._call(lambda: socket.channel(topic, params)))

    def on_open(self, callback: Callable[[], object]) -> str:
        """Calls ``callback()`` (in the loop thread) whenever a connection opens."""
        return self._call(lambda: self.async_socket.on_open(callback))

    def on_close(self, callback: Callable[[Any], object]) -> str:
        """Calls ``callback(CloseEvent)`` (in the loop thread) whenever a connection closes."""
        return self._call(lambda: self.async_socket.on_close(callback))

    def on_error(self, callback: Callable[..., object]) -> str:
        """Calls ``callback(exception)`` (in the loop thread) whenever a connection fails."""
        return self._call(lambda: self.async_socket.on_error(callback))

    def on_message(self, callback: Callable[[Message], object]) -> str:
        """Calls ``callback(Message)`` (in the loop thread) for every message received."""
        return self._call(lambda: self.async_socket.on_message(callback))

    def off(self, refs: Iterable[str]) -> None:
        """Removes the socket callbacks with these refs."""
        refs = list(refs)
        self._call(lambda: self.async_socket.off(refs))

    def __repr__(self) -> str:
        return f"<phoenix_fast.sync.Socket {redact_url(self.endpoint)}>"


class Channel:
    """A blocking, thread-safe face of :class:`phoenix_fast.Channel`; make one with
    ``socket.channel(topic)``."""

    def __init__(self, socket: Socket, channel: AsyncChannel) -> None:
        self.socket = socket
        #: The asyncio channel underneath (touch it only in the loop thread).
        self.async_channel = channel
        self.topic = channel.topic

    def _timeout(self, timeout: float | None) -> float:
        return self.async_channel.timeout if timeout is None else timeout

    def join(self, timeout: float | None = None) -> Any:
        """Joins and returns the server's ok response.

        As in JS, the channel keeps rejoining with backoff whatever happened, until
        :meth:`leave`.

        Raises:
            JoinError: the server refused (``.response`` has its reason).
            PushTimeout: no reply within ``timeout`` seconds (the channel's timeout).
            ConnectionClosed: the connection dropped first.
            InvalidState: ``join()`` was already called on this channel.
        """
        channel, wait = self.async_channel, self._timeout(timeout)

        async def join() -> Any:
            return await channel.join(timeout)

        return self.socket._thread.run(join, wait + _GRACE)

    def leave(self, timeout: float | None = None) -> None:
        """Leaves the topic; returns once the server confirmed (or at once if not joined).

        Raises:
            PushTimeout: no reply within ``timeout`` seconds (the channel closes anyway).
        """
        channel, wait = self.async_channel, self._timeout(timeout)

        async def leave() -> None:
            await channel.leave(timeout)

        self.socket._thread.run(leave, wait + _GRACE)

    def push(self, event: str, payload: Any = None, timeout: float | None = None) -> Any:
        """Pushes ``event`` and returns the ok reply's response.

        Raises:
            PushError: the server replied with another status (``.status``, ``.response``).
            PushTimeout: no reply within ``timeout`` seconds (the channel's timeout).
            ConnectionClosed: the connection dropped before the reply.
            InvalidState: ``join()`` was never called.
        """
        channel, wait = self.async_channel, self._timeout(timeout)

        async def push() -> Any:
            return await channel.push(event, payload, timeout)

        return self.socket._thread.run(push, wait + _GRACE)

    @property
    def state(self) -> ChannelState:
        """closed, errored, joined, joining or leaving."""
        channel = self.async_channel
        return self.socket._call(lambda: channel.state)

    def on(self, event: str, callback: Callable[..., object]) -> int:
        """Calls ``callback(payload[, ref[, join_ref]])`` for every ``event`` message, in the
        loop thread (keep it short; do not call blocking methods from it).

        Returns:
            A ref for ``off(event, ref)``.
        """
        channel = self.async_channel
        return self.socket._call(lambda: channel.on(event, callback))

    def off(self, event: str, ref: int | None = None) -> None:
        """Removes the binding ``ref`` of ``event``, or all of its bindings."""
        channel = self.async_channel
        self.socket._call(lambda: channel.off(event, ref))

    def on_close(self, callback: Callable[..., object]) -> int:
        """Calls ``callback(payload)`` (in the loop thread) when the channel closes."""
        return self.on("phx_close", callback)

    def on_error(self, callback: Callable[..., object]) -> int:
        """Calls ``callback(reason)`` (in the loop thread) when the channel errors."""
        return self.on("phx_error", callback)

    def stream(
        self,
        event: str,
        *,
        timeout: float | None = None,
        maxsize: int = 10_000,
        overflow: Literal["drop_oldest", "drop_newest", "error"] = "drop_oldest",
    ) -> Stream:
        """A blocking iterator over the ``event`` messages, from now on.

        Args:
            timeout: seconds to wait for each message; past it, the iteration raises
                ``TimeoutError`` (the stream stays usable). None waits as long as it takes.
            maxsize: messages queued at most; see ``overflow``.
            overflow: ``"drop_oldest"``, ``"drop_newest"`` (counted in ``dropped``) or
                ``"error"`` (the iteration raises ``StreamOverflow``), as in
                :meth:`phoenix_fast.Channel.stream`.

        The iteration ends when the channel closes (after the queued messages) or when
        :meth:`Stream.close` is called.
        """
        channel = self.async_channel
        stream = self.socket._call(
            lambda: channel.stream(event, maxsize=maxsize, overflow=overflow)
        )
        return Stream(self.socket, stream, timeout)

    def __repr__(self) -> str:
        return f"<phoenix_fast.sync.Channel {self.topic}>"


class Stream(Iterator["Message"]):
    """Messages of one channel event, read with ``for`` (see :meth:`Channel.stream`).

    Each loop round trip moves every queued message to the reading thread, so a fast sender
    costs one wake-up per batch, not per message (the stream then holds at most twice its
    ``maxsize``: one batch being read, one queue filling).
    """

    def __init__(self, socket: Socket, stream: ChannelStream, timeout: float | None) -> None:
        self._socket = socket
        #: The async stream underneath (touch it only in the loop thread).
        self.async_stream = stream
        self.timeout = timeout
        self._ready: deque[Message] = deque()
        self._error: BaseException | None = None
        self._ended = False
        self._lock = threading.Lock()

    @property
    def dropped(self) -> int:
        """How many messages the overflow policy discarded."""
        return self.async_stream.dropped

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> Message:
        with self._lock:
            if self._ready:
                return self._ready.popleft()
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            if self._ended:
                raise StopIteration
            batch = self._fetch()
            if not batch:
                self._ended = True
                raise StopIteration
            self._ready.extend(batch)
            return self._ready.popleft()

    def _fetch(self) -> list[Message]:
        stream, timeout = self.async_stream, self.timeout
        errors: list[BaseException] = []

        async def fetch() -> list[Message]:
            try:
                if timeout is None:
                    first = await stream.__anext__()
                else:
                    first = await asyncio.wait_for(stream.__anext__(), timeout)
            except StopAsyncIteration:
                return []
            except asyncio.TimeoutError:
                raise TimeoutError(
                    f"no {stream.event!r} message on {stream.channel.topic} within {timeout} s"
                ) from None
            batch = [first]
            # All of them (at most the stream's maxsize). With a message queued, __anext__
            # returns it without waiting, or raises StreamOverflow if the queue overflowed since
            # `first` (on 3.11, wait_for read `first` in a task of its own and resumed us a loop
            # iteration later): never StopAsyncIteration, as a queued message is always read.
            try:
                while len(stream):
                    batch.append(await stream.__anext__())
            except StreamOverflow as exc:  # raised after the messages before it
                errors.append(exc)
            return batch

        wait = None if timeout is None else timeout + _GRACE
        batch = self._socket._thread.run(fetch, wait)
        if errors:
            self._error = errors[0]
        return batch

    def close(self) -> None:
        """Stops queueing; the iteration ends after the messages already queued."""
        stream = self.async_stream
        self._socket._call(stream.close)

    def __len__(self) -> int:
        return len(self._ready) + len(self.async_stream)

    def __enter__(self) -> Stream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


async def _awaitable(awaitable: Awaitable[T]) -> T:
    return await awaitable
