"""A Phoenix-like WebSocket server that writes ONE frame per ``send`` call, as Bandit does.

    python benches/coalesce/one_frame_server.py [--host 127.0.0.1] [--port 4100] [--cpu 0]
                                                [--no-nodelay]

The reference server (``phoenix_fast.testing``) coalesces its frames into large writes, so a
client cannot make it pay for small reads. Phoenix on Bandit does not: every channel push and
every reply is its own ``send`` on the socket. This server does the same with blocking
sockets, one thread per connection (the GIL keeps them on one core anyway), and speaks just
enough of the JSON v2 protocol for the coalescing study:

- ``phx_join`` on any topic: ok; ``heartbeat`` on ``phoenix``: ok; ``phx_leave``: ok;
- ``ping``: ok with the payload echoed (S4 and the sparse-traffic probe);
- ``burst`` ``{"n", "size"}`` on ``echo:*``: ok ``{"sent": n}``, then ``n`` ``burst_msg``
  pushes ``{"data": "x" * size, "i": i}``, each its own frame AND its own ``sock.send``.

``GET /stats`` (a plain HTTP request, not an upgrade) answers this process's CPU time
(``getrusage``, all threads, microseconds), context switches and the counts of messages sent,
``send`` calls and ``recv`` calls, for the measurement script to take deltas around a run.
TCP_NODELAY is on by default, as ThousandIsland (Bandit's socket layer) sets it.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import resource
import socket
import sys
import threading
from typing import Any

from phoenix_fast.testing.burst import MARK
from phoenix_fast.testing.output import ws_frame, ws_header

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x8, 0x9, 0xA


class Counters:
    """What the server did, summed over its connections (read by ``GET /stats``)."""

    def __init__(self) -> None:
        self.messages = 0
        self.sends = 0
        self.recvs = 0
        #: CPU time of the burst send loops alone (this thread, encoding excluded)
        self.burst_user_us = 0
        self.burst_sys_us = 0

    def snapshot(self) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "user_us": round(usage.ru_utime * 1e6),
            "sys_us": round(usage.ru_stime * 1e6),
            "nvcsw": usage.ru_nvcsw,
            "nivcsw": usage.ru_nivcsw,
            "messages": self.messages,
            "sends": self.sends,
            "recvs": self.recvs,
            "burst_user_us": self.burst_user_us,
            "burst_sys_us": self.burst_sys_us,
        }


COUNTERS = Counters()


def unmask(mask: bytes, data: bytes) -> bytes:
    """The payload of a masked client frame (one big-integer XOR, not a byte loop)."""
    n = len(data)
    if n == 0:
        return data
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


def burst_frames(template: bytes, n: int) -> list[bytes]:
    """The ``n`` text frames of ``template`` with MARK replaced by 0 .. n-1, one bytes each
    (one ``%`` per frame, with the frame header of each counter width formatted in)."""
    prefix, suffix = (part.replace(b"%", b"%%") for part in template.split(str(MARK).encode()))
    fixed = len(template) - len(str(MARK))
    frames: list[bytes] = []
    start = 0
    while start < n:
        digits = len(str(start))
        stop = min(n, 10**digits)
        fmt = ws_header(0x81, fixed + digits).replace(b"%", b"%%") + prefix + b"%d" + suffix
        frames += [fmt % i for i in range(start, stop)]
        start = stop
    return frames


def parse_frames(buf: bytearray) -> list[tuple[int, bytes]]:
    """Takes the complete frames off the front of ``buf`` (client frames are masked and,
    from the clients measured here, never fragmented)."""
    frames = []
    pos = 0
    while len(buf) - pos >= 2:
        opcode, length = buf[pos] & 0x0F, buf[pos + 1] & 0x7F
        head = pos + 2
        if length == 126:
            if len(buf) - head < 2:
                break
            length = int.from_bytes(buf[head : head + 2], "big")
            head += 2
        elif length == 127:
            if len(buf) - head < 8:
                break
            length = int.from_bytes(buf[head : head + 8], "big")
            head += 8
        if len(buf) - head < 4 + length:
            break
        mask = bytes(buf[head : head + 4])
        frames.append((opcode, unmask(mask, bytes(buf[head + 4 : head + 4 + length]))))
        pos = head + 4 + length
    del buf[:pos]
    return frames


class Connection:
    """One upgraded WebSocket connection, served on its own thread."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send_frame(self, frame: bytes) -> None:
        """One frame, one ``send`` call (``sendall`` returns after one call unless the
        socket buffer is full, which is the server's back-pressure)."""
        self.sock.sendall(frame)
        COUNTERS.sends += 1

    def send_message(self, message: list[Any]) -> None:
        self.send_frame(ws_frame(json.dumps(message, separators=(",", ":")).encode()))
        COUNTERS.messages += 1

    def reply(self, msg: list[Any], status: str, response: Any) -> None:
        join_ref, ref, topic = msg[0], msg[1], msg[2]
        self.send_message(
            [join_ref, ref, topic, "phx_reply", {"status": status, "response": response}]
        )

    def burst(self, join_ref: Any, topic: str, n: int, size: int) -> None:
        """``n`` pushes, each encoded, framed and sent on its own, as a channel process
        sending to Bandit's socket process would."""
        body = {"data": "x" * size, "i": MARK}
        template = json.dumps([join_ref, None, topic, "burst_msg", body], separators=(",", ":"))
        # encoded before the first send, so that the loop below costs little more than its
        # system calls: the study is about what each send costs in the kernel
        frames = burst_frames(template.encode(), n)
        send = self.sock.sendall
        before = resource.getrusage(resource.RUSAGE_THREAD)
        for frame in frames:
            send(frame)
        after = resource.getrusage(resource.RUSAGE_THREAD)
        COUNTERS.burst_user_us += round((after.ru_utime - before.ru_utime) * 1e6)
        COUNTERS.burst_sys_us += round((after.ru_stime - before.ru_stime) * 1e6)
        COUNTERS.sends += n
        COUNTERS.messages += n

    def handle(self, msg: list[Any]) -> None:
        join_ref, _ref, topic, event, payload = msg
        if event == "ping":
            self.reply(msg, "ok", payload)
        elif event == "burst" and topic.startswith("echo:"):
            n, size = int(payload["n"]), int(payload.get("size", 0))
            self.reply(msg, "ok", {"sent": n})
            self.burst(join_ref, topic, n, size)
        elif event in ("phx_join", "heartbeat", "phx_leave"):
            self.reply(msg, "ok", {})
        else:
            self.reply(msg, "error", {"reason": f"unhandled event {event}"})

    def run(self, rest: bytes) -> None:
        buf = bytearray(rest)
        while True:
            for opcode, data in parse_frames(buf):
                if opcode == OP_TEXT:
                    self.handle(json.loads(data))
                elif opcode == OP_PING:
                    self.send_frame(bytes((0x80 | OP_PONG, len(data))) + data)
                elif opcode == OP_CLOSE:
                    self.send_frame(bytes((0x80 | OP_CLOSE, len(data[:2]))) + data[:2])
                    return
            chunk = self.sock.recv(262144)
            COUNTERS.recvs += 1
            if not chunk:
                return
            buf += chunk


