"""One connection of a socket over one transport instance (JS ``Connection``, 1.8.16).

It owns what belongs to that connection only (the joins it carried, its pings, whether we
closed it), and forwards the transport's reports to the socket only while it is the socket's
current connection: a replaced connection may still report while it closes, but nothing it
says concerns the socket any more. When to open, close and reconnect is not decided here
but in the socket's connection machine (``phoenix_fast.protocol.connection``), which knows
this connection by its ``generation``.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from phoenix_fast._outcome import Outcome
from phoenix_fast._states import SocketState
from phoenix_fast._types import CloseEvent
from phoenix_fast.errors import ConnectError
from phoenix_fast.transports.base import Transport, TransportFactory, TransportOptions

if TYPE_CHECKING:
    from phoenix_fast._router import Router
    from phoenix_fast.channel import Channel

__all__ = ["Connection", "Owner"]

_OPEN, _CONNECTING = SocketState.OPEN, SocketState.CONNECTING


class Owner(Protocol):
    """What a connection reports to: the socket (a protocol, so that this module does not
    import the socket's)."""

    _conn: Connection | None
    _transport_factory: TransportFactory
    _router: Router

    def _transport_options(self, params: Any, token: str | None) -> TransportOptions: ...
    def _on_conn_open(self, conn: Connection) -> None: ...
    def _on_conn_error(self, conn: Connection, error: BaseException) -> None: ...
    def _on_conn_close(self, conn: Connection, event: CloseEvent) -> None: ...


class Connection:
    """The socket's side of one transport instance; implements ``TransportHandler``."""

    __slots__ = (
        "_awaiting",
        "_closed_callbacks",
        "_task",
        "channels_errored",
        "closed",
        "closing",
        "current",
        "dropped",
        "error",
        "generation",
        "lost",
        "pings",
        "socket",
        "transport",
        "was_open",
    )

    def __init__(self, socket: Owner, generation: int) -> None:
        self.socket = socket
        #: Whether this is the socket's current connection (the socket sets it): a replaced
        #: connection may still report while it closes, but nothing it says counts.
        self.current = False
        #: The connection machine's attempt this connection carries.
        self.generation = generation
        self.transport: Transport | None = None
        #: ref -> (start time, outcome) of the pings sent over this connection.
        self.pings: dict[str, tuple[float, Outcome[float | None]]] = {}
        self.closing = False  # we closed it (as opposed to the server or the network)
        self.channels_errored = False  # its channels were errored once it stopped being open
        self.closed = False
        self.lost = False  # its pings and in-flight pushes were failed
        self.was_open = False
        #: Whether losing it counts as a drop (``stats().drops``): it was open and the
        #: socket did not mean to close it (a heartbeat timeout counts; a disconnect not).
        self.dropped = False
        self.error: BaseException | None = None
        self._task: asyncio.Future[Any] | None = None
        # Tuples, replaced rather than changed: most connections never have either, and an
        # empty tuple is shared where a list would be made and tracked for every connection.
        #: the futures of awaitable params or token, while they run
        self._awaiting: tuple[asyncio.Future[Any], ...] = ()
        self._closed_callbacks: tuple[Callable[[], None], ...] = ()

    # -- state ---------------------------------------------------------------------------

    def is_current(self) -> bool:
        return self.current

    def is_open(self) -> bool:
        transport = self.transport
        return transport is not None and transport.ready_state is _OPEN

    def is_connecting(self) -> bool:
        return self.ready_state() is _CONNECTING

    def ready_state(self) -> SocketState:
        if self.transport is not None:
            return self.transport.ready_state
        if self.closed:
            return SocketState.CLOSED
        return SocketState.CLOSING if self.closing else _CONNECTING

    @property
    def skip_heartbeat(self) -> bool:
        return self.transport is not None and self.transport.skip_heartbeat

    def carried(self, channel: Channel, join_ref: str | None) -> bool:
        """Whether the channel's join ``join_ref`` went out over this connection."""
        return channel._join_sent == (self, join_ref)

    # -- opening -------------------------------------------------------------------------

    def start(self, params: Any, token: Any) -> None:
        """Opens the transport once ``params`` and ``token`` are known.

        Either may be a callable (called now), and what it returns may be awaitable.
        """
        try:
            params = params() if callable(params) else params
            token = token() if callable(token) else token
        except Exception as exc:
            failure = ConnectError(f"the params or auth_token callable raised {exc!r}")
            asyncio.get_running_loop().call_soon(self._failed, failure)
            return
        if _awaitable(params) or _awaitable(token):
            # futures at once, so that a close before they ran cancels them cleanly
            if inspect.isawaitable(params):
                params = self._track(asyncio.ensure_future(params))
            if inspect.isawaitable(token):
                token = self._track(asyncio.ensure_future(token))
            self._task = self._track(asyncio.ensure_future(self._resolve_then_open(params, token)))
        else:
            self._open_transport(params, token)

    def _track(self, future: asyncio.Future[Any]) -> asyncio.Future[Any]:
        self._awaiting = (*self._awaiting, future)
        return future

    async def _resolve_then_open(self, params: Any, token: Any) -> None:
        try:
            if inspect.isawaitable(params):
                params = await params
            if inspect.isawaitable(token):
                token = await token
        except Exception as exc:
            self._failed(ConnectError(f"the params or auth_token callable raised {exc!r}"))
            return
        finally:
            self._task = None
            self._awaiting = ()
        if not (self.closing or self.closed):
            self._open_transport(params, token)

    def _open_transport(self, params: Any, token: Any) -> None:
        try:
            options = self.socket._transport_options(params, token)
            self.transport = self.socket._transport_factory(options, self)
        except Exception as exc:
            error = exc if isinstance(exc, ConnectError) else ConnectError(f"cannot connect: {exc}")
            asyncio.get_running_loop().call_soon(self._failed, error)

    def _failed(self, error: BaseException) -> None:
        if not self.closed:
            self.transport_error(error)
            self.transport_close(None, "", False)

    # -- closing -------------------------------------------------------------------------

    def close(self, code: int | None = None, reason: str = "", *, abort: bool = False) -> None:
        """Closes the transport (``abort``: without a handshake, the peer being presumed
        dead); its close report then only confirms our close."""
        self.closing = True
        if self.transport is not None:
            if abort:
                self.transport.abort(code, reason)
            else:
                self.transport.close(code, reason)
        elif not self.closed:
            for future in self._awaiting:
                future.cancel()
            self._awaiting = ()
            self._task = None
            asyncio.get_running_loop().call_soon(self.transport_close, code, reason, True)

    def when_closed(self, timeout: float, callback: Callable[[], None]) -> None:
        """Calls ``callback`` once closed, or after ``timeout`` seconds, whichever is first."""
        if self.closed:
            callback()
            return
        fired = False

        def once() -> None:
            nonlocal fired
            if not fired:
                fired = True
                handle.cancel()
                callback()

        handle = asyncio.get_running_loop().call_later(timeout, once)
        self._closed_callbacks = (*self._closed_callbacks, once)

    # -- TransportHandler ----------------------------------------------------------------

    def transport_open(self) -> None:
        self.was_open = True
        if self.is_current():
            self.socket._on_conn_open(self)

    def transport_messages(self, items: list[Any]) -> None:
        # the router drops the reads of a connection that is no longer current
        self.socket._router.route(self, items)

    def transport_error(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error
        # closing a connection that is still connecting makes it fail: that is our doing
        if not self.closing and self.is_current():
            self.socket._on_conn_error(self, error)

    def transport_close(self, code: int | None, reason: str, was_clean: bool) -> None:
        if self.closed:
            return
        self.closed = True
        # the socket hears of the close before a teardown waiting for it lets go of us
        if self.is_current():
            self.socket._on_conn_close(self, CloseEvent(code, reason, was_clean))
        callbacks, self._closed_callbacks = self._closed_callbacks, ()
        for callback in callbacks:
            callback()


def _awaitable(value: Any) -> bool:
    """``inspect.isawaitable``, answered without it for the usual params (a dict) and token
    (a str or None): its ABC check cost 0.25 us per value on every connect (0.06 here)."""
    return type(value) not in _PLAIN and inspect.isawaitable(value)


_PLAIN = frozenset({dict, str, type(None)})
