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

How it works: the asyncio client runs in the process's one background loop thread (a real
OS thread, with uvloop when installed; see ``phoenix_fast._loop_thread``, shared with
``phoenix_fast.sync``), started on first use. Greenlets submit coroutines to its loop and
wait on a gevent event that the loop thread sets through the hub's
``run_callback_threadsafe``, so waiting never blocks the other greenlets. An event's age is
taken in the loop thread when the message arrives; the reports themselves are batched and
fired from a greenlet every half second.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import gevent  # type: ignore[import-untyped]
import gevent.event  # type: ignore[import-untyped]
from locust import User
from locust.env import Environment

from phoenix_fast import Socket
from phoenix_fast._loop_thread import LoopThread
from phoenix_fast.channel import Channel
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
        self._flusher: Any = None

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
            socket = Socket(
                self.url,
                params=self._params,
                timeout=self.timeout,
                logger=quiet_logger(),
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
        return True

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
        if self._flusher is None:
            self._flusher = gevent.spawn(self._flush_forever)

    def _flush_forever(self) -> None:
        while True:
            gevent.sleep(_FLUSH_SECONDS)
            self.flush()

    def flush(self) -> None:
        """Reports the events received so far (done every half second on its own)."""
        incoming, fire = self._incoming, self._fire_request
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
