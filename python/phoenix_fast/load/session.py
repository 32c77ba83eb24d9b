"""One ``phoenix-fast load`` run from a checked scenario: the embedded server if there is no
URL, the live display, the run (in-process or ``--procs``), the summary and the report."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from rich.console import Console

from phoenix_fast.load.progress import Progress
from phoenix_fast.load.report import print_summary, to_report, write_report
from phoenix_fast.load.runner import LoadError, RunResult
from phoenix_fast.load.scenario import PHOENIX_MAX_CHANNELS, Scenario

__all__ = ["describe", "execute", "exit_status"]


@contextmanager
def target(scenario: Scenario, console: Console) -> Iterator[Scenario]:
    """The scenario with its URL: the given one, or an embedded reference server's (started
    in a child process, allowing ``channels_per_socket`` channels per socket)."""
    if scenario.url is not None:
        yield scenario
        return
    from phoenix_fast.testing import ServerProcess

    limit = max(PHOENIX_MAX_CHANNELS, scenario.channels_per_socket)
    with ServerProcess(max_channels=limit) as server:
        console.print(
            f"embedded reference server: {server.url} (max {limit} channels/socket)",
            markup=False,
            highlight=False,
        )
        yield replace(scenario, url=server.url)


def describe(scenario: Scenario) -> str:
    """One line saying what the scenario does."""
    sockets = scenario.socket_count
    parts = [
        f"{sockets:,} socket{'s' * (sockets != 1)}, {scenario.channels:,} channels on "
        f"{scenario.topic!r}",
        _pace(scenario),
    ]
    if scenario.pushes:
        parts.append("pushes " + ", ".join(f"{p.event} {p.rate:,g}/s" for p in scenario.pushes))
    if scenario.subscribe:
        parts.append("counting " + ", ".join(scenario.subscribe))
    if scenario.messages is not None:
        parts.append(f"until {scenario.messages:,} pushes are answered")
    else:
        parts.append(f"for {scenario.run_seconds:g} s")
    if scenario.procs > 1:
        parts.append(f"{scenario.procs} processes")
    return "; ".join(parts)


def _pace(scenario: Scenario) -> str:
    if scenario.ramp:
        return f"joins ramped over {scenario.ramp:g} s"
    if scenario.join_rate:
        return f"joins at {scenario.join_rate:,g}/s"
    return "joins all at once"


def exit_status(scenario: Scenario, result: RunResult) -> int:
    """0 for a completed run, 1 for a failed one, 130 for an interrupted one."""
    if "interrupted" in result.stopped_by:
        return 130
    if scenario.channels and not result.stats.counters.get("joins_ok"):
        return 1
    if "time_limit" in result.stopped_by:
        return 1
    return 0


def execute(scenario: Scenario, *, report_path: str | None = None, quiet: bool = False) -> int:
    """Runs ``scenario``, prints the summary, writes the report; returns the exit status."""
    err = Console(stderr=True)
    out = Console()
    if not out.is_terminal:  # a file or a pipe: wide enough for the tables, no wrapping
        out = Console(width=120)
    try:
        with target(scenario, err) as aimed:
            err.print(
                f"phoenix-fast load: {describe(aimed)}",
                soft_wrap=True,
                markup=False,
                highlight=False,
            )
            result = _run(aimed, err, quiet)
    except LoadError as exc:
        print(f"phoenix-fast: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # the embedded server did not start
        print(f"phoenix-fast: error: {exc}", file=sys.stderr)
        return 2
    report = to_report(
        result.stats, aimed.to_dict(), stopped_by=result.stopped_by, notes=result.notes
    )
    print_summary(out, report)
    if report_path:
        try:
            write_report(report_path, report)
        except OSError as exc:
            print(
                f"phoenix-fast: error: cannot write {report_path}: {exc.strerror}", file=sys.stderr
            )
            return 2
        err.print(f"report written to {report_path}")
    return exit_status(aimed, result)


def _run(scenario: Scenario, console: Console, quiet: bool) -> RunResult:
    from phoenix_fast.load.procs import run_in_process, run_in_workers

    progress = Progress(
        console,
        planned_sockets=scenario.socket_count,
        planned_channels=scenario.channels,
        enabled=False if quiet else None,
    )
    with progress:
        if scenario.procs > 1:
            return run_in_workers(scenario, progress)
        return run_in_process(scenario, progress)
