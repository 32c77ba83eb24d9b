"""Connect storm: how fast ``phoenix-fast load`` connects and joins sockets, and what each one
costs it in memory, against a server that keeps up (``benches/acceptor``, ``make acceptor``).

    python benches/connect_storm.py [--sockets 5000] [--runs 3] [--tls | --tls-files CERT KEY]
                                    [--procs 1]
                                    [--acceptors 1] [--threads 1] [--source-ip ADDR ...]
                                    [--acceptor-cpus LIST] [--load-cpus LIST]
                                    [--duration S] [--heartbeat S] [--json FILE]

Each run starts ``--acceptors`` acceptor processes sharing one port (SO_REUSEPORT), then runs
``phoenix-fast load URL --sockets N --channels N --channels-per-socket 1`` (one channel
joined per socket, no pushes, the default heartbeat) for ``--duration`` seconds, and stops
the acceptors with SIGTERM. It reports, per run and as medians with their range:

- the joins per second over the join window (the first join sent to the last join answered;
  the load tool's own figure), per load process and in all, and the window itself: the time
  to connect and join every socket;
- the load processes' peak resident memory (the summed VmRSS of the load command and its
  workers, sampled every 0.2 s), in all and per socket; and per socket above a baseline run
  of the same command with ``BASELINE_SOCKETS`` sockets, made once before the runs (the
  interpreters, the imports and the buffers every run has);
- the load processes' CPU time, and the acceptors' (``getrusage`` in each, printed on exit),
  with their peak connections;
- errors, drops and reconnects (there should be none), and whether the generator saturated;
- the 1-minute load average before and after: the 2 cores are shared.

``--acceptor-cpus`` and ``--load-cpus`` pin the two sides with ``taskset`` (``1``, ``0``,
``0,1``). Bad options exit with status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

ROOT = Path(__file__).resolve().parent.parent
ACCEPTOR = ROOT / "benches/acceptor/target/release/acceptor"
#: Seconds between two samples of the load processes' memory.
SAMPLE_EVERY = 0.2
#: Sockets of the baseline run, whose peak memory is the fixed cost subtracted.
BASELINE_SOCKETS = 10


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        fail(message)


def fail(message: str) -> NoReturn:
    print(f"connect_storm: {message}", file=sys.stderr)
    sys.exit(2)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = _Parser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--sockets", type=int, default=5000, help="sockets, one channel each (5000)")
    p.add_argument("--runs", type=int, default=3, help="runs, each with fresh acceptors (3)")
    p.add_argument("--tls", action="store_true", help="wss:// with a self-signed certificate")
    p.add_argument("--tls-files", nargs=2, type=Path, metavar=("CERT", "KEY"),
                   help="wss:// with this PEM certificate (for 127.0.0.1, trusted as the CA) "
                   "and key, e.g. an ECDSA one")  # fmt: skip
    p.add_argument("--procs", type=int, default=1, help="load processes (1)")
    p.add_argument("--acceptors", type=int, default=1, help="acceptor processes on one port (1)")
    p.add_argument("--threads", type=int, default=1, help="tokio threads per acceptor (1)")
    p.add_argument("--source-ip", action="append", default=[], metavar="ADDR",
                   help="passed to the load tool (repeatable; a range A-B)")  # fmt: skip
    p.add_argument("--acceptor-cpus", metavar="LIST", help="taskset CPU list for the acceptors")
    p.add_argument("--load-cpus", metavar="LIST", help="taskset CPU list for the load tool")
    p.add_argument("--duration", type=float, help="seconds of each load run (5 + sockets/1000)")
    p.add_argument("--heartbeat", type=float, help="the load tool's heartbeat, s (its default)")
    p.add_argument("--connect-concurrency", type=int, help="the load tool's (its default)")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the runs and medians here")
    args = p.parse_args(argv)
    for name in ("runs", "procs", "acceptors", "threads"):
        if getattr(args, name) < 1:
            fail(f"--{name} must be 1 or more")
    if args.sockets <= BASELINE_SOCKETS:
        fail(f"--sockets must be more than {BASELINE_SOCKETS} (the baseline run's)")
    if args.duration is not None and args.duration <= 0:
        fail("--duration must be > 0")
    if (args.acceptor_cpus or args.load_cpus) and shutil.which("taskset") is None:
        fail("--acceptor-cpus/--load-cpus need the taskset command (util-linux)")
    if args.tls_files and not all(path.is_file() for path in args.tls_files):
        fail(f"--tls-files {' '.join(map(str, args.tls_files))}: give a PEM certificate and key")
    if not ACCEPTOR.exists():
        fail(f"{ACCEPTOR.relative_to(ROOT)} is not built: run `make acceptor`")
    return args


# -- the acceptors -------------------------------------------------------------------------


def pinned(cmd: list[str], cpus: str | None) -> list[str]:
    return ["taskset", "-c", cpus, *cmd] if cpus else cmd


def start_acceptors(
    args: argparse.Namespace, tls: tuple[Path, Path] | None
) -> tuple[list[subprocess.Popen[str]], int]:
    """Starts the acceptors on one port (the first picks a free one) and waits until each
    listens."""
    procs: list[subprocess.Popen[str]] = []
    port = 0
    for _ in range(args.acceptors):
        cmd = [str(ACCEPTOR), "--port", str(port), "--threads", str(args.threads)]
        if tls:
            cmd += ["--tls", str(tls[0]), str(tls[1])]
        proc = subprocess.Popen(
            pinned(cmd, args.acceptor_cpus),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            stop_acceptors(procs)
            fail(f"the acceptor did not start: {proc.stderr.read().strip() if proc.stderr else ''}")
        port = int(json.loads(line)["addr"].rsplit(":", 1)[1])
    return procs, port


def stop_acceptors(procs: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    """SIGTERM to each acceptor; their exit lines (CPU time, peak connections, counts)."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    lines = []
    for proc in procs:
        out, _ = proc.communicate(timeout=30)
        lines += [json.loads(line) for line in out.splitlines() if '"event":"exit"' in line]
    return lines


