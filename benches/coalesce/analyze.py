"""What the server's cost per message follows, over every S1 run of ``measure.py --json``.

    python benches/coalesce/analyze.py lo.json [veth.json ...]

Every run of every client is put in a bin by the TCP segments per message of the server's
namespace, and each bin shows the runs' median server CPU per message in the burst's send
loop, the median rate, and which clients landed there: if the cost follows the segments and
not the client, what matters is whether the sender's writes coalesce, not who reads them.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import Counter
from pathlib import Path

#: (low, high) bounds of segments per message
BINS = [(0.0, 0.01), (0.01, 0.1), (0.1, 0.5), (0.5, 100.0)]


def report(path: Path) -> None:
    record = json.loads(path.read_text())
    runs = [(client, run) for client, rs in record["runs"]["s1"].items() for run in rs]
    if not runs or "out_segs_per_msg" not in runs[0][1]:
        print(f"{path}: no segment counters (run with --net lo or veth)")
        return
    print(f"{path} (net={record['net']}, {len(runs)} S1 runs, load {record['loadavg'][0]})")
    print("  segs/msg     runs  loop CPU us/msg  server CPU us/msg  rate k/s  clients")
    for low, high in BINS:
        hit = [(c, r) for c, r in runs if low <= r["out_segs_per_msg"] < high]
        if not hit:
            continue
        loop = statistics.median(r["loop_cpu_us"] for _, r in hit)
        cpu = statistics.median(r["srv_cpu_us"] for _, r in hit)
        rate = statistics.median(r["rate"] for _, r in hit) / 1000
        clients = ", ".join(f"{c} x{n}" for c, n in sorted(Counter(c for c, _ in hit).items()))
        bound = f"{low:g}-{high:g}" if high < 100 else f">={low:g}"
        print(f"  {bound:<12} {len(hit):>4}  {loop:>15.2f}  {cpu:>17.2f}  {rate:>8.0f}  {clients}")


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: analyze.py RESULT.json [...] (from measure.py --json)", file=sys.stderr)
        return 2
    for name in argv:
        report(Path(name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
