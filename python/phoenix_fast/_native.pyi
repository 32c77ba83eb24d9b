"""Stubs for the Rust extension ``phoenix_fast._native`` (hand-written; checked by stubtest)."""

from collections.abc import Callable
from typing import Any, final

__version__: str

@final
class WsClient:
    """The client end of one WebSocket connection, without I/O, fused with a Phoenix codec."""

    def __new__(
        cls, codec: Codec | None, max_message_size: int = ..., *, compress: bool = False
    ) -> WsClient:
        """With ``compress``, the handshake offers permessage-deflate (the server decides);
        compressed messages are inflated, bounded by ``max_message_size``. Frames we send
        are never compressed."""
    def handshake_request(
        self, host: str, path: str, protocols: list[str], headers: list[tuple[str, str]]
    ) -> bytes:
        """The HTTP upgrade request (with a fresh key)."""
    def receive_handshake(self, data: bytes) -> list[Any] | None:
        """None until the answer is complete; then the messages after the headers.

        Raises ``ConnectError`` (with ``status``) for a non-101 answer and
        ``WebSocketProtocolError`` for a bad accept key or subprotocol.
        """
    def feed(self, data: bytes) -> list[Any]:
        """Every complete message in ``data``: with a codec, ``(join_ref, ref, topic, event,
        payload)`` tuples (exact tuples, not ``Message``s: they unpack faster) or ``DecodeError``s;
        without, ``str``/``bytes`` frames. Raises ``WebSocketProtocolError`` on bad framing."""
    def take_outgoing(self) -> bytes:
        """Queued control frames (pongs, the close echo); ``b""`` when none."""
    @property
    def protocol(self) -> str | None: ...
    @property
    def compressed(self) -> bool:
        """Whether permessage-deflate was negotiated."""
    @property
    def extensions(self) -> str | None:
        """The negotiated extension as a header value, or None."""
    @property
    def closed(self) -> bool: ...
    @property
    def close_code(self) -> int | None: ...
    @property
    def close_reason(self) -> str: ...
    def encode(
        self, join_ref: str | None, ref_: str | None, topic: str, event: str, payload: Any
    ) -> bytes:
        """A masked frame carrying the Phoenix frame (binary for a bytes-like payload)."""
    def frame_text(self, data: str | bytes) -> bytes: ...
    def frame_binary(self, data: bytes) -> bytes: ...
    def frame_ping(self, data: bytes = ...) -> bytes: ...
    def frame_close(self, code: int = 1000, reason: str = "") -> bytes: ...
    def set_writer(self, transport: object, flush_every: int) -> None:
        """Connects ``queue_fields`` to its transport: ``transport._flush_soon()`` at the
        first frame of a loop turn, ``transport._flush()`` at ``flush_every`` frames,
        ``transport._hold(size)`` for each frame queued while ``write_paused``."""
    def queue_fields(
        self, join_ref: str | None, ref: str | None, topic: str, event: str, payload: Any
    ) -> None:
        """Queues the masked frame of these fields, then does what ``set_writer`` says."""
    def queue_frame(self, frame: bytes) -> None:
        """Queues a ready frame, then does what ``set_writer`` says."""
    def queue_control(self, frame: bytes) -> None:
        """Queues a frame the caller flushes at once, even while writing is paused."""
    def take_queued(self) -> tuple[int, bytes] | None:
        """``(frames, data)`` of everything queued, emptying the queue; None when empty."""
    def clear_queued(self) -> None:
        """Drops everything queued."""
    @property
    def queued_size(self) -> int:
        """Bytes queued and not yet taken."""
    write_paused: bool
    """Writing is paused: frames queued by ``queue_fields`` are held and reported to ``_hold``."""
    flush_scheduled: bool
    """A flush is scheduled for this loop turn (the transport's flush clears it)."""

def set_message_class(cls: type[tuple[Any, ...]]) -> None:
    """Registers the ``Message`` NamedTuple that decoders build (done at import)."""

@final
class Codec:
    """Encodes and decodes Phoenix frames of one serializer version (1 or 2)."""

    def __new__(
        cls,
        vsn_major: int,
        loads: Callable[[bytes], Any],
        dumps: Callable[[Any], bytes | str],
        batch_loads: bool = False,
    ) -> Codec:
        """``batch_loads``: ``loads`` may decode a whole read's payloads as one JSON array."""
    @property
    def vsn_major(self) -> int: ...
    def remember(self, text: str) -> None:
        """Makes ``text`` the object that decoded frames carry for that text (a topic)."""
    def decode(self, raw: str | bytes) -> Any:
        """One frame: ``str`` is a text frame, ``bytes`` a binary frame."""
    def decode_text(self, raw: bytes) -> Any:
        """One text frame given as UTF-8 bytes."""
    def decode_batch(self, frames: list[Any]) -> list[Any]:
        """Every frame of a list; a bad frame is replaced by its ``DecodeError``."""
    def decode_poll(self, raw: bytes) -> tuple[int | None, str | None, list[Any]]:
        """A LongPoll poll answer: ``(status, token, items)``, the items as ``feed``'s."""
    def encode(
        self, join_ref: str | None, ref_: str | None, topic: str, event: str, payload: Any
    ) -> str | bytes:
        """``str`` for a text frame, ``bytes`` for a binary push."""
    def encode_bytes(
        self, join_ref: str | None, ref_: str | None, topic: str, event: str, payload: Any
    ) -> tuple[bytes, bool]:
        """The frame as bytes for a transport, and whether it is binary."""

