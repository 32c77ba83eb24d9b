"""What a serializer is: the seam that ``Socket(encode=..., decode=...)`` plugs into."""

from __future__ import annotations

from typing import Protocol, TypeAlias

from phoenix_fast.message import Message

#: A frame as a transport carries it: ``str`` for a text frame, ``bytes`` for a binary one.
RawFrame: TypeAlias = "str | bytes"


class FrameSerializer(Protocol):
    """Encodes messages to frames and decodes frames to messages."""

    def encode(self, message: Message) -> RawFrame:
        """The frame for ``message``: ``bytes`` (binary) when the payload is bytes-like."""
        ...

    def decode(self, raw: RawFrame) -> Message:
        """The message in ``raw``; raises :class:`~phoenix_fast.errors.DecodeError`."""
        ...
