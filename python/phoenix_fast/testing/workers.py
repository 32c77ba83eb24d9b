"""``phoenix-fast serve --workers N``: the reference server in N processes sharing one port.

One process on one core cannot hold tens of thousands of sockets joining at thousands a
second. With ``--workers N`` the parent starts N worker processes that each listen on the
same port with ``SO_REUSEPORT``; the kernel spreads new connections over them.

The workers share no state: a broadcast or a presence list would reach only the sockets of
one worker, and a fan-out test would under-count without a word. So in this mode whatever
needs to reach other subscribers is refused with an error reply that says why: the echo
channel's ``shout`` (``{"reason": "..."}``), joins of ``presence:*`` topics and the
``load:*`` channel's ``fanout``. Everything a socket does with its own channels (join,
``ping`` and the other echo events, leave) works as in one process. The topic
``worker:info`` answers a join with ``{"pid": ..., "workers": N}``, so that tests can see
how the connections were spread.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

from .app import EchoChannel, route
from .channel import Channel, Work
from .config import SERVE_OPTIONS

if TYPE_CHECKING:
    from .context import ChannelFactory

__all__ = ["REFUSAL", "run_workers", "shared_port_route"]

#: Why fan-out is refused in this mode (the error reply's ``reason``).
REFUSAL = (
    "this reference server runs as several workers (--workers) that share no subscribers: "
    "broadcasts and presence would reach only one worker's sockets, so they are refused; "
    "run phoenix-fast serve without --workers for fan-out"
)


class _SharedPortEcho(EchoChannel):
    """``echo:*`` without ``shout`` (a broadcast)."""

    def handle_in(self, event: str, payload: Any, ref: Any) -> Work | None:
        if event == "shout":
            self.reply(ref, "error", {"reason": REFUSAL})
            return None
        return super().handle_in(event, payload, ref)


class _Refused(Channel):
    """``presence:*`` and ``load:*``: the join is refused with the reason."""

    async def join(self, params: Any) -> tuple[str, Any]:
        return "error", {"reason": REFUSAL}


class _WorkerInfo(Channel):
    """``worker:info``: which process holds this socket."""

    async def join(self, params: Any) -> tuple[str, Any]:
        return "ok", {"pid": os.getpid(), "workers": self.ctx.config.workers}


def shared_port_route(topic: str) -> ChannelFactory | None:
    """The contract's routes as one of several workers (see the module)."""
    if topic.startswith("echo:"):
        return _SharedPortEcho
    if topic.startswith(("presence:", "load:")):
        return _Refused
    if topic == "worker:info":
        return _WorkerInfo
    return route(topic)


# ----- the processes ----------------------------------------------------------------------

#: Options passed on to each worker, as ``phoenix-fast serve`` names them.
_PASSED = (*SERVE_OPTIONS, "log_level")


def _reserve_port(host: str, port: int) -> socket.socket:
    """A bound (not listening) SO_REUSEPORT socket holding ``port`` (0: a free one) until
    the workers listen on it too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    holder = socket.socket(family, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind((host, port))
    return holder


def _worker_command(args: argparse.Namespace, port: int) -> list[str]:
    command = [sys.executable, "-m", "phoenix_fast.testing.workers", "--host", args.host]
    command += ["--port", str(port), "--workers", str(args.workers)]
    for name in _PASSED:
        value = getattr(args, name, None)
        if value is not None:
            command += [f"--{name.replace('_', '-')}", str(value)]
    if getattr(args, "no_uvloop", False):
        command.append("--no-uvloop")
    return command


def run_workers(args: argparse.Namespace) -> int:
    """``phoenix-fast serve --workers N``: start the workers, print the URL once they all
    listen, and stop them on SIGINT or SIGTERM (or when one of them dies)."""
    if not hasattr(socket, "SO_REUSEPORT"):
        print("phoenix-fast: error: --workers needs SO_REUSEPORT (Linux, BSD)", file=sys.stderr)
        return 2
    try:
        holder = _reserve_port(args.host, args.port)
    except OSError as exc:
        print(
            f"phoenix-fast: error: cannot bind {args.host}:{args.port}: {exc.strerror} "
            "(give a free --port, or 0)",
            file=sys.stderr,
        )
        return 2
    port = holder.getsockname()[1]
    procs = [
        subprocess.Popen(
            _worker_command(args, port), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for _ in range(args.workers)
    ]
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        url = ""
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()  # the worker's URL once it listens
            if not line.startswith("ws://"):
                print(f"phoenix-fast: error: a worker did not start ({line!r})", file=sys.stderr)
                return 1
            url = line
        holder.close()
        print(url, flush=True)
        print(f"{args.workers} workers on port {port} (SO_REUSEPORT)", file=sys.stderr)
        while not stopping and all(proc.poll() is None for proc in procs):
            time.sleep(0.2)  # waiting for a signal or a worker's exit
        return 0 if stopping else 1
    finally:
        holder.close()
        for sig, handler in old.items():
            signal.signal(sig, handler)
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            _reap(proc)


def _reap(proc: subprocess.Popen[str]) -> None:
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def _serve_one(args: argparse.Namespace) -> None:
    from . import ReferenceServer
    from .config import config_from_args
    from .heap import freeze_startup_heap

    config = config_from_args(args, workers=args.workers)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # the parent holds the other end of stdin: its end, even by SIGKILL, is our EOF
    transport, _ = await loop.connect_read_pipe(lambda: _EndsWith(stop), sys.stdin)
    try:
        async with ReferenceServer(config) as server:
            freeze_startup_heap()
            print(server.url, flush=True)
            await stop.wait()
    finally:
        transport.close()


class _EndsWith(asyncio.Protocol):
    """Sets ``stop`` when the pipe from the parent closes."""

    def __init__(self, stop: asyncio.Event) -> None:
        self.stop = stop

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop.set()


def _worker_parser() -> argparse.ArgumentParser:
    """The options a worker takes: where to listen, and what :func:`_worker_command` passes."""
    parser = argparse.ArgumentParser(prog="phoenix_fast.testing.workers")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--max-channels", type=int, default=100)
    parser.add_argument("--idle-timeout", type=float, default=60.0)
    parser.add_argument("--longpoll-window", type=float, default=10.0)
    parser.add_argument("--longpoll-session-timeout", type=float, default=None)
    parser.add_argument("--max-frame-size", type=int, default=0)
    parser.add_argument("--close-timeout", type=float, default=5.0)
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--no-uvloop", action="store_true")
    return parser


def _worker_main(argv: list[str] | None = None) -> int:
    """One worker (started by :func:`run_workers`)."""
    import logging

    args = _worker_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    if not args.no_uvloop:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            uvloop.run(_serve_one(args))
            return 0
    asyncio.run(_serve_one(args))
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main())
