"""The minimal acceptor of the connect storm benchmark (``benches/acceptor``) and the script
that drives it (``benches/connect_storm.py``), so that both stay honest where the acceptor is
built. The figures come from ``python benches/connect_storm.py``; these only check that the
protocol it speaks is the one the load tool needs, and that every socket joins.

CI does not build the acceptor (a cold build of its crates takes about a minute, for a
benchmark-only program): run ``make acceptor`` to include these tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from phoenix_fast.testing.waiting import scaled

ROOT = Path(__file__).resolve().parent.parent
ACCEPTOR = ROOT / "benches/acceptor/target/release/acceptor"
SCRIPT = ROOT / "benches/connect_storm.py"
pytestmark = pytest.mark.skipif(
    not ACCEPTOR.exists(), reason="benches/acceptor is not built (make acceptor)"
)
OK = {"status": "ok", "response": {}}


@pytest.fixture
def acceptor() -> Iterator[tuple[subprocess.Popen[str], int]]:
    """One acceptor on a free port, and the port; stopped with SIGTERM."""
    proc = subprocess.Popen(
        [str(ACCEPTOR), "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    listening = json.loads(proc.stdout.readline())
    assert listening["event"] == "listening" and listening["tls"] is False
    try:
        yield proc, int(listening["addr"].rsplit(":", 1)[1])
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.communicate(timeout=scaled(10))


def exit_line(proc: subprocess.Popen[str]) -> dict[str, Any]:
    """Stops the acceptor and returns its exit line."""
    proc.terminate()
    out, _ = proc.communicate(timeout=scaled(10))
    ends: list[dict[str, Any]] = [
        json.loads(line) for line in out.splitlines() if '"event":"exit"' in line
    ]
    assert len(ends) == 1, out
    return ends[0]


async def test_joins_heartbeats_leaves_and_pushes_get_ok_replies(
    acceptor: tuple[subprocess.Popen[str], int],
) -> None:
    proc, port = acceptor
    url = f"ws://127.0.0.1:{port}/socket/websocket?vsn=2.0.0"
    async with websockets.connect(url) as ws:
        frames: list[list[Any]] = [
            ["1", "1", "room:1", "phx_join", {"user": "u"}],
            [None, "2", "phoenix", "heartbeat", {}],
            ["1", "3", "room:1", "ping", {"seq": 1}],
            ["1", "4", "room:1", "phx_leave", {}],
        ]
        for frame in frames:
            await ws.send(json.dumps(frame))
            reply = json.loads(await ws.recv())
            assert reply == [frame[0], frame[1], frame[2], "phx_reply", OK]
    end = exit_line(proc)
    assert end["reason"] == "SIGTERM"
    assert (end["joins"], end["heartbeats"], end["pushes"], end["leaves"]) == (1, 1, 1, 1)
    assert end["peak_connections"] == 1 and end["open_connections"] == 0
    assert isinstance(end["cpu_s"], float) and end["cpu_s"] >= 0.0


async def test_a_v1_frame_closes_the_socket_with_the_reason(
    acceptor: tuple[subprocess.Popen[str], int],
) -> None:
    proc, port = acceptor
    async with websockets.connect(f"ws://127.0.0.1:{port}/socket/websocket?vsn=1.0.0") as ws:
        v1 = {"topic": "room:1", "event": "phx_join", "payload": {}, "ref": "1"}
        await ws.send(json.dumps(v1))
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003
    assert "Phoenix V2 JSON only" in closed.value.rcvd.reason
    assert exit_line(proc)["bad_frames"] == 1


@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
def test_fifty_sockets_join_with_the_load_tool(tmp_path: Path, tls: bool) -> None:
    """The connect storm script with 50 sockets, two acceptors sharing the port (the second
    could not bind without SO_REUSEPORT), heartbeats every second: all join, none drops, and
    the acceptors saw every socket, join and heartbeat."""
    out = tmp_path / "storm.json"
    cmd = [sys.executable, str(SCRIPT), "--sockets", "50", "--runs", "1", "--acceptors", "2"]
    cmd += ["--duration", "3", "--heartbeat", "1", "--json", str(out)] + (["--tls"] if tls else [])
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=scaled(50), check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (run,) = json.loads(out.read_text())["runs"]
    assert run["joins"] == run["acceptor_joins"] == run["peak_sockets"] == 50
    assert sum(run["acceptor_peaks"]) == 50 and len(run["acceptor_peaks"]) == 2
    assert run["errors"] == run["drops"] == run["reconnects"] == 0
    assert run["acceptor_handshake_errors"] == run["acceptor_accept_errors"] == 0
    assert run["acceptor_heartbeats"] >= 50  # each socket's first heartbeat, at least
    assert run["joins_per_s"] > 0 and run["load_rss_per_socket_kib"] > 0
    assert "run 1/1: 50/50 joined" in done.stdout


def test_bad_options_exit_2_with_one_line() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--sockets", "5"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--sockets must be more than 10" in done.stderr
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--tls-files", "no-cert.pem", "no-key.pem"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "give a PEM certificate and key" in done.stderr
    done = subprocess.run([str(ACCEPTOR), "--threads", "0"], capture_output=True, text=True)
    assert done.returncode == 2 and "--threads 0: give a whole number, 1 or more" in done.stderr
