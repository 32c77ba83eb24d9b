"""A tiny run of the soak benchmark, so the harness never rots (``make soak`` is the real one)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from phoenix_fast.testing.waiting import scaled

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benches/soak.py"


def test_a_short_soak_with_a_restart_passes_its_checks(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    cmd = [sys.executable, str(SCRIPT), "--minutes", "0.2", "--sockets", "2", "--channels", "20"]
    cmd += ["--rate", "30", "--fault-every", "2", "3", "--heartbeat", "1", "--seed", "7"]
    cmd += ["--faults", "restart,half_open,truncate", "--json", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=scaled(55), check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["passed"] and all(report["checks"].values())
    assert report["fault_count"] >= 2 and report["pending"] == [0, 0]
    assert report["replies"]["ok"] > 0 and report["unhandled"] == 0
    assert "PASS  pending tables empty" in done.stdout


def test_bad_options_exit_2_with_one_line() -> None:
    cmd = [sys.executable, str(SCRIPT), "--faults", "cut,flood", "--minutes", "0"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=scaled(30), check=False)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--minutes must be > 0" in done.stderr
    assert "unknown ['flood']" in done.stderr
