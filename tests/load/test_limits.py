"""A limit hit during a run is named once, with its fix, instead of counted as thousands of
identical socket errors: open files, ephemeral ports, the server refusing."""

from __future__ import annotations

import asyncio
import errno
import json
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from phoenix_fast.errors import ConnectError
from phoenix_fast.load import limits
from phoenix_fast.load.runner import Runner
from phoenix_fast.load.scenario import build_scenario
from phoenix_fast.testing import ServerProcess, ServerThread
from phoenix_fast.testing.waiting import scaled, wait_for

Factory = Callable[..., ServerThread]


def connect_error(cause: BaseException | None = None, status: int | None = None) -> ConnectError:
    error = ConnectError("cannot connect to ws://127.0.0.1:1/socket/websocket", status)
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("error", "connecting", "limit"),
    [
        (connect_error(OSError(errno.EMFILE, "Too many open files")), True, limits.OPEN_FILES),
        (connect_error(OSError(errno.ENFILE, "File table overflow")), True, limits.SYSTEM_FILES),
        (connect_error(OSError(errno.EADDRNOTAVAIL, "x")), True, limits.EPHEMERAL_PORTS),
        (connect_error(ConnectionRefusedError(errno.ECONNREFUSED, "x")), True, limits.REFUSED),
        (connect_error(ConnectionResetError(errno.ECONNRESET, "x")), True, limits.REFUSED),
        (connect_error(ConnectionResetError(errno.ECONNRESET, "x")), False, None),
        (connect_error(status=503), True, limits.REFUSED),
        (connect_error(status=403), True, None),
        (connect_error(TimeoutError()), True, None),
        # LongPoll's failures keep only the text of their cause
        (
            ConnectError("the poll failed: cannot connect to h:1 (Connection refused)"),
            True,
            limits.REFUSED,
        ),
        (ConnectError("the poll failed: [Errno 24] Too many open files"), True, limits.OPEN_FILES),
        (ConnectError("x: Too many open files in system"), True, limits.SYSTEM_FILES),
        (ConnectError("x: Cannot assign requested address"), True, limits.EPHEMERAL_PORTS),
        (RuntimeError("unhandled LongPoll status 503"), True, limits.REFUSED),
        (RuntimeError("server rejected WebSocket connection: HTTP 503"), True, limits.REFUSED),
        (RuntimeError("the server answered status 5030"), True, None),
    ],
)
def test_classify(error: BaseException, connecting: bool, limit: str | None) -> None:
    assert limits.classify(error, connecting=connecting) == limit


def test_each_note_names_its_fix() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    files = limits.note(limits.OPEN_FILES)
    assert f"soft limit {soft}" in files and "--procs" in files
    assert ("ulimit -n" in files) == (soft != hard)
    ports = limits.note(limits.EPHEMERAL_PORTS)
    assert "net.ipv4.ip_local_port_range" in ports and "--source-ip" in ports
    assert "fs.file-max" in limits.note(limits.SYSTEM_FILES)
    assert "raise the server's limits" in limits.note(limits.REFUSED)
    assert all("\n" not in limits.note(name) for name in limits.LIMITS)


_LOW_FILES = """
import resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[1])))
from phoenix_fast.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_open_file_limit_is_named_once(tmp_path: Path) -> None:
    """A child process allowed 64 files opens 150 sockets: one error kind, one note."""
    report = tmp_path / "r.json"
    with ServerProcess() as server:
        done = subprocess.run(
            [sys.executable, "-c", _LOW_FILES, "64", "load", server.url, "--quiet",
             "--sockets", "150", "--channels", "150", "--topic", "echo:{n}",
             "--duration", "1.5", "--heartbeat", "0", "--report", str(report)],
            capture_output=True, text=True, timeout=scaled(60), check=False,
        )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    data = json.loads(report.read_text())
    errors = data["errors"]
    kind = limits.LIMITS[limits.OPEN_FILES]
    assert errors.get(kind, 0) >= 1, errors
    assert not any("Too many open files" in other for other in errors), errors
    assert data["counts"]["connect_failures"] >= errors[kind]
    named = [n for n in data["notes"] if "open-file limit" in n]
    assert len(named) == 1 and "soft limit 64, hard limit 64" in named[0]
    assert "raise the hard limit" in named[0]
    assert done.stdout.count("open-file limit") == 1  # the summary names it once


@pytest.mark.parametrize("transport", ["websocket", "longpoll"])
async def test_a_refusing_server_is_named_once(
    phoenix_server_factory: Factory, transport: str
) -> None:
    """The server goes away mid-run: the reconnects are refused; one note, then recovery."""
    server = phoenix_server_factory()
    scenario = build_scenario(
        {"url": server.url, "sockets": 3, "channels": 6, "topic": "echo:{n}",
         "duration": 60.0, "heartbeat": 0, "transport": transport}
    )  # fmt: skip
    runner = Runner(scenario)
    task = asyncio.create_task(runner.run())
    counters = runner.stats.counters
    await wait_for(lambda: counters["joins_ok"] == 6, timeout=20)
    server.stop()
    await wait_for(lambda: counters["connect_failures"] >= 6, timeout=20)
    assert runner.snapshot()[limits.LIMIT_PREFIX + limits.REFUSED] >= 6  # shown live
    server.start()
    await wait_for(lambda: counters["recoveries"] >= 1, timeout=30)
    runner.stop("test")
    result = await task
    kind = limits.LIMITS[limits.REFUSED]
    assert result.stats.errors[kind] >= 6
    assert not any("refused" in k and k != kind for k in result.stats.errors)
    assert [n for n in result.notes if "refused connections" in n] == [limits.note(limits.REFUSED)]
