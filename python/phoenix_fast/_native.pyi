"""Type stubs for the Rust extension ``phoenix_fast._native`` (hand-written; checked by stubtest)."""

from collections.abc import Callable
from typing import Any, final

__version__: str

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
    ) -> Codec: ...
    @property
    def vsn_major(self) -> int: ...
    def decode(self, raw: str | bytes) -> Any:
        """One frame: ``str`` is a text frame, ``bytes`` a binary frame."""
    def decode_text(self, raw: bytes) -> Any:
        """One text frame given as UTF-8 bytes."""
    def decode_batch(self, frames: list[Any]) -> list[Any]:
        """Every frame of a list; a bad frame is replaced by its ``DecodeError``."""
    def encode(
        self, join_ref: str | None, ref_: str | None, topic: str, event: str, payload: Any
    ) -> str | bytes:
        """``str`` for a text frame, ``bytes`` for a binary push."""
    def encode_bytes(
        self, join_ref: str | None, ref_: str | None, topic: str, event: str, payload: Any
    ) -> tuple[bytes, bool]:
        """The frame as bytes for a transport, and whether it is binary."""
