"""The connection half of ``Socket``: opening, closing, reconnecting, heartbeats.

Follows the JS client 1.8.16 (``transportConnect``, ``teardown``, ``onConnOpen/Close/Error``,
``triggerChanError``, ``sendHeartbeat``, ``heartbeatTimeout``), durations in seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from phoenix_fast import _native
from phoenix_fast._arity import positional_arity
from phoenix_fast._connection import Connection
from phoenix_fast._constants import (
    CLOSE_WAIT,
    EVENT_HEARTBEAT,
    PHOENIX_TOPIC,
    WS_CLOSE_NORMAL,
)
from phoenix_fast._dispatch import Dispatcher
from phoenix_fast._endpoint import auth_protocols, with_query
from phoenix_fast._outcome import Outcome
from phoenix_fast._redact import Redactor, redact_url
from phoenix_fast._types import CloseEvent, SocketParams, TokenSource
from phoenix_fast.errors import ConnectError, ConnectionClosed, HeartbeatTimeout
from phoenix_fast.message import Message
from phoenix_fast.transports.base import Decoder, Encoder, TransportFactory, TransportOptions

if TYPE_CHECKING:
    import ssl

    from phoenix_fast.timer import Timer

__all__ = ["Lifecycle"]


class Lifecycle(Dispatcher):
    """Base of ``Socket`` managing its connections (see the module docstring)."""

    endpoint: str
    params: SocketParams
    auth_token: TokenSource | None
    vsn: str
    heartbeat_interval: float | None
    heartbeat_timeout: float | None
    max_message_size: int
    connect_timeout: float
    compress: bool
    max_buffer: int | None
    established_connections: int
    _headers: list[tuple[str, str]]
    _ssl: ssl.SSLContext | None
    _transport_factory: TransportFactory
    _codec: _native.Codec | None
    _encode: Encoder
    _decode: Decoder
    _reconnect_timer: Timer
    _close_was_clean: bool
    _outage_logged: bool
    _connect_clock: int
    _next_open: Outcome[None] | None
    _heartbeat: asyncio.TimerHandle | None
    _heartbeat_deadline: asyncio.TimerHandle | None

    def connect(self) -> Awaitable[None]:
        raise NotImplementedError

    # -- connection life cycle ------------------------------------------------------

    def _transport_connect(self) -> None:
        previous = self._conn
        self._connect_clock += 1
        self._close_was_clean = False
        # a reconnect scheduled before would tear the new connection down; tries are kept
        self._reconnect_timer.cancel()
        conn = self._conn = Connection(self)
        if previous is not None and previous.is_open():
            self._trigger_chan_error("connection_closed", previous)
        conn.start(self.params, self.auth_token)

    def _transport_options(self, params: Mapping[str, Any], token: str | None) -> TransportOptions:
        url = with_query(self.endpoint, params, self.vsn)
        return TransportOptions(
            url=url,
            encode=self._encode,
            decode=self._decode,
            protocols=auth_protocols(token) if token else None,
            headers=list(self._headers),
            ssl=self._ssl,
            codec=self._codec,
            max_message_size=self.max_message_size,
            connect_timeout=self.connect_timeout,
            compress=self.compress,
            max_buffer=self.max_buffer,
            redactor=Redactor(url, token, (value for _, value in self._headers)),
        )

    def _open_outcome(self) -> Outcome[None]:
        if self.is_connected():
            done: Outcome[None] = Outcome()
            done.set_result(None)
            return done
        if self._next_open is None:
            self._next_open = Outcome()
        return self._next_open

    def _fail_next_open(self, error: BaseException) -> None:
        outcome, self._next_open = self._next_open, None
        if outcome is not None:
            outcome.set_exception(error)

    def _teardown(
        self,
        callback: Callable[[], object] | None = None,
        code: int | None = None,
        reason: str | None = None,
    ) -> None:
        conn = self._conn
        if conn is None:
            if callback is not None:
                callback()
            return
        self._clear_heartbeats()
        if not conn.closing:
            was_opened = not conn.is_connecting()
            conn.close(code, reason or "")
            self._connection_lost(conn, ConnectionClosed("the connection was closed", code))
            if was_opened:
                self._trigger_chan_error("connection_closed", conn)

        def closed() -> None:
            if self._conn is conn:
                self._conn = None
            if callback is not None:
                callback()

        conn.when_closed(CLOSE_WAIT, closed)

    def _teardown_and_reconnect(self, reconnect: Callable[[], object]) -> None:
        conn, clock = self._conn, self._connect_clock

        def then() -> None:
            # a disconnect() or connect() in the meantime takes precedence
            if clock == self._connect_clock and not (conn is not None and conn.ended):
                reconnect()

        self._teardown(then)

    def _still_uses(self, conn: Connection | None) -> bool:
        return self._conn is conn and not (conn is not None and conn.ended)

    def _on_reconnect_timer(self) -> None:
        self._teardown_and_reconnect(self.connect)

    def _on_conn_open(self, conn: Connection) -> None:
        if self._log.enabled:
            self._log("transport", f"connected to {redact_url(self.endpoint)}")
        self._close_was_clean = False
        self._outage_logged = False
        self.established_connections += 1
        self._yielded = None  # a pause of an earlier transport is not this one's
        self._flush_send_buffer()
        self._reconnect_timer.reset()
        self._reset_heartbeat()
        outcome, self._next_open = self._next_open, None
        if outcome is not None:
            outcome.set_result(None)
        for _, callback in self._callbacks["open"]:
            self._run_callback(callback)
        for channel in self.channels:
            try:
                channel._on_socket_open()
            except Exception as exc:  # noqa: PERF203 - one failure must not stop the others
                self._log.error("channel", f"rejoining {channel.topic} failed", exc)

    def _on_conn_close(self, conn: Connection, event: CloseEvent) -> None:
        if self._log.enabled:
            self._log("transport", f"close {event.code} {event.reason!r}", event)
        self._clear_heartbeats()
        # we only close to disconnect or to reconnect, and whoever closed takes care of what
        # follows; any other close reconnects, whatever its code (as 1.8.16 does)
        closed_by_us = conn.closing
        lost = ConnectionClosed("the connection closed", event.code, event.reason)
        self._connection_lost(conn, lost)
        if not conn.was_open:
            self._fail_next_open(conn.error or _never_opened(event))
        self._trigger_chan_error("connection_closed", conn)
        if self._still_uses(conn) and not closed_by_us and not self._close_was_clean:
            self._reconnect_timer.schedule_timeout()
        for _, callback in self._callbacks["close"]:
            self._run_callback(callback, event)

    def _on_conn_error(self, conn: Connection, error: BaseException) -> None:
        self._report_conn_error(error)
        # as JS: (error, transport, established connections), to those that require them;
        # *args callables (logger.error, print) get the error alone, as before
        args = (error, self._transport_factory, self.established_connections)
        for _, callback in self._callbacks["error"]:
            self._run_callback(callback, *args[: positional_arity(callback, 3, star=1)])
        for channel in self.channels:
            channel._on_socket_error()
        self._trigger_chan_error("connection_error", conn)

    def _report_conn_error(self, error: BaseException) -> None:
        """Logs a failed connection: one WARNING per outage (the first failure since the
        socket was last open), the retries' failures as traces. An error that an awaiting
        ``connect()`` raises to its caller is not also logged as a warning."""
        next_open = self._next_open
        if self._outage_logged or (next_open is not None and next_open.awaited):
            if self._log.enabled:
                self._log("transport", f"error: {error}", error)
            return
        self._outage_logged = True
        self._log.error("transport", f"error: {error} (retrying; later failures at DEBUG)", error)

    def _trigger_chan_error(self, reason: str, conn: Connection | None = None) -> None:
        """Errors the channels that must rejoin once ``conn`` stopped being open."""
        conn = conn or self._conn
        errored_before = False
        if conn is not None and not conn.is_open():
            errored_before = conn.channels_errored
            conn.channels_errored = True
        payload = {"source": "transport", "reason": reason}
        for channel, join_ref in [(ch, ch.join_ref) for ch in self.channels]:
            # an earlier callback may have rejoined this channel meanwhile
            if channel.join_ref != join_ref:
                continue
            if (
                conn is not None
                and (errored_before or not conn.is_current())
                and not conn.carried(channel, join_ref)
            ):
                continue
            if channel.state in ("joined", "joining"):
                self._safe_trigger(channel, "phx_error", payload)

    def _connection_lost(self, conn: Connection, error: BaseException) -> None:
        """Fails, once, the pings and the awaiters of pushes that went out over ``conn``."""
        if conn.lost:
            return
        conn.lost = True
        pings, conn.pings = conn.pings, {}
        for _, outcome in pings.values():
            outcome.set_result(None)
        for push in self._pending.drain():
            self._pending.add(push.ref, push, push._deadline)
            if push._conn is conn:
                push._conn = None
                push._fail(error)

    # -- heartbeat -----------------------------------------------------------------

    def _reset_heartbeat(self) -> None:
        conn = self._conn
        if self.heartbeat_interval is None or (conn is not None and conn.skip_heartbeat):
            return
        self._clear_heartbeats()
        self._heartbeat = self._loop().call_later(self.heartbeat_interval, self._send_heartbeat)

    def _clear_heartbeats(self) -> None:
        for handle in (self._heartbeat, self._heartbeat_deadline):
            if handle is not None:
                handle.cancel()
        self._heartbeat = self._heartbeat_deadline = None
        # a late reply to the pending heartbeat must not start the heartbeats again
        self._pending_heartbeat_ref = None

    def _send_heartbeat(self) -> None:
        self._heartbeat = None
        if not self.is_connected() or self.heartbeat_timeout is None:
            return
        ref = self._pending_heartbeat_ref = self.make_ref()
        self._push(Message(None, ref, PHOENIX_TOPIC, EVENT_HEARTBEAT, {}))
        self._heartbeat_deadline = self._loop().call_later(
            self.heartbeat_timeout, self._on_heartbeat_timeout
        )

    def _on_heartbeat_reply(self) -> None:
        self._clear_heartbeats()
        if self.heartbeat_interval is not None:
            self._heartbeat = self._loop().call_later(self.heartbeat_interval, self._send_heartbeat)

    def _on_heartbeat_timeout(self) -> None:
        self._heartbeat_deadline = None
        if self._pending_heartbeat_ref is None:
            return
        conn = self._conn
        self._pending_heartbeat_ref = None
        self._log.error("transport", "heartbeat timeout: reconnecting")
        self._close_was_clean = False
        # the link is presumed dead: close at once, so channels error as disconnected
        if conn is not None:
            conn.close(WS_CLOSE_NORMAL, "heartbeat timeout", abort=True)
            self._connection_lost(conn, HeartbeatTimeout("no heartbeat reply in time"))
        if not self._still_uses(conn):
            return
        self._trigger_chan_error("heartbeat_timeout")
        if not self._still_uses(conn):
            return
        self._teardown_and_reconnect(self._reconnect_timer.schedule_timeout)


def _never_opened(event: CloseEvent) -> BaseException:
    return ConnectError(f"the connection closed before opening (code {event.code})")
