"""The default serializer: the envelope in Rust, the payload through orjson (or your own)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from phoenix_fast import _native
from phoenix_fast._constants import DEFAULT_VSN
from phoenix_fast.message import Message
from phoenix_fast.serializers._version import vsn_major
from phoenix_fast.serializers.base import RawFrame

__all__ = ["Serializer", "default_codec", "default_decoder", "default_encoder"]


@functools.cache
def default_codec(major: int) -> _native.Codec:
    """The orjson codec of serializer generation ``major`` (1 or 2), shared process-wide.

    Sharing is safe (the codec holds no per-connection state, only a cache of recent topic
    and event strings, and runs under the GIL) and saves every socket its own cache.
    """
    return _native.Codec(major, orjson.loads, orjson.dumps, True)


@functools.cache
def default_encoder(major: int) -> Callable[[Message], str | bytes]:
    """``encode(message)`` with :func:`default_codec`'s codec, shared process-wide like it
    (every socket once made its own closure: two GC-tracked objects a socket)."""
    codec = default_codec(major)
    return lambda message: codec.encode(*message)


@functools.cache
def default_decoder(major: int) -> Callable[[str | bytes], Any]:
    """:func:`default_codec`'s ``decode``, one bound method shared process-wide (a socket
    once bound its own)."""
    return default_codec(major).decode


class Serializer:
    """Phoenix's V1 and V2 serializers, with V2 binary frames.

    Args:
        vsn: the protocol version; ``"2.0.0"`` (array frames, binary allowed) by default,
            ``"1.0.0"`` for object frames.
        loads: decodes one payload from ``bytes``; ``orjson.loads`` by default.
        dumps: encodes one payload to ``bytes`` or ``str``; ``orjson.dumps`` by default.

    A binary frame decodes with ``bytes`` as payload; a binary reply has event ``phx_reply``
    and payload ``{"status": ..., "response": <bytes>}``. A bytes-like payload encodes as a
    binary push. Encoding a binary field over 255 bytes raises
    :class:`~phoenix_fast.errors.EncodeError` naming the field; any malformed frame raises
    :class:`~phoenix_fast.errors.DecodeError`.
    """

    __slots__ = ("_codec", "vsn")

    def __init__(
        self,
        vsn: str = DEFAULT_VSN,
        *,
        loads: Callable[[bytes], Any] = orjson.loads,
        dumps: Callable[[Any], bytes | str] = orjson.dumps,
    ) -> None:
        self.vsn = vsn
        # orjson decodes a whole read's payloads as one array; a custom loads gets one at a time.
        self._codec = _native.Codec(vsn_major(vsn), loads, dumps, loads is orjson.loads)

    def encode(self, message: Message) -> RawFrame:
        """The frame for ``message``: ``str`` for text, ``bytes`` for a binary push."""
        return self._codec.encode(*message)

    def decode(self, raw: RawFrame) -> Message:
        """The message in ``raw`` (``str``: a text frame; ``bytes``: a binary frame)."""
        return self._codec.decode(raw)  # type: ignore[no-any-return]

    def decode_batch(self, frames: Sequence[RawFrame]) -> list[Message | Exception]:
        """Decodes every frame in one native call.

        A frame that fails to decode yields its :class:`~phoenix_fast.errors.DecodeError`
        in its place, so one bad frame costs nothing else.
        """
        return self._codec.decode_batch(list(frames))

    def __repr__(self) -> str:
        return f"Serializer(vsn={self.vsn!r})"
