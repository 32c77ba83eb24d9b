"""Backpressure against a server that stops reading (through the fault proxy).

The proxy stops reading what the client sends, so the kernel's buffers fill, asyncio pauses
writing, and the socket must then hold at most ``max_buffer`` bytes: pushes past it fail at
once with ``BufferFull`` and leave no pending entry, and memory stays bounded however much
the caller tries to push.
"""

from __future__ import annotations

import asyncio
import os
from urllib.parse import urlsplit

import pytest

from phoenix_fast import ReferenceSerializer, Socket
from phoenix_fast.errors import BufferFull
from phoenix_fast.testing import FaultProxy, wait_for
from phoenix_fast.testing.waiting import scaled

MiB = 1024 * 1024


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def _stalled_channel(
    proxy: FaultProxy, max_buffer: int, *, custom_encoder: bool = False
) -> tuple[Socket, object]:
    # the default serializer queues frames natively; a custom encoder's go through Python
    codec: dict[str, object] = {}
    if custom_encoder:
        serializer = ReferenceSerializer("2.0.0")
        codec = {"encode": serializer.encode, "decode": serializer.decode}
    socket = Socket(
        proxy.url_for("/socket"), max_buffer=max_buffer, heartbeat_interval=None, **codec
    )
    await socket.connect()
    channel = socket.channel("echo:stalled")
    await channel.join()
    proxy.stall("to_server")
    return socket, channel


@pytest.fixture
async def proxy(phoenix_url: str) -> object:
    target = urlsplit(phoenix_url)
    assert target.hostname is not None and target.port is not None
    async with FaultProxy(target.hostname, target.port) as proxy:
        yield proxy


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads RSS from /proc")
async def test_pushing_1_gib_to_a_server_that_stopped_reading_keeps_rss_bounded(
    proxy: FaultProxy,
) -> None:
    max_buffer = 4 * MiB
    socket, channel = await _stalled_channel(proxy, max_buffer)
    payload = "x" * MiB
    before = _rss()
    refused = 0
    for _ in range(1024):  # 1 GiB of payloads
        try:
            channel.push("ping", {"data": payload}, timeout=60)  # type: ignore[attr-defined]
        except BufferFull:
            refused += 1
        await asyncio.sleep(0)  # let the loop write what it can
    grown = _rss() - before
    assert refused > 1000, "nearly every push met the full buffer"
    assert socket.buffered_amount <= max_buffer + 2 * MiB
    assert grown < max_buffer + 24 * MiB, f"RSS grew by {grown / MiB:.1f} MiB"
    # no refused push is pending: only the ones that went out wait for a reply
    assert len(socket._deadlines.pending) == 1024 - refused
    proxy.resume("to_server")
    await socket.disconnect()


@pytest.mark.parametrize("custom_encoder", [False, True], ids=["native", "custom-encoder"])
async def test_drain_waits_until_the_server_reads_again(
    proxy: FaultProxy, custom_encoder: bool
) -> None:
    socket, channel = await _stalled_channel(proxy, 256 * 1024, custom_encoder=custom_encoder)
    payload = {"data": "y" * 65536}
    with pytest.raises(BufferFull, match="drain"):
        for _ in range(10_000):
            channel.push("ping", payload)  # type: ignore[attr-defined]
            await asyncio.sleep(0)
    drained = asyncio.ensure_future(socket.drain())
    await asyncio.sleep(0.05)
    assert not drained.done(), "drain() waits while the server does not read"
    proxy.resume("to_server")
    await asyncio.wait_for(drained, scaled(10))
    reply = await channel.push("ping", {"after": "drain"})  # type: ignore[attr-defined]
    assert reply == {"after": "drain"}
    await wait_for(lambda: socket.buffered_amount == 0)
    await socket.disconnect()


async def test_joins_are_never_refused_by_backpressure(proxy: FaultProxy) -> None:
    socket, channel = await _stalled_channel(proxy, 64 * 1024)
    with pytest.raises(BufferFull):
        for _ in range(10_000):
            channel.push("ping", {"data": "z" * 8192})  # type: ignore[attr-defined]
            await asyncio.sleep(0)
    second = socket.channel("echo:second")
    join = second.join()  # goes out although the buffer is full
    proxy.resume("to_server")
    await asyncio.wait_for(join.wait(), scaled(10))
    await socket.disconnect()
