"""``--source-ip`` with too many sockets per address: one warning line, with the count of
addresses that would do, before anything connects."""

from __future__ import annotations

import socket
import subprocess
import sys

from phoenix_fast.load.source_ips import CROWDED_PER_ADDRESS, crowding_warning
from phoenix_fast.testing.waiting import scaled


def test_the_warning_counts_sockets_per_address_and_the_addresses_needed() -> None:
    three = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
    assert crowding_warning(3 * CROWDED_PER_ADDRESS, three) is None
    assert crowding_warning(50_000, ()) is None
    warning = crowding_warning(50_000, three)
    assert warning is not None and "\n" not in warning
    assert "16,667 sockets per address" in warning
    assert "give 13 or more addresses" in warning and "127.0.0.2-127.0.0.14" in warning
    assert crowding_warning(50_000, tuple(f"127.0.0.{k}" for k in range(2, 15))) is None


def test_the_command_warns_before_connecting() -> None:
    with socket.socket() as probe:  # a port with nothing listening: the run ends at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cmd = [sys.executable, "-m", "phoenix_fast", "load", f"ws://127.0.0.1:{port}/socket"]
    cmd += ["--sockets", str(CROWDED_PER_ADDRESS + 1), "--channels-per-socket", "1"]
    cmd += ["--channels", str(CROWDED_PER_ADDRESS + 1), "--source-ip", "127.0.0.2", "--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=scaled(40), check=False)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert any("--source-ip: 4,001 sockets per address" in line for line in lines), lines
    assert "cannot connect" in done.stderr
