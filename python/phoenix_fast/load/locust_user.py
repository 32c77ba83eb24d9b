"""phoenix_fast in Locust: a ``User`` whose tasks join channels and push, timed as requests.

Locust scales out on its own (``--master`` / ``--worker``, ``--processes``); this module
gives it a Phoenix Channels client. Import it only from a locustfile: importing Locust
monkey-patches the process for gevent. ::

    from locust import between, task
    from phoenix_fast.load.locust_user import PhoenixUser

    class Chatter(PhoenixUser):
        wait_time = between(0.5, 1.5)

        def on_start(self):
            self.room = self.client.join("echo:lobby", {"user": "bot"})
            self.client.subscribe(self.room, "shout")

        @task
        def ping(self):
            self.client.push(self.room, "ping", {"body": "hi"})

Every join, push and connect is reported as a Locust request of type ``phoenix`` (name
``join``, ``push:<event>``, ``connect``) with its latency, or as a failure with the error;
subscribed events are reported as ``phoenix-event`` requests named ``event:<event>``
(response time: the age of the payload's ``ts`` field, Unix milliseconds, if it has one).

What the socket does on its own between the user's calls is reported too, from the socket's
observer (``Socket(..., observer=...)``), also as ``phoenix`` requests:

- ``drop``: a failure each time an open connection is lost without the user closing it
  (the server closed it, the network cut it, a heartbeat went unanswered); the error
  carries the close code. Its response time is 0.
- ``reconnect``: the socket connected again after a drop; its response time is how long the
  user was disconnected (from the drop to the new connection). An attempt that fails in
  between is a ``reconnect`` failure (response time: disconnected so far).
- ``rejoin``: a channel sent its join again (after a drop, or after the server crashed it)
  and got its answer; the response time is the rejoin's round trip, a refusal or a timeout
  is a failure.

A run without drops shows none of these rows.

How it works: the asyncio client runs in the process's one background loop thread (a real
OS thread, with uvloop when installed; see ``phoenix_fast._loop_thread``, shared with
``phoenix_fast.sync``), started on first use. Greenlets submit coroutines to its loop and
wait on a gevent event that the loop thread sets through the hub's
``run_callback_threadsafe``, so waiting never blocks the other greenlets. An event's age is
taken in the loop thread when the message arrives, as are the observer's drops,
reconnects and rejoins; the reports themselves are batched and fired from a greenlet every
half second.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import gevent  # type: ignore[import-untyped]
import gevent.event  # type: ignore[import-untyped]
from locust import User
from locust.env import Environment

from phoenix_fast import Socket
from phoenix_fast._loop_thread import LoopThread
from phoenix_fast.channel import Channel
from phoenix_fast.errors import ConnectionClosed, JoinError, PushTimeout
from phoenix_fast.load.runner import quiet_logger

__all__ = ["GEVENT_WAITER", "GeventWaiter", "LoopThread", "PhoenixClient", "PhoenixUser"]

T = TypeVar("T")
_EVENT_BACKLOG = 100_000
_FLUSH_SECONDS = 0.5


class _GeventSignal:
    """Set by the loop thread through the hub (``run_callback_threadsafe``); waiting on it
    yields to the other greenlets."""

    __slots__ = ("_event", "_hub")

    def __init__(self) -> None:
        self._hub = gevent.get_hub()
        self._event = gevent.event.Event()

    def set(self) -> None:
        self._hub.loop.run_callback_threadsafe(self._event.set)

    def wait(self, timeout: float | None) -> bool:
        return bool(self._event.wait(timeout))


class GeventWaiter:
    """Greenlets wait on gevent events, so a waiting user never blocks the hub."""

    def signal(self) -> _GeventSignal:
        """A new signal for the calling greenlet."""
        return _GeventSignal()


GEVENT_WAITER = GeventWaiter()


class PhoenixClient:
    """A socket for one Locust user: joins, pushes and subscriptions, each reported.

    Args:
        url: the socket URL (Locust's ``--host``), e.g. ``ws://localhost:4000/socket``.
        environment: the Locust environment (its ``events.request`` is fired).
        params: connect params.
        timeout: seconds for connect, joins and pushes.
        **options: other :class:`~phoenix_fast.Socket` arguments.
    """

    def __init__(
        self,
        url: str,
        environment: Environment,
        params: dict[str, Any] | None = None,
        timeout: float = 10.0,
        **options: Any,
    ) -> None:
        self.thread = LoopThread.shared()
        self.url = url
        self.timeout = timeout
        #: Locust's ``events.request.fire``.
        self._fire_request: Callable[..., None] = environment.events.request.fire
        self._params = params or {}
        self._options = options
        self._socket: Socket | None = None
        self._incoming: collections.deque[tuple[str, float, int]] = collections.deque(
            maxlen=_EVENT_BACKLOG
        )
        #: What the socket's observer saw: (name, response time in ms, error), to report.
        self._happened: collections.deque[tuple[str, float, BaseException | None]] = (
            collections.deque(maxlen=_EVENT_BACKLOG)
        )
        self._flusher: Any = None
        #: Set by close(): the closes that follow are ours, not drops.
        self._closing = False
        #: The observer's own state, kept in the loop thread: whether the connection is
        #: open, when it dropped (None: not down), the topics whose join was sent again.
        self._open = False
        self._down_at: float | None = None
        self._rejoining: set[str] = set()

    def _fire(self, name: str, started: float, length: int, error: BaseException | None) -> None:
        self._fire_request(
            request_type="phoenix",
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=length,
            exception=error,
            context={},
        )

    def _call(self, make: Callable[[], Awaitable[T]]) -> T:
        return self.thread.run(make, self.timeout + 1.0, GEVENT_WAITER)

    def connect(self) -> bool:
        """Connects (reported as ``connect``); True on success. Joins connect on their own."""
        if self._socket is not None:
            return True

        async def connect() -> Socket:
            # a new socket (after close(), say): its observer starts afresh
            self._closing = self._open = False
            self._down_at = None
            self._rejoining.clear()
            socket = Socket(
                self.url,
                params=self._params,
                timeout=self.timeout,
                logger=quiet_logger(),
                observer=self._observe,
                **self._options,
            )
            try:
                await asyncio.wait_for(socket.connect(), self.timeout)
            except BaseException:
                await socket.disconnect()
                raise
            return socket

        started = time.perf_counter()
        try:
            self._socket = self._call(connect)
        except Exception as exc:
            self._fire("connect", started, 0, exc)
            return False
        self._fire("connect", started, 0, None)
        self._start_flusher()
        return True

    def _observe(self, event: str, data: Mapping[str, Any]) -> None:
        """The socket's observer, in the loop thread: notes drops, reconnects and rejoins
        for the next flush (Locust's events are fired from a greenlet, not from here)."""
        if event == "push":  # every reply: only a rejoin's outcome is of interest
            topic = data["topic"]
            if data["event"] == "phx_join" and topic in self._rejoining:
                self._rejoining.discard(topic)
                status = data["status"]
                error: BaseException | None = None
                if status == "timeout":
                    error = PushTimeout("rejoin: no reply in time")
                elif status != "ok":
                    error = JoinError("rejoin refused", status, None)
                self._happened.append(("rejoin", data["seconds"] * 1000, error))
        elif event == "rejoin":
            self._rejoining.add(data["topic"])
        elif event == "connect":
            self._open = True
            down_at, self._down_at = self._down_at, None
            if down_at is not None:
                self._happened.append(("reconnect", (time.perf_counter() - down_at) * 1000, None))
        elif event == "close" and not self._closing:
            # not the event's by_us: a heartbeat timeout is a close by us, and a drop
            if self._open:
                self._open = False
                self._down_at = time.perf_counter()
                lost = ConnectionClosed("the connection dropped", data["code"], data["reason"])
                self._happened.append(("drop", 0.0, lost))
            elif self._down_at is not None:
                failed = ConnectionClosed("a reconnect attempt failed", data["code"])
                down_for = (time.perf_counter() - self._down_at) * 1000
                self._happened.append(("reconnect", down_for, failed))

    def join(
        self, topic: str, params: dict[str, Any] | None = None, name: str = "join"
    ) -> Channel | None:
        """Joins ``topic`` (reported as ``name``); the channel, or None if the join failed."""
        if not self.connect():
            return None
        socket = self._socket
        assert socket is not None

        async def join() -> Channel:
            channel = socket.channel(topic, params or {})
            try:
                await channel.join(self.timeout)
            except BaseException:
                channel.leave()
                raise
            return channel

        started = time.perf_counter()
        try:
            channel = self._call(join)
        except Exception as exc:
            self._fire(name, started, 0, exc)
            return None
        self._fire(name, started, 0, None)
        return channel

    def push(
        self, channel: Channel, event: str, payload: Any = None, name: str | None = None
    ) -> Any:
        """Pushes and waits for the reply (reported as ``push:<event>``); the ok response,
        or None if the push failed (error reply, timeout, connection lost)."""

        async def push() -> Any:
            return await channel.push(event, payload, self.timeout)

        started = time.perf_counter()
        try:
            response = self._call(push)
        except Exception as exc:
            self._fire(name or f"push:{event}", started, 0, exc)
            return None
        self._fire(name or f"push:{event}", started, len(repr(response)), None)
        return response

    def subscribe(self, channel: Channel, event: str) -> None:
        """Reports every incoming ``event`` on ``channel`` as a ``phoenix-event`` request.

        Its response time is the payload's age when it arrived (now minus its ``ts`` field,
        Unix milliseconds), or 0 without a numeric ``ts``.
        """
        incoming = self._incoming

        def on_event(payload: Any) -> None:  # in the loop thread, as the message arrives
            ts = payload.get("ts") if isinstance(payload, dict) else None
            age = 0.0
            if isinstance(ts, (int, float)) and not isinstance(ts, bool):
                age = max(time.time() * 1000 - ts, 0.0)
            incoming.append((event, age, len(repr(payload))))

        self.thread.call_soon(channel.on, event, on_event)
        self._start_flusher()

    def _start_flusher(self) -> None:
        if self._flusher is None:
            self._flusher = gevent.spawn(self._flush_forever)

    def _flush_forever(self) -> None:
        while True:
            gevent.sleep(_FLUSH_SECONDS)
            self.flush()

    def flush(self) -> None:
        """Reports the events received so far, and the drops, reconnects and rejoins (done
        every half second on its own)."""
        happened, fire = self._happened, self._fire_request
        while happened:
            name, ms, error = happened.popleft()
            fire(
                request_type="phoenix",
                name=name,
                response_time=ms,
                response_length=0,
                exception=error,
                context={},
            )
        incoming = self._incoming
        while incoming:
            event, age, length = incoming.popleft()
            fire(
                request_type="phoenix-event",
                name=f"event:{event}",
                response_time=age,
                response_length=length,
                exception=None,
                context={},
            )

    def close(self) -> None:
        """Reports pending events and disconnects."""
        self._closing = True
        if self._flusher is not None:
            self._flusher.kill()
            self._flusher = None
        self.flush()
        socket, self._socket = self._socket, None
        if socket is not None:

            async def disconnect() -> None:
                await socket.disconnect()

            self._call(disconnect)


class PhoenixUser(User):
    """A Locust user with a :class:`PhoenixClient` as ``self.client``.

    Set ``host`` (or pass ``--host``) to the socket URL, e.g. ``ws://localhost:4000/socket``.
    Class attributes: ``socket_params`` (connect params), ``timeout`` (seconds). If you
    override ``on_stop``, call ``super().on_stop()`` to disconnect.
    """

    abstract = True
    socket_params: dict[str, Any] = {}  # noqa: RUF012 - a class-level default, as in Locust
    timeout: float = 10.0

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        if not self.host:
            raise ValueError("PhoenixUser needs a host: --host ws://localhost:4000/socket")
        self.client = PhoenixClient(
            self.host, environment, dict(self.socket_params), timeout=self.timeout
        )

    def on_stop(self) -> None:
        """Disconnects the socket."""
        self.client.close()
