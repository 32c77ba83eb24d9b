"""Every script in ``examples/`` runs against the reference server (or ``$PHOENIX_URL``).

Each example is started as a user would start it, in its own process, with the URL in
``$PHOENIX_URL``; the tests talk to the same server to drive the interactive ones.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from phoenix_fast import Presence, Socket
from phoenix_fast.testing import wait_for
from phoenix_fast.testing.waiting import scaled

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
GUARD = 30.0  # seconds: a hung example fails the test instead of hanging the suite


class Example:
    """An example script running in a child process, read line by line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    async def expect(self, pattern: str) -> re.Match[str]:
        """The first line from now on that matches ``pattern`` (or fails when stdout ends)."""
        assert self.process.stdout is not None
        regex = re.compile(pattern)
        while True:
            raw = await asyncio.wait_for(self.process.stdout.readline(), scaled(GUARD))
            if not raw:
                stderr = await self.stderr()
                raise AssertionError(f"no line matched {pattern!r}: {self.lines}\n{stderr}")
            line = raw.decode().rstrip("\n")
            self.lines.append(line)
            found = regex.search(line)
            if found:
                return found

    async def stderr(self) -> str:
        assert self.process.stderr is not None
        return (await self.process.stderr.read()).decode()

    async def wait(self) -> int:
        assert self.process.stdout is not None
        rest = await asyncio.wait_for(self.process.stdout.read(), scaled(GUARD))
        self.lines.extend(rest.decode().splitlines())
        return await asyncio.wait_for(self.process.wait(), scaled(GUARD))


