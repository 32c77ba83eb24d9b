"""A custom ``encode``/``decode`` over a real WebSocket: binary frames from a custom encoder,
and a decoder that raises on one frame costs that frame only."""

from __future__ import annotations

from typing import Any

from phoenix_fast import Message, ReferenceSerializer, Socket
from phoenix_fast.errors import DecodeError
from phoenix_fast.testing import wait_for


async def test_a_custom_encoder_may_send_binary_frames(phoenix_url: str) -> None:
    serializer = ReferenceSerializer("2.0.0")
    socket = Socket(phoenix_url, encode=serializer.encode, decode=serializer.decode)
    async with socket:
        channel = socket.channel("echo:custom-binary")
        await channel.join()
        # a bytes payload: the encoder returns a binary push, sent as a binary frame
        assert await channel.push("bin", b"\x00\x01\xff") == b"\x00\x01\xff"


async def test_a_decoder_raising_on_one_frame_drops_only_that_frame(phoenix_url: str) -> None:
    serializer = ReferenceSerializer("2.0.0")
    logged: list[str] = []

    def decode(raw: str | bytes) -> Message:
        if isinstance(raw, str) and '"shout"' in raw:
            raise ValueError("no shouting")
        return serializer.decode(raw)

    socket = Socket(
        phoenix_url,
        encode=serializer.encode,
        decode=decode,
        logger=lambda kind, msg, data: logged.append(msg),
    )
    async with socket:
        channel = socket.channel("echo:custom-decode")
        await channel.join()
        heard: list[Any] = []
        channel.on("shout", heard.append)
        await channel.push("shout", {"loud": True})  # its reply decodes; the broadcast not
        assert await channel.push("ping", {"after": 1}) == {"after": 1}
        await wait_for(lambda: any("the decoder raised" in line for line in logged))
        assert heard == []
        assert any("the decoder raised ValueError('no shouting')" in line for line in logged)


async def test_a_decoders_own_decode_error_is_logged_as_it_said(phoenix_url: str) -> None:
    serializer = ReferenceSerializer("2.0.0")
    logged: list[str] = []

    def decode(raw: str | bytes) -> Message:
        if isinstance(raw, str) and '"shout"' in raw:
            raise DecodeError("shouting is not a frame here")
        return serializer.decode(raw)

    socket = Socket(
        phoenix_url,
        encode=serializer.encode,
        decode=decode,
        logger=lambda kind, msg, data: logged.append(msg),
    )
    async with socket:
        channel = socket.channel("echo:custom-decode-error")
        await channel.join()
        await channel.push("shout", {})
        await wait_for(lambda: any("shouting" in line for line in logged))
        assert "dropping a frame that cannot be decoded: shouting is not a frame here" in logged
