"""The native receive path alone: network reads of S1 and S3 frames through ``WsClient.feed``.

    python benches/bench_receive.py [--scenario s1|s3|both] [--payload flat|nested|float]
                                    [--read 256000] [--rounds 20] [--scale 1.0]
                                    [--so path/to/_native.so] [--loops N]

Builds the bytes the reference server writes in S1 (one channel's pushes,
``["3",null,"echo:..","burst_msg",{"data":"x"*100,"i":i}]``) and in S3 (``tick`` broadcasts
to 2,000 topics, ``[null,null,"load:..-k","tick",{"data":"x"*100,"round":r}]``), cuts them
into reads of ``--read`` bytes (uvloop reads up to 256,000 bytes at a time; 64 KiB is
libuv's suggestion) and times ``WsClient.feed`` over them: nanoseconds per message, the
median of ``--rounds``. The decoded messages are checked against the expected ones first.

``--payload`` changes the payloads: ``flat`` is the servers' (above); ``nested`` adds an
object holding an object and a list (``"user":{"id":i,"name":..,"roles":[..]},"meta":{..}``),
still of the shapes the native decoder builds itself; ``float`` is ``nested`` with a fraction
in its last object, which sends the payload to orjson after the native decoder gave up on it.

``--so`` loads another build of the extension (an A/B comparison in one session: keep a copy
of the previous ``_native*.so``). ``--loops N`` only feeds the reads N times and prints
nothing else, for ``valgrind --tool=callgrind`` (instruction counts do not depend on the
machine's load: divide by N times the messages per loop).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import orjson

S1_MESSAGES = 200_000
S3_TOPICS = 2000
S3_ROUNDS = 20
DATA = "x" * 100


def load_native(path: Path) -> None:
    """Makes ``phoenix_fast._native`` the build at ``path`` (before phoenix_fast is imported)."""
    spec = importlib.util.spec_from_file_location("phoenix_fast._native", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"bench_receive: cannot load {path}: pass an extension module (.so)")
    module = importlib.util.module_from_spec(spec)
    sys.modules["phoenix_fast._native"] = module
    spec.loader.exec_module(module)


def ws_text(data: bytes) -> bytes:
    """An unmasked WebSocket text frame, as a server writes it."""
    n = len(data)
    if n < 126:
        return bytes((0x81, n)) + data
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + data
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + data


def payload_of(shape: str, key: str, n: int) -> dict[str, Any]:
    """A message's payload: the scenario's ``{"data": .., key: n}``, then the extra members
    ``shape`` asks for (see the module's docstring)."""
    payload: dict[str, Any] = {"data": DATA, key: n}
    if shape == "flat":
        return payload
    payload["user"] = {"id": n, "name": "ann", "roles": ["admin", "ops"]}
    payload["meta"] = {"seq": n, "ok": True}
    if shape == "float":
        payload["meta"]["score"] = 0.5
    return payload


def s1_messages(scale: float, shape: str = "flat") -> list[tuple[Any, ...]]:
    topic = "echo:py1f2e-s1"
    n = round(S1_MESSAGES * scale)
    return [("3", None, topic, "burst_msg", payload_of(shape, "i", i)) for i in range(n)]


def s3_messages(scale: float, shape: str = "flat") -> list[tuple[Any, ...]]:
    topics = [f"load:py1f2e-{k}" for k in range(S3_TOPICS)]
    return [
        (None, None, t, "tick", payload_of(shape, "round", r))
        for r in range(max(1, round(S3_ROUNDS * scale)))
        for t in topics
    ]


def reads_of(messages: list[tuple[Any, ...]], size: int) -> list[bytes]:
    stream = b"".join(ws_text(orjson.dumps(list(m))) for m in messages)
    return [stream[i : i + size] for i in range(0, len(stream), size)]


def feed_all(native: Any, codec: Any, reads: list[bytes]) -> list[Any]:
    """Every message of ``reads``, for the check."""
    client = native.WsClient(codec)
    feed = client.feed
    out: list[Any] = []
    for r in reads:
        out.extend(feed(r))
    return out


def time_feed(native: Any, codec: Any, reads: list[bytes], n: int, rounds: int) -> float:
    """Median nanoseconds per message over ``rounds`` passes (a fresh client for each)."""
    samples = []
    for _ in range(rounds):
        client = native.WsClient(codec)
        feed = client.feed
        start = time.perf_counter_ns()
        for r in reads:
            feed(r)
        samples.append((time.perf_counter_ns() - start) / n)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scenario", choices=["s1", "s3", "both"], default="both")
    parser.add_argument(
        "--payload",
        choices=["flat", "nested", "float"],
        default="flat",
        help="the payloads' shape (flat: the servers')",
    )
    parser.add_argument(
        "--read",
        type=int,
        default=256_000,
        help="bytes per network read (uvloop reads up to 256,000)",
    )
    parser.add_argument("--rounds", type=int, default=20, help="timed passes (the median)")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiplies S1's messages and S3's rounds"
    )
    parser.add_argument("--so", type=Path, help="load this build of _native")
    parser.add_argument("--loops", type=int, help="only feed N times (for callgrind)")
    args = parser.parse_args(argv)
    if args.read < 1 or args.rounds < 1 or (args.loops is not None and args.loops < 1):
        parser.error("--read, --rounds and --loops must be at least 1")
    if not 0 < args.scale <= 100:
        parser.error(f"--scale must be in (0, 100], got {args.scale}")
    if args.so is not None:
        if not args.so.is_file():
            parser.error(f"--so {args.so}: no such file (pass a built _native*.so)")
        load_native(args.so)

    from phoenix_fast import _native
    from phoenix_fast.serializers.native import default_codec

    codec = default_codec(2)
    scenarios = ["s1", "s3"] if args.scenario == "both" else [args.scenario]
    for name in scenarios:
        make = s1_messages if name == "s1" else s3_messages
        messages = make(args.scale, args.payload)
        reads = reads_of(messages, args.read)
        if args.loops is not None:
            # as the client does: each read's messages are dropped before the next read
            time_feed(_native, codec, reads, len(messages), args.loops)
            continue
        got = feed_all(_native, codec, reads)
        if got != messages:
            raise SystemExit(f"bench_receive: {name} decoded differently from what was sent")
        ns = time_feed(_native, codec, reads, len(messages), args.rounds)
        print(
            f"{name} ({args.payload}): {len(messages):,} messages in {len(reads)} reads"
            f" of {args.read} B: {ns:.1f} ns/message ({1e3 / ns:.2f} M msgs/s)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
