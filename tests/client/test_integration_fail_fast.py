"""Against the reference server: a crash or a stop fails the pushes in flight at once."""

from __future__ import annotations

import asyncio

import pytest

from phoenix_fast import Socket
from phoenix_fast.errors import ChannelClosed, ChannelCrashed
from phoenix_fast.testing.waiting import scaled


@pytest.mark.parametrize(("event", "error"), [("boom", ChannelCrashed), ("stop", ChannelClosed)])
async def test_pending_push_fails_when_the_channel_process_ends(
    phoenix_url: str, event: str, error: type[Exception]
) -> None:
    async with Socket(phoenix_url) as socket:
        channel = socket.channel("echo:fail-fast")
        await channel.join()
        waiting = asyncio.ensure_future(channel.push("noreply", {}, timeout=30).wait())
        channel.push(event, {})
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(error):
            await asyncio.wait_for(waiting, scaled(10))
        # far from the push's 30 s timeout: it failed when the server said so
        assert loop.time() - start < 10