# -- the load processes' memory ------------------------------------------------------------


def descendants(root: int) -> list[int]:
    """``root`` and every process below it (from /proc/*/stat)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def rss_kib(pid: int) -> int | None:
    """VmRSS of ``pid`` in KiB; None for a process gone, or multiprocessing's resource
    tracker (a helper, not a load process)."""
    try:
        if b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes():
            return None
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class MemorySampler:
    """Samples the summed VmRSS of a process tree until stopped, and keeps the peak."""

    root: int
    peak_kib: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY):
            sizes = [s for s in map(rss_kib, descendants(self.root)) if s is not None]
            self.peak_kib = max(self.peak_kib, sum(sizes))

    def stop(self) -> None:
        self._stop.set()


# -- one run -------------------------------------------------------------------------------


def load_command(
    args: argparse.Namespace, url: str, report: Path, cacert: Path | None, sockets: int
) -> list[str]:
    duration = args.duration or 5 + args.sockets / 1000
    cmd = [sys.executable, "-m", "phoenix_fast", "load", url, "--sockets", str(sockets)]
    cmd += ["--channels", str(sockets), "--channels-per-socket", "1"]
    cmd += ["--duration", f"{duration:g}", "--quiet", "--report", str(report)]
    cmd += ["--procs", str(args.procs)]
    for source in args.source_ip:
        cmd += ["--source-ip", source]
    if args.heartbeat is not None:
        cmd += ["--heartbeat", f"{args.heartbeat:g}"]
    if args.connect_concurrency is not None:
        cmd += ["--connect-concurrency", str(args.connect_concurrency)]
    if cacert:
        cmd += ["--cacert", str(cacert)]
    return pinned(cmd, args.load_cpus)


def cpu_s(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def one_run(
    args: argparse.Namespace,
    folder: Path,
    tls: tuple[Path, Path] | None,
    sockets: int,
    baseline_kib: int,
) -> dict[str, Any]:
    """One load run of ``sockets`` against fresh acceptors, and its figures."""
    acceptors, port = start_acceptors(args, tls)
    report_path = folder / "report.json"
    report_path.unlink(missing_ok=True)
    url = f"{'wss' if tls else 'ws'}://127.0.0.1:{port}/socket"
    cmd = load_command(args, url, report_path, tls[0] if tls else None, sockets)
    load_before = os.getloadavg()[0]
    cpu_before = cpu_s(resource.getrusage(resource.RUSAGE_CHILDREN))
    started = time.perf_counter()
    try:
        load = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sampler = MemorySampler(load.pid)
        thread = threading.Thread(target=sampler.run, daemon=True)
        thread.start()
        out, err = load.communicate()
        sampler.stop()
        thread.join()
    finally:
        ends = stop_acceptors(acceptors)
    wall = time.perf_counter() - started
    # every child reaped during the run: the load command (with its workers) and the
    # acceptors, which report their own CPU time
    load_cpu = cpu_s(resource.getrusage(resource.RUSAGE_CHILDREN)) - cpu_before
    load_cpu -= sum(e["cpu_s"] for e in ends)
    if load.returncode != 0 or not report_path.exists():
        fail(f"the load run failed (status {load.returncode}): {(err or out).strip()[-2000:]}")
    run = summarise(args, sockets, json.loads(report_path.read_text()), ends)
    above = None
    if baseline_kib:
        above = round((sampler.peak_kib - baseline_kib) / (sockets - BASELINE_SOCKETS), 2)
    run |= {
        "load_cpu_s": round(load_cpu, 2),
        "load_rss_peak_kib": sampler.peak_kib,
        "load_rss_per_socket_kib": round(sampler.peak_kib / sockets, 2),
        "load_rss_per_socket_above_baseline_kib": above,
        "wall_s": round(wall, 2),
        "loadavg_before": round(load_before, 2),
        "loadavg_after": round(os.getloadavg()[0], 2),
    }
    return run


def summarise(
    args: argparse.Namespace, sockets: int, report: dict[str, Any], ends: list[dict[str, Any]]
) -> dict[str, Any]:
    """The figures of one run from the load report and the acceptors' exit lines."""
    counts = report["counts"]
    window = report.get("join_window") or [0.0, 0.0]
    join_s = window[1] - window[0] if window[0] and window[1] else 0.0
    joins = counts.get("joins_ok", 0)
    latency = report.get("latency_ms", {})
    acceptor_cpu = sum(e["cpu_s"] for e in ends)
    return {
        "sockets": sockets,
        "joins": joins,
        "join_s": round(join_s, 3),
        "joins_per_s": round(joins / join_s, 1) if join_s else 0.0,
        "joins_per_s_per_proc": round(joins / join_s / args.procs, 1) if join_s else 0.0,
        "connect_p50_ms": latency.get("connect", {}).get("p50"),
        "connect_p99_ms": latency.get("connect", {}).get("p99"),
        "join_p99_ms": latency.get("join", {}).get("p99"),
        "errors": sum(report.get("errors", {}).values()),
        "error_kinds": report.get("errors", {}),
        "drops": counts.get("socket_drops", 0),
        "reconnects": counts.get("socket_reconnects", 0),
        "peak_sockets": report.get("peaks", {}).get("sockets", 0),
        "generator_saturated": report.get("generator_saturated", False),
        "acceptor_cpu_s": round(acceptor_cpu, 3),
        "acceptor_cpu_per_socket_us": round(acceptor_cpu / sockets * 1e6, 1),
        "acceptor_peaks": [e["peak_connections"] for e in ends],
        "acceptor_joins": sum(e["joins"] for e in ends),
        "acceptor_heartbeats": sum(e["heartbeats"] for e in ends),
        "acceptor_handshake_errors": sum(e["handshake_errors"] for e in ends),
        "acceptor_accept_errors": sum(e["accept_errors"] for e in ends),
    }


