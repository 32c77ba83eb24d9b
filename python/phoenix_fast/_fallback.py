"""Falling back from the WebSocket to LongPoll (``Socket(..., long_poll_fallback=seconds)``).

As the JS client's ``longPollFallbackMs``, the socket starts on its WebSocket transport and
switches to LongPoll when the WebSocket does not work, with two fixes users asked for:

- A failure never switches at once when it may be passing: a connection refused, reset or
  timed out (the server restarting, phoenix#6208) retries the WebSocket with the socket's
  backoff, and the socket switches only once ``threshold`` seconds have gone by without a
  working WebSocket; reconnect attempts do not restart that clock. A WebSocket upgrade that
  an HTTP server answers with a refusal (403, 404...) before any WebSocket ever opened is not
  passing: it switches at once, as the JS client does.
- A WebSocket that opens, then dies within ``threshold`` seconds, ``MAX_SHORT_LIVED`` times in
  a row (an enterprise proxy killing the tunnel, phoenix#6766) switches too; in the JS client
  every such open restarts the clock and it never falls back.

"Working" means open and answering a ping within ``threshold`` seconds of opening, as in JS.
Once on LongPoll the socket stays on it (reconnects included) until it is discarded. A switch
that happened while the WebSocket never worked, or because it kept dying, is remembered for
the endpoint in :data:`fallback_memory` for the life of the process (the JS client keeps it in
``sessionStorage``): later sockets to that endpoint start on LongPoll. Persist it yourself::

    fallback_memory.load(json.loads(path.read_text()))
    fallback_memory.on_change = lambda choices: path.write_text(json.dumps(choices))

:class:`FallbackPolicy` is the decision logic alone (no clock, no I/O); :class:`Fallback`
runs it for one socket.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from phoenix_fast.errors import ConnectionClosed
from phoenix_fast.protocol.fallback import (
    LONGPOLL,
    MAX_SHORT_LIVED,
    Action,
    FallbackPolicy,
    is_refusal,
)

if TYPE_CHECKING:
    from phoenix_fast._lifecycle import Lifecycle
    from phoenix_fast._types import CloseEvent
    from phoenix_fast.transports.base import TransportFactory

__all__ = [
    "DEFAULT_LONGPOLLER_TIMEOUT",
    "MAX_SHORT_LIVED",
    "Action",
    "Fallback",
    "FallbackMemory",
    "FallbackPolicy",
    "fallback_memory",
    "is_longpoll",
    "is_refusal",
    "longpoll_factory",
    "replace_transport",
    "resolve_transport",
]

#: Seconds a LongPoll poll or POST may take (the JS client's ``longpollerTimeout``).
DEFAULT_LONGPOLLER_TIMEOUT = 20.0
_LONGPOLL_MODULE = "phoenix_fast.transports.longpoll"


class FallbackMemory:
    """The transport chosen per endpoint, process-wide: ``{endpoint: "longpoll"}``.

    ``on_change(choices)`` is called with a copy of every choice after each change, to
    persist them; ``load(choices)`` restores them.
    """

    def __init__(self) -> None:
        self._choices: dict[str, str] = {}
        self._lock = threading.Lock()
        #: Called with a copy of the choices after every change (to persist them).
        self.on_change: Callable[[dict[str, str]], object] | None = None

    def get(self, endpoint: str) -> str | None:
        """The transport remembered for ``endpoint`` (``"longpoll"``), or None."""
        return self._choices.get(endpoint)

    def remember(self, endpoint: str, transport: str = LONGPOLL) -> None:
        """Remembers ``transport`` for ``endpoint``."""
        with self._lock:
            if self._choices.get(endpoint) == transport:
                return
            self._choices[endpoint] = transport
        self._changed()

    def forget(self, endpoint: str | None = None) -> None:
        """Forgets the choice for ``endpoint``, or every choice."""
        with self._lock:
            if endpoint is None:
                self._choices.clear()
            else:
                self._choices.pop(endpoint, None)
        self._changed()

    def load(self, choices: Mapping[str, str]) -> None:
        """Adds ``choices`` (as ``snapshot()`` returns them), e.g. read from a file."""
        with self._lock:
            self._choices.update({str(k): str(v) for k, v in choices.items()})

    def snapshot(self) -> dict[str, str]:
        """A copy of every choice."""
        with self._lock:
            return dict(self._choices)

    def _changed(self) -> None:
        hook = self.on_change
        if hook is not None:
            hook(self.snapshot())


#: The process-wide memory of fallbacks, keyed by the socket's endpoint URL.
fallback_memory = FallbackMemory()


class Fallback:
    """Runs a :class:`FallbackPolicy` for one socket.

    The socket calls :meth:`before_connect` before every connection attempt, and
    :meth:`holds_open` to know whether a failed attempt is still waiting for the fallback; the
    rest comes from the socket's ``on_open``/``on_error``/``on_close`` callbacks.

    Args:
        socket: the socket.
        threshold: seconds the WebSocket has to work (``long_poll_fallback``).
        longpoll: the LongPoll transport factory to switch to.
        memory: where choices are remembered (:data:`fallback_memory` by default).
    """

    def __init__(
        self,
        socket: Lifecycle,
        threshold: float,
        longpoll: TransportFactory,
        memory: FallbackMemory | None = None,
    ) -> None:
        self.policy = FallbackPolicy(threshold)
        self._socket = socket
        self._longpoll = longpoll
        self._memory = fallback_memory if memory is None else memory
        self._timer: asyncio.TimerHandle | None = None
        self._ping: asyncio.Task[Any] | None = None
        self._opened_at: float | None = None
        socket.on_open(self._on_open)  # type: ignore[attr-defined]
        socket.on_error(self._on_error)  # type: ignore[attr-defined]
        socket.on_close(self._on_close)  # type: ignore[attr-defined]

    @property
    def fell_back(self) -> bool:
        """Whether the socket switched to LongPoll."""
        return self.policy.fell_back

    def before_connect(self) -> None:
        """A connection attempt is about to start (on the current transport factory)."""
        if self.policy.fell_back:
            return
        remembered = self._memory.get(self._socket.endpoint) == LONGPOLL
        action = self.policy.connect(remembered)
        if action is Action.FALL_BACK:
            self._log("falling back to LongPoll (memorized)")
            self._cancel()
            self._socket._transport_factory = self._longpoll
        else:
            self._run(action)

    def holds_open(self) -> bool:
        """Whether a failed WebSocket attempt should not fail ``connect()``: the fallback may
        still make it (the deadline runs and the socket was not disconnected)."""
        return (
            not self.policy.fell_back
            and self._timer is not None
            and not self._socket._close_was_clean
        )

    # -- the socket's callbacks -------------------------------------------------------------

    def _on_open(self) -> None:
        if self.policy.fell_back:
            if self._socket._transport_factory is self._longpoll:
                self._run(self.policy.fallback_opened())
            return
        self._opened_at = self._socket._now()
        self._run(self.policy.opened())

    def _on_error(self, error: BaseException) -> None:
        if not self._active():
            return
        self._run(self.policy.error(error, was_open=self._opened_at is not None))

    def _on_close(self, _event: CloseEvent) -> None:
        if self.policy.fell_back:
            return
        opened_at, self._opened_at = self._opened_at, None
        uptime = None if opened_at is None else self._socket._now() - opened_at
        self._run(self.policy.closed(uptime, by_user=self._socket._close_was_clean))

    def _active(self) -> bool:
        return not self.policy.fell_back and not self._socket._close_was_clean

    def _log(self, message: str) -> None:
        log = self._socket._log
        if log.enabled:
            log("transport", message)

    # -- actions ------------------------------------------------------------------------

    def _run(self, action: Action) -> None:
        if action is Action.ARM:
            if self._timer is None:
                self._arm()
        elif action is Action.RESTART:
            self._arm()
            self._start_ping()
        elif action is Action.CANCEL:
            self._cancel()
        elif action is Action.FALL_BACK:
            self._switch()
        elif action is Action.REMEMBER:
            self._memory.remember(self._socket.endpoint, LONGPOLL)
            self._log("established LongPoll fallback")

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._socket._loop().call_later(self.policy.threshold, self._on_deadline)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._ping is not None:
            self._ping.cancel()
            self._ping = None

    def _on_deadline(self) -> None:
        self._timer = None
        if self._active():
            self._run(self.policy.deadline())

    def _start_ping(self) -> None:
        if self._ping is not None:
            self._ping.cancel()
        ping = self._ping = asyncio.ensure_future(self._socket.ping())  # type: ignore[attr-defined]
        ping.add_done_callback(self._on_ping)

    def _on_ping(self, task: asyncio.Task[Any]) -> None:
        if task is self._ping:
            self._ping = None
        if task.cancelled() or task.exception() is not None or task.result() is None:
            return  # the connection closed first: its close tells what happened
        if self._opened_at is not None and self._active():
            self._log(f"WebSocket healthy (ping {task.result():.3f} s)")
            self._run(self.policy.ping_answered())

    def _switch(self) -> None:
        self._log(f"falling back to LongPoll ({self.policy.reason})")
        self._cancel()
        self._opened_at = None
        replace_transport(self._socket, self._longpoll)
        self._socket._transport_connect()


def replace_transport(socket: Lifecycle, factory: TransportFactory) -> None:
    """Drops the socket's connection and makes ``factory`` its transport (JS
    ``replaceTransport``); the caller connects again."""
    socket._connect_clock += 1
    socket._close_was_clean = True
    socket._reconnect_timer.reset()
    socket._transport_factory = factory
    conn = socket._conn
    if conn is None:
        return
    was_open = conn.is_open()
    socket._conn = None
    conn.ended = True
    conn.close()
    socket._clear_heartbeats()
    socket._connection_lost(conn, ConnectionClosed("the transport was replaced"))
    if was_open:
        socket._trigger_chan_error("connection_closed", conn)


def is_longpoll(factory: object) -> bool:
    """Whether ``factory`` makes LongPoll transports (without importing aiohttp for nothing)."""
    module = sys.modules.get(_LONGPOLL_MODULE)
    if module is None:
        return False  # LongPoll was never imported, so this cannot be it
    return factory is module.LongPoll or isinstance(factory, module.LongPollFactory)


def longpoll_factory(timeout: float) -> TransportFactory:
    """The LongPoll transport factory with ``timeout`` (imports aiohttp)."""
    from phoenix_fast.transports.longpoll import LongPoll

    return LongPoll.configure(timeout=timeout)


def resolve_transport(
    transport: TransportFactory | None, longpoller_timeout: float
) -> TransportFactory | None:
    """``transport``, with the socket's ``longpoller_timeout`` when it is the bare ``LongPoll``
    class (a configured factory keeps its own)."""
    module = sys.modules.get(_LONGPOLL_MODULE)
    if module is not None and transport is module.LongPoll:
        return longpoll_factory(longpoller_timeout)
    return transport
