"""What a socket lets you watch: ``socket.stats()`` snapshots and the ``observer`` hook.

The counters are kept where counting is free: the connection machine counts connects,
reconnects and drops; the receive loop adds the messages of a read in one addition; the
transports count bytes per read and per write, never per message.

The observer is called with an event name and a dict, for:

- ``"connect"``: ``{"connects": n, "transport": name}``, a connection opened;
- ``"close"``: ``{"code": c, "reason": r, "by_us": bool, "was_open": bool, "drop": bool,
  "reconnect_in": seconds|None}``, a connection (or an attempt) closed; ``was_open``: it
  had opened; ``drop``: it counts in ``stats().drops`` (it was open and the socket did not
  mean to close it: a heartbeat timeout is a drop although the socket closes it, a
  ``disconnect()`` is not);
- ``"error"``: ``{"error": exception, "first": bool}``, a connection or an attempt failed
  (a close follows); ``first``: the first failure of an outage, the one logged at WARNING;
- ``"channel_error"``: ``{"topic": t, "from_transport": bool}``, a channel errored: its
  server process crashed, or (``from_transport``) the connection dropped; it rejoins;
- ``"join"``: ``{"topic": t, "join_ref": ref}``, a join (or a rejoin) was accepted;
- ``"rejoin"``: ``{"topic": t}``, a channel sends its join again (after an error, a
  timeout, a reconnect);
- ``"push"``: ``{"topic": t, "event": e, "status": s, "seconds": rtt}``, a push resolved
  (``status`` is the server's, or ``"timeout"``; joins and leaves are pushes too).

With no observer set, the only cost is one ``is None`` test where an event happens. An
observer that does not want the ``"push"`` events (one per reply) is set with
``Socket(observe_pushes=False)``: the reply path then costs what it costs without one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

__all__ = ["Observer", "SocketStats"]

#: ``observer(event, data)``; see the module docstring for the events.
Observer: TypeAlias = Callable[[str, Mapping[str, Any]], object]


@dataclass(frozen=True)
class SocketStats:
    """A snapshot of one socket's counters (``socket.stats()``).

    Attributes:
        state: the connection machine's phase (idle, connecting, open, closing, closed,
            waiting: to reconnect).
        transport: the transport in use, ``"websocket"`` or ``"longpoll"``.
        connects: connections opened.
        reconnects: attempts the socket made on its own (after a drop or a failure).
        drops: open connections lost without our asking (closes, heartbeat timeouts).
        messages_in: messages received.
        messages_out: frames written (pushes, joins, leaves, heartbeats).
        bytes_in: bytes read from the network (WebSocket frames; LongPoll bodies).
        bytes_out: bytes written to the network.
        pending_pushes: pushes waiting for a reply or a timeout.
        queued_pushes: pushes held until the socket connects or their channel joins.
        buffered_bytes: bytes pushed that the network has not taken (``buffered_amount``).
        channels: how many channels are in each state, ``{"joined": 3, ...}``.
    """

    state: str
    transport: str
    connects: int
    reconnects: int
    drops: int
    messages_in: int
    messages_out: int
    bytes_in: int
    bytes_out: int
    pending_pushes: int
    queued_pushes: int
    buffered_bytes: int
    channels: Mapping[str, int] = field(default_factory=dict)
