"""``phoenix-fast load`` end to end, as a user runs it (a child process, not a terminal)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import one_line_error, phoenix_fast

from phoenix_fast.load.report import read_report
from phoenix_fast.testing.waiting import scaled

ROOT = Path(__file__).resolve().parents[2]


def test_demo_without_url_against_the_embedded_server(tmp_path: Path) -> None:
    report_path = tmp_path / "demo.json"
    done = phoenix_fast("load", "--duration", "2", "--report", str(report_path))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "embedded reference server: ws://127.0.0.1:" in done.stderr
    for word in ("pushes", "events in", "push:ping", "p99.9"):
        assert word in done.stdout
    report = read_report(report_path)
    counts = report["counts"]
    assert counts["joins_ok"] == 1000 and counts["socket_opens"] == 20
    assert counts["replies_ok"] == counts["pushes_sent"] > 0
    assert report["events"]["shout"] > 0
    assert set(report["latency_ms"]) == {
        "connect",
        "join",
        "push:ping",
        "push:ping:service",
        "push:shout",
        "push:shout:service",
        "event:shout",
        "generator:loop_lag",
        "generator:send_error",
    }
    assert report["scenario"]["topic"] == "echo:{i}"


def test_two_processes_merge_into_one_report(phoenix_url: str, tmp_path: Path) -> None:
    report_path = tmp_path / "p2.json"
    done = phoenix_fast(
        "load", phoenix_url, "--procs", "2", "--sockets", "4", "--channels", "20",
        "--topic", "echo:p{n}", "--push", "ping=100", "--duration", "1.5",
        "--report", str(report_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(report_path.read_text())
    assert report["processes"] == 2
    counts = report["counts"]
    assert counts["joins_ok"] == counts["channels_planned"] == 20
    assert counts["sockets_planned"] == 4
    assert counts["replies_ok"] == counts["pushes_sent"] > 0
    assert report["latency_ms"]["push:ping"]["count"] == counts["replies_ok"]


def test_unreachable_url_is_one_line_and_exit_2() -> None:
    line = one_line_error(phoenix_fast("load", "ws://127.0.0.1:1/socket", "--duration", "1"))
    assert "cannot connect to ws://127.0.0.1:1/socket" in line
    assert "refused" in line


def test_refused_connection_is_one_line_and_exit_2(phoenix_url: str) -> None:
    done = phoenix_fast("load", phoenix_url, "--socket-params", '{"token": "bad"}')
    assert "403" in one_line_error(done)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rate", "5"], "--rate and --payload apply to --push"),
        (["--join-rate", "5", "--ramp", "1"], "both set the pace of joins"),
        (["--sockets", "2", "--channels", "500"], "use --sockets 5 or more"),
        (["--scenario", "/nonexistent.toml"], "cannot read scenario file"),
    ],
)
def test_impossible_options_exit_2(argv: list[str], message: str) -> None:
    assert message in one_line_error(phoenix_fast("load", *argv))


def test_too_many_channels_for_the_server_is_explained(phoenix_url: str) -> None:
    done = phoenix_fast(
        "load", phoenix_url, "--sockets", "1", "--channels", "105", "--channels-per-socket",
        "105", "--topic", "echo:t{n}", "--duration", "1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "too many channels joined" in done.stdout
    assert "lower --channels-per-socket or raise the server's limit" in " ".join(
        done.stdout.split()
    )


@pytest.mark.skipif(importlib.util.find_spec("locust") is None, reason="locust not installed")
def test_locust_single_process_run(phoenix_url: str) -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "locust", "-f", str(ROOT / "tests/load/locustfile.py"),
            "--headless", "-u", "4", "-r", "4", "-t", "3s", "--host", phoenix_url,
            "--json", "--only-summary", "--loglevel", "WARNING",
        ],
        capture_output=True, text=True, timeout=scaled(45), check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    stats = {(s["method"], s["name"]): s for s in json.loads(done.stdout)}
    assert stats["phoenix", "join"]["num_requests"] == 4
    for key in (("phoenix", "join"), ("phoenix", "push:ping"), ("phoenix", "push:shout")):
        assert stats[key]["num_requests"] > 0 and stats[key]["num_failures"] == 0
    assert stats["phoenix-event", "event:shout"]["num_requests"] >= 4  # each hears its own
