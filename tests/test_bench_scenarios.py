"""A tiny run of the scenario benchmarks (both clients), so the harness never rots.

The real figures come from ``make bench-scenarios``; this only checks that every scenario
completes with correct results for phoenix_fast and for the JS client.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (ROOT / "tests/js/node_modules").is_dir(),
    reason="node or tests/js/node_modules missing (make js)",
)


@pytest.mark.parametrize("transport", ["websocket", "longpoll"])
def test_every_scenario_runs_for_both_clients(tmp_path: Path, transport: str) -> None:
    out = tmp_path / "scenarios.json"
    only = ["s1", "s1stream", "s4"] + (["s2s3", "s5"] if transport == "websocket" else [])
    cmd = [sys.executable, str(ROOT / "benches/scenarios.py"), "--scale", "0.01"]
    cmd += ["--transport", transport, "--json", str(out), "--only", *only]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=50, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    expected = {"S1", "S1 stream", "S4"} | (
        {"S2", "S3", "S5"} if transport == "websocket" else set()
    )
    assert set(rows) == expected
    for row in rows.values():
        assert row["ratio"] > 0
