"""The contract application (``tests/CONTRACT.md`` in the repository): connect rule and channels.

Topics ``echo:*``, ``presence:*`` and ``load:*``; a connection whose params have
``token=bad`` is refused. Maps built here have sorted keys, as Phoenix encodes them.
Counters (``burst`` ``i``, ``fanout`` ``round``) run from 0 to n-1.

Stall mode (opt-in, for load tests): an ``echo:*`` join with ``stall_every_ms`` and
``stall_ms`` makes the channel stop answering ``ping`` for ``stall_ms`` out of every
``stall_every_ms`` milliseconds, on one clock shared by every channel of the server (so all
stall together, as a server in a garbage-collection pause or a blocked process would). A
ping that arrives during a stall is answered when it ends, and the channel's later
messages wait behind it, as they would in a blocked Phoenix channel process.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .burst import MARK, CountedFrame, stream
from .channel import Channel, ChannelCrash, Work
from .output import CHUNK_SIZE, Output, OutputClosed

if TYPE_CHECKING:
    from .context import ChannelFactory
    from .wire import WireSerializer

__all__ = ["EchoChannel", "LoadChannel", "PresenceChannel", "accept_connect", "route"]

Handler = Callable[[Any, Any, Any], "Work | None"]


def accept_connect(params: dict[str, Any]) -> bool:
    """``UserSocket.connect/3``: refuse ``token=bad``, accept anything else."""
    return params.get("token") != "bad"


def _object(params: Any) -> dict[str, Any]:
    if not isinstance(params, dict):
        # A Phoenix channel matching on a map would raise: "join crashed" / phx_error.
        raise TypeError(f"expected a JSON object, got {type(params).__name__}")
    return params


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError(f"expected a non-negative integer, got {value!r}")
    return value


class EchoChannel(Channel):
    """``echo:*``: join echo, replies, errors, crash, stop, broadcast, burst, binary."""

    #: Stall mode: seconds out of every ``stall_every`` during which pings wait (0: none).
    stall = 0.0
    stall_every = 0.0

    async def join(self, params: Any) -> tuple[str, Any]:
        """Echo the join; honour ``delay_ms``, ``fail``, ``stall_ms`` and ``stall_every_ms``."""
        params = _object(params)
        delay = params.get("delay_ms")
        if delay is not None:
            await asyncio.sleep(float(delay) / 1000)
        if "fail" in params:
            return "error", {"reason": params["fail"]}
        if "stall_ms" in params or "stall_every_ms" in params:
            stall, every = float(params["stall_ms"]), float(params["stall_every_ms"])
            if not 0 <= stall < every:
                return "error", {"reason": "stall_ms must be >= 0 and below stall_every_ms"}
            self.stall, self.stall_every = stall / 1000, every / 1000
        return "ok", {"joined": self.topic, "params": params}

    def handle_in(self, event: str, payload: Any, ref: Any) -> Work | None:
        """Dispatch the contract's events; unknown ones get an error reply."""
        handler = _ECHO_HANDLERS.get(event)
        if handler is None:
            return super().handle_in(event, payload, ref)
        return handler(self, payload, ref)

    def _ping(self, payload: Any, ref: Any) -> Work | None:
        if self.stall:
            phase = time.monotonic() % self.stall_every
            if phase < self.stall:
                return self._stalled_reply(self.stall - phase, ref, payload)
        self.reply(ref, "ok", payload)
        return None

    async def _stalled_reply(self, wait: float, ref: Any, payload: Any) -> None:
        await asyncio.sleep(wait)
        self.reply(ref, "ok", payload)

    def _error_me(self, payload: Any, ref: Any) -> None:
        self.reply(ref, "error", {"reason": "requested"})

    def _noreply(self, payload: Any, ref: Any) -> None:
        return None

    def _boom(self, payload: Any, ref: Any) -> None:
        raise ChannelCrash("boom")

    def _stop(self, payload: Any, ref: Any) -> None:
        self.reply(ref, "ok", {})
        self.stop()

    def _shout(self, payload: Any, ref: Any) -> None:
        self.broadcast("shout", payload)
        self.reply(ref, "ok", {})

    def _burst(self, payload: Any, ref: Any) -> Work:
        params = _object(payload)
        n, size = _count(params["n"]), _count(params.get("size", 0))
        self.reply(ref, "ok", {"sent": n})
        return self._send_burst(n, size)

    async def _send_burst(self, n: int, size: int) -> None:
        ser = self.socket.serializer
        body = {"data": "x" * size, "i": MARK}
        _, encoded = ser.message(self.join_ref, None, self.topic, "burst_msg", body)
        await stream(self.socket.out, CountedFrame(encoded), n)

    def _bin(self, payload: Any, ref: Any) -> None:
        if isinstance(payload, bytes | bytearray):
            self.reply(ref, "ok", bytes(payload))
        else:
            self.reply(ref, "error", {"reason": "expected binary payload"})

    def _push_bin(self, payload: Any, ref: Any) -> None:
        self.push("bin_msg", bytes(range(1, 11)))
        self.reply(ref, "ok", {})


