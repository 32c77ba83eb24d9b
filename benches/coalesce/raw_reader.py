"""The mechanism alone: how a reader's pace changes what a burst costs the sender.

    python benches/coalesce/raw_reader.py [--net lo|veth|host] [--rounds 5] [--n 50000]
                                          [--port 4100] [--json out.json]

No Phoenix client here: a bare socket reader asks ``one_frame_server.py`` for a burst of
``n`` frames and reads them (walking the frame headers, nothing decoded), in one of these
ways, interleaved round by round:

- ``eager``: a blocking ``recv`` that returns as soon as any byte is there (the kernel wakes
  the reader for each segment it can);
- ``lowat``: the same with ``SO_RCVLOWAT`` = 16 KiB: the kernel wakes the reader only once
  16 KiB are queued; after 1 ms without that, the mark drops to 1 byte for one read (the
  burst's last few KiB never reach it);
- ``paced-<us>``: a non-blocking ``recv`` every ``us`` microseconds (a reader busy elsewhere);
- ``rcvbuf``: eager, with ``SO_RCVBUF`` = 32 KiB set before connecting (a small window);
- ``small-paced-<us>``: both: a small window that a slow reader lets fill, so that the
  sender's writes queue behind it (the JS client's situation when it falls behind).

Reported per mode (median [min-max]): the rate, the reader's reads per message, the server's
CPU per message in its send loop, and its TCP segments out and in per message (``lo`` and
``veth`` only; in ``lo`` both directions are in one count).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from measure import CLIENT_CPU, NETS, PYTHON, Server, in_ns, loadavg  # noqa: E402

MODES = ["eager", "lowat", "paced-50", "paced-200", "rcvbuf", "small-paced-500", "small-paced-2000"]
LOW_WATER = 16 * 1024


def masked_text(data: bytes) -> bytes:
    """A client text frame with a zero mask (allowed: the mask is any 4 bytes)."""
    n = len(data)
    head = bytes((0x81, 0x80 | n)) if n < 126 else bytes((0x81, 0xFE)) + n.to_bytes(2, "big")
    return head + b"\0\0\0\0" + data


def count_frames(buf: bytearray) -> int:
    """Drops the complete server frames off the front of ``buf``; returns how many."""
    pos = count = 0
    size = len(buf)
    while size - pos >= 2:
        length = buf[pos + 1] & 0x7F
        head = 2
        if length == 126:
            if size - pos < 4:
                break
            length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
            head = 4
        elif length == 127:
            if size - pos < 10:
                break
            length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
            head = 10
        if size - pos < head + length:
            break
        pos += head + length
        count += 1
    del buf[:pos]
    return count


def read_burst(host: str, port: int, mode: str, n: int) -> dict[str, Any]:
    """Runs one burst; returns the rate and the read count."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if mode == "rcvbuf" or mode.startswith("small-"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    sock.connect((host, port))
    key = base64.b64encode(os.urandom(16))
    sock.sendall(
        b"GET /socket/websocket?vsn=2.0.0 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "
        + key
        + b"\r\n\r\n"
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    buf = bytearray(head.partition(b"\r\n\r\n")[2])
    join = json.dumps(["1", "1", "echo:raw", "phx_join", {}]).encode()
    burst = json.dumps(["1", "2", "echo:raw", "burst", {"n": n, "size": 100}]).encode()
    sock.sendall(masked_text(join))
    got = count_frames(buf)
    while got < 1:  # the join reply
        buf += sock.recv(65536)
        got += count_frames(buf)
    if mode == "lowat":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, LOW_WATER)
        # the fallback timer: the burst's last few KiB never reach the low-water mark
        sock.settimeout(0.001)
    pace = int(mode.rsplit("-", 1)[1]) / 1e6 if "paced-" in mode else 0.0
    if pace:
        sock.setblocking(False)
    want = got + 1 + n  # the burst's reply and its n pushes
    reads = 0
    start = time.perf_counter()
    sock.sendall(masked_text(burst))
    while got < want:
        if pace:
            time.sleep(pace)
            try:
                chunk = sock.recv(1 << 20)
            except BlockingIOError:
                continue
        elif mode == "lowat":
            try:
                chunk = sock.recv(1 << 20)
            except TimeoutError:
                # any byte will do now, however long it takes
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1)
                sock.settimeout(None)
                chunk = sock.recv(1 << 20)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, LOW_WATER)
                sock.settimeout(0.001)
        else:
            chunk = sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("the server closed during the burst")
        reads += 1
        buf += chunk
        got += count_frames(buf)
    seconds = time.perf_counter() - start
    sock.close()
    return {"messages": n, "rate": n / seconds, "reads": reads}


def measure(server: Server, mode: str, n: int) -> dict[str, float]:
    before = server.stats()
    cmd = [str(PYTHON), __file__, "--child", mode, "--n", str(n), "--host", server.host]
    cmd += ["--port", str(server.port)]
    out = subprocess.run(
        in_ns(server.client_ns, ["taskset", "-c", str(CLIENT_CPU), *cmd]),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if out.returncode != 0:
        raise RuntimeError(f"reader {mode} failed: {out.stderr[-2000:]}")
    result = json.loads(out.stdout)
    after = server.stats()
    delta = {k: after[k] - before[k] for k in after}
    row = {
        "rate": result["rate"],
        "reads_per_msg": result["reads"] / n,
        "loop_cpu_us": (delta["burst_user_us"] + delta["burst_sys_us"]) / n,
        "srv_cpu_us": (delta["user_us"] + delta["sys_us"]) / n,
    }
    if "out_segs" in delta:
        row["out_segs_per_msg"] = delta["out_segs"] / n
        row["in_segs_per_msg"] = delta["in_segs"] / n
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", choices=sorted(NETS), default="host")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--port", type=int, default=4100)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=MODES[:5])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--host", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(read_burst(args.host, args.port, args.child, args.n)))
        return 0
    if args.rounds < 1 or args.n < 1:
        parser.error("--rounds and --n must be at least 1")
    server = Server(args.net, args.port)
    server.start()
    runs: dict[str, list[dict[str, float]]] = {m: [] for m in args.modes}
    loads = [loadavg()]
    try:
        for r in range(args.rounds):
            order = args.modes[r % len(args.modes) :] + args.modes[: r % len(args.modes)]
            for mode in order:
                runs[mode].append(measure(server, mode, args.n))
            loads.append(loadavg())
    finally:
        server.stop()
    print(f"net={args.net} rounds={args.rounds} n={args.n} load averages: {' | '.join(loads)}")
    for mode, rs in runs.items():
        figures = ", ".join(
            f"{k}={statistics.median(r[k] for r in rs):,.4g}"
            f" [{min(r[k] for r in rs):,.4g}-{max(r[k] for r in rs):,.4g}]"
            for k in rs[0]
        )
        print(f"{mode:<10} {figures}")
    if args.json:
        args.json.write_text(json.dumps({"net": args.net, "loadavg": loads, "runs": runs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