def read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """The HTTP request head and whatever followed it in the same reads."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the request ended")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def serve(sock: socket.socket) -> None:
    try:
        head, rest = read_head(sock)
        lines = head.split(b"\r\n")
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines[1:])
        }
        if lines[0].startswith(b"GET /stats"):
            body = json.dumps(COUNTERS.snapshot()).encode()
            sock.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            return
        key = headers.get(b"sec-websocket-key")
        if key is None:
            sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        protocol = b""
        if b"phoenix" in headers.get(b"sec-websocket-protocol", b""):
            protocol = b"Sec-WebSocket-Protocol: phoenix\r\n"
        sock.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n" + protocol + b"\r\n"
        )
        Connection(sock).run(rest)
    except (ConnectionError, OSError):
        pass
    finally:
        sock.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4100)
    parser.add_argument("--cpu", type=int, help="pin this process to one core")
    parser.add_argument(
        "--no-nodelay", action="store_true", help="leave Nagle's algorithm on (default: off)"
    )
    args = parser.parse_args(argv)
    if args.cpu is not None:
        if args.cpu not in os.sched_getaffinity(0):
            parser.exit(2, f"--cpu {args.cpu}: not one of this machine's cores\n")
        os.sched_setaffinity(0, {args.cpu})
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((args.host, args.port))
    except OSError as exc:
        parser.exit(2, f"cannot listen on {args.host}:{args.port}: {exc}; pick another --port\n")
    listener.listen(1024)
    print(f"listening on {args.host}:{args.port}", flush=True)
    accept_loop(listener, nodelay=not args.no_nodelay)
    return 0


def accept_loop(listener: socket.socket, *, nodelay: bool = True) -> None:
    """Serves each connection on its own thread, until ``listener`` is shut down."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        if nodelay:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
