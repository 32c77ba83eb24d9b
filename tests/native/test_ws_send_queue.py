"""The native client's send queue: ``queue_fields``, ``queue_frame``, ``queue_control`` and
``take_queued``, and
what a queued frame sets off in its transport (``set_writer``), without a network."""

from __future__ import annotations

import gc
import struct
from typing import Any

import pytest

from phoenix_fast import Serializer, _native
from phoenix_fast.errors import EncodeError

CODEC = Serializer()._codec


def unmask_all(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, payload) of each masked client frame in ``data``."""
    frames = []
    at = 0
    while at < len(data):
        first, second = data[at], data[at + 1]
        assert second & 0x80, "a client frame is masked"
        length, at = second & 0x7F, at + 2
        if length == 126:
            (length,) = struct.unpack_from("!H", data, at)
            at += 2
        elif length == 127:
            (length,) = struct.unpack_from("!Q", data, at)
            at += 8
        mask, at = data[at : at + 4], at + 4
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(data[at : at + length]))
        frames.append((first & 0x0F, payload))
        at += length
    return frames


class Writer:
    """A transport's side of the queue: records each call, and flushes like one."""

    def __init__(self, client: _native.WsClient) -> None:
        self.client = client
        self.calls: list[Any] = []
        self.written: list[bytes] = []

    def _flush_soon(self) -> None:
        self.calls.append("schedule")

    def _flush(self) -> None:
        self.calls.append("flush")
        self.client.flush_scheduled = False
        taken = self.client.take_queued()
        if taken is not None:
            self.written.append(taken[1])

    def _hold(self, size: int) -> None:
        self.calls.append(("hold", size))


def writer_for(flush_every: int = 3) -> tuple[_native.WsClient, Writer]:
    client = _native.WsClient(CODEC)
    writer = Writer(client)
    client.set_writer(writer, flush_every)
    return client, writer


def test_queued_fields_are_the_frames_encode_makes() -> None:
    client = _native.WsClient(CODEC)
    assert client.take_queued() is None
    client.queue_fields("1", "2", "room:1", "new_msg", {"body": "hi"})
    client.queue_fields("1", "3", "room:1", "upload", b"\x01\x02")
    assert client.queued_size > 0
    frames, data = client.take_queued() or (0, b"")
    assert frames == 2
    expected = client.encode("1", "2", "room:1", "new_msg", {"body": "hi"}) + client.encode(
        "1", "3", "room:1", "upload", b"\x01\x02"
    )
    assert unmask_all(data) == unmask_all(expected)
    assert [opcode for opcode, _ in unmask_all(data)] == [0x1, 0x2]  # text, then binary
    assert client.take_queued() is None and client.queued_size == 0


def test_ready_frames_and_encoded_fields_keep_their_order() -> None:
    client = _native.WsClient(CODEC)
    client.queue_frame(client.frame_text("first"))
    client.queue_fields(None, "7", "phoenix", "heartbeat", {})
    client.queue_control(client.frame_close(1000, "bye"))
    frames, data = client.take_queued() or (0, b"")
    assert frames == 3
    texts = [payload for _, payload in unmask_all(data)]
    assert texts[0] == b"first"
    assert texts[1] == b'[null,"7","phoenix","heartbeat",{}]'
    assert texts[2] == struct.pack("!H", 1000) + b"bye"
    client.queue_frame(b"x")
    client.clear_queued()
    assert client.take_queued() is None


def test_the_first_frame_of_a_turn_schedules_a_flush_and_a_full_chunk_flushes() -> None:
    client, writer = writer_for(flush_every=3)
    client.queue_fields("1", "1", "t", "e", {})
    assert writer.calls == ["schedule"] and client.flush_scheduled
    client.queue_fields("1", "2", "t", "e", {})
    assert writer.calls == ["schedule"]
    client.queue_fields("1", "3", "t", "e", {})  # the third: flushed at once
    assert writer.calls == ["schedule", "flush"]
    assert len(unmask_all(writer.written[0])) == 3
    client.queue_fields("1", "4", "t", "e", {})  # a new turn's first frame
    assert writer.calls == ["schedule", "flush", "schedule"]


