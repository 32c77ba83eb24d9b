"""The pytest plugin's client fixtures, under each event-loop plugin and under none.

The matrix runs pytest in a child process on a small test file per configuration
(pytest-asyncio auto and strict, anyio alone and beside pytest-asyncio, no plugin), against
this session's server (``PHOENIX_URL``); this file itself runs under the repository's
pytest-asyncio auto mode.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import phoenix_fast.sync
from phoenix_fast import ChannelState, Socket
from phoenix_fast.sync import Socket as SyncSocket


async def test_socket_and_channel_in_this_repositorys_auto_mode(
    phoenix_socket: Socket, phoenix_channel: Any
) -> None:
    assert phoenix_socket.is_connected()
    channel = await phoenix_channel("echo:plugin-auto", {"x": 1})
    assert channel.state is ChannelState.JOINED
    assert await channel.push("ping", {"n": 1}) == {"n": 1}


def test_phoenix_url_is_the_session_servers_unless_phoenix_url_is_set(
    phoenix_server: Any, phoenix_url: str
) -> None:
    expected = os.environ.get("PHOENIX_URL") or phoenix_server.url
    assert phoenix_url == expected
    with phoenix_fast.sync.connect(phoenix_server.url) as socket:  # the server is running
        assert socket.is_connected()


def test_sync_fixtures(phoenix_sync_socket: SyncSocket, phoenix_sync_channel: Any) -> None:
    channel = phoenix_sync_channel("echo:plugin-sync")
    assert channel.push("ping", {"n": 2}) == {"n": 2}
    assert phoenix_sync_socket.is_connected()


# -- the matrix, in child processes -------------------------------------------------------------

TESTS = """
import pytest
from phoenix_fast import ChannelState

LEFT = []

{marks}
async def test_socket_and_channel(phoenix_socket, phoenix_channel):
    assert phoenix_socket.is_connected()
    channel = await phoenix_channel("echo:matrix", {{"a": 1}})
    LEFT.append(channel)
    assert await channel.push("ping", {{"n": 1}}) == {{"n": 1}}
    assert channel.state is ChannelState.JOINED

def test_the_channel_was_left_and_the_socket_closed():
    assert [str(c.state) for c in LEFT] == ["closed"]
    assert not LEFT[0].socket.is_connected()

{marks}
async def test_a_refused_join_raises(phoenix_channel):
    from phoenix_fast.errors import JoinError
    with pytest.raises(JoinError):
        await phoenix_channel("echo:matrix-refused", {{"fail": "no"}})

@pytest.fixture
def phoenix_socket_options():
    return {{"vsn": "1.0.0"}}

{marks}
async def test_options_can_be_overridden(phoenix_socket):
    assert phoenix_socket.vsn == "1.0.0"
"""

INI = """[pytest]
filterwarnings = error
{extra}
"""


def run_pytest(tmp_path: Path, url: str, marks: str, ini: str, *args: str) -> tuple[str, str]:
    (tmp_path / "test_matrix.py").write_text(TESTS.format(marks=marks))
    (tmp_path / "pytest.ini").write_text(INI.format(extra=ini))
    env = {**os.environ, "PHOENIX_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.stdout, summary(done.stdout)


def summary(out: str) -> str:
    lines = [line for line in out.strip().splitlines() if re.search(r"\d+ (passed|failed)", line)]
    return lines[-1] if lines else out[-2000:]


AUTO = "asyncio_mode = auto\nasyncio_default_fixture_loop_scope = function"
STRICT = "asyncio_mode = strict\nasyncio_default_fixture_loop_scope = function"
MODULE_LOOP = '@pytest.mark.asyncio(loop_scope="module")'
CONFIGS = {
    "pytest-asyncio auto": ("", AUTO, ["-p", "no:anyio"]),
    "pytest-asyncio strict": ("@pytest.mark.asyncio", STRICT, ["-p", "no:anyio"]),
    "pytest-asyncio module loop": (MODULE_LOOP, STRICT, ["-p", "no:anyio"]),
    "anyio alone": ("@pytest.mark.anyio", "", ["-p", "no:asyncio"]),
    "anyio beside pytest-asyncio strict": ("@pytest.mark.anyio", STRICT, []),
}  # fmt: skip


@pytest.mark.parametrize("config", list(CONFIGS))
def test_fixtures_under_each_event_loop_plugin(
    tmp_path: Path, phoenix_url: str, config: str
) -> None:
    marks, ini, args = CONFIGS[config]
    out, result = run_pytest(tmp_path, phoenix_url, marks, ini, *args)
    assert re.fullmatch(r"4 passed in [\d.]+s", result), out[-3000:]


def test_without_an_event_loop_plugin_the_error_names_the_fix(
    tmp_path: Path, phoenix_url: str
) -> None:
    out, _ = run_pytest(tmp_path, phoenix_url, "", "", "-p", "no:asyncio", "-p", "no:anyio")
    assert "phoenix_socket is an async fixture, and no event-loop plugin runs" in out, out
    assert 'asyncio_mode = "auto"' in out and "@pytest.mark.anyio" in out
    assert "phoenix_sync_socket" in out


def test_a_synchronous_test_is_pointed_to_the_sync_fixtures(
    tmp_path: Path, phoenix_url: str
) -> None:
    (tmp_path / "test_sync.py").write_text(
        textwrap.dedent(
            """
            def test_sync(phoenix_channel):
                pass
            """
        )
    )
    (tmp_path / "pytest.ini").write_text(INI.format(extra=AUTO))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_sync.py"],
        cwd=tmp_path,
        env={**os.environ, "PHOENIX_URL": phoenix_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "phoenix_socket is an async fixture and test_sync is a synchronous test" in (
        done.stdout
    ), done.stdout
    assert "use phoenix_sync_socket" in done.stdout


def test_importing_the_plugin_imports_no_client_server_or_loop_plugin() -> None:
    heavy = [
        "phoenix_fast.sync",
        "phoenix_fast._loop_thread",
        "phoenix_fast.testing.server",
        "phoenix_fast.testing._thread",
        "phoenix_fast.testing._fixtures",
        "phoenix_fast.testing.benchmark",
        "pytest_asyncio",
        "pytest_benchmark",
        "anyio",
        "aiohttp",
    ]
    code = (
        "import sys, phoenix_fast.testing.pytest_plugin; "
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
