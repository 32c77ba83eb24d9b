"""Reports: exact merging (the merge of two reports is the report of the union), files,
the summary, and the ``report merge`` command."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from phoenix_fast.cli import main
from phoenix_fast.load.compare import compare
from phoenix_fast.load.report import (
    ReportError,
    from_report,
    merge_reports,
    print_summary,
    read_report,
    to_report,
    write_report,
)
from phoenix_fast.load.stats import MAX_ERROR_KINDS, PERCENTILES, Stats, decode_histogram

Op = tuple[str, Any]


def random_ops(seed: int, n: int) -> list[Op]:
    rng = random.Random(seed)
    ops: list[Op] = []
    for _ in range(n):
        kind = rng.choice(["count", "event", "error", "join", "ping", "shout"])
        if kind == "count":
            ops.append(("count", rng.choice(["pushes_sent", "replies_ok", "socket_drops"])))
        elif kind == "event":
            ops.append(("event", rng.choice(["shout", "tick"])))
        elif kind == "error":
            ops.append(("error", rng.choice(["push ping timeout", "join refused: x"])))
        else:
            ops.append((kind, rng.lognormvariate(7, 1.5)))  # microseconds, long tail
    return ops


def stats_of(ops: list[Op], start: float, end: float) -> Stats:
    stats = Stats(started_at=start, ended_at=end)
    for kind, value in ops:
        if kind == "count":
            stats.count(value)
        elif kind == "event":
            stats.event(value)
        elif kind == "error":
            stats.error(value)
        else:
            stats.record(f"push:{kind}" if kind != "join" else "join", value)
    return stats


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v for k, v in report.items() if k not in ("processes", "scenario", "run_ids", "spans")
    }


def test_merge_equals_the_report_of_the_union(tmp_path: Path) -> None:
    a_ops, b_ops = random_ops(1, 20_000), random_ops(2, 7_000)
    a = to_report(stats_of(a_ops, 100.0, 110.0))
    b = to_report(stats_of(b_ops, 101.0, 112.5))
    union = to_report(stats_of(a_ops + b_ops, 100.0, 112.5))
    # through files, as `phoenix-fast report merge` does
    for name, report in (("a", a), ("b", b)):
        write_report(tmp_path / f"{name}.json", report)
    merged = merge_reports([read_report(tmp_path / "a.json"), read_report(tmp_path / "b.json")])
    assert comparable(merged) == comparable(union)
    assert merged["processes"] == 2
    for name, blob in merged["histograms"].items():
        got, want = decode_histogram(blob), decode_histogram(union["histograms"][name])
        assert got.get_total_count() == want.get_total_count() > 0
        for pct in (*PERCENTILES, 100.0):
            assert got.get_value_at_percentile(pct) == want.get_value_at_percentile(pct)
        assert got.get_min_value() == want.get_min_value()
    assert (
        merged["counts"]["pushes_sent"] == a["counts"]["pushes_sent"] + b["counts"]["pushes_sent"]
    )
    assert merged["elapsed_s"] == 12.5


def test_merge_is_associative_and_keeps_notes() -> None:
    reports = [
        to_report(stats_of(random_ops(s, 500), 0.0, 1.0), notes=[f"n{s % 2}"]) for s in range(4)
    ]
    left = merge_reports([merge_reports(reports[:2]), merge_reports(reports[2:])])
    flat = merge_reports(reports)
    assert comparable(left) == comparable(flat)
    assert flat["notes"] == ["n0", "n1"] and flat["processes"] == 4


def test_different_scenarios_are_noted() -> None:
    a = to_report(Stats(0.0, 1.0), {"channels": 1})
    b = to_report(Stats(0.0, 1.0), {"channels": 2})
    again = to_report(Stats(0.0, 1.0), {"channels": 1})
    assert "different scenarios" in merge_reports([a, b])["notes"][-1]
    assert merge_reports([a, again])["notes"] == []


def test_merge_and_compare_ignore_what_does_not_change_the_load() -> None:
    """The target, the process count and the thresholds differ between machines (or runs)
    that drove the same load: neither a merge nor a comparison calls that another scenario."""
    here = {"channels": 1, "url": "ws://a/socket", "procs": 1, "thresholds": []}
    there = {**here, "url": "ws://b/socket", "procs": 4, "thresholds": ["join p99<1s"]}
    a, b = to_report(Stats(0.0, 1.0), here), to_report(Stats(0.0, 1.0), there)
    assert merge_reports([a, b])["notes"] == []
    assert compare([a], [b]).notes == []
    other = to_report(Stats(0.0, 1.0), {**here, "channels": 2})
    assert "different scenarios" in merge_reports([a, other])["notes"][-1]
    assert "same scenario" in compare([a], [other]).notes[0]


def test_merging_a_report_twice_is_refused() -> None:
    a, b = to_report(Stats(0.0, 1.0)), to_report(Stats(0.0, 1.0))
    with pytest.raises(ReportError, match="count it twice"):
        merge_reports([a, b, a], ["a.json", "b.json", "a-copy.json"])
    # nor inside a merged report
    with pytest.raises(ReportError, match=r"a-copy\.json holds a run already in ab\.json"):
        merge_reports([merge_reports([a, b]), a], ["ab.json", "a-copy.json"])


def test_runs_that_did_not_overlap_count_their_own_time_only() -> None:
    first = stats_of(random_ops(5, 100), 100.0, 110.0)
    later = stats_of(random_ops(6, 100), 200.0, 205.0)
    merged = merge_reports([to_report(first), to_report(later)])
    assert merged["elapsed_s"] == 15.0  # not 105: the 90 s between them is no run time
    pushes = first.counters["pushes_sent"] + later.counters["pushes_sent"]
    assert merged["rates_per_s"]["pushes"] == pushes / 15.0
    assert "90.0 s between them is not run time" in merged["notes"][-1]
    # merging the merged report with an overlapping one: the spans still add up right
    overlap = to_report(stats_of(random_ops(7, 10), 104.0, 112.0))
    assert merge_reports([merged, overlap])["elapsed_s"] == 17.0


def test_replies_count_and_rate_agree_and_joins_divide_by_their_own_time() -> None:
    stats = Stats(started_at=0.0, ended_at=10.0)
    stats.count("replies_ok", 90)
    stats.count("replies_error", 10)
    stats.count("joins_ok", 50)
    stats.note_join_sent(2.0)
    stats.note_join_ok(2.5)
    stats.note_join_ok(4.5)
    report = to_report(stats)
    assert report["rates_per_s"]["replies"] == 10.0  # (90 + 10) / 10 s
    assert report["rates_per_s"]["joins"] == 20.0  # 50 joins in 2.5 s, not in 10 s
    console = Console(width=120, record=True, file=io.StringIO())
    print_summary(console, report)
    text = console.export_text()
    replies = next(line for line in text.splitlines() if "replies" in line)
    assert "100" in replies and "ok 90, error 10" in replies
    assert "over 2.50 s of joins" in text


def test_error_kinds_are_bounded() -> None:
    stats = Stats()
    for k in range(MAX_ERROR_KINDS + 10):
        stats.error(f"kind {k}")
    assert len(stats.errors) == MAX_ERROR_KINDS + 1 and stats.errors["other"] == 10


def test_reading_bad_reports(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(ReportError, match="is not JSON"):
        read_report(tmp_path / "x.json")
    (tmp_path / "y.json").write_text('{"hello": 1}')
    with pytest.raises(ReportError, match="not a phoenix-fast load report"):
        read_report(tmp_path / "y.json")
    with pytest.raises(ReportError, match="cannot read"):
        read_report(tmp_path / "missing.json")
    damaged = to_report(Stats(0.0, 1.0))
    del damaged["counts"]
    with pytest.raises(ReportError, match="damaged"):
        from_report(damaged)


def test_summary_table_names_everything() -> None:
    stats = stats_of(random_ops(3, 2000), 0.0, 2.0)
    report = to_report(stats, notes=["the [bold]server[/] said so"])
    console = Console(width=120, record=True, file=io.StringIO())
    print_summary(console, report)
    text = console.export_text()
    for word in ("pushes", "events in", "push:ping", "p99.9", "Errors by kind", "[bold]server[/]"):
        assert word in text


def test_report_merge_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = []
    for seed in (1, 2):
        path = tmp_path / f"{seed}.json"
        write_report(path, to_report(stats_of(random_ops(seed, 300), 0.0, 1.0)))
        paths.append(str(path))
    out = tmp_path / "merged.json"
    assert main(["report", "merge", *paths, "-o", str(out)]) == 0
    assert "push:ping" in capsys.readouterr().out
    merged = json.loads(out.read_text())
    assert merged["processes"] == 2
    assert main(["report", "merge", paths[0], str(tmp_path / "nope.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("phoenix-fast: error: cannot read") and err.count("\n") == 1
    assert main(["report", "show", paths[0], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "phoenix-fast-load-report"
