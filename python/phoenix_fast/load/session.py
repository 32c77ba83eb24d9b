"""One ``phoenix-fast load`` run from a checked scenario: the embedded server if there is no
URL, the live display, the run (in-process or ``--procs``), the summary and the report."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console

from phoenix_fast.load.cli_error import fail as _error
from phoenix_fast.load.intervals import LOOP_LAG, SEND_ERROR, CsvWriter
from phoenix_fast.load.presence import PRESENCE_NAMES
from phoenix_fast.load.progress import Progress
from phoenix_fast.load.report import print_summary, to_report, write_report
from phoenix_fast.load.runner import LoadError, RunResult
from phoenix_fast.load.scenario import PHOENIX_MAX_CHANNELS, Scenario

__all__ = ["describe", "execute", "exit_status", "latency_names"]


class _Restarter:
    """Restarts ``server`` (on the same port) every ``every`` seconds, in a thread, until
    :meth:`stop`: the clients' sockets drop at once and reconnect and rejoin together."""

    def __init__(self, server: Any, every: float) -> None:
        self.server, self.every = server, every
        self.restarts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="restart-every", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.server.stop()
            if self._stop.is_set():
                break
            self.server.start()
            self.restarts += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def note(self) -> str:
        return (
            f"the embedded server was restarted {self.restarts} time(s), every "
            f"{self.every:g} s (--restart-every): the recovery and rejoin figures are its "
            "rejoin storms"
        )


@contextmanager
def target(
    scenario: Scenario, console: Console, notes: list[str] | None = None
) -> Iterator[Scenario]:
    """The scenario with its URL: the given one, or an embedded reference server's (started
    in a child process, allowing ``channels_per_socket`` channels per socket; restarted every
    ``restart_every`` seconds if set, which adds a line to ``notes``)."""
    if scenario.insecure:
        from phoenix_fast.load.connection import insecure_warning

        print(insecure_warning(), file=sys.stderr)
    if scenario.source_ips:
        from phoenix_fast.load.source_ips import crowding_warning

        crowded = crowding_warning(scenario.socket_count, scenario.source_ips)
        if crowded:
            print(crowded, file=sys.stderr)
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
        url = server.url
        if scenario.compress:  # the reference server offers deflate on /socket_compress
            url = url.replace("/socket", "/socket_compress")
        every = scenario.restart_every
        restarter = _Restarter(server, every) if every else None
        try:
            yield replace(scenario, url=url)
        finally:
            if restarter is not None:
                restarter.stop()
                if notes is not None:
                    notes.append(restarter.note())


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
    if scenario.transport != "websocket":
        parts.append(f"over {scenario.transport}")
    if scenario.presence:
        parts.append("following presence")
    if scenario.messages is not None:
        parts.append(f"until {scenario.messages:,} pushes are answered")
    elif scenario.stages:
        ramps = ", ".join(
            f"{st.duration:g} s to {st.rate:,g}/s" if st.rate is not None else f"{st.duration:g} s"
            for st in scenario.stages
        )
        parts.append(f"stages {ramps} ({scenario.run_seconds:g} s)")
    else:
        parts.append(f"for {scenario.run_seconds:g} s")
    if scenario.procs > 1:
        parts.append(f"{scenario.procs} processes")
    if scenario.thresholds:
        parts.append(f"{len(scenario.thresholds)} threshold(s)")
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


def latency_names(scenario: Scenario) -> list[str]:
    """The latency names a run of ``scenario`` records (the CSV's columns)."""
    names = []
    for push in scenario.pushes:
        names += [f"push:{push.event}", f"push:{push.event}:service"]
    names += [f"event:{event}" for event in scenario.subscribe]
    if scenario.presence:
        names += PRESENCE_NAMES
    return [*names, "connect", "join", LOOP_LAG, SEND_ERROR]


def execute(
    scenario: Scenario,
    *,
    report_path: str | None = None,
    quiet: bool = False,
    csv_path: str | None = None,
) -> int:
    """Runs ``scenario``, prints the summary, writes the report; returns the exit status.

    The report's folder and the CSV file are checked before anything connects; the
    thresholds are judged after the summary and the report are written.
    """
    err = Console(stderr=True)
    out = Console()
    if not out.is_terminal:  # a file or a pipe: wide enough for the tables, no wrapping
        out = Console(width=120)
    if report_path and not Path(report_path).resolve().parent.is_dir():
        return _error(f"cannot write the report to {report_path}: no such folder (create it first)")
    writer: CsvWriter | None = None
    if csv_path:
        try:
            writer = CsvWriter(csv_path, latency_names(scenario))
        except OSError as exc:
            return _error(f"cannot write --csv {csv_path}: {exc.strerror} (give a writable path)")
    extra_notes: list[str] = []
    try:
        with target(scenario, err, extra_notes) as aimed:
            err.print(
                f"phoenix-fast load: {describe(aimed)}",
                soft_wrap=True,
                markup=False,
                highlight=False,
            )
            result = _run(aimed, err, quiet, writer.write if writer else None)
    except LoadError as exc:
        return _error(str(exc))
    except RuntimeError as exc:  # the embedded server did not start
        return _error(str(exc))
    finally:
        if writer is not None:
            writer.close()
    report = to_report(
        result.stats,
        aimed.to_dict(),
        stopped_by=result.stopped_by,
        notes=[*result.notes, *extra_notes],
    )
    if aimed.thresholds:
        from phoenix_fast.load.thresholds import evaluate

        report["thresholds"] = evaluate(aimed.thresholds, report)
    print_summary(out, report)
    if writer is not None:
        err.print(f"intervals written to {writer.path}")
    status = exit_status(aimed, result)
    if status == 0 and not all(v["ok"] for v in report.get("thresholds", ())):
        status = 1
    if report_path:
        try:
            write_report(report_path, report)
        except OSError as exc:
            print(
                f"phoenix-fast: error: cannot write {report_path}: {exc.strerror}", file=sys.stderr
            )
            return 2
        err.print(f"report written to {report_path}")
    return status


def _run(
    scenario: Scenario,
    console: Console,
    quiet: bool,
    on_interval: Callable[[dict[str, Any]], None] | None,
) -> RunResult:
    from phoenix_fast.load.procs import run_in_process, run_in_workers

    progress = Progress(
        console,
        planned_sockets=scenario.socket_count,
        planned_channels=scenario.channels,
        enabled=False if quiet else None,
    )
    with progress:
        if scenario.procs > 1:
            return run_in_workers(scenario, progress, on_interval)
        return run_in_process(scenario, progress, on_interval=on_interval)
