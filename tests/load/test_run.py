"""The engine against the reference server: counts, refusals, drops and reconnects."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from phoenix_fast.load.runner import TOO_MANY_CHANNELS, Runner, RunResult
from phoenix_fast.load.scenario import PushSpec, build_scenario
from phoenix_fast.testing import ServerThread

Factory = Callable[..., ServerThread]


async def run(url: str, **options: Any) -> RunResult:
    scenario = build_scenario({"url": url, **options})
    return await Runner(scenario).run()


async def test_joins_pushes_and_fan_in(phoenix_url: str) -> None:
    result = await run(
        phoenix_url,
        sockets=3,
        channels=12,
        topic="echo:fan{i}",  # 4 topics, each joined by the 3 sockets
        pushes=(
            PushSpec("ping", 200.0, {"seq": "{seq}", "topic": "{topic}"}),
            PushSpec("shout", 20.0, {"from": "{s}"}),
        ),
        subscribe=("shout",),
        duration=1.5,
    )
    c = result.stats.counters
    assert result.stopped_by == "duration" and result.notes == []
    assert c["joins_ok"] == c["channels_planned"] == 12
    assert c["sockets_planned"] == c["socket_opens"] == 3
    assert c["pushes_sent"] > 0 and c["replies_ok"] == c["pushes_sent"]
    assert c["pushes_unanswered"] == c["push_timeouts"] == c["replies_error"] == 0
    hist = result.stats.histograms
    assert hist["join"].get_total_count() == 12
    assert (
        hist["push:ping"].get_total_count() + hist["push:shout"].get_total_count()
        == c["replies_ok"]
    )
    shouts = hist["push:shout"].get_total_count()
    # every shout reaches its own sender before the reply, and at most the 3 subscribers
    assert shouts <= result.stats.events["shout"] <= 3 * shouts
    assert result.stats.errors == {}
    assert result.stats.peaks == {"sockets": 3, "channels": 12}


async def test_message_count_is_exact(phoenix_url: str) -> None:
    result = await run(
        phoenix_url,
        sockets=2,
        channels=4,
        topic="echo:m{n}",
        pushes=(PushSpec("ping", 1000.0),),
        messages=300,
        time_limit=30.0,
    )
    c = result.stats.counters
    assert result.stopped_by == "messages"
    assert c["pushes_sent"] == c["replies_ok"] == 300


async def test_burst_events_are_counted_exactly(phoenix_url: str) -> None:
    result = await run(
        phoenix_url,
        channels=1,
        topic="echo:burst",
        pushes=(PushSpec("burst", 1.0, {"n": 50, "size": 8}),),
        subscribe=("burst_msg",),
        duration=1.6,
    )
    c = result.stats.counters
    assert c["replies_ok"] == c["pushes_sent"] >= 1
    assert result.stats.events == {"burst_msg": 50 * c["replies_ok"]}


async def test_error_replies_are_counted_by_kind(phoenix_url: str) -> None:
    result = await run(
        phoenix_url, channels=1, topic="echo:err", pushes=(PushSpec("nope", 20.0),), duration=1.0
    )
    c = result.stats.counters
    assert c["replies_error"] == c["pushes_sent"] > 0
    assert result.stats.errors == {"push nope error: unknown event": c["pushes_sent"]}


async def test_refused_joins_over_the_server_limit(phoenix_server_factory: Factory) -> None:
    server = phoenix_server_factory(max_channels=5)
    result = await run(
        server.url, sockets=1, channels=8, channels_per_socket=10, topic="echo:{n}", duration=1.0
    )
    c = result.stats.counters
    assert (c["joins_ok"], c["joins_refused"]) == (5, 3)
    assert result.stats.errors == {f"join refused: {TOO_MANY_CHANNELS}": 3}
    assert "lower --channels-per-socket or raise the server's limit" in result.notes[0]


async def test_join_refusals_are_not_retried(phoenix_url: str) -> None:
    result = await run(
        phoenix_url, channels=3, topic="echo:f{n}", join_params={"fail": "nope"}, duration=1.5
    )
    assert result.stats.counters["joins_refused"] == 3
    # the reason echoes a join param's value: params may hold secrets, so it is masked
    assert result.stats.errors == {"join refused: ***": 3}


async def test_server_dropping_sockets_is_counted_and_survived(
    phoenix_server_factory: Factory,
) -> None:
    server = phoenix_server_factory()
    scenario = build_scenario(
        {
            "url": server.url,
            "sockets": 2,
            "channels": 6,
            "topic": "echo:{n}",
            "pushes": (PushSpec("ping", 100.0),),
            "duration": 3.5,
            "push_timeout": 1.0,
        }
    )
    runner = Runner(scenario)
    task = asyncio.create_task(runner.run())
    await asyncio.sleep(1.0)
    await asyncio.to_thread(server.disconnect_all)
    await asyncio.sleep(0.8)
    await asyncio.to_thread(server.stop)  # down for a while: reconnects fail, then succeed
    await asyncio.sleep(0.3)
    await asyncio.to_thread(server.start)
    result = await task
    c = result.stats.counters
    assert c["socket_drops"] >= 4 and c["socket_reconnects"] >= 4
    assert c["rejoins"] >= 6
    assert c["pushes_sent"] == (
        c["replies_ok"] + c["replies_error"] + c["push_timeouts"] + c["pushes_unanswered"]
    )
    assert any("closed by the server" in kind for kind in result.stats.errors)
    snap = runner.snapshot()
    assert snap["sockets"] == 0  # all closed at the end


async def test_sockets_without_channels(phoenix_url: str) -> None:
    result = await run(phoenix_url, sockets=4, channels=0, duration=0.8)
    c = result.stats.counters
    assert c["socket_opens"] == 4 and c["joins_ok"] == 0
