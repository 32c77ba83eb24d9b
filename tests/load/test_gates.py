"""Thresholds, stages, results over time and the CSV: parsing, verdicts, exit statuses."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import cli_support
import pytest
from cli_support import phoenix_fast
from rich.console import Console

from phoenix_fast.load.intervals import CsvWriter, merge_rows, saturation
from phoenix_fast.load.report import merge_reports, print_summary, to_report
from phoenix_fast.load.scenario import ScenarioError, Stage, build_scenario, load_toml, parse_stage
from phoenix_fast.load.stats import Stats
from phoenix_fast.load.thresholds import GRAMMAR, ThresholdError, evaluate, parse_threshold


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    return cli_support.one_line_error(done, only=True)


EXAMPLES = [
    "push:ping p99<50ms",
    "event:shout p99<200ms",
    "join max<2s",
    "errors rate<0.1%",
    "replies rate>9000/s",
    "joins_refused count==0",
]


def a_report() -> dict[str, Any]:
    stats = Stats(started_at=100.0, ended_at=110.0)
    stats.count("pushes_sent", 100_000)
    stats.count("replies_ok", 99_000)
    stats.count("replies_error", 950)
    stats.error("push ping error: x", 50)
    for micros in (1_000, 2_000, 30_000, 45_000):
        stats.record("push:ping", micros)
    stats.record("join", 1_500_000)
    return to_report(stats)


@pytest.mark.parametrize("expr", EXAMPLES)
def test_the_issues_examples_parse(expr: str) -> None:
    assert parse_threshold(expr).expr == expr


def test_verdicts_and_values() -> None:
    verdicts = evaluate([*EXAMPLES, "push:ping p50>=1.5ms", "pushes_unsent count>0"], a_report())
    by_expr = {
        v["expr"]: (v["ok"], None if v["value"] is None else pytest.approx(v["value"], rel=1e-3))
        for v in verdicts
    }
    assert by_expr["push:ping p99<50ms"] == (True, 45.0)
    assert by_expr["event:shout p99<200ms"] == (False, None)  # no samples: no pass
    assert by_expr["join max<2s"] == (True, 1500.0)  # in ms
    assert by_expr["errors rate<0.1%"] == (True, 0.05)  # 50 errors per 100,000 pushes
    assert by_expr["replies rate>9000/s"] == (True, 9995.0)  # ok and error replies, 10 s
    assert by_expr["joins_refused count==0"] == (True, 0.0)
    assert by_expr["push:ping p50>=1.5ms"] == (True, 2.0)
    assert by_expr["pushes_unsent count>0"] == (False, 0.0)


@pytest.mark.parametrize(
    ("expr", "why"),
    [
        ("push:ping p99<50", "a latency needs a unit"),
        ("push:ping p99 < fast", "expected NAME STAT OP VALUE"),
        ("push:ping p42<5ms", "p42 is not one of"),
        ("errors rate<0.1", "in %"),
        ("replies rate>9000", "write /s"),
        ("latency rate<5/s", "rates are errors"),
        ("joins_refusd count==0", "not a count of the report"),
        ("joins_refused count==0ms", "a count takes no unit"),
        ("push:ping", "expected NAME STAT OP VALUE"),
    ],
)
def test_malformed_thresholds_say_why_and_show_the_grammar(expr: str, why: str) -> None:
    with pytest.raises(ThresholdError) as caught:
        parse_threshold(expr)
    message = str(caught.value)
    assert why in message and GRAMMAR in message and "\n" not in message


def test_stages_parse_from_the_command_line_and_toml(tmp_path: Path) -> None:
    assert parse_stage("30s:1000") == Stage(30.0, 1000.0)
    assert parse_stage("500ms:0") == Stage(0.5, 0.0)
    assert parse_stage("2m:20000") == Stage(120.0, 20000.0)
    for bad in ("30s", "30x:100", "30s:lots", "-1s:5"):
        with pytest.raises(ScenarioError, match="--stage"):
            parse_stage(bad)
    path = tmp_path / "s.toml"
    path.write_text(
        'url = "ws://h/socket"\nthresholds = ["push:ping p99<50ms"]\n'
        '[[push]]\nevent = "ping"\n[[push]]\nevent = "shout"\nrate = 5\n'
        '[[stage]]\nduration = "10s"\nrate = 100\n'
        "[[stage]]\nduration = 20\nrates = {ping = 1000}\n"
        '[[stage]]\nduration = "500ms"\nchannels = 0\n'
    )
    scenario = build_scenario({}, load_toml(path))
    assert scenario.stages == (
        Stage(10.0, 100.0),
        Stage(20.0, None, {"ping": 1000}),
        Stage(0.5, channels=0),
    )
    assert scenario.run_seconds == 30.5 and scenario.thresholds == ("push:ping p99<50ms",)
    ping, shout = scenario.pushes
    assert [stage.target(ping) for stage in scenario.stages[:2]] == [100.0, 1000.0]
    assert [stage.target(shout) for stage in scenario.stages[:2]] == [100.0, 5.0]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"stages": (Stage(1.0, 5.0),), "duration": 5.0}, "drop --duration"),
        ({"stages": (Stage(1.0, 5.0),)}, "add --push EVENT"),
        ({"stages": (Stage(1.0, None, {"pong": 5.0}),), "push": 1}, "'pong', which is not"),
        ({"thresholds": ("push:ping p99<50",)}, "a latency needs a unit"),
        ({"interval": 0.0}, "--interval 0"),
        ({"stages": (Stage(1.0, channels=200),)}, "from 0 to --channels 100"),
        ({"stages": (Stage(1.0, channels=5),), "ramp": 2.0}, "drop --join-rate and --ramp"),
    ],
)
def test_impossible_stages_thresholds_and_intervals(options: dict[str, Any], message: str) -> None:
    from phoenix_fast.load.scenario import PushSpec

    if options.pop("push", None):
        options["pushes"] = (PushSpec("ping"),)
    with pytest.raises(ScenarioError, match=message):
        build_scenario({"url": "ws://h/socket", **options})


# -- intervals ---------------------------------------------------------------------------------


def row(at: float, pushes: int, p50: float, count: int, cpu: float = 10.0) -> dict[str, Any]:
    latency = {"push:ping": {"count": count, "p50": p50, "p90": p50, "p99": p50, "max": p50}}
    return {"t": 1.0, "at": at, "seconds": 1.0, "pushes": pushes, "replies": pushes,
            "errors": 0, "events": 0, "joins": 0, "drops": 0, "sockets": 1, "channels": 2,
            "in_flight": 0, "latency_ms": latency, "cpu_pct": cpu, "saturated": []}  # fmt: skip


def test_rows_of_processes_merge_by_wall_clock_second() -> None:
    merged = merge_rows([row(101.0, 10, 1.0, 10), row(102.0, 5, 2.0, 5), row(101.0, 30, 3.0, 30)])
    assert [r["at"] for r in merged] == [101.0, 102.0]
    first = merged[0]
    assert first["pushes"] == 40 and first["channels"] == 4
    assert first["latency_ms"]["push:ping"] == {
        "count": 40, "p50": 2.5, "p90": 2.5, "p99": 2.5, "max": 3.0
    }  # fmt: skip


def test_merged_reports_line_their_intervals_up() -> None:
    a, b = Stats(100.0, 103.0), Stats(100.5, 103.0)
    a.intervals = [row(101.0, 10, 1.0, 10), row(102.0, 10, 1.0, 10), row(103.0, 10, 1.0, 10)]
    b.intervals = [row(102.0, 7, 1.0, 7), row(103.0, 7, 1.0, 7)]
    merged = merge_reports([to_report(a), to_report(b)])
    assert [(r["t"], r["pushes"]) for r in merged["intervals"]] == [
        (1.0, 10), (2.0, 17), (3.0, 17)
    ]  # fmt: skip


def test_saturation_reasons() -> None:
    calm = row(1.0, 10, 1.0, 10)
    assert saturation(calm) == []
    busy = row(1.0, 10, 1.0, 10, cpu=95.0)
    busy["latency_ms"]["generator:loop_lag"] = {"count": 100, "p90": 12.0, "p99": 40.0}
    reasons = saturation(busy)
    assert reasons == ["event loop lag p90 12.0 ms > 10 ms", "CPU 95% of a core"]


def test_csv_writer_writes_each_row_at_once(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    with CsvWriter(path, ["push:ping", "event:shout"]) as writer:
        writer.write(row(101.0, 10, 1.5, 10))
        lines = list(csv.reader(io.StringIO(path.read_text())))  # readable during the run
        assert len(lines) == 2
        assert lines[0][:4] == ["t", "at", "seconds", "pushes"]
        cells = dict(zip(lines[0], lines[1], strict=True))
        assert cells["push:ping p50_ms"] == "1.5" and cells["event:shout p50_ms"] == ""
    with pytest.raises(OSError):
        CsvWriter(tmp_path / "no" / "such.csv", [])


# -- the command line ---------------------------------------------------------------------------


def test_a_malformed_threshold_exits_2_before_connecting() -> None:
    done = phoenix_fast("load", "ws://127.0.0.1:1/socket", "--threshold", "push:ping p99<50")
    line = one_line_error(done)
    assert "a latency needs a unit" in line and "NAME STAT OP VALUE" in line
    assert "cannot connect" not in done.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--stage", "30:fast", "--push", "ping"], "the rate is not a number"),
        (["--csv", "/nonexistent/dir/rows.csv"], "cannot write --csv /nonexistent/dir/rows.csv"),
        (["--report", "/nonexistent/dir/r.json"], "no such folder"),
    ],
)
def test_bad_gates_exit_2_before_connecting(argv: list[str], message: str) -> None:
    done = phoenix_fast("load", "ws://127.0.0.1:1/socket", *argv)
    assert message in one_line_error(done)
    assert "cannot connect" not in done.stderr


def test_thresholds_intervals_and_csv_end_to_end(phoenix_url: str, tmp_path: Path) -> None:
    report_path, csv_path = tmp_path / "r.json", tmp_path / "rows.csv"
    done = phoenix_fast(
        "load", phoenix_url, "--channels", "4", "--topic", "echo:g{n}",
        "--push", "shout=100", "--payload", '{"ts": "{ts}"}', "--subscribe", "shout",
        "--stage", "1s:200", "--stage", "1s:200",
        "--interval", "0.5", "--csv", str(csv_path), "--report", str(report_path),
        "--threshold", "push:shout p99<5s", "--threshold", "joins_refused count==0",
        "--threshold", "replies rate>1000000/s",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # one threshold failed; everything was written
    out = " ".join(done.stdout.split())
    assert "pass push:shout p99<5s: measured" in out
    assert "pass joins_refused count==0: measured 0" in out
    assert "FAIL replies rate>1000000/s: measured" in out
    report = json.loads(report_path.read_text())
    assert [v["ok"] for v in report["thresholds"]] == [True, True, False]
    assert report["stopped_by"] == "duration" and 1.9 < report["elapsed_s"] < 3.5
    rows = report["intervals"]
    assert all(r["at"] * 2 == int(r["at"] * 2) for r in rows)  # on the 0.5 s grid
    assert sum(r["pushes"] for r in rows) == report["counts"]["pushes_sent"]
    assert sum(r["replies"] for r in rows) == report["counts"]["replies_ok"]
    # the ramp: 0 -> 200/s in the first second, so the first rows push less than the last
    busy = [r["pushes"] for r in rows if r["seconds"] >= 0.45]
    assert busy[0] < busy[-2]
    assert report["latency_ms"]["event:shout"]["count"] > 0
    # every latency reaches the rows over time, connects included
    for name in ("connect", "join", "push:shout", "event:shout"):
        in_rows = sum(r["latency_ms"].get(name, {}).get("count", 0) for r in rows)
        assert in_rows == report["latency_ms"][name]["count"] > 0, name
    lines = list(csv.reader(io.StringIO(csv_path.read_text())))
    assert len(lines) == len(rows) + 1
    assert "push:shout p99_ms" in lines[0] and "connect p99_ms" in lines[0]


def test_a_saturated_generator_is_said_in_the_summary_and_each_verdict() -> None:
    stats = Stats(100.0, 110.0)
    stats.intervals = [row(101.0 + k, 10, 1.0, 10) for k in range(9)]
    stats.intervals[0]["seconds"] = 0.3  # the first, partial interval
    stats.intervals[0]["saturated"] = ["send-time error p90 20.0 ms > 10 ms"]
    once = to_report(stats)
    assert once["generator"]["saturated"] is False  # one short blip: that interval only
    assert once["generator"]["saturated_intervals"] == [1.0]
    for k in (4, 5):
        stats.intervals[k]["cpu_pct"] = 97.0
        stats.intervals[k]["saturated"] = saturation(stats.intervals[k])
    report = to_report(stats, {"procs": 1})
    assert report["generator"]["saturated"] is report["generator_saturated"] is True
    assert report["generator"]["saturated_intervals"] == [1.0, 5.0, 6.0]
    report["thresholds"] = evaluate(["joins_refused count==0"], report)
    console = Console(width=200, record=True, file=io.StringIO())
    print_summary(console, report)
    text = console.export_text()
    assert "generator saturated: 3 of 9 intervals" in text
    assert "CPU 97% of a core" in text and "try --procs" in text
    verdict = next(line for line in text.splitlines() if line.startswith("pass "))
    assert "generator saturated" in verdict


def test_flat_payload_templates_render_fresh_dicts_and_name_their_placeholders() -> None:
    from phoenix_fast.load.templates import PAYLOAD_FIELDS, Template

    tpl = Template(
        {"seq": "{seq}", "kind": "x", "n": 3, "on": True, "none": None, "ts": "{ts}"},
        PAYLOAD_FIELDS,
        "payload",
    )
    first = tpl.render({"seq": 1, "ts": 2.5})
    assert first == {"seq": 1, "kind": "x", "n": 3, "on": True, "none": None, "ts": 2.5}
    second = tpl.render({"seq": 2, "ts": 3.5})
    assert second["seq"] == 2 and first["seq"] == 1  # a new dict each time
    assert tpl.names == {"seq", "ts"} and not tpl.constant
    nested = Template({"a": {"b": "{n}"}, "c": "n={n}"}, PAYLOAD_FIELDS, "payload")
    assert nested.render({"n": 4}) == {"a": {"b": 4}, "c": "n=4"}
    assert nested.names == {"n"}
