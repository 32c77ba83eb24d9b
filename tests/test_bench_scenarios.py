"""A tiny run of the scenario benchmarks (every client), so the harness never rots.

The real figures come from ``make bench-scenarios``; this only checks that every scenario
completes with correct results for phoenix_fast and for the JS client, and for the Rust client
when its peer binary is built. CI does not build it: a cold build of its 102 crates took 38 s
here (plus their download), for a 2 s test of a benchmark-only program. Run ``make rust-peer``
to include it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from phoenix_fast.testing import ServerProcess

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benches/scenarios.py"
RUST_PEER = ROOT / "benches/rust_peer/target/release/rust_peer"
pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (ROOT / "tests/js/node_modules").is_dir(),
    reason="node or tests/js/node_modules missing (make js)",
)


@pytest.mark.parametrize("transport", ["websocket", "longpoll"])
def test_every_scenario_runs_for_both_clients(tmp_path: Path, transport: str) -> None:
    out = tmp_path / "scenarios.json"
    only = ["s1", "s1stream", "s4"] + (["s2s3", "s5"] if transport == "websocket" else [])
    cmd = [sys.executable, str(SCRIPT), "--scale", "0.01", "--peers", "js"]
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
        # each client's CPU over the timed section, per operation
        assert row["phoenix_fast"]["cpu_us_per_op"] > 0
        assert row["js"]["cpu_us_per_op"] > 0


def test_rounds_report_medians_and_spreads(tmp_path: Path) -> None:
    out = tmp_path / "scenarios.json"
    cmd = [sys.executable, str(SCRIPT), "--scale", "0.01", "--peers", "js", "--rounds", "2"]
    cmd += ["--json", str(out), "--only", "s1", "s4"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=50, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "round 2/2 done" in done.stdout
    results = json.loads(out.read_text())
    assert results["rounds"] == 2
    for row in results["rows"].values():
        assert row["rounds"] == 2
        assert [len(row["runs"][c]) for c in ("phoenix_fast", "js")] == [2, 2]
        low, high = row["spread"]["ratio"]
        assert 0 < low <= row["ratio"] <= high
        for client in ("phoenix_fast", "js"):
            rates = [run["rate"] for run in row["runs"][client]]
            assert row["spread"][client]["rate"] == [min(rates), max(rates)]
            assert row[client]["rate"] == sum(rates) / 2
        ours, theirs = row["runs"]["phoenix_fast"], row["runs"]["js"]
        ahead = sum(a["rate"] > b["rate"] for a, b in zip(ours, theirs, strict=True))
        assert row["paired"]["js"]["ahead"] == ahead
        assert f"ahead in {ahead} of 2 rounds" in done.stdout
    s4 = results["rows"]["S4"]
    p99s = [
        a["p99_ms"] / b["p99_ms"]
        for a, b in zip(s4["runs"]["phoenix_fast"], s4["runs"]["js"], strict=True)
    ]
    assert s4["paired"]["js"]["p99"] == sum(p99s) / 2
    assert s4["paired"]["js"]["p99_lower"] == sum(ratio < 1 for ratio in p99s)
    assert "p99" not in results["rows"]["S1"]["paired"]["js"]


@pytest.mark.skipif(not RUST_PEER.is_file(), reason="Rust peer not built (make rust-peer)")
def test_every_scenario_runs_for_the_rust_peer(tmp_path: Path) -> None:
    out = tmp_path / "scenarios.json"
    cmd = [sys.executable, str(SCRIPT), "--scale", "0.01", "--peers", "rust", "--json", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=50, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert set(rows) == {"S1", "S1 stream", "S2", "S3", "S4", "S5"}
    for row in rows.values():
        assert "js" not in row
        assert row["ratio_rust"] > 0
        assert row["rust"]["cpu_us_per_op"] > 0
    assert rows["S3"]["rust"]["events"] == 20 * rows["S2"]["rust"]["channels"]


def test_an_unbuilt_rust_peer_is_a_one_line_error(tmp_path: Path) -> None:
    """Pointed at a checkout without the peer's binary, the script names the fix (exit 2)."""
    script = tmp_path / "benches" / "scenarios.py"
    script.parent.mkdir()
    script.write_text(SCRIPT.read_text())
    cmd = [sys.executable, str(script), "--peers", "rust"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=50, check=False)
    assert done.returncode == 2
    assert "make rust-peer" in done.stderr


