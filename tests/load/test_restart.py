"""``--restart-every`` restarts the embedded server: every socket drops at once, and the
run's recovery and rejoin figures show the storm."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from phoenix_fast.load.runner import Runner
from phoenix_fast.load.scenario import ScenarioError, build_scenario
from phoenix_fast.testing import FaultProxy
from phoenix_fast.testing.waiting import scaled, wait_for


def test_restart_every_causes_a_rejoin_storm(tmp_path: Path) -> None:
    report_path = tmp_path / "r.json"
    done = subprocess.run(
        [sys.executable, "-m", "phoenix_fast.cli", "load", "--restart-every", "1.5",
         "--duration", "5", "--sockets", "4", "--channels", "8", "--topic", "echo:{n}",
         "--quiet", "--report", str(report_path)],
        capture_output=True, text=True, timeout=scaled(60), check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(report_path.read_text())
    counts = report["counts"]
    restarted = [n for n in report["notes"] if "embedded server was restarted" in n]
    assert len(restarted) == 1, report["notes"]
    restarts = int(restarted[0].split("restarted ")[1].split(" ")[0])
    assert restarts >= 1
    # each restart drops every socket; the channels rejoin and the run recovers
    assert counts["socket_drops"] >= 4
    assert counts["rejoins"] >= 8 and report["latency_ms"]["rejoin"]["count"] >= 8
    assert counts["recoveries"] >= 1
    assert report["latency_ms"]["recovery"]["count"] == counts["recoveries"]
    assert "restarted" in done.stdout


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "ws://h/socket", "restart_every": 5}, "FaultProxy"),
        ({"restart_every": 0}, "> 0"),
        ({"restart_every": "5"}, "> 0"),
    ],
)
def test_restart_every_bad_input(options: dict[str, object], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        build_scenario(options)


async def test_fault_proxy_recipe_cuts_every_link_at_once(phoenix_url: str) -> None:
    """The guide's recipe against any server: a FaultProxy in front, every link cut at once."""
    async with FaultProxy.from_url(phoenix_url) as proxy:
        scenario = build_scenario(
            {"url": proxy.url, "sockets": 3, "channels": 6, "topic": "echo:{n}",
             "duration": 60.0, "heartbeat": 0}
        )  # fmt: skip
        runner = Runner(scenario)
        task = asyncio.create_task(runner.run())
        counters = runner.stats.counters
        await wait_for(lambda: counters["joins_ok"] == 6, timeout=20)
        assert proxy.cut(reset=True) == 3
        await wait_for(lambda: counters["recoveries"] >= 1, timeout=30)
        runner.stop("test")
        result = await task
    assert result.stats.counters["socket_drops"] == 3
    assert result.stats.counters["rejoins"] == 6
    assert result.stats.histograms["recovery"].get_total_count() == 1
    assert result.stats.histograms["rejoin"].get_total_count() == 6
