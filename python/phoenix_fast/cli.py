"""The ``phoenix-fast`` command.

Subcommands are registered by ``add_<name>_parser(subparsers)`` functions that
set ``func`` (the handler, returning an exit status) with ``set_defaults``; add
one function per subcommand and call it from :func:`build_parser`.

``phoenix-fast load [URL]`` load-tests a Phoenix application (without URL: a
demonstration against the embedded reference server); ``phoenix-fast report merge``
adds load reports up exactly (:mod:`phoenix_fast.load`).

``phoenix-fast serve`` runs the reference server (``phoenix_fast.testing``)
until interrupted and prints its URL as the first line of stdout.

``load`` and ``report`` need the ``load`` extra (``pip install 'phoenix_fast[load]'``);
without it they exit with status 2 and one line naming the extra, before any of
their modules is imported. ``python -m phoenix_fast`` is the same command.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import signal
import sys
from collections.abc import Sequence

from phoenix_fast import __version__
from phoenix_fast.load.command import add_load_parser, add_report_parser

__all__ = [
    "EXTRAS",
    "add_load_parser",
    "add_report_parser",
    "add_serve_parser",
    "build_parser",
    "main",
    "missing_extra",
]

#: The extra each subcommand needs, and the modules that extra brings (import names).
EXTRAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "load": ("load", ("rich", "hdrh", *(("tomli",) if sys.version_info < (3, 11) else ()))),
    "report": ("load", ("rich", "hdrh")),
}


def missing_extra(command: str) -> str | None:
    """The one-line message for a subcommand whose extra is not installed, else None."""
    extra, modules = EXTRAS.get(command, ("", ()))
    module = ""
    try:
        for module in modules:
            importlib.import_module(module)
    except ImportError:
        return (
            f"'{command}' needs the '{extra}' extra (no module {module!r}): "
            f"pip install 'phoenix_fast[{extra}]'"
        )
    return None


def add_serve_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``serve``."""
    parser = subparsers.add_parser(
        "serve",
        help="run the reference Phoenix server (the contract application)",
        description="Serve the contract application until Ctrl-C or SIGTERM. "
        "The first line printed is the socket URL, e.g. ws://127.0.0.1:4000/socket.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=4000, help="port; 0 picks a free one (4000)")
    parser.add_argument(
        "--max-channels", type=int, default=100, help="channels per socket (Phoenix: 100)"
    )
    parser.add_argument(
        "--idle-timeout", type=float, default=60.0, help="WebSocket idle timeout, s (60)"
    )
    parser.add_argument(
        "--longpoll-window", type=float, default=10.0, help="LongPoll poll window, s (10)"
    )
    parser.add_argument(
        "--longpoll-session-timeout",
        type=float,
        default=None,
        help="LongPoll session expiry without polls, s (1.5 x window)",
    )
    parser.add_argument(
        "--max-frame-size", type=int, default=0, help="largest WebSocket message, 0 = unlimited"
    )
    parser.add_argument(
        "--close-timeout", type=float, default=5.0, help="wait for the client's close frame, s"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes sharing the port (SO_REUSEPORT); above 1, fan-out is refused (1)",
    )
    parser.add_argument("--no-uvloop", action="store_true", help="do not use uvloop")
    parser.add_argument("--log-level", default="WARNING", help="logging level (WARNING)")
    parser.set_defaults(func=run_serve)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="phoenix-fast", description="Tools around the phoenix_fast Phoenix Channels client."
    )
    parser.add_argument("--version", action="version", version=f"phoenix-fast {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_load_parser(subparsers)
    add_report_parser(subparsers)
    add_serve_parser(subparsers)
    return parser


def _on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))


async def _serve(args: argparse.Namespace) -> None:
    from phoenix_fast.testing import ReferenceServer
    from phoenix_fast.testing.config import config_from_args
    from phoenix_fast.testing.heap import freeze_startup_heap

    config = config_from_args(args)
    stop = asyncio.Event()
    _on_signals(stop)
    async with ReferenceServer(config) as server:
        freeze_startup_heap()
        print(server.url, flush=True)
        await stop.wait()


def run_serve(args: argparse.Namespace) -> int:
    """Handler of ``serve``."""
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    if args.workers > 1:
        from phoenix_fast.testing.workers import run_workers

        return run_workers(args)
    if not args.no_uvloop:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            uvloop.run(_serve(args))
            return 0
    asyncio.run(_serve(args))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``phoenix-fast``."""
    args = build_parser().parse_args(argv)
    message = missing_extra(args.command)
    if message is not None:
        print(f"phoenix-fast: error: {message}", file=sys.stderr)
        return 2
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
