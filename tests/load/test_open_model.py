"""Open-model latency against the reference server: pushes timed from their slots, late ones
sent late (not skipped), unsent ones counted, events timed by their ``ts``, recovery."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

import pytest

from phoenix_fast.load.pushes import Schedule, schedule_of
from phoenix_fast.load.runner import Runner, RunResult
from phoenix_fast.load.scenario import PushSpec, Stage, build_scenario
from phoenix_fast.testing import ServerThread
from phoenix_fast.testing.waiting import wait_for

Factory = Callable[..., ServerThread]


async def run(url: str, **options: Any) -> RunResult:
    scenario = build_scenario({"url": url, **options})
    return await Runner(scenario).run()


def ms(result: RunResult, name: str, pct: float) -> float:
    value: int = result.stats.histograms[name].get_value_at_percentile(pct)
    return value / 1000


async def stalled_run(url: str, stall: bool) -> RunResult:
    params = {"stall_ms": 300, "stall_every_ms": 1000} if stall else {}
    return await run(
        url,
        sockets=2,
        channels=10,
        topic="echo:stall{n}" if stall else "echo:steady{n}",
        join_params=params,
        pushes=(PushSpec("ping", 2000.0),),
        max_in_flight=50,
        duration=3.0,
    )


async def test_a_stalling_server_shows_in_the_latency_from_the_slot(phoenix_url: str) -> None:
    result = await stalled_run(phoenix_url, stall=True)
    c = result.stats.counters
    assert c["replies_ok"] == c["pushes_sent"] > 4000  # late pushes were sent, not skipped
    # what users waited: the stalls (300 ms a second) show
    assert ms(result, "push:ping", 90) >= 100
    assert ms(result, "push:ping", 99) >= 250
    # what the frames waited once sent: only the 50 in flight at each stall's start
    assert ms(result, "push:ping:service", 90) < 20


async def test_without_stalls_the_two_latencies_agree(phoenix_url: str) -> None:
    result = await stalled_run(phoenix_url, stall=False)
    p50s = ms(result, "push:ping", 50), ms(result, "push:ping:service", 50)
    assert abs(p50s[0] - p50s[1]) <= 1.0, p50s
    assert result.stats.counters["pushes_unsent"] == 0, result.stats.counters


async def test_pushes_held_back_are_counted_unsent(phoenix_url: str) -> None:
    # noreply: nothing is ever answered, so 10 pushes fill the in-flight cap
    result = await run(
        phoenix_url,
        channels=2,
        topic="echo:mute{n}",
        pushes=(PushSpec("noreply", 400.0),),
        max_in_flight=10,
        push_timeout=30.0,
        duration=1.0,
    )
    c = result.stats.counters
    assert c["pushes_sent"] == c["pushes_unanswered"] == 10
    # about 400 were due between the first join and the end; all but 10 stayed unsent
    assert 300 <= c["pushes_sent"] + c["pushes_unsent"] <= 401


async def test_events_are_timed_from_the_ts_in_their_payload(phoenix_url: str) -> None:
    result = await run(
        phoenix_url,
        sockets=2,
        channels=4,
        topic="echo:ts{i}",  # two topics, each joined by both sockets
        pushes=(PushSpec("shout", 200.0, {"ts": "{ts}", "seq": "{seq}"}),),
        subscribe=("shout",),
        duration=1.5,
    )
    events = result.stats.histograms["event:shout"].get_total_count()
    assert events == result.stats.events["shout"] > 0
    assert ms(result, "event:shout", 50) <= 2 * ms(result, "push:shout", 50) + 1.0


async def test_recovery_after_a_drop(phoenix_server_factory: Factory) -> None:
    server = phoenix_server_factory()
    scenario = build_scenario(
        {
            "url": server.url,
            "sockets": 2,
            "channels": 8,
            "topic": "echo:{n}",
            "pushes": (PushSpec("ping", 50.0),),
            "duration": 20.0,
        }
    )
    runner = Runner(scenario)
    task = asyncio.create_task(runner.run())
    await wait_for(lambda: runner.snapshot()["channels"] == 8)
    await asyncio.to_thread(server.disconnect_all)
    await wait_for(lambda: runner.stats.counters["recoveries"] >= 1, timeout=10.0)
    runner.stop("test")
    result = await task
    assert result.stats.counters["rejoins"] >= 8
    assert result.stats.histograms["recovery"].get_total_count() == 1
    assert result.stats.histograms["rejoin"].get_total_count() >= 8
    assert ms(result, "recovery", 100) >= ms(result, "rejoin", 50)


# -- the schedule: pure arithmetic ------------------------------------------------------------


def test_a_constant_schedule() -> None:
    schedule = Schedule([(0.0, 1000.0)])
    assert schedule.constant == 1000.0
    assert schedule.count(2.5) == 2500.0
    assert schedule.time_of(1) == pytest.approx(0.001)
    assert schedule.time_of(2500) == pytest.approx(2.5)


def test_stages_ramp_linearly_and_invert_exactly() -> None:
    spec = PushSpec("ping", 50.0)
    stages = (Stage(1.0, 1000.0), Stage(2.0, 1000.0), Stage(1.0, 0.0), Stage(1.0, rates={}))
    schedule = schedule_of(spec, stages, procs=2)
    assert schedule.constant is None
    # per process: 0 -> 500/s in 1 s (250), 500/s for 2 s (1000), 500 -> 0 in 1 s (250),
    # then 0 -> the push's own 25/s in 1 s (12.5)
    assert schedule.count(1.0) == pytest.approx(250)
    assert schedule.count(3.0) == pytest.approx(1250)
    assert schedule.count(4.0) == pytest.approx(1500)
    assert schedule.count(5.0) == pytest.approx(1512.5)
    for t in (0.3, 1.0, 2.2, 3.5, 3.999, 4.5):
        assert schedule.time_of(schedule.count(t)) == pytest.approx(t, abs=1e-9)
    assert schedule.time_of(1) == pytest.approx(math.sqrt(2 / 500))  # N(t) = 250 t^2


def test_a_stage_at_rate_zero_sends_nothing_after_it() -> None:
    schedule = schedule_of(PushSpec("ping", 10.0), (Stage(1.0, 100.0), Stage(1.0, 0.0)), 1)
    assert schedule.count(10.0) == pytest.approx(100)
    assert schedule.time_of(100) == pytest.approx(2.0)
    assert schedule.time_of(101) == math.inf


# -- the pacer alone, on fake channels ---------------------------------------------------------


class FakePush:
    _on_outcome: Callable[[str, Any], None]


class FakeChannel:
    def __init__(self) -> None:
        self.sent: list[tuple[str, FakePush]] = []

    def can_push(self) -> bool:
        return True

    def push(self, event: str, payload: Any, timeout: float) -> FakePush:
        push = FakePush()
        self.sent.append((event, push))
        return push


async def test_a_backlog_is_sent_in_slot_order_across_kinds() -> None:
    from phoenix_fast.load.pushes import Pacer
    from phoenix_fast.load.stats import Stats

    scenario = build_scenario(
        {
            "url": "ws://127.0.0.1:9/socket",
            "pushes": (PushSpec("ping", 1000.0), PushSpec("pong", 1000.0)),
            "max_in_flight": 4,
        }
    )
    stats = Stats()
    pacer = Pacer(scenario, stats, 1, None, lambda: None)
    channel = FakeChannel()
    pacer.start()
    pacer.add_channel(channel, {})  # type: ignore[arg-type]
    await wait_for(lambda: len(channel.sent) == 4 and pacer.held == "in_flight")
    # a backlog of 20 slots per kind builds up behind the cap
    await wait_for(
        lambda: all(k.due(time.perf_counter() - pacer._start) - k.sent > 20 for k in pacer._kinds)
    )
    for k in range(20):  # answer one push at a time: each frees room for one late push
        channel.sent[k][1]._on_outcome("ok", {})
        await wait_for(lambda k=k: len(channel.sent) == 5 + k)
    late = [event for event, _push in channel.sent[4:24]]
    assert abs(late.count("ping") - late.count("pong")) <= 2, late
    pacer.close()
    assert stats.counters["pushes_sent"] == 24
    assert stats.counters["replies_ok"] == 20
    assert stats.pending["push:ping"] and stats.pending["push:pong:service"]


async def test_stages_with_channels_join_up_and_leave_down(phoenix_url: str) -> None:
    result = await run(
        phoenix_url,
        sockets=2,
        channels=20,
        topic="echo:st{n}",
        pushes=(PushSpec("ping", 200.0),),
        stages=(Stage(0.6, channels=20), Stage(0.6, channels=4), Stage(0.6, channels=12)),
        interval=0.1,
    )
    c = result.stats.counters
    assert result.stopped_by == "duration"
    assert c["leaves"] == 16  # 20 -> 4
    assert c["joins_ok"] == 20 + 8  # then 4 -> 12: channels joined again
    gauges = [row["channels"] for row in result.stats.intervals]
    top = gauges.index(max(gauges))  # sampled every 0.1 s: near the peak of 20
    assert max(gauges) >= 18 and min(gauges[top:]) <= 5
    assert gauges[-1] == 12
    # no stage sets a rate: the pushes keep theirs (200/s for 1.8 s)
    assert 300 <= c["pushes_sent"] <= 361
    assert c["replies_ok"] == c["pushes_sent"]  # none lost on a channel being left


async def test_no_slot_past_the_run_end_goes_out_when_the_stop_comes_late() -> None:
    from phoenix_fast.load.pushes import Pacer
    from phoenix_fast.load.stats import Stats

    # 1,000 pushes/s for 0.2 s: 200 slots, the first at the first join
    scenario = build_scenario(
        {"url": "ws://127.0.0.1:9/socket", "pushes": (PushSpec("ping", 1000.0),), "duration": 0.2}
    )
    stats = Stats()
    pacer = Pacer(scenario, stats, 1, None, lambda: None)
    channel = FakeChannel()
    pacer.start()
    pacer.add_channel(channel, {})  # type: ignore[arg-type]
    await asyncio.sleep(0.2)
    time.sleep(0.15)  # noqa: ASYNC251 - a busy loop: the stop comes 150 ms after the end
    pacer.stop_sending()
    c = stats.counters
    assert 190 <= c["pushes_sent"] <= 201, c
    assert c["pushes_sent"] + c["pushes_unsent"] <= 201, c  # nor counted as due
    pacer.close()
