"""``--presence`` against the reference server's ``presence:*`` topics: the first state and
its size, one's own entry, diffs, and joins reaching the other subscribers."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from phoenix_fast.load.html_report import write_html
from phoenix_fast.load.presence import PRESENCE_NAMES, SIZE
from phoenix_fast.load.report import print_summary, to_report
from phoenix_fast.load.runner import Runner
from phoenix_fast.load.scenario import ScenarioError, build_scenario, load_toml
from phoenix_fast.load.session import latency_names


async def test_presence_figures(phoenix_url: str, tmp_path: Path) -> None:
    sockets, per_socket = 4, 3  # 3 topics presence:0..2, each with the 4 sockets in it
    scenario = build_scenario(
        {"url": phoenix_url, "presence": True, "sockets": sockets,
         "channels": sockets * per_socket, "join_rate": 40.0, "duration": 1.0}
    )  # fmt: skip
    assert scenario.topic == "presence:{i}" and scenario.join_params == {"user_id": "user-{n}"}
    result = await Runner(scenario).run()
    stats = result.stats
    channels = sockets * per_socket
    assert stats.counters["joins_ok"] == channels and stats.errors == {}
    hist = stats.histograms
    # every channel got its state and saw itself in its own list
    assert hist["presence:state"].get_total_count() == channels
    assert hist["presence:self"].get_total_count() == channels
    # each state lists the members joined so far: 1 to 4 of them
    assert 1 <= hist["size:presence_state"].get_min_value()
    assert hist["size:presence_state"].get_max_value() <= sockets
    # a member joining is timed once by each subscriber that had its state before: at most
    # every pair of a topic's members, and at least one (joins at 40/s come in turn)
    pairs = per_socket * sockets * (sockets - 1) // 2
    assert 1 <= hist["presence:propagation"].get_total_count() <= pairs
    # every join is a diff to the joiner itself and to each member already subscribed (and
    # at the end, a leave may reach the members still there)
    assert channels <= stats.events["presence_diff"] <= channels + 2 * pairs
    assert stats.events["presence_state"] >= channels
    report = to_report(stats, scenario.to_dict())
    # the presence latencies are in the rows over time too, every sample in some row
    rows = report["intervals"]
    for name in PRESENCE_NAMES:
        in_rows = sum(r["latency_ms"].get(name, {}).get("count", 0) for r in rows)
        assert in_rows == hist[name].get_total_count() > 0, name
    assert not any(SIZE in r["latency_ms"] for r in rows)  # a size, not a latency
    assert set(PRESENCE_NAMES) <= set(latency_names(scenario))  # the CSV's columns
    presence = report["presence"]
    assert presence["states"] == channels
    assert presence["diffs"] == stats.events["presence_diff"]
    assert presence["diffs_per_s"] == pytest.approx(presence["diffs"] / report["elapsed_s"])
    assert 1 <= presence["state_size"]["mean"] <= presence["state_size"]["max"] <= sockets
    assert "size:presence_state" not in report["latency_ms"]
    assert "size:presence_state" in report["histograms"]  # kept for exact merges
    assert report["scenario"]["join_params"] == {"user_id": "***"}
    out = io.StringIO()
    print_summary(Console(file=out, width=200), report)
    summary = out.getvalue()
    assert "presence diffs" in summary and "presence:propagation" in summary
    assert f"{channels} first states" in summary
    page = tmp_path / "p.html"
    write_html(page, report, [])
    html = page.read_text()
    assert "presence:propagation" in html and "size:presence_state" not in html
    assert 'data-chart="latency-presence"' in html  # over time
    for name in PRESENCE_NAMES:
        assert f'data-series="{name} p99"' in html


def test_presence_from_a_scenario_file(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        'url = "ws://h/socket"\npresence = true\ntopic = "presence:lobby"\nsockets = 5\n'
        "channels = 5\n"
    )
    sc = build_scenario({}, load_toml(path))
    assert sc.presence and sc.topic == "presence:lobby"
    assert sc.join_params == {"user_id": "user-{n}"}


def test_presence_needs_a_user_id() -> None:
    with pytest.raises(ScenarioError, match="add one"):
        build_scenario({"url": "ws://h/socket", "presence": True, "join_params": {"u": 1}})
