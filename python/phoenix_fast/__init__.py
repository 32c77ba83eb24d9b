"""phoenix_fast: a fast Phoenix Channels client for Python with a Rust core."""

from phoenix_fast import errors
from phoenix_fast._native import __version__
from phoenix_fast.message import Message
from phoenix_fast.serializers import ReferenceSerializer, Serializer

__all__ = ["Message", "ReferenceSerializer", "Serializer", "__version__", "errors"]
