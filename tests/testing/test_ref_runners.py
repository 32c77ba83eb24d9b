"""Ways to run the server: thread, child process, CLI, pytest fixtures."""

from __future__ import annotations

import contextlib
import gc
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import aiohttp
import pytest
from refclient import reply

from phoenix_fast import cli
from phoenix_fast.testing import ServerProcess, ServerThread
from phoenix_fast.testing.heap import freeze_startup_heap
from phoenix_fast.testing.waiting import scaled

HEARTBEAT = '[null,"1","phoenix","heartbeat",{}]'


async def _heartbeat(url: str, query: str = "vsn=2.0.0", frame: str = HEARTBEAT) -> object:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{url}/websocket?{query}") as ws,
    ):
        await ws.send_str(frame)
        msg = await ws.receive(5)
        return msg.json()


async def test_server_thread_restart_on_same_port() -> None:
    with ServerThread(max_channels=3) as server:
        assert server.url == f"ws://127.0.0.1:{server.port}/socket"
        assert server.config.max_channels == 3
        assert await _heartbeat(server.url) == reply(None, "1", "phoenix", "ok", {})
        port = server.port
        server.stop()
        with pytest.raises(aiohttp.ClientError):
            await _heartbeat(server.url)
        server.start()
        assert server.port == port
        assert await _heartbeat(server.url) == reply(None, "1", "phoenix", "ok", {})
        server.restart()
        assert server.stats()["sockets"] == 0
        assert server.connect_log[-1].accepted
        assert server.websocket_url.endswith("/socket/websocket")
        assert server.longpoll_url.startswith("http://")
        assert server.compress_url.endswith("/socket_compress")
    server.close()  # idempotent


async def test_server_thread_on_uvloop() -> None:
    with ServerThread(use_uvloop=True) as server:
        assert await _heartbeat(server.url) == reply(None, "1", "phoenix", "ok", {})


async def test_server_process_and_restart() -> None:
    server = ServerProcess(idle_timeout=30)
    with server:
        assert server.url.startswith("ws://127.0.0.1:")
        assert await _heartbeat(server.url) == reply(None, "1", "phoenix", "ok", {})
        port = server.port
        server.stop()
        server.start()
        assert server.port == port
        v1 = '{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"1"}'
        assert await _heartbeat(server.url, "", v1) == {
            "event": "phx_reply",
            "payload": {"response": {}, "status": "ok"},
            "ref": "1",
            "topic": "phoenix",
        }
    with pytest.raises(TypeError):
        ServerProcess(nope=1)


@contextlib.contextmanager
def _serving(command: list[str]) -> Iterator[IO[str]]:
    """A ``serve`` process and its output; SIGTERM at the end of the block, after which it
    must exit with 0 (killed and reaped whatever happens)."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout
        proc.terminate()
        assert proc.wait(scaled(10)) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_cli_serve_prints_url_and_stops_on_sigterm() -> None:
    serve = ["serve", "--port", "0", "--max-channels", "5"]
    with _serving([sys.executable, "-m", "phoenix_fast.cli", *serve]) as output:
        line = output.readline().strip()
        assert line.startswith("ws://127.0.0.1:") and line.endswith("/socket")


def test_cli_serve_freezes_its_startup_heap() -> None:
    # what exists once the server listens is out of the collector's reach: a full
    # collection in the middle of a benchmark no longer walks it (testing/heap.py)
    spy = textwrap.dedent(
        """
        import gc, sys
        from phoenix_fast import cli

        def spy(*args, **kwargs):
            print_(*args, **kwargs)
            print_(f"frozen={gc.get_freeze_count()}", flush=True)

        print_ = print
        cli.print = spy
        sys.exit(cli.main(["serve", "--port", "0", "--max-channels", "5"]))
        """
    )
    with _serving([sys.executable, "-c", spy]) as output:
        assert output.readline().startswith("ws://127.0.0.1:")
        frozen = int(output.readline().strip().removeprefix("frozen="))
        assert frozen > 10_000  # the modules, aiohttp's application, the loop


def test_freeze_startup_heap_moves_the_survivors_out_of_reach() -> None:
    assert gc.get_freeze_count() == 0
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() > 0
        assert gc.get_count()[0] < 100  # it collected first, then froze what survived
    finally:
        gc.unfreeze()


def test_cli_parser() -> None:
    args = cli.build_parser().parse_args(["serve", "--idle-timeout", "1.5", "--no-uvloop"])
    assert (args.command, args.idle_timeout, args.port, args.no_uvloop) == (
        "serve",
        1.5,
        4000,
        True,
    )
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args([])


async def test_phoenix_url_fixture(phoenix_url: str) -> None:
    if not os.environ.get("PHOENIX_URL"):
        assert phoenix_url.startswith("ws://127.0.0.1:") and phoenix_url.endswith("/socket")
    assert await _heartbeat(phoenix_url) == reply(None, "1", "phoenix", "ok", {})


async def test_phoenix_server_factory(phoenix_server_factory: Callable[..., ServerThread]) -> None:
    a = phoenix_server_factory(idle_timeout=0.1)
    b = phoenix_server_factory()
    assert a.port != b.port and a.config.idle_timeout == 0.1
    assert await _heartbeat(b.url) == reply(None, "1", "phoenix", "ok", {})


def test_plugin_honours_phoenix_url_and_process_mode(tmp_path: Path) -> None:
    test = tmp_path / "test_env.py"
    test.write_text(
        textwrap.dedent(
            """
            import os

            def test_url(phoenix_url):
                expected = os.environ.get("EXPECTED")
                if expected:
                    assert phoenix_url == expected
                else:
                    assert phoenix_url.startswith("ws://127.0.0.1:")
            """
        )
    )
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"]
    env = {**os.environ, "PHOENIX_URL": "ws://example.invalid:4000/socket"}
    env["EXPECTED"] = env["PHOENIX_URL"]
    run = subprocess.run([*base, str(test)], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    env = {k: v for k, v in os.environ.items() if k != "PHOENIX_URL"}
    run = subprocess.run(
        [*base, "--phoenix-server=process", str(test)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
