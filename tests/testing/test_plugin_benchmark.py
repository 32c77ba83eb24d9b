"""``phoenix_benchmark``: the worked example of the README, and what its numbers mean.

The example compares client configurations on one round trip; with benchmarks disabled (the
default ``addopts``) it runs one round as a test. Run it for real with::

    pytest tests/testing/test_plugin_benchmark.py --benchmark-enable --benchmark-only
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from phoenix_fast.testing.benchmark import LoopBenchmark

CONFIGS = {
    "v2": {},
    "v1": {"vsn": "1.0.0"},
    "v2-compressed": {"compress": True},
}


@pytest.mark.benchmark(group="echo ping round trip")
@pytest.mark.parametrize("config", list(CONFIGS))
def test_ping_round_trip(phoenix_benchmark: LoopBenchmark, phoenix_url: str, config: str) -> None:
    options: dict[str, Any] = dict(CONFIGS[config])
    if options.get("compress"):  # the contract application's socket that offers deflate
        options["url"] = phoenix_url.removesuffix("/socket") + "/socket_compress"
    channel = phoenix_benchmark.channel("echo:bench", **options)
    reply = phoenix_benchmark(lambda: channel.push("ping", {"n": 1}), iterations=200)
    assert reply == {"n": 1}


# -- what the numbers mean: a child run with benchmarks enabled ---------------------------------

EXAMPLE = """
import asyncio
import pytest

@pytest.mark.benchmark(group="sleep")
def test_one_millisecond(phoenix_benchmark):
    phoenix_benchmark(lambda: asyncio.sleep(0.001), iterations=20, rounds=3, warmup_rounds=1)

def test_scenario(phoenix_benchmark):
    calls = []

    async def setup():
        calls.append("setup")
        return len(calls)

    async def target(state):
        calls.append("target")
        return state

    async def teardown(state):
        calls.append("teardown")

    assert phoenix_benchmark.scenario(target, setup=setup, teardown=teardown, rounds=2,
                                      warmup_rounds=1) == 7
    assert calls == ["setup", "target", "teardown"] * 3
"""


def test_rounds_are_divided_into_calls_and_the_floor_is_reported(
    tmp_path: Path, phoenix_url: str
) -> None:
    (tmp_path / "test_example.py").write_text(EXAMPLE)
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:anyio",
         "--benchmark-enable", f"--benchmark-json={out}"],
        cwd=tmp_path, env={**os.environ, "PHOENIX_URL": phoenix_url},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    (bench,) = [b for b in json.loads(out.read_text())["benchmarks"] if b["group"] == "sleep"]
    stats, info = bench["stats"], bench["extra_info"]
    assert stats["rounds"] == 3 and stats["iterations"] == 20
    # per call: one sleep of 1 ms, not the round's twenty
    assert 0.001 <= stats["min"] < 0.01
    assert info["iterations"] == 20
    assert 0 < info["floor_us_per_call"] < stats["min"] * 1e6


def test_phoenix_benchmark_refuses_an_async_test(tmp_path: Path, phoenix_url: str) -> None:
    (tmp_path / "test_async.py").write_text("async def test_async(phoenix_benchmark):\n    pass\n")
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:anyio"],
        cwd=tmp_path, env={**os.environ, "PHOENIX_URL": phoenix_url},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "phoenix_benchmark needs a synchronous test" in done.stdout, done.stdout[-3000:]
    assert "def test_async(phoenix_benchmark)" in done.stdout