def test_s5_floor_compares_the_bare_client_with_phoenix_fast() -> None:
    cmd = [sys.executable, str(ROOT / "benches/s5_floor.py"), "--rounds", "1", "--sockets", "5"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=50, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = dict(line.strip().split(": ", 1) for line in done.stdout.splitlines())
    expected = {"bare", "phoenix_fast"} | ({"rust"} if RUST_PEER.is_file() else set())
    assert set(lines) == expected
    for figure in lines.values():
        assert figure.endswith("; 1 rounds, 5 sockets)")
        assert float(figure.split(" ms", 1)[0]) > 0


def test_s4_floor_runs_the_bare_client_with_busy_work_and_nagle() -> None:
    cmd = [sys.executable, str(ROOT / "benches/s4_floor.py"), "--child", "bare", "--url"]
    with ServerProcess() as server:
        for extra, least_cpu in (
            ([], 0.0),
            (["--busy-us", "20", "--nagle", "--flush-every", "1"], 20.0),
        ):
            args = [*cmd, server.url, "--pushes", "300", *extra]
            done = subprocess.run(args, capture_output=True, text=True, timeout=50, check=False)
            assert done.returncode == 0, done.stderr[-3000:]
            figures = json.loads(done.stdout)
            assert figures["cpu_us_per_op"] > least_cpu  # the spin shows in the CPU per push


def test_s4_floor_compares_the_bare_client_with_phoenix_fast() -> None:
    cmd = [sys.executable, str(ROOT / "benches/s4_floor.py"), "--rounds", "1", "--pushes", "300"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=50, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    *rows, footer = done.stdout.splitlines()
    assert footer == "(medians of 1 rounds, 300 pushes each, 100 in flight)"
    lines = dict(line.strip().split(": ", 1) for line in rows)
    expected = {"bare", "phoenix_fast"} | ({"rust"} if RUST_PEER.is_file() else set())
    assert set(lines) == expected
    for figures in lines.values():
        named = dict(part.split(" ", 1) for part in figures.split(", "))
        assert set(named) == {"rate", "p50_ms", "p99_ms", "cpu_us_per_op"}
        assert float(named["p99_ms"].split(" ms", 1)[0]) >= float(named["p50_ms"].split(" ms")[0])
        assert float(named["cpu_us_per_op"].split(" ", 1)[0]) > 0


def test_s5_floor_reads_the_steps_of_s5_off_the_wire() -> None:
    sys.path.insert(0, str(ROOT / "benches"))
    try:
        from s5_floor import steps_from_dump
    finally:
        sys.path.remove(str(ROOT / "benches"))

    def packet(at: float, to_server: bool, flags: str, body: str = "") -> str:
        client, server = "127.0.0.1.50001", "127.0.0.1.4497"
        ends = f"{client} > {server}" if to_server else f"{server} > {client}"
        line = f"{100 + at / 1000:.6f} IP {ends}: Flags [{flags}], seq 1, length {len(body)}"
        return "\n".join([line, "E..<..@.@.....", *body.splitlines()])

    dump = "\n".join(
        [
            packet(0.0, True, "S"),
            packet(0.01, False, "S."),
            packet(2.0, True, "S"),
            packet(3.0, True, "P.", "....GET /socket/websocket?vsn=2.0.0 HTTP/1.1\nHost: x"),
            packet(4.5, True, "P.", "....GET /socket/websocket?vsn=2.0.0 HTTP/1.1"),
            packet(6.0, False, "P.", "HTTP/1.1 101 Switching Protocols\nUpgrade: websocket"),
            packet(7.0, True, "P.", ".....masked join"),
            packet(9.0, False, "P.", '..["1","1","echo:a","phx_reply",{"status":"ok"}]'),
            packet(9.5, True, "F."),
        ]
    )
    steps = steps_from_dump(dump, 4497)
    expected = {"last SYN": 2.0, "first GET": 3.0, "last GET": 4.5, "last 101": 6.0}
    assert steps == pytest.approx({**expected, "last reply": 9.0}, abs=1e-3)
    # a capture without the replies (another port, a failed run) says what it missed
    with pytest.raises(RuntimeError, match="no reply seen on port 4497"):
        steps_from_dump(dump.replace("phx_reply", "phx_other"), 4497)
