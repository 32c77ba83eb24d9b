"""The coalescing study's pieces: the one-frame-per-send server and the transport variants."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from coalescing import VARIANTS
from one_frame_server import (
    COUNTERS,
    accept_loop,
    burst_frames,
    parse_frames,
    unmask,
)
from py_client import Run

from phoenix_fast.testing.burst import MARK, CountedFrame


def masked(opcode: int, data: bytes, mask: bytes = b"\x01\x02\x03\x04") -> bytes:
    n = len(data)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    else:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    return head + mask + unmask(mask, data)


def test_burst_frames_are_the_reference_servers_frames() -> None:
    template = json.dumps(["3", None, "echo:t", "burst_msg", {"data": "x%", "i": MARK}])
    expected = CountedFrame(template.encode())
    frames = burst_frames(template.encode(), 1005)
    assert frames == [expected.ws_frame(i) for i in range(1005)]


def test_parse_frames_unmasks_and_leaves_a_partial_frame() -> None:
    big = os.urandom(300)
    wire = masked(0x1, b"hello") + masked(0x2, big) + masked(0x1, b"tail")[:-1]
    buf = bytearray(wire)
    assert parse_frames(buf) == [(0x1, b"hello"), (0x2, big)]
    assert buf == masked(0x1, b"tail")[:-1]
    buf += masked(0x1, b"tail")[-1:]
    assert parse_frames(buf) == [(0x1, b"tail")]
    assert buf == b""


@pytest.fixture
def server_url() -> Iterator[str]:
    listener = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(target=accept_loop, args=(listener,), daemon=True)
    thread.start()
    try:
        yield f"ws://127.0.0.1:{listener.getsockname()[1]}/socket"
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(timeout=5)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
async def test_every_variant_reads_a_burst_whole_and_in_order(
    server_url: str, variant: str
) -> None:
    sends = COUNTERS.sends
    result = await Run(server_url, VARIANTS[variant]).s1(3000)
    assert result["messages"] == 3000  # s1 raises if a message is missing or out of order
    assert COUNTERS.sends - sends >= 3000  # one send per frame
    assert result["reads"] >= 1
    if variant == "plain":
        assert result["holds"] == 0


@pytest.mark.parametrize("variant", ["plain", "defer", "lowat-stream"])
async def test_replies_arrive_with_every_variant(server_url: str, variant: str) -> None:
    run = Run(server_url, VARIANTS[variant])
    s4 = await run.s4(300)
    serial = await run.serial(50)
    assert s4["messages"] == 300 and serial["messages"] == 50
