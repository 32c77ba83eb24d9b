"""The main job for now: encode and decode Phoenix frames natively and print the throughput.

Run with ``python -m phoenix_fast.demo`` (``make demo``). It encodes pushes, frames them as
WebSocket messages, and decodes them back a network read at a time, then prints messages per
second for each step next to a plain ``orjson`` loop on the same frames.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import orjson

from phoenix_fast import Message, Serializer, __version__, _native


def _rate(label: str, count: int, run: Callable[[], Any], baseline: float | None = None) -> float:
    start = time.perf_counter()
    run()
    elapsed = time.perf_counter() - start
    rate = count / elapsed
    ratio = f"  ({rate / baseline:.2f}x the orjson loop)" if baseline else ""
    print(f"  {label:<44} {rate / 1e6:6.2f} M msg/s{ratio}")
    return rate


def _server_stream(frames: list[bytes]) -> bytes:
    """The frames as an unmasked server-to-client WebSocket stream."""
    out = bytearray()
    for frame in frames:
        n = len(frame)
        header = bytes([0x81, n]) if n < 126 else bytes([0x81, 126]) + n.to_bytes(2, "big")
        out += header + frame
    return bytes(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--messages", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000, help="frames per network read")
    args = parser.parse_args(argv)
    n, batch = args.messages, args.batch

    serializer = Serializer()
    payload = {"body": "x" * 64, "user": "demo"}
    messages = [Message("3", str(i), "room:lobby", "new_msg", payload) for i in range(n)]
    frames = [serializer.encode(m) for m in messages]
    assert all(isinstance(f, str) for f in frames)
    text_frames = [str(f) for f in frames]
    reads = [
        _server_stream([f.encode() for f in text_frames[i : i + batch]]) for i in range(0, n, batch)
    ]
    chunks = [text_frames[i : i + batch] for i in range(0, n, batch)]

    print(f"phoenix_fast {__version__}: {n:,} messages of ~{len(text_frames[0])} bytes")
    base = _rate(
        "orjson.loads per frame (the bar)", n, lambda: [orjson.loads(f) for f in text_frames]
    )
    _rate("native decode_batch", n, lambda: [serializer.decode_batch(c) for c in chunks], base)
    client = _native.WsClient(serializer._codec)
    _rate(
        "native WebSocket read + decode (fused)", n, lambda: [client.feed(r) for r in reads], base
    )
    _rate("native encode", n, lambda: [serializer.encode(m) for m in messages])
    ws = _native.WsClient(serializer._codec)
    _rate("native encode + mask as WebSocket frames", n, lambda: [ws.encode(*m) for m in messages])
    decoded = [m for r in reads for m in _native.WsClient(serializer._codec).feed(r)]
    assert decoded == messages, "round trip mismatch"
    print("  round trip: every message decoded back equal to the one encoded")


if __name__ == "__main__":
    main()
