"""The load runner counts connects, reconnects and drops through each socket's observer: its
counts agree with the sockets' own ``stats()``, and a drop is any open connection lost
mid-run, a heartbeat timeout included (a close the socket makes itself)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from phoenix_fast.load.runner import Runner
from phoenix_fast.load.scenario import build_scenario
from phoenix_fast.testing import FaultProxy, ServerThread
from phoenix_fast.testing.waiting import wait_for

Factory = Callable[..., ServerThread]


async def test_drops_and_reconnects_agree_with_the_sockets_stats(
    phoenix_server_factory: Factory,
) -> None:
    server = phoenix_server_factory()
    scenario = build_scenario(
        {"url": server.url, "sockets": 3, "channels": 6, "topic": "echo:obs{n}",
         "duration": 60.0}
    )  # fmt: skip
    runner = Runner(scenario)
    task = asyncio.create_task(runner.run())
    counters = runner.stats.counters
    await wait_for(lambda: counters["joins_ok"] == 6, timeout=20)
    assert runner.snapshot()["sockets"] == 3
    await asyncio.to_thread(server.disconnect_all, 4000)
    await wait_for(lambda: counters["socket_reconnects"] == 3, timeout=20)
    await wait_for(lambda: counters["recoveries"] == 1, timeout=20)
    assert runner.snapshot()["sockets"] == 3
    stats = [slot.socket.stats() for slot in runner._slots]
    runner.stop("test")
    result = await task
    c = result.stats.counters
    assert c["socket_opens"] == sum(s.connects for s in stats) == 6
    assert c["socket_drops"] == sum(s.drops for s in stats) == 3
    assert c["socket_reconnects"] == 3 and c["rejoins"] == 6
    assert result.stats.errors["socket closed by the server (code 4000)"] == 3
    # the run's own closes at the end are not drops
    assert all(slot.socket.stats().drops == 1 for slot in runner._slots)


async def test_a_heartbeat_timeout_is_counted_as_a_drop(phoenix_url: str) -> None:
    async with FaultProxy.from_url(phoenix_url) as proxy:
        scenario = build_scenario(
            {"url": proxy.url, "sockets": 2, "channels": 4, "topic": "echo:hb{n}",
             "duration": 60.0, "heartbeat": 0.5}
        )  # fmt: skip
        runner = Runner(scenario)
        task = asyncio.create_task(runner.run())
        counters = runner.stats.counters
        await wait_for(lambda: counters["joins_ok"] == 4, timeout=20)
        proxy.half_open()  # the links go silent: only the heartbeat notices
        proxy.heal()  # new links work, so the sockets reconnect
        await wait_for(lambda: counters["socket_drops"] >= 2, timeout=20)
        await wait_for(lambda: counters["recoveries"] >= 1, timeout=20)
        runner.stop("test")
        result = await task
    c = result.stats.counters
    assert c["socket_reconnects"] >= 2 and c["rejoins"] >= 4
    assert c["socket_opens"] == 2 + c["socket_reconnects"]
