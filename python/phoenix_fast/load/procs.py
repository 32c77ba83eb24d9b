"""Running a scenario in this process, or in N worker processes (``--procs N``).

One Python process drives one core. With ``--procs N`` the scenario's sockets (and its
join and push rates, and its message count) are shared out between N worker processes;
each sends live snapshots to the parent, which draws the progress display from their sum,
and then its report, which the parent merges exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import queue
import signal
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

from phoenix_fast.load.intervals import merge_rows
from phoenix_fast.load.progress import REFRESH_SECONDS, Progress
from phoenix_fast.load.report import from_report, to_report
from phoenix_fast.load.runner import LoadError, Runner, RunResult
from phoenix_fast.load.scenario import Scenario
from phoenix_fast.load.stats import merged

__all__ = ["GC_THRESHOLDS", "gc_thresholds", "run_in_process", "run_in_workers", "run_loop"]

T = TypeVar("T")
_WORKER_GRACE = 30.0

#: The cyclic garbage collector's thresholds while a load process runs. A run holds tens of
#: thousands of long-lived objects per process (sockets, channels, pushes, timers) and makes
#: them all during its connect storm; with CPython's defaults (700, 10, 10) every growth of
#: them by a quarter rescans all of them. Measured: of a 5,000-socket connect storm's 2.9-3.2
#: s of CPU, 7-8 full collections took 0.9-1.5 s (15,000 sockets: 12, 5.9 s). These run a
#: young collection every 100,000 allocations and a full one after 40 million at most, so
#: cycles are still collected on long runs.
GC_THRESHOLDS = (100_000, 20, 20)


@contextlib.contextmanager
def gc_thresholds(thresholds: tuple[int, int, int] = GC_THRESHOLDS) -> Iterator[None]:
    """Sets the garbage collector's thresholds inside the block, and restores them after
    (a run inside a test or an application leaves the process as it found it)."""
    before = gc.get_threshold()
    gc.set_threshold(*thresholds)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def run_loop(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Runs ``main()`` on a fresh event loop (uvloop when installed), with the load
    process's garbage collector thresholds (:data:`GC_THRESHOLDS`)."""
    with gc_thresholds():
        try:
            import uvloop
        except ImportError:  # pragma: no cover - uvloop is optional
            return asyncio.run(main())
        return uvloop.run(main())


async def _drive(
    runner: Runner, on_snapshot: Callable[[dict[str, int]], None], signals: bool
) -> RunResult:
    """Runs ``runner``, handing snapshots to ``on_snapshot``; SIGINT stops it gracefully."""
    loop = asyncio.get_running_loop()
    if signals:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGINT, runner.stop)

    async def report_progress() -> None:
        while True:
            on_snapshot(runner.snapshot())
            await asyncio.sleep(REFRESH_SECONDS)

    reporter = asyncio.create_task(report_progress())
    try:
        return await runner.run()
    finally:
        reporter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reporter
        if signals:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signal.SIGINT)


def run_in_process(
    scenario: Scenario,
    progress: Progress,
    signals: bool = True,
    on_interval: Callable[[dict[str, Any]], None] | None = None,
) -> RunResult:
    """Runs the whole scenario in this process (``on_interval`` gets each interval's row).

    Raises:
        LoadError: the URL is unreachable.
    """

    async def main() -> RunResult:
        runner = Runner(scenario, on_interval=on_interval)
        return await _drive(runner, progress.update, signals)

    return run_loop(main)


def _worker(scenario: Scenario, proc: int, procs: int, out: Any) -> None:
    """A worker process: runs its share, streams snapshots, sends its report last."""

    def send(snapshot: dict[str, int]) -> None:
        out.put(("snapshot", proc, snapshot))

    def send_row(row: dict[str, Any]) -> None:
        out.put(("interval", proc, row))

    async def main() -> RunResult:
        return await _drive(Runner(scenario, proc, procs, send_row), send, True)

    try:
        result = run_loop(main)
    except LoadError as exc:
        out.put(("fatal", proc, str(exc)))
        return
    except Exception as exc:  # pragma: no cover - reported to the parent, not lost
        out.put(("fatal", proc, f"worker {proc} failed: {exc!r}"))
        return
    report = to_report(result.stats, stopped_by=result.stopped_by, notes=result.notes)
    out.put(("report", proc, report))