# Presence merge (rust/py/presence.rs). Inputs are never mutated; presences whose metas change
# are new dicts, everything else is shared. Records are flat lists of (key, presence, presence)
# triples in the JS client's callback order.

def presence_sync_state(
    state: dict[Any, Any],
    new_state: dict[Any, Any],
    want_joins: bool = True,
    want_leaves: bool = True,
) -> tuple[dict[Any, Any], list[Any], list[Any]]:
    """``(new_state, joins, leaves)`` for ``Presence.syncState``: joins hold
    ``key, current_or_None, new_presence`` triples, leaves ``key, current_after_removal, left``
    triples (empty when not wanted)."""

def presence_sync_diff(
    state: dict[Any, Any],
    diff: dict[str, Any],
    want_joins: bool = True,
    want_leaves: bool = True,
) -> tuple[dict[Any, Any], list[Any], list[Any]]:
    """``(new_state, joins, leaves)`` for ``Presence.syncDiff``, records as in
    ``presence_sync_state``."""

def presence_list(
    presences: dict[Any, Any], chooser: Callable[[Any, Any], Any] | None = None
) -> list[Any]:
    """The presences in key order, or ``chooser(key, presence)`` for each."""

@final
class Pending:
    """Pushes awaiting a reply, by ref, with their timeouts in a timing wheel.

    Times are loop-clock seconds passed in by the caller; nothing here reads a clock.
    """

    def __new__(cls, resolution: float = 0.001) -> Pending:
        """``resolution``: the wheel's tick in seconds (deadlines stay exact)."""
    @property
    def resolution(self) -> float: ...
    def make_ref(self) -> str:
        """The next ref with the JS rules: ``"1"`` first; after ``2**53`` it wraps to ``"0"``."""
    @property
    def ref(self) -> int:
        """The ref counter's current value (the last ref made)."""
    def set_ref(self, value: int) -> None:
        """Sets the ref counter (0 to ``2**53``), for tests of the wrap rule."""
    def add(self, ref: str, item: object, deadline: float | None) -> None:
        """Registers ``item`` awaiting a reply to ``ref``; replaces an entry for the same ref."""
    def add_next(self, item: object, deadline: float | None) -> str:
        """``make_ref()`` then ``add(ref, item, deadline)`` in one call; returns the ref.

        Raises ValueError (and makes no ref) for a NaN deadline."""
    def resolve(self, ref: str) -> Any:
        """Pops the item for ``ref`` and cancels its timer; None if ``ref`` is unknown."""
    def discard(self, ref: str) -> Any:
        """Same as ``resolve``, for cancellation."""
    def reschedule(self, ref: str, deadline: float | None) -> bool:
        """Changes a pending entry's deadline (None: no timeout); False if ``ref`` is unknown."""
    def expire(self, now: float) -> list[Any]:
        """Removes and returns every item with ``deadline <= now``, by deadline then insertion."""
    def next_deadline(self) -> float | None:
        """The earliest deadline, or an earlier time at which ``expire`` makes progress."""
    def drain(self) -> list[Any]:
        """Removes and returns every item, in the order they were added."""
    def timers(self) -> int:
        """The number of armed timers."""
    def __len__(self) -> int: ...
    def __contains__(self, key: object, /) -> bool: ...

@final
class TimerWheel:
    """Timeouts on the loop clock: O(1) insert and cancel, exact deadlines."""

    def __new__(cls, resolution: float = 0.001) -> TimerWheel:
        """``resolution``: the wheel's tick in seconds (deadlines stay exact)."""
    @property
    def resolution(self) -> float: ...
    def insert(self, deadline: float, item: object) -> int:
        """Arms a timer for ``item`` at ``deadline``; returns its id."""
    def cancel(self, id: int) -> Any:
        """Disarms a timer; its item, or None if it already fired or was cancelled."""
    def reschedule(self, id: int, deadline: float) -> bool:
        """Moves an armed timer to a new deadline; False if it is not armed."""
    def expire(self, now: float) -> list[Any]:
        """Removes and returns every item with ``deadline <= now``, by deadline then insertion."""
    def next_deadline(self) -> float | None:
        """The earliest deadline, or an earlier time at which ``expire`` makes progress."""
    def drain(self) -> list[Any]:
        """Removes and returns every item, in insertion order."""
    def __len__(self) -> int: ...
    def __contains__(self, key: object, /) -> bool: ...

@final
class PushLane:
    """The two halves of an everyday push, native: filed and framed, and settled by its reply.

    Works on the slots of one ``Push`` class directly; refuses a class whose slots it does
    not know."""

    def __new__(cls, push_class: type, error_cls: object) -> PushLane:
        """Raises TypeError when ``push_class``'s slots are not the lane's."""
    def send_new(
        self,
        pending: Pending,
        channel: Any,
        event: str,
        payload: Any,
        timeout: float,
        deadline: float,
        conn: object,
        send_fields: Callable[[str | None, str, str, str, Any], None],
        join_ref: str | None,
        topic: str,
    ) -> Any:
        """A new push, pending until ``deadline`` and sent with ``send_fields``."""
    def settle(
        self, pending: Pending, ref: str, payload: Any, channel: Any
    ) -> tuple[Any, str] | None:
        """The push a reply to ``ref`` answers, resolved: ``(push, status)``, or None."""
    def settle_replies(
        self,
        messages: list[Any],
        topics: dict[str, list[Any]],
        pending: Pending,
        heartbeat_ref: str | None,
    ) -> tuple[int, BaseException | None]:
        """Settles the plain replies at the head of one read: ``(index, error)``, the first
        message left to the caller and what settling the one before it raised (or None)."""