def test_ready_frames_follow_the_writer_and_control_frames_do_not() -> None:
    client, writer = writer_for(flush_every=3)
    client.queue_control(client.frame_ping())  # its caller flushes: nothing asked
    assert writer.calls == []
    client.queue_frame(client.frame_text("a"))
    assert writer.calls == ["schedule"]
    client.queue_frame(client.frame_text("b"))  # 3 queued: flushed
    assert writer.calls == ["schedule", "flush"]
    assert len(unmask_all(writer.written[0])) == 3
    client.write_paused = True
    frame = client.frame_text("held")
    client.queue_frame(frame)
    client.queue_control(client.frame_close(1000, ""))  # never held nor counted
    assert writer.calls[-1] == ("hold", len(frame))
    assert len(writer.calls) == 3


def test_frames_queued_while_writing_is_paused_are_held() -> None:
    client, writer = writer_for(flush_every=1)
    client.write_paused = True
    client.queue_fields("1", "1", "t", "e", {"x": 1})
    client.queue_fields("1", "2", "t", "e", {"x": 2})
    sizes = [call[1] for call in writer.calls if call[0] == "hold"]
    assert len(writer.calls) == 2 and len(sizes) == 2
    assert client.queued_size == sum(sizes)
    client.write_paused = False
    client.queue_fields("1", "3", "t", "e", {})
    assert writer.calls[-1] == "flush"
    assert len(unmask_all(writer.written[0])) == 3


def test_a_payload_that_cannot_be_encoded_queues_nothing() -> None:
    client, writer = writer_for()
    client.queue_fields("1", "1", "t", "e", {})
    with pytest.raises(EncodeError):
        client.queue_fields("1", "2", "t", "e", {"x": object()})
    frames, _ = client.take_queued() or (0, b"")
    assert frames == 1
    assert writer.calls == ["schedule"]


def test_an_error_in_the_transport_reaches_the_caller() -> None:
    client = _native.WsClient(CODEC)

    class Closed:
        def _flush_soon(self) -> None:
            raise RuntimeError("the loop is closed")

    client.set_writer(Closed(), 32)
    with pytest.raises(RuntimeError, match="the loop is closed"):
        client.queue_fields("1", "1", "t", "e", {})
    assert client.take_queued() is not None  # the frame itself was queued


def test_a_client_without_a_codec_cannot_queue_fields() -> None:
    client = _native.WsClient(None)
    with pytest.raises(EncodeError, match="no codec"):
        client.queue_fields("1", "1", "t", "e", {})


def test_a_client_and_its_writer_in_a_cycle_are_collected() -> None:
    freed: list[bool] = []

    class Transport:
        def __init__(self) -> None:
            self.client = _native.WsClient(CODEC)
            self.client.set_writer(self, 32)

        def __del__(self) -> None:
            freed.append(True)

    Transport()
    gc.collect()
    assert freed == [True]


def test_large_frames_queue_whole_and_the_queue_is_reusable_after() -> None:
    client = _native.WsClient(CODEC)
    big = "x" * 100_000  # past the 16-bit length, and past the capacity a queue keeps
    client.queue_fields("1", "1", "t", "e", {"big": big})
    client.queue_fields("1", "2", "t", "e", {"mid": "y" * 300})
    frames, data = client.take_queued() or (0, b"")
    assert frames == 2
    (_, first), (_, second) = unmask_all(data)
    assert big.encode() in first and b"y" * 300 in second
    client.queue_fields("1", "3", "t", "e", {})
    _, data = client.take_queued() or (0, b"")
    assert unmask_all(data) == [(0x1, b'["1","3","t","e",{}]')]
