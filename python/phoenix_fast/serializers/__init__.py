"""Serializers: Phoenix frames to :class:`~phoenix_fast.Message` records and back."""

from phoenix_fast.serializers.base import FrameSerializer, RawFrame
from phoenix_fast.serializers.native import Serializer
from phoenix_fast.serializers.reference import ReferenceSerializer

__all__ = ["FrameSerializer", "RawFrame", "ReferenceSerializer", "Serializer"]