_ECHO_HANDLERS: dict[str, Handler] = {
    "ping": EchoChannel._ping,
    "error_me": EchoChannel._error_me,
    "noreply": EchoChannel._noreply,
    "boom": EchoChannel._boom,
    "stop": EchoChannel._stop,
    "shout": EchoChannel._shout,
    "burst": EchoChannel._burst,
    "bin": EchoChannel._bin,
    "push_bin": EchoChannel._push_bin,
}


def _presence_key(user_id: Any) -> str:
    if isinstance(user_id, bool):
        return "true" if user_id else "false"
    if isinstance(user_id, str | int | float):
        return str(user_id)
    raise TypeError(f"cannot use {user_id!r} as a presence key")


class PresenceChannel(Channel):
    """``presence:*``: tracks the joiner under its ``user_id``."""

    key = ""
    status: Any = "online"

    async def join(self, params: Any) -> tuple[str, Any]:
        """Require ``user_id``; remember the key and status to track."""
        params = _object(params)
        if "user_id" not in params:
            return "error", {"reason": "user_id required"}
        self.key = _presence_key(params["user_id"])
        self.status = params.get("status", "online")
        return "ok", {}

    def after_join(self) -> None:
        """Track, then push ``presence_state`` (the ``presence_diff`` follows)."""
        meta = {"online_at": int(time.time()), "status": self.status}
        self.ctx.tracker.track(self, self.key, meta)
        self.push("presence_state", self.ctx.tracker.list(self.topic))

    def handle_in(self, event: str, payload: Any, ref: Any) -> Work | None:
        """``update_status`` updates the meta; other events get an error reply."""
        if event != "update_status":
            return super().handle_in(event, payload, ref)
        status = _object(payload)["status"]
        self.ctx.tracker.update(self, {"status": status})
        self.reply(ref, "ok", {})
        return None


class LoadChannel(Channel):
    """``load:*``: ``fanout`` broadcasts rounds of ``tick`` to many topics."""

    def handle_in(self, event: str, payload: Any, ref: Any) -> Work | None:
        """``fanout`` replies ok, then broadcasts; other events get an error reply."""
        if event != "fanout":
            return super().handle_in(event, payload, ref)
        params = _object(payload)
        prefix = params["prefix"]
        if not isinstance(prefix, str):
            raise TypeError("prefix must be a string")
        count, n = _count(params["count"]), _count(params["n"])
        size = _count(params.get("size", 0))
        self.reply(ref, "ok", {})
        return self._fanout([f"{prefix}{k}" for k in range(count)], n, "x" * size)

    async def _fanout(self, topics: list[str], n: int, data: str) -> None:
        """Broadcasts ``n`` rounds of ``tick`` to ``topics``.

        Each (topic, serializer) frame is encoded once, with the round as its only varying
        part; a round's frames are gathered per subscriber and written in one write each.
        """
        frames: dict[tuple[str, WireSerializer], CountedFrame] = {}
        body = {"data": data, "round": MARK}
        touched: dict[Output, None] = {}
        written = 0
        for r in range(n):
            round_bytes = b"%d" % r
            batches: dict[Output, list[bytes]] = {}
            for topic in topics:
                for chan in self.ctx.pubsub.subscribers_view(topic):
                    ser, out = chan.socket.serializer, chan.socket.out
                    frame = frames.get((topic, ser))
                    if frame is None:
                        frame = CountedFrame(ser.broadcast(topic, "tick", body)[1])
                        frames[topic, ser] = frame
                    if out.raw:
                        batches.setdefault(out, []).append(frame.ws_frame_of(round_bytes))
                    else:
                        out.send(False, frame.payload(r))
                        touched[out] = None
            for out, chunks in batches.items():
                block = b"".join(chunks)
                out.write_raw(block)
                touched[out] = None
                written += len(block)
            if written >= CHUNK_SIZE or r == n - 1:
                written = 0
                await _drain_all(touched)
                touched = {}


async def _drain_all(outputs: dict[Output, None]) -> None:
    for out in outputs:
        with contextlib.suppress(OutputClosed):
            await out.drain()
    await asyncio.sleep(0)


_ROUTES: tuple[tuple[str, ChannelFactory], ...] = (
    ("echo:", EchoChannel),
    ("presence:", PresenceChannel),
    ("load:", LoadChannel),
)


def route(topic: str) -> ChannelFactory | None:
    """The channel for ``topic`` (``channel "echo:*", EchoChannel`` etc.), or None."""
    for prefix, factory in _ROUTES:
        if topic.startswith(prefix):
            return factory
    return None