async def start(url: str, *argv: str) -> Example:
    env = {**os.environ, "PHOENIX_URL": url, "PYTHONUNBUFFERED": "1"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *argv,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    return Example(process)


@pytest.fixture
async def running() -> AsyncIterator[list[Example]]:
    """Examples started by a test; any still running at its end is killed."""
    examples: list[Example] = []
    yield examples
    for example in examples:
        if example.process.returncode is None:
            example.process.kill()
            await example.process.wait()


async def test_chat_bot_answers_commands_and_leaves_on_bye(
    phoenix_url: str, running: list[Example]
) -> None:
    room = f"test-{uuid.uuid4().hex[:8]}"
    bot = await start(phoenix_url, "examples/chat_bot.py", "--room", room, "--name", "bot")
    running.append(bot)
    # printed once its greeting was answered, so the greeting went out before we join
    await bot.expect(rf"^bot: joined echo:{room}$")

    said: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    async with Socket(phoenix_url) as socket:
        channel = socket.channel(f"echo:{room}", {"user": "ada"})
        channel.on("shout", lambda payload: said.put_nowait(payload))
        await channel.join()

        async def bot_says() -> str:
            while True:
                payload = await asyncio.wait_for(said.get(), scaled(GUARD))
                if payload.get("from") == "bot":
                    return str(payload["body"])

        await channel.push("shout", {"from": "ada", "body": "!ping"})
        assert await bot_says() == "pong"
        await bot.expect(r"^ada: !ping$")
        await channel.push("shout", {"from": "ada", "body": "!time"})
        assert re.fullmatch(r"\d\d:\d\d:\d\d UTC", await bot_says())
        await channel.push("shout", {"from": "ada", "body": "!bye"})
        assert await bot_says() == "bye!"
        assert await bot.wait() == 0
    assert f"bot: left echo:{room}" in bot.lines


async def test_presence_watcher_follows_joins_and_leaves(
    phoenix_url: str, running: list[Example]
) -> None:
    room = f"test-{uuid.uuid4().hex[:8]}"
    watcher = await start(phoenix_url, "examples/presence_watcher.py", "--room", room)
    running.append(watcher)
    await watcher.expect(r"^online: watcher \(watching\)$")

    async with Socket(phoenix_url) as socket:
        channel = socket.channel(f"presence:{room}", {"user_id": "ada", "status": "away"})
        synced = asyncio.Event()
        presence = Presence(channel)
        presence.on_sync(synced.set)
        await channel.join()
        await watcher.expect(r"^ada joined \(away\)$")
        await watcher.expect(r"^online: ada \(away\), watcher \(watching\)$")
        await channel.leave()
    await watcher.expect(r"^ada left$")
    await watcher.expect(r"^online: watcher \(watching\)$")

    watcher.process.send_signal(signal.SIGINT)
    assert await watcher.wait() == 0
    assert watcher.lines[-1] == "watcher: stopped"


def _tally(lines: list[str]) -> tuple[int, int, int]:
    for line in lines:
        found = re.match(r"received ([\d,]+) of ([\d,]+) ticks .* dropped ([\d,]+)$", line)
        if found:
            received, expected, dropped = (int(g.replace(",", "")) for g in found.groups())
            return received, expected, dropped
    raise AssertionError(f"no tally in {lines}")


@pytest.mark.parametrize(
    "options",
    [
        ["--mode", "callbacks"],
        ["--mode", "stream"],
        # a queue of one may drop (how many depends on timing); what arrived and what was
        # dropped must still account for every tick
        ["--mode", "stream", "--maxsize", "1", "--overflow", "drop_newest"],
    ],
)
async def test_fan_in_counts_every_tick(
    phoenix_url: str, running: list[Example], options: list[str]
) -> None:
    # 150 channels: two sockets, as Phoenix allows 100 channels on one
    fan_in = await start(
        phoenix_url, "examples/fan_in.py", "--channels", "150", "--rounds", "4", *options
    )
    running.append(fan_in)
    assert await fan_in.wait() == 0, (fan_in.lines, await fan_in.stderr())
    assert "joined 150 channels on 2 socket(s)" in fan_in.lines
    received, expected, dropped = _tally(fan_in.lines)
    assert expected == 600
    assert received + dropped == expected
    if "--maxsize" not in options:
        assert dropped == 0


@pytest.mark.parametrize(
    ("scenario", "options", "event"),
    [
        # the file's stages last 28 s and it has a latency threshold: shorter stages here,
        # and thresholds that no timing decides (a timing target belongs in a benchmark)
        (
            "chat.toml",
            [
                *("--channels", "100", "--ramp", "0.2"),
                *("--stage", "0.5s:50", "--stage", "1s:50"),
                *("--threshold", "errors rate<1%", "--threshold", "joins_refused count==0"),
            ],
            "shout",
        ),
        ("fanout.toml", ["--channels", "200", "--duration", "1.5"], "tick"),
    ],
)
async def test_scenario_runs(
    phoenix_url: str,
    running: list[Example],
    tmp_path: Path,
    scenario: str,
    options: list[str],
    event: str,
) -> None:
    if importlib.util.find_spec("rich") is None:
        pytest.skip("the load tool needs phoenix_fast[load]")
    report_path, csv_path = tmp_path / "report.json", tmp_path / "rows.csv"
    load = await start(
        phoenix_url,
        *("-m", "phoenix_fast", "load", phoenix_url),
        *("-f", f"examples/scenarios/{scenario}", *options),
        *("--quiet", "--report", str(report_path), "--csv", str(csv_path)),
    )
    running.append(load)
    assert await load.wait() == 0, (load.lines, await load.stderr())
    report = json.loads(report_path.read_text(encoding="utf-8"))
    counts = report["counts"]
    assert counts["joins_ok"] == int(options[1])
    # a push still in flight when the run ends is counted as unanswered, not as an error
    assert counts["replies_ok"] > 0
    assert counts["replies_ok"] + counts["pushes_unanswered"] == counts["pushes_sent"]
    assert report["events"][event] > 0
    assert report["errors"] == {}
    assert report["thresholds"]
    assert all(result["ok"] for result in report["thresholds"])
    assert csv_path.read_text(encoding="utf-8").startswith("t,at,seconds,")


def _locust_rows(path: Path) -> dict[str, list[str]]:
    if not path.exists():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return {row[1]: row for row in (line.split(",") for line in lines) if len(row) > 3}


async def test_locustfile_runs_without_failures(
    phoenix_url: str, running: list[Example], tmp_path: Path
) -> None:
    # never imported here: importing Locust monkey-patches the whole process for gevent
    if importlib.util.find_spec("locust") is None:
        pytest.skip("the locustfile needs phoenix_fast[locust]")
    csv = tmp_path / "run"
    locust = await start(
        phoenix_url,
        *("-m", "locust", "-f", "examples/locustfile.py", "--host", phoenix_url),
        *("--headless", "--users", "4", "--spawn-rate", "4", "--only-summary"),
        *("--csv", str(csv)),
    )
    running.append(locust)
    # Locust rewrites its statistics every second: run until connects, joins and pings are
    # in them, then stop it as Ctrl-C would
    names = ("connect", "join", "push:ping")
    stats = tmp_path / "run_stats.csv"

    def counted() -> bool:
        rows = _locust_rows(stats)
        return all(name in rows and int(rows[name][2]) > 0 for name in names)

    await wait_for(counted, timeout=GUARD, interval=0.1)
    locust.process.send_signal(signal.SIGINT)
    # Locust exits 1 when any request failed
    assert await locust.wait() == 0, (locust.lines, await locust.stderr())
    rows = _locust_rows(stats)
    for name in names:
        assert int(rows[name][2]) > 0, rows  # requests
        assert int(rows[name][3]) == 0, rows  # failures
