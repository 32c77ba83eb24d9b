"""Read coalescing prototypes, as subclasses of the WebSocket transport (the core is untouched).

A client that reads every small segment the moment it arrives makes the sender's kernel wake
it for every segment. Each variant here reads less eagerly after a small read (under
``LOW_WATER`` bytes), so that the next segments pile up in the socket's receive queue and are
taken by one read:

- ``defer``: after a small read, ``pause_reading()`` and resume one loop iteration later
  (uvloop's timers have a 1 ms resolution: ``call_later`` under 0.5 ms is "next iteration").
  While paused the socket is out of epoll, so the sender's kernel has nobody to wake.
- ``defer1ms``, ``defer5ms``: the same with a 1 ms or 5 ms pause.
- ``lowat``: ``SO_RCVLOWAT = LOW_WATER`` after a small read: the kernel neither wakes us nor
  reports the socket readable until that many bytes are queued; a 1 ms timer sets it back to
  1, which signals readability at once if anything is queued (Linux's ``tcp_set_rcvlowat``).

``smallwindow`` (a 32 KiB ``SO_RCVBUF`` and ``defer1ms-stream``) probes the one lever that did
change the server's cost: a window that fills.

Each variant has a ``stream`` form that defers only when the small read looks like one-way
streaming: the previous read was less than ``STREAM_GAP`` ago and we wrote nothing since (a
request/reply exchange such as S4 writes between reads, sparse traffic has long gaps).
"""

from __future__ import annotations

import socket
import time
from typing import Any

from phoenix_fast._states import SocketState
from phoenix_fast.transports.base import TransportHandler, TransportOptions
from phoenix_fast.transports.websocket import WebSocketTransport

#: A read returning fewer bytes than this is "small" (about 100 frames of S1's size).
LOW_WATER = 16 * 1024
#: Two reads closer than this (seconds) are a stream.
STREAM_GAP = 0.001


class CoalescingTransport(WebSocketTransport):
    """The base transport plus counters; subclasses decide when to hold reading back."""

    #: False: hold back after any small read; True: only while streaming one way.
    stream_only = False

    def __init__(self, options: TransportOptions, handler: TransportHandler) -> None:
        super().__init__(options, handler)
        self.reads = 0
        self.holds = 0
        self._last_read = 0.0
        self._frames_at_read = 0
        self._holding = False

    def data_received(self, data: bytes) -> None:
        self.reads += 1
        super().data_received(data)
        now = time.perf_counter()
        if (
            len(data) < LOW_WATER
            and not self._holding
            and self.ready_state is SocketState.OPEN
            and self._transport is not None
            and self._wants_hold(now)
        ):
            self.holds += 1
            self._holding = True
            self._hold_back()
        self._last_read = now
        self._frames_at_read = self.frames_out

    def _wants_hold(self, now: float) -> bool:
        if not self.stream_only:
            return True
        return now - self._last_read < STREAM_GAP and self.frames_out == self._frames_at_read

    def _hold_back(self) -> None:
        raise NotImplementedError

    def stats(self) -> dict[str, Any]:
        return {"reads": self.reads, "holds": self.holds}


class Plain(CoalescingTransport):
    """No coalescing: the base transport, with the read counter."""

    def _wants_hold(self, now: float) -> bool:
        return False


class Defer(CoalescingTransport):
    delay = 0.0

    def _hold_back(self) -> None:
        assert self._transport is not None
        self._transport.pause_reading()
        self._loop.call_later(self.delay, self._release)

    def _release(self) -> None:
        self._holding = False
        transport = self._transport
        # the base's own pause_reading (flow control from the user) keeps reading paused
        if transport is not None and not self._paused and not transport.is_closing():
            transport.resume_reading()


class Defer1ms(Defer):
    delay = 0.001


class Defer5ms(Defer):
    """A pause long enough (about 200 KB of S1 at 250 k msgs/s) to fill the receive window,
    which is what makes the sender's writes coalesce: a probe of the mechanism, not a
    candidate (5 ms added to any reply that lands in the pause)."""

    delay = 0.005


class SmallWindow(Defer1ms):
    """A probe of the one lever that changed the server's cost in ``raw_reader.py``: a
    32 KiB receive buffer, and a 1 ms pause after small streaming reads, so that the window
    fills and the sender's writes queue behind it. Not a candidate: it caps throughput at
    about 32 KiB per pause and a small buffer cannot fill a long path."""

    stream_only = True

    def connection_made(self, transport: Any) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
        super().connection_made(transport)


class LowWater(CoalescingTransport):
    delay = 0.001

    def _raw(self) -> socket.socket | None:
        assert self._transport is not None
        return self._transport.get_extra_info("socket")  # type: ignore[no-any-return]

    def _hold_back(self) -> None:
        sock = self._raw()
        if sock is None:
            self._holding = False
            return
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, LOW_WATER)
        self._loop.call_later(self.delay, self._release)

    def _release(self) -> None:
        self._holding = False
        if self._transport is not None and not self._transport.is_closing():
            sock = self._raw()
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1)


class DeferStream(Defer):
    stream_only = True


class Defer1msStream(Defer1ms):
    stream_only = True


class LowWaterStream(LowWater):
    stream_only = True


VARIANTS: dict[str, type[CoalescingTransport]] = {
    "plain": Plain,
    "defer": Defer,
    "defer1ms": Defer1ms,
    "defer5ms": Defer5ms,
    "lowat": LowWater,
    "defer-stream": DeferStream,
    "defer1ms-stream": Defer1msStream,
    "lowat-stream": LowWaterStream,
    "smallwindow": SmallWindow,
}
