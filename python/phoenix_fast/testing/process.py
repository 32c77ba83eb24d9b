"""Running the reference server in a child process (``phoenix-fast serve``).

A separate process keeps the server off the client's GIL, which is what a
benchmark of a client wants.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from types import TracebackType
from typing import Any

__all__ = ["ServerProcess"]

_FLAGS = {
    "host": "--host",
    "port": "--port",
    "max_channels": "--max-channels",
    "idle_timeout": "--idle-timeout",
    "longpoll_window": "--longpoll-window",
    "longpoll_session_timeout": "--longpoll-session-timeout",
    "max_frame_size": "--max-frame-size",
    "close_timeout": "--close-timeout",
}


class ServerProcess:
    """``phoenix-fast serve`` in a child process.

    ::

        with ServerProcess(max_channels=5000) as server:
            server.url  # "ws://127.0.0.1:PORT/socket"

    ``stop()`` then ``start()`` restarts it on the same port.

    Args:
        uvloop: Let the child use uvloop when installed.
        startup_timeout: Seconds to wait for the child to print its URL.
        **options: :class:`ServerConfig` fields (``port`` defaults to 0).
    """

    def __init__(self, *, uvloop: bool = True, startup_timeout: float = 30.0, **options: Any):
        unknown = set(options) - set(_FLAGS)
        if unknown:
            raise TypeError(f"unknown server options: {sorted(unknown)}")
        self._options = {"port": 0, **options}
        self._uvloop = uvloop
        self._timeout = startup_timeout
        self._proc: subprocess.Popen[str] | None = None
        self.url = ""

    def _command(self) -> list[str]:
        cmd = [sys.executable, "-m", "phoenix_fast.cli", "serve"]
        for name, value in self._options.items():
            if value is not None:
                cmd += [_FLAGS[name], str(value)]
        if not self._uvloop:
            cmd.append("--no-uvloop")
        return cmd

    def start(self) -> ServerProcess:
        """Start the child and wait for the URL it prints; returns self."""
        if self._proc is not None:
            return self
        proc = subprocess.Popen(self._command(), stdout=subprocess.PIPE, text=True)
        watchdog = threading.Timer(self._timeout, proc.kill)
        watchdog.start()
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
        finally:
            watchdog.cancel()
        if not line.startswith("ws://"):
            proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
            raise RuntimeError(f"phoenix-fast serve did not start (printed {line!r})")
        self._proc, self.url = proc, line
        self._options["port"] = int(line.rsplit(":", 1)[1].split("/", 1)[0])
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the child (SIGTERM: it closes its connections) and wait for it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    @property
    def port(self) -> int:
        """The port the child listens on (kept for a restart)."""
        return int(self._options["port"])

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
