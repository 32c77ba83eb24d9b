"""The pacer against a server that stops reading: it holds pushes back, and memory stays put."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from phoenix_fast.load.runner import Runner
from phoenix_fast.load.scenario import PushSpec, build_scenario
from phoenix_fast.testing import FaultProxy


async def test_a_saturated_socket_holds_the_pacer_back(phoenix_url: str) -> None:
    target = urlsplit(phoenix_url)
    assert target.hostname is not None and target.port is not None
    async with FaultProxy(target.hostname, target.port) as proxy:
        scenario = build_scenario(
            {
                "url": proxy.url_for("/socket"),
                "sockets": 1,
                "channels": 1,
                "topic": "echo:full",
                # 256 KiB a push, 200 a second: the 8 MiB buffer fills in well under a second
                "pushes": (PushSpec("ping", 200.0, {"data": "x" * 262_144}),),
                "duration": 2.0,
                "push_timeout": 30.0,
            }
        )
        loop = asyncio.get_running_loop()
        loop.call_later(0.3, proxy.stall, "to_server")  # joined by then: the server stops reading
        result = await Runner(scenario).run()
        proxy.resume("to_server")
    counters = result.stats.counters
    assert counters["pushes_blocked"] > 0
    sent_bytes = counters["pushes_sent"] * 262_144
    # what went out is bounded by the socket's buffer and the kernel's, not by the schedule
    assert sent_bytes < 400 * 262_144 * 0.5
    assert counters["pushes_unsent"] > 0, "the blocked slots are counted, not forgotten"
