"""Does a client that reads every small segment cost a one-frame-per-send server more?

    python benches/coalesce/measure.py [--net host|lo|veth] [--rounds 5] [--port 4100]
        [--clients pf-plain js pf-defer ...] [--scenarios s1 s4 sparse] [--json out.json]

Starts ``one_frame_server.py`` pinned to core 0 and runs each client pinned to core 1, the
clients interleaved round by round (their order rotates), and reports for every scenario and
client the median and [min-max] of:

- the client's figures: S1 msgs/s, S4 replies/s and p50/p99, sparse p50/p99 (ms); and for
  phoenix_fast the number of reads (``data_received`` calls) per message;
- the SERVER's CPU per message (user+system, all threads, from ``getrusage`` in the server),
  and for S1 the system time of the burst's send loop alone per message (``loop_sys``):
  far less sensitive to the other load on this machine than wall-clock rates;
- the server's context switches per 1,000 messages and, in a namespace of our own
  (``lo``, ``veth``), the TCP segments per message from that namespace's ``/proc/net/snmp``.

``--net``: ``host`` is the machine's loopback; ``lo`` the loopback of the namespace
``pfc-srv`` (both sides in it: same kernel path as ``host``, but counters of our own);
``veth`` the server in ``pfc-srv`` (192.0.2.1) and the clients in ``pfc-cli`` across a veth
link. ``lo`` and ``veth`` need ``benches/coalesce/netns.sh up`` first (and root).

Clients: ``js`` is the official JS client (``benches/js/scenarios.mjs``, S1 and S4 only);
``pf-<variant>`` is phoenix_fast with a transport from ``coalescing.VARIANTS``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
JS_SCRIPT = ROOT / "benches" / "js" / "scenarios.mjs"
NETS = {
    # net: (server namespace, client namespace, server address)
    "host": (None, None, "127.0.0.1"),
    "lo": ("pfc-srv", "pfc-srv", "127.0.0.1"),
    "veth": ("pfc-srv", "pfc-cli", "192.0.2.1"),
}
#: The JS runner's sizes are 200,000 x scale (S1) and 20,000 x scale (S4).
SIZES = {"s1": 50_000, "s4": 20_000, "serial": 1_000, "sparse": 300}
JS_SCALE = {"s1": 0.25, "s4": 1.0}
SERVER_CPU, CLIENT_CPU = 0, 1
# the children find phoenix_fast in the source tree even while someone's `make build` is
# reinstalling the package (its .pth file comes and goes)
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(ROOT / "python"), os.environ.get("PYTHONPATH")) if p
)


def in_ns(ns: str | None, cmd: list[str]) -> list[str]:
    return cmd if ns is None else ["ip", "netns", "exec", ns, *cmd]


class Server:
    def __init__(self, net: str, port: int) -> None:
        self.ns, self.client_ns, self.host = NETS[net]
        self.port = port
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/socket"

    def start(self) -> None:
        script = HERE / "one_frame_server.py"
        cmd = [str(PYTHON), str(script), "--host", self.host, "--port", str(self.port)]
        cmd += ["--cpu", str(SERVER_CPU)]
        self.proc = subprocess.Popen(in_ns(self.ns, cmd), stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening" not in line:
            self.stop()
            raise SystemExit(f"the server did not start (exit {self.proc.poll()}): {line!r}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def stats(self) -> dict[str, float]:
        """The server's counters, plus its namespace's TCP segment counters."""
        url = f"http://{self.host}:{self.port}/stats"
        out = subprocess.run(
            in_ns(self.client_ns, ["curl", "-s", url]), capture_output=True, text=True, check=True
        )
        stats: dict[str, float] = json.loads(out.stdout)
        if self.ns is not None:
            snmp = subprocess.run(
                in_ns(self.ns, ["cat", "/proc/net/snmp"]), capture_output=True, text=True
            ).stdout
            names, values = (
                line.split()[1:] for line in snmp.splitlines() if line.startswith("Tcp:")
            )
            tcp = dict(zip(names, map(int, values), strict=True))
            stats["out_segs"], stats["in_segs"] = tcp["OutSegs"], tcp["InSegs"]
        return stats


def run_client(server: Server, client: str, scenario: str) -> dict[str, Any]:
    pin = ["taskset", "-c", str(CLIENT_CPU)]
    if client == "js":
        scale = str(JS_SCALE[scenario])
        cmd = ["node", "--expose-gc", str(JS_SCRIPT), server.url, scenario, scale, "websocket"]
    else:
        variant = client.removeprefix("pf-")
        script = HERE / "py_client.py"
        cmd = [str(PYTHON), str(script), server.url, scenario, variant, str(SIZES[scenario])]
    out = subprocess.run(
        in_ns(server.client_ns, pin + cmd), capture_output=True, text=True, timeout=300
    )
    lines = out.stdout.strip().splitlines()
    record = json.loads(lines[-1]) if lines else {}
    if "result" not in record:
        raise RuntimeError(f"{client} failed on {scenario}: {record or out.stderr[-2000:]}")
    result: dict[str, Any] = record["result"]
    return result


def measure(server: Server, client: str, scenario: str) -> dict[str, float]:
    before = server.stats()
    result = run_client(server, client, scenario)
    after = server.stats()
    delta = {k: after[k] - before[k] for k in after}
    msgs = max(1.0, delta["messages"])
    row: dict[str, float] = {}
    for key in ("rate", "p50_ms", "p99_ms"):
        if key in result:
            row[key] = result[key]
    if "reads" in result:
        row["reads_per_msg"] = result["reads"] / result["messages"]
    if "client_cpu_us" in result:
        row["client_cpu_us"] = result["client_cpu_us"]
    row["srv_cpu_us"] = (delta["user_us"] + delta["sys_us"]) / msgs
    row["srv_sys_us"] = delta["sys_us"] / msgs
    if scenario == "s1":
        row["loop_sys_us"] = delta["burst_sys_us"] / SIZES["s1"]
        row["loop_cpu_us"] = (delta["burst_sys_us"] + delta["burst_user_us"]) / SIZES["s1"]
    row["srv_csw_per_1k"] = 1000 * (delta["nvcsw"] + delta["nivcsw"]) / msgs
    if "out_segs" in delta:
        row["out_segs_per_msg"] = delta["out_segs"] / msgs
        row["in_segs_per_msg"] = delta["in_segs"] / msgs
    return row


def summarize(runs: list[dict[str, float]]) -> dict[str, list[float]]:
    """Each figure as [median, min, max] over the rounds."""
    return {
        k: [statistics.median(r[k] for r in runs), min(r[k] for r in runs), max(r[k] for r in runs)]
        for k in runs[0]
    }


def show(summary: dict[str, list[float]]) -> str:
    return ", ".join(f"{k}={m:,.4g} [{lo:,.4g}-{hi:,.4g}]" for k, (m, lo, hi) in summary.items())


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", choices=sorted(NETS), default="host")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--port", type=int, default=4100)
    parser.add_argument("--clients", nargs="+", default=["pf-plain", "js", "pf-defer"])
    parser.add_argument("--scenarios", nargs="+", choices=sorted(SIZES), default=["s1", "s4"])
    parser.add_argument("--json", type=Path, help="write every run and the summary here")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    sys.path.insert(0, str(HERE))
    from coalescing import VARIANTS

    for client in args.clients:
        if client != "js" and client.removeprefix("pf-") not in VARIANTS:
            parser.error(f"unknown client {client}: js or pf-<{'|'.join(VARIANTS)}>")
    ns = NETS[args.net][0]
    if (
        ns is not None
        and ns not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    ):
        parser.error(f"no namespace {ns}: run `benches/coalesce/netns.sh up` first (as root)")
    server = Server(args.net, args.port)
    server.start()
    runs: dict[str, dict[str, list[dict[str, float]]]] = {}
    loads = [loadavg()]
    started = time.time()
    try:
        for r in range(args.rounds):
            order = args.clients[r % len(args.clients) :] + args.clients[: r % len(args.clients)]
            for scenario in args.scenarios:
                for client in order:
                    if client == "js" and scenario not in JS_SCALE:
                        continue
                    row = measure(server, client, scenario)
                    runs.setdefault(scenario, {}).setdefault(client, []).append(row)
            loads.append(loadavg())
            print(f"round {r + 1}/{args.rounds} done (load {loads[-1]})", flush=True)
    finally:
        server.stop()
    summary = {s: {c: summarize(rs) for c, rs in by.items()} for s, by in runs.items()}
    print(f"net={args.net} rounds={args.rounds} load averages: {' | '.join(loads)}")
    for scenario, by_client in summary.items():
        for client, figures in by_client.items():
            print(f"{scenario} {client:<18} {show(figures)}")
    if args.json:
        record = {
            "machine": platform.platform(),
            "cpus": os.cpu_count(),
            "net": args.net,
            "rounds": args.rounds,
            "loadavg": loads,
            "seconds": time.time() - started,
            "summary": summary,
            "runs": runs,
        }
        args.json.write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
