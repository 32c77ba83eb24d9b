"""``phoenix-fast report compare``: medians, tolerance and spread, regressions, the exit
status for CI gates, the side-by-side page, and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from chromium_page import open_page
from cli_support import phoenix_fast

from phoenix_fast.load.compare import compare
from phoenix_fast.load.report import to_report, write_report
from phoenix_fast.load.stats import Stats

T0 = 1_800_000_000.0


def run_report(latency_us: float, replies: int = 10_000, errors: int = 0) -> dict[str, Any]:
    """The report of a 10 s run: ``replies`` pushes answered, each ``latency_us`` late."""
    stats = Stats(started_at=T0, ended_at=T0 + 10)
    stats.spans = [(T0, T0 + 10)]
    for k in range(1000):
        stats.record("push:ping", latency_us * (1 + k / 100_000))
        stats.record("generator:loop_lag", 100)
    stats.count("pushes_sent", replies)
    stats.count("replies_ok", replies)
    if errors:
        stats.error("push ping timeout", errors)
        stats.count("push_timeouts", errors)
    return to_report(stats, {"topic": "room:{n}"}, stopped_by="duration")


def files(tmp_path: Path, name: str, *reports: dict[str, Any]) -> list[str]:
    paths = []
    for k, report in enumerate(reports):
        path = tmp_path / f"{name}{k + 1}.json"
        write_report(path, report)
        paths.append(str(path))
    return paths


def verdicts(base: list[dict[str, Any]], new: list[dict[str, Any]], **kw: Any) -> dict[str, str]:
    return {row.name: row.verdict for row in compare(base, new, **kw).rows}


def test_worse_latency_beyond_the_tolerance_is_a_regression() -> None:
    found = verdicts([run_report(1000)], [run_report(1300)])
    assert found["push:ping p50"] == found["push:ping p99"] == "regression"
    assert found["replies/s"] == found["errors"] == "same"
    assert "generator:loop_lag p50" not in found  # the client's own figures are left out
    assert verdicts([run_report(1000)], [run_report(1050)])["push:ping p50"] == "same"
    assert verdicts([run_report(1300)], [run_report(1000)])["push:ping p50"] == "better"
    assert verdicts([run_report(1000)], [run_report(1300)], tolerance_pct=40)["push:ping p50"] == (
        "same"
    )


def test_fewer_replies_and_new_errors_are_regressions() -> None:
    found = verdicts([run_report(1000)], [run_report(1000, replies=7_000, errors=3)])
    assert found["replies/s"] == found["pushes/s"] == "regression"  # higher is better
    assert found["errors"] == found["push_timeouts"] == "regression"  # from zero
    row = next(r for r in compare([run_report(1000)], [run_report(1000, errors=3)]).rows
               if r.name == "errors")  # fmt: skip
    assert (row.base_median, row.new_median, row.change_pct) == (0, 3, float("inf"))


def test_several_runs_compare_medians_and_respect_their_spread() -> None:
    noisy = compare([run_report(1000), run_report(1400)], [run_report(1300), run_report(1500)])
    p50 = next(r for r in noisy.rows if r.name == "push:ping p50")
    assert p50.base_median == pytest.approx(1.2, rel=0.01)  # ms: the median of 1.0 and 1.4
    assert p50.new_median == pytest.approx(1.4, rel=0.01)
    assert p50.change_pct == pytest.approx(16.7, abs=0.5)  # beyond the 10% tolerance...
    assert p50.spread_pct == pytest.approx(33.3, abs=0.5)  # ...but within the runs' spread
    assert p50.verdict == "same"
    assert (len(p50.base), len(p50.new)) == (2, 2)
    steady = compare([run_report(1000), run_report(1020)], [run_report(1300), run_report(1310)])
    assert next(r for r in steady.rows if r.name == "push:ping p50").verdict == "regression"


def test_the_command_prints_runs_and_fails_on_regression(tmp_path: Path) -> None:
    base = files(tmp_path, "a", run_report(1000), run_report(1010))
    new = files(tmp_path, "b", run_report(1500), run_report(1490))
    done = phoenix_fast("report", "compare", "--base", *base, "--new", *new)
    assert done.returncode == 0, done.stderr
    assert "base: 2 run(s)" in done.stdout and "new: 2 run(s)" in done.stdout
    assert "2/2 : 2/2" in done.stdout and "REGRESSION" in done.stdout
    gate = phoenix_fast("report", "compare", base[0], new[0], "--fail-on-regression")
    assert gate.returncode == 1
    assert "1/1 : 1/1" in gate.stdout
    calm = phoenix_fast("report", "compare", base[0], base[1], "--fail-on-regression")
    assert calm.returncode == 0, calm.stdout
    assert "0 regression(s)" in calm.stdout
    data = json.loads(phoenix_fast("report", "compare", base[0], new[0], "--json").stdout)
    assert data["regressions"] == 3 and data["base_runs"] == data["new_runs"] == 1


async def test_the_side_by_side_page_draws_every_run(tmp_path: Path) -> None:
    base = files(tmp_path, "a", run_report(1000), run_report(1010))
    new = files(tmp_path, "b", run_report(1500))
    html = tmp_path / "compare.html"
    done = phoenix_fast("report", "compare", "--base", *base, "--new", *new, "--html", str(html))
    assert done.returncode == 0, done.stderr
    text = html.read_text(encoding="utf-8")
    assert "REGRESSION" in text and base[1] in text and new[0] in text
    assert "2027-01-15 08:00:00 UTC" in text and "phoenix_fast " in text  # each run's details
    result = await open_page(html, "document.getElementById('render-check').textContent",
                             screenshot=html.with_suffix(".png"))  # fmt: skip
    assert result.errors == []
    found = json.loads(result.value)
    lines = found["dist-push:ping"]["series"]
    assert set(lines) == {"base 1 push:ping", "base 2 push:ping", "new 1 push:ping"}
    # 1,000 samples: x from 0 to log10(1000) = 3 in tenths, the last point the maximum
    assert all(line["points"] == 31 for line in lines.values())
    assert lines["new 1 push:ping"]["y"][1] == pytest.approx(1.5 * 1.01, rel=0.03)


@pytest.mark.parametrize("case", ["one file", "both forms", "missing", "formats", "no side"])
def test_bad_input_is_one_line_and_exit_2(case: str, tmp_path: Path) -> None:
    good = files(tmp_path, "g", run_report(1000), run_report(1000))
    old = files(tmp_path, "old", {**run_report(1000), "version": 1})[0]
    argv, words = {
        "one file": ([good[0]], "two reports (BASE NEW)"),
        "both forms": ([*good, "--base", good[0], "--new", good[1]], "not both"),
        "missing": ([good[0], str(tmp_path / "none.json")], "give a report written by"),
        "formats": ([good[0], old], "reports of different formats"),
        "no side": (["--base", good[0]], "nothing to compare"),
    }[case]
    done = phoenix_fast("report", "compare", *argv)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and words in lines[0], done.stderr
