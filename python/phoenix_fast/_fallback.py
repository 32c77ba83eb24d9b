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

:class:`~phoenix_fast.protocol.fallback.FallbackPolicy` is the decision logic alone (no
clock, no I/O); the socket's connection machine (``phoenix_fast.protocol.connection``) runs
it, with its deadline among the machine's. This module keeps what is not a decision: the
memory of choices per endpoint, and knowing the LongPoll factory.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from phoenix_fast._constants import DEFAULT_LONGPOLLER_TIMEOUT
from phoenix_fast._redact import redact_url
from phoenix_fast.protocol.fallback import (
    LONGPOLL,
    MAX_SHORT_LIVED,
    Action,
    FallbackPolicy,
    is_refusal,
)

if TYPE_CHECKING:
    from phoenix_fast.transports.base import TransportFactory

__all__ = [
    "DEFAULT_LONGPOLLER_TIMEOUT",
    "LONGPOLL",
    "MAX_SHORT_LIVED",
    "Action",
    "FallbackMemory",
    "FallbackPolicy",
    "fallback_memory",
    "is_longpoll",
    "is_refusal",
    "longpoll_factory",
    "replace_transport",
    "resolve_transport",
]


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

    def __repr__(self) -> str:
        choices = self.snapshot()
        shown = ", ".join(f"{redact_url(k)}: {v}" for k, v in sorted(choices.items()))
        hook = "" if self.on_change is None else " (persisted by on_change)"
        return f"<FallbackMemory {len(choices)} endpoints{{{shown}}}{hook}>"

    def _changed(self) -> None:
        hook = self.on_change
        if hook is not None:
            hook(self.snapshot())


#: The process-wide memory of fallbacks, keyed by the socket's endpoint URL.
fallback_memory = FallbackMemory()


class _Replaceable(Protocol):
    def _replace_transport(self, factory: TransportFactory) -> None: ...


def replace_transport(socket: _Replaceable, factory: TransportFactory) -> None:
    """Drops the socket's connection and makes ``factory`` its transport (JS
    ``replaceTransport``); the caller connects again."""
    socket._replace_transport(factory)


def is_longpoll(factory: object) -> bool:
    """Whether ``factory`` makes LongPoll transports: it says so by its ``transport_name``
    (without importing aiohttp for nothing)."""
    return getattr(factory, "transport_name", None) == LONGPOLL


def longpoll_factory(timeout: float) -> TransportFactory:
    """The LongPoll transport factory with ``timeout`` (imports aiohttp)."""
    from phoenix_fast.transports.longpoll import LongPoll

    return LongPoll.configure(timeout=timeout)


def resolve_transport(
    transport: TransportFactory | None, longpoller_timeout: float
) -> TransportFactory | None:
    """``transport``, with the socket's ``longpoller_timeout`` when it is the bare ``LongPoll``
    class (a configured factory keeps its own)."""
    if isinstance(transport, type) and is_longpoll(transport):
        return longpoll_factory(longpoller_timeout)
    return transport