# -- the runs ------------------------------------------------------------------------------

#: The figures given as a median with the range over runs.
MEDIANS = (
    "joins_per_s",
    "joins_per_s_per_proc",
    "join_s",
    "load_rss_per_socket_kib",
    "load_rss_per_socket_above_baseline_kib",
    "load_cpu_s",
    "acceptor_cpu_s",
    "loadavg_before",
)


def line(run: dict[str, Any]) -> str:
    above = run["load_rss_per_socket_above_baseline_kib"]
    return (
        f"{run['joins']:,}/{run['sockets']:,} joined in {run['join_s']:.2f} s: "
        f"{run['joins_per_s']:,.0f}/s ({run['joins_per_s_per_proc']:,.0f}/s per process); "
        f"load RSS {run['load_rss_peak_kib'] / 1024:,.1f} MiB peak, "
        f"{run['load_rss_per_socket_kib']:.1f} KiB/socket"
        + (f" ({above:.1f} above the baseline run)" if above is not None else "")
        + f"; load CPU {run['load_cpu_s']:.1f} s, acceptor CPU {run['acceptor_cpu_s']:.2f} s "
        f"(peaks {run['acceptor_peaks']}, heartbeats {run['acceptor_heartbeats']}); "
        f"errors {run['errors']}, drops {run['drops']}, reconnects {run['reconnects']}; "
        f"saturated {run['generator_saturated']}; "
        f"load average {run['loadavg_before']:.2f} -> {run['loadavg_after']:.2f}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        tls = tuple(args.tls_files) if args.tls_files else None
        if args.tls and not tls:
            from phoenix_fast.testing.tls import self_signed_certificate

            tls = self_signed_certificate(folder)
        base = one_run(args, folder, tls, BASELINE_SOCKETS, 0)
        print(f"baseline: {line(base)}", flush=True)
        for k in range(args.runs):
            run = one_run(args, folder, tls, args.sockets, base["load_rss_peak_kib"])
            runs.append(run)
            print(f"run {k + 1}/{args.runs}: {line(run)}", flush=True)
    summary = {}
    for name in MEDIANS:
        values = [run[name] for run in runs]
        summary[name] = {
            "median": statistics.median(values),
            "min": min(values),
            "max": max(values),
        }
    print(
        f"median of {len(runs)} (range): "
        + "; ".join(
            f"{name} {s['median']:,.2f} ({s['min']:,.2f}-{s['max']:,.2f})"
            for name, s in summary.items()
        )
    )
    if args.json:
        config = {k: v for k, v in vars(args).items() if k != "json"}
        results = {"config": config, "baseline": base, "runs": runs, "summary": summary}
        args.json.write_text(json.dumps(results, indent=1, default=str))
    complete = all(r["joins"] == r["sockets"] and not r["errors"] and not r["drops"] for r in runs)
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
