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


def test_the_last_intervals_push_latency_is_shown() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with Progress(console, planned_sockets=3, planned_channels=30) as progress:
        progress.update({**SNAPSHOT, "push_p50_us": 420, "push_p99_us": 3100})
    text = out.getvalue()
    assert "0.42 ms" in text and "p99 3.10 ms (last interval)" in text


def test_workers_show_the_worst_latency_and_the_sum_of_counts() -> None:
    from phoenix_fast.load.procs import _sum

    total = _sum([{"pushes_sent": 5, "push_p99_us": 900}, {"pushes_sent": 7, "push_p99_us": 400}])
    assert total == {"pushes_sent": 12, "push_p99_us": 900}


def test_a_saturated_generator_is_flagged_live() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with Progress(console, planned_sockets=3, planned_channels=30) as progress:
        progress.update({**SNAPSHOT, "generator_saturated": 1, "generator_cpu_pct": 97})
    text = out.getvalue()
    assert "saturated" in text and "CPU 97%" in text and "try --procs" in text


def test_a_limit_is_named_live() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with Progress(console, planned_sockets=3, planned_channels=30) as progress:
        progress.update({**SNAPSHOT, "limit:open files": 317})
    text = out.getvalue()
    assert (
        "limit hit" in text and "317" in text and "open files (the fix is in the summary)" in text
    )
