"""The live display: drawn on a terminal, silent otherwise."""

from __future__ import annotations

import io

from rich.console import Console

from phoenix_fast.load.progress import Progress

SNAPSHOT = {"sockets": 3, "channels": 30, "pushes_sent": 100, "events_received": 7, "errors": 1}


def test_silent_off_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out)
    assert not console.is_terminal
    with Progress(console, planned_sockets=3, planned_channels=30) as progress:
        assert not progress.enabled
        progress.update(SNAPSHOT)
        progress.update(SNAPSHOT)
    assert out.getvalue() == ""


def test_quiet_wins_even_on_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True)
    with Progress(console, planned_sockets=3, planned_channels=30, enabled=False) as progress:
        progress.update(SNAPSHOT)
    assert out.getvalue() == ""


def test_drawn_on_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with Progress(console, planned_sockets=3, planned_channels=30) as progress:
        progress.update(SNAPSHOT)
        progress.update({**SNAPSHOT, "pushes_sent": 200})
    text = out.getvalue()
    for word in ("sockets", "of 3 connected", "of 30 joined", "pushes", "200", "errors"):
        assert word in text
