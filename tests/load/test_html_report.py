"""The HTML report: what it shows, that it draws each report's data (checked in headless
Chromium against the report's ``intervals`` and histograms), and its command line."""

from __future__ import annotations

import itertools
import json
import math
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from chromium_page import chromium_or_skip, open_page
from cli_support import phoenix_fast

from phoenix_fast.load.html_report import percentile_points, render_html
from phoenix_fast.load.report import merge_reports, read_report, to_report, write_report
from phoenix_fast.load.scenario import redacted
from phoenix_fast.load.stats import Stats, decode_histogram, new_histogram

# the page's own reading of its charts, and the tooltip after hovering the rates chart
CHECK = """(() => {
  const svg = document.querySelector('svg.chart[data-chart="rates"]');
  const box = svg.getBoundingClientRect();
  const at = {clientX: box.left + box.width / 2, clientY: box.top + box.height / 2};
  svg.dispatchEvent(new MouseEvent("mousemove", {...at, bubbles: true}));
  const tip = document.querySelector(".tip");
  return JSON.stringify({
    charts: JSON.parse(document.getElementById("render-check").textContent),
    tip: tip.hidden ? null : tip.textContent,
  });
})()"""
T0 = 1_800_000_000.0
SECRET = "s3cret-token-value"


def synthetic_report(seed: int, seconds: int = 8, start: float = T0) -> dict[str, Any]:
    """A report as a run writes it, with known intervals: a stall in interval 4 (the
    intended-time latency jumps, the service time does not), a drop, one saturated row."""
    stats = Stats(started_at=start, ended_at=start + seconds)
    stats.spans = [(start, start + seconds)]
    stats.peaks = {"sockets": 4, "channels": 40}
    rows = []
    for k in range(seconds):
        stalled = k == 4
        pushes = 1000 + 37 * k + seed
        for j in range(pushes):
            service = 150 + (j * 7919 + seed) % 400  # microseconds
            stats.record("push:ping", service + (250_000 * j // pushes if stalled else 30))
            stats.record("push:ping:service", service)
        for j in range(200):
            stats.record("event:shout", 400 + (j * 31) % 900)
        stats.record("generator:loop_lag", 50 + 10 * k)
        stats.count("pushes_sent", pushes)
        stats.count("replies_ok", pushes)
        stats.count("events_received", 200)
        rows.append(
            {
                "at": start + k + 1,
                "seconds": 0.5 if k == 0 else 1.0,
                "pushes": pushes,
                "replies": pushes - (300 if stalled else 0),
                "errors": 3 if k == 6 else 0,
                "events": 200,
                "joins": 40 if k == 0 else 0,
                "drops": 1 if k == 6 else 0,
                "sockets": 4 if k != 6 else 3,
                "channels": 40 if k != 6 else 30,
                "in_flight": 250 if stalled else 2,
                "latency_ms": {
                    "push:ping": {"count": pushes, "p50": 0.4, "p90": 0.6, "p99": 0.7 + k}
                    | ({"p50": 120.0, "p99": 240.0, "max": 251.0} if stalled else {"max": 1.0}),
                    "push:ping:service": {
                        "count": pushes,
                        "p50": 0.35,
                        "p90": 0.5,
                        "p99": 0.55 + k / 10,
                        "max": 0.9,
                    },
                    "event:shout": {"count": 200, "p50": 0.8, "p90": 1.1, "p99": 1.3, "max": 1.4},
                    "generator:loop_lag": {"count": 1, "p50": 0.05, "p99": 0.05, "max": 0.05},
                },
                "cpu_pct": 20.0 + k,
                "saturated": ["event loop lag p90 12.0 ms > 10 ms"] if k == 5 else [],
            }
        )
    stats.intervals = rows
    stats.error("push ping timeout", 3)
    scenario = {
        "url": f"ws://127.0.0.1:4000/socket?token={SECRET}",
        "sockets": 4,
        "channels": 40,
        "topic": "room:{n}",
        "socket_params": {"token": SECRET},
        "join_params": {"user_id": SECRET},
        "headers": [["X-Api-Key", SECRET]],
        "pushes": [{"event": "ping", "rate": 1000.0, "payload": {"seq": "{seq}"}}],
        "subscribe": ["shout"],
        "procs": 1,
    }
    report = to_report(stats, scenario, stopped_by="duration")
    report["thresholds"] = [
        {"expr": "push:ping p99<50ms", "ok": False, "value": 200.0},
        {"expr": "errors rate<1%", "ok": True, "value": 0.03},
    ]
    return report


# ----- what the page draws, computed from the report independently ------------------------


def rate(rows: list[Mapping[str, Any]], field: str) -> list[tuple[float, float]]:
    return [(r["t"], r[field] / r["seconds"]) for r in rows if r["seconds"] > 0]


def latency(rows: list[Mapping[str, Any]], name: str, stat: str) -> list[tuple[float, float]]:
    out = []
    for row in rows:
        figures = row.get("latency_ms", {}).get(name, {})
        if figures.get("count") and stat in figures:
            out.append((row["t"], max(figures[stat], 0.001)))  # a log axis: 0 shown at 1 µs
    return out


def expected_charts(report: Mapping[str, Any]) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """Chart key -> series name -> the points it must draw, from the report alone."""
    rows = report["intervals"]
    charts: dict[str, dict[str, list[tuple[float, float]]]] = {
        "rates": {f"{f}/s": rate(rows, f) for f in ("pushes", "replies", "events")},
        "connections": {
            "sockets": [(r["t"], r["sockets"]) for r in rows],
            "channels": [(r["t"], r["channels"]) for r in rows],
            "pushes in flight": [(r["t"], r["in_flight"]) for r in rows],
        },
        "errors": {f"{f}/s": rate(rows, f) for f in ("errors", "drops", "joins")},
    }
    for push in report["scenario"]["pushes"]:
        name = f"push:{push['event']}"
        charts[f"latency-{name}"] = {
            f"{n} {stat}": latency(rows, n, stat)
            for n in (name, f"{name}:service")
            for stat in ("p50", "p99")
        }
    for name, figures in report["latency_ms"].items():
        if name.endswith(":service") and name[: -len(":service")] in report["latency_ms"]:
            continue
        count = figures["count"]
        # HdrHistogram's percentile axis: x = log10(1 / (1 - q)) in tenths, to log10(count)
        xs = [k / 10 for k in range(1000) if k / 10 < math.log10(count)]
        low, high = max(figures["min"], 0.001), max(figures["max"], 0.001)
        points = [(x, low) for x in xs] + [(math.log10(count), high)]
        charts[f"dist-{name}"] = {name: points if count > 1 else points[:1]}
    return charts


def assert_drawn(found: Mapping[str, Any], report: Mapping[str, Any]) -> None:
    """Each chart the report calls for was drawn with its points and axis ranges."""
    rows = report["intervals"]
    span = (max(rows[0]["t"] - rows[0]["seconds"], 0.0), rows[-1]["t"])
    for key, series in expected_charts(report).items():
        assert key in found, f"chart {key} missing"
        chart = found[key]
        low, high = chart["y"]
        assert chart["shown"][0] > 300 and chart["shown"][1] > 100, (key, chart["shown"])
        if not key.startswith("dist-"):
            assert chart["x"] == pytest.approx(list(span), abs=1e-3), key
        for name, points in series.items():
            drawn = found[key]["series"].get(name)
            if not points:
                assert drawn is None, (key, name)
                continue
            assert drawn is not None, f"{key}: series {name} not drawn"
            assert drawn["points"] == len(points), (key, name)
            xs = [x for x, _ in points]
            x_tol = (chart["x"][1] - chart["x"][0]) * 0.002
            assert drawn["x"] == pytest.approx([min(xs), max(xs)], abs=x_tol), (key, name)
            ys = [y for _, y in points]
            if chart["yLog"]:
                # the distribution's minimum and maximum only; one pixel of a log axis
                assert drawn["y"][0] == pytest.approx(min(ys), rel=0.03), (key, name)
                assert drawn["y"][1] == pytest.approx(max(ys), rel=0.03), (key, name)
            else:
                y_tol = (high - low) * 0.002
                assert drawn["y"] == pytest.approx([min(ys), max(ys)], abs=y_tol), (key, name)
            assert low <= min(ys) and max(ys) <= high, (key, name, chart["y"])


async def check_in_chromium(html: Path, report: Mapping[str, Any]) -> dict[str, Any]:
    shot = html.with_suffix(".png")
    result = await open_page(html, CHECK, screenshot=shot)
    assert result.errors == []
    assert result.value, "the page's script did not run"
    value = json.loads(result.value)
    found: dict[str, Any] = value["charts"]
    assert_drawn(found, report)
    # hovering shows the time and every line's value there
    lines = value["tip"].splitlines()
    assert lines[0].endswith(" s") and lines[1].startswith("pushes/s: "), value["tip"]
    assert len(lines) == 1 + len(found["rates"]["series"])
    assert shot.stat().st_size > 20_000  # a full page of charts, saved next to the output
    return found


# ----- in a browser -----------------------------------------------------------------------


async def test_a_report_draws_its_intervals_and_histograms(tmp_path: Path) -> None:
    report = synthetic_report(1)
    html = tmp_path / "run.html"
    html.write_text(render_html(report), encoding="utf-8")
    found = await check_in_chromium(html, report)
    # the stall shows in the intended-time p99 (240 ms) and not in the service time
    ping = found["latency-push:ping"]["series"]
    assert ping["push:ping p99"]["y"][1] == pytest.approx(240, rel=0.03)
    assert ping["push:ping:service p99"]["y"][1] < 2
    assert found["dist-push:ping"]["xKind"] == "percentile"


async def test_a_merged_report_draws_the_sum(tmp_path: Path) -> None:
    report = merge_reports([synthetic_report(1), synthetic_report(2)], ["a", "b"])
    assert report["intervals"][1]["pushes"] == 2 * 1037 + 3
    html = tmp_path / "merged.html"
    html.write_text(render_html(report), encoding="utf-8")
    await check_in_chromium(html, report)


async def test_load_html_end_to_end(phoenix_url: str, tmp_path: Path) -> None:
    html, json_path = tmp_path / "load.html", tmp_path / "load.json"
    done = phoenix_fast(
        "load", phoenix_url, "--sockets", "2", "--channels", "10", "--topic", "echo:h{n}",
        "--push", "ping=200", "--duration", "2.5", "--threshold", "push:ping p99<10s",
        "--threshold", "push:ping p50<0.0001ms",
        "--report", str(json_path), "--html", str(html), "--quiet",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # a threshold failed: the page is written first
    assert f"HTML report written to {html}" in done.stderr
    report = read_report(json_path)
    text = html.read_text(encoding="utf-8")
    assert "push:ping p99&lt;10s" in text and ">pass<" in text
    assert "push:ping p50&lt;0.0001ms" in text and ">FAIL<" in text
    await check_in_chromium(html, report)


# ----- without a browser ------------------------------------------------------------------


def test_percentile_points_follow_the_histogram() -> None:
    histogram = new_histogram()
    for micros in range(1, 10_001):
        histogram.record_value(micros)
    points = percentile_points(histogram)
    assert len(points) == 41  # 0, 0.1, ..., 3.9 and the maximum at log10(10000) = 4
    assert points[0] == (0.0, 0.001)
    assert points[-1] == (4.0, pytest.approx(10.0, rel=0.001))
    assert points[10][1] == pytest.approx(9.0, rel=0.001)  # x = 1: the 90th percentile
    assert all(a[1] <= b[1] for a, b in itertools.pairwise(points))
    assert percentile_points(new_histogram()) == []
    zero = new_histogram()
    zero.record_value(0)
    zero.record_value(5)
    assert percentile_points(zero)[0] == (0.0, 0.001)  # a log axis shows 0 µs at 1 µs


def test_the_page_shows_the_run_thresholds_and_no_secret() -> None:
    report = synthetic_report(1)
    text = render_html(report, ["run.json"])
    assert SECRET not in text
    assert "ws://127.0.0.1:4000/socket?***" in text
    assert "X-Api-Key" in text and "user_id" in text  # names kept, values masked
    assert ">FAIL<" in text and ">pass<" in text and "1 of 2 failed" in text
    assert "2027-01-15 08:00:00 UTC" in text  # the start time of T0
    assert f"python {platform.python_version()}" in text  # the versions the run ran with
    assert "Generator saturated" in text
    assert "push ping timeout" in text  # errors by kind
    assert "http://" not in text.replace("http://www.w3.org", "")  # nothing to fetch
    assert "<script src" not in text and "<link" not in text
    assert redacted({"headers": {"Authorization": "Bearer x"}}) == {
        "headers": {"Authorization": "***"}
    }


def test_a_report_without_intervals_still_renders() -> None:
    report = synthetic_report(1)
    report["intervals"] = []
    text = render_html(report)
    assert "no intervals" in text
    assert 'data-chart="dist-push:ping"' in text


def test_report_html_command_merges(tmp_path: Path) -> None:
    paths = []
    for seed, start in ((1, T0), (2, T0 + 0.2)):
        path = tmp_path / f"r{seed}.json"
        write_report(path, synthetic_report(seed, start=start))
        paths.append(str(path))
    out = tmp_path / "out.html"
    done = phoenix_fast("report", "html", *paths, "-o", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    assert "runs merged" in text and paths[1] in text
    merged = merge_reports([read_report(p) for p in paths], paths)
    hist = decode_histogram(merged["histograms"]["push:ping"])
    assert 'data-series="push:ping"' in text and hist.get_total_count() > 0


@pytest.mark.parametrize("case", ["missing", "not json", "formats", "twice", "no folder"])
def test_report_html_bad_input_is_one_line_and_exit_2(case: str, tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    write_report(good, synthetic_report(1))
    old = tmp_path / "old.json"
    write_report(old, {**synthetic_report(3), "version": 1})
    junk = tmp_path / "junk.json"
    junk.write_text("{nope", encoding="utf-8")
    out = str(tmp_path / "out.html")
    argv, words = {
        "missing": ([str(tmp_path / "none.json")], "give a report written by"),
        "not json": ([str(junk)], "is not JSON"),
        "formats": ([str(good), str(old)], "reports of different formats"),
        "twice": ([str(good), str(good)], "give each report once"),
        "no folder": ([str(good)], "create it first"),
    }[case]
    if case == "no folder":
        out = str(tmp_path / "missing" / "out.html")
    done = phoenix_fast("report", "html", *argv, "-o", out)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and words in lines[0], done.stderr
    assert not Path(out).exists()


def test_load_html_to_a_missing_folder_exits_2_before_connecting(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "run.html"
    done = phoenix_fast("load", "ws://127.0.0.1:9/socket", "--html", str(target), "--quiet")
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "create it first" in lines[0], done.stderr


def test_a_missing_chromium_skips_but_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        chromium_or_skip()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium"):
        chromium_or_skip()