def run_in_workers(
    scenario: Scenario,
    progress: Progress,
    on_interval: Callable[[dict[str, Any]], None] | None = None,
) -> RunResult:
    """Runs the scenario in ``scenario.procs`` worker processes and merges their reports;
    ``on_interval`` gets the workers' rows added up, once every worker gave its row.

    Raises:
        LoadError: a worker could not start its run (unreachable URL, say).
    """
    procs = scenario.procs
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    workers = [
        context.Process(target=_worker, args=(scenario, k, procs, out), daemon=True)
        for k in range(procs)
    ]
    for worker in workers:
        worker.start()
    try:
        reports, fatal = _collect(out, workers, progress, _Rows(procs, on_interval))
    finally:
        for worker in workers:
            worker.join(_WORKER_GRACE)
            if worker.is_alive():  # pragma: no cover - a stuck worker
                worker.kill()
                worker.join()
        out.close()
        out.join_thread()
    if fatal:
        raise LoadError(fatal[0])
    results = [from_report(reports[k], f"worker {k}") for k in sorted(reports)]
    notes: list[str] = []
    for k in sorted(reports):
        notes += [n for n in reports[k]["notes"] if n not in notes]
    stopped = sorted({str(r["stopped_by"]) for r in reports.values()})
    return RunResult(merged(results), ",".join(stopped), notes)


class _Rows:
    """Adds the workers' interval rows up by wall-clock interval, in order."""

    def __init__(self, procs: int, sink: Callable[[dict[str, Any]], None] | None) -> None:
        self.procs, self.sink = procs, sink
        self.waiting: dict[float, list[dict[str, Any]]] = {}

    def add(self, row: dict[str, Any]) -> None:
        if self.sink is None:
            return
        at = round(float(row["at"]), 3)
        self.waiting.setdefault(at, []).append(row)
        if len(self.waiting[at]) >= self.procs:  # complete: so are the earlier ones
            for key in sorted(k for k in self.waiting if k <= at):
                self.sink(merge_rows(self.waiting.pop(key))[0])

    def flush(self) -> None:
        if self.sink is None:
            return
        for at in sorted(self.waiting):
            self.sink(merge_rows(self.waiting.pop(at))[0])


def _collect(
    out: Any, workers: list[Any], progress: Progress, rows: _Rows | None = None
) -> tuple[dict[int, dict[str, Any]], list[str]]:
    """Reads the workers' messages until each sent its report (or a fatal error)."""
    snapshots: dict[int, dict[str, int]] = {}
    reports: dict[int, dict[str, Any]] = {}
    fatal: list[str] = []
    pending = set(range(len(workers)))
    while pending:
        try:
            kind, proc, data = out.get(timeout=REFRESH_SECONDS)
        except queue.Empty:
            pending -= {k for k in pending if not workers[k].is_alive() and out.empty()}
            continue
        except KeyboardInterrupt:  # the workers got SIGINT too and stop gracefully
            continue
        if kind == "snapshot":
            snapshots[proc] = data
            progress.update(_sum(snapshots.values()))
            continue
        if kind == "interval":
            if rows is not None:
                rows.add(data)
            continue
        pending.discard(proc)
        if kind == "report":
            reports[proc] = data
            continue
        fatal.append(data)
        for worker in workers:  # the others would fail the same way, or run for nothing
            if worker.is_alive():
                worker.terminate()
        pending.clear()
    if rows is not None:
        rows.flush()
    for k in range(len(workers)):
        if k not in reports and not fatal:
            fatal.append(f"worker {k} ended without a report (exit code {workers[k].exitcode})")
    return reports, fatal


def _sum(snapshots: Any) -> dict[str, int]:
    total: dict[str, int] = {}
    for snap in snapshots:
        for key, value in snap.items():
            if key.endswith("_us") or key.startswith("generator_"):  # the worst process's
                total[key] = max(total.get(key, 0), value)
            else:
                total[key] = total.get(key, 0) + value
    return total
