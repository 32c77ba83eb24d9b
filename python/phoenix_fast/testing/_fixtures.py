"""The bodies of the pytest fixtures, imported when a fixture is first used.

The async ones are async generators that the event-loop plugin (pytest-asyncio or anyio) of
the test runs on the test's own loop; the sync ones use :mod:`phoenix_fast.sync`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from phoenix_fast._states import ChannelState
from phoenix_fast.channel import Channel
from phoenix_fast.errors import PhoenixError
from phoenix_fast.socket import Socket

__all__ = ["ChannelFactory", "SyncChannelFactory", "channel_factory", "open_socket"]

#: ``await phoenix_channel(topic, params=None, *, timeout=None)``: a joined channel.
ChannelFactory = Callable[..., Awaitable[Channel]]
#: ``phoenix_sync_channel(topic, params=None, *, timeout=None)``: a joined sync channel.
SyncChannelFactory = Callable[..., Any]

#: Seconds a fixture waits for its channels to leave at teardown.
LEAVE_TIMEOUT = 5.0


async def open_socket(url: str, options: dict[str, Any]) -> AsyncIterator[Socket]:
    """A connected socket, disconnected afterwards."""
    socket = Socket(url, **options)
    try:
        await socket.connect()
    except BaseException:
        await socket.disconnect()
        raise
    try:
        yield socket
    finally:
        await socket.disconnect()


async def channel_factory(socket: Socket) -> AsyncIterator[ChannelFactory]:
    """A factory of joined channels on ``socket``; each still open is left afterwards."""
    channels: list[Channel] = []

    async def join(
        topic: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Channel:
        channel = socket.channel(topic, params)
        channels.append(channel)
        await channel.join(timeout)
        return channel

    try:
        yield join
    finally:
        await asyncio.gather(*(_leave(channel) for channel in channels))


async def _leave(channel: Channel) -> None:
    if channel.state in (ChannelState.CLOSED, ChannelState.LEAVING):
        return
    # the test may have stopped the server or dropped the link: nothing left to clean up then
    with contextlib.suppress(PhoenixError):
        await channel.leave(LEAVE_TIMEOUT)


def sync_socket(url: str, options: dict[str, Any]) -> Iterator[Any]:
    """A connected :class:`phoenix_fast.sync.Socket`, closed afterwards."""
    from phoenix_fast.sync import connect

    with connect(url, **options) as socket:
        yield socket


def sync_channel_factory(socket: Any) -> Iterator[SyncChannelFactory]:
    """A factory of joined sync channels; each still open is left afterwards."""
    channels: list[Any] = []

    def join(
        topic: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        channel = socket.channel(topic, params)
        channels.append(channel)
        channel.join(timeout)
        return channel

    yield join
    for channel in channels:
        if channel.state not in (ChannelState.CLOSED, ChannelState.LEAVING):
            with contextlib.suppress(PhoenixError, TimeoutError):
                channel.leave(LEAVE_TIMEOUT)
