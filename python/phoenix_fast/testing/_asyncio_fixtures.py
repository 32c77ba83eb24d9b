"""The async fixtures as pytest-asyncio runs them: registered as a plugin by
``phoenix_fast.testing.pytest_plugin`` only when pytest-asyncio is active.

``phoenix_socket`` and ``phoenix_channel`` request the one whose loop scope is the test's, so
the socket lives on the loop the test runs on, in strict mode as in auto mode.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest_asyncio

if TYPE_CHECKING:
    from phoenix_fast.socket import Socket
    from phoenix_fast.testing._fixtures import ChannelFactory

LOOP_SCOPES = ("function", "class", "module", "package", "session")


def socket_fixture_name(loop_scope: str) -> str:
    return f"_phoenix_fast_asyncio_socket_{loop_scope}"


def channel_fixture_name(loop_scope: str) -> str:
    return f"_phoenix_fast_asyncio_channel_{loop_scope}"


def _socket_fixture(loop_scope: str) -> Any:
    async def socket(
        phoenix_url: str, phoenix_socket_options: dict[str, Any]
    ) -> AsyncIterator[Socket]:
        from phoenix_fast.testing._fixtures import open_socket

        async for value in open_socket(phoenix_url, phoenix_socket_options):
            yield value

    return _fixture(socket, loop_scope=loop_scope, name=socket_fixture_name(loop_scope))


def _channel_fixture(loop_scope: str) -> Any:
    async def channel(phoenix_socket: Socket) -> AsyncIterator[ChannelFactory]:
        from phoenix_fast.testing._fixtures import channel_factory

        async for value in channel_factory(phoenix_socket):
            yield value

    return _fixture(channel, loop_scope=loop_scope, name=channel_fixture_name(loop_scope))


_fixture: Any = pytest_asyncio.fixture  # its overloads do not fit a made function

for _scope in LOOP_SCOPES:
    globals()[socket_fixture_name(_scope)] = _socket_fixture(_scope)
    globals()[channel_fixture_name(_scope)] = _channel_fixture(_scope)
