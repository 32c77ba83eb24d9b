"""Connect attempts that fail before any network: a params or token callable that raises, a
transport factory that raises; and a transport that reports its close twice."""

from __future__ import annotations

import re
from typing import Any

import pytest
from helpers import settle

from phoenix_fast import Socket
from phoenix_fast.errors import ConnectError
from phoenix_fast.transports.base import TransportHandler, TransportOptions
from phoenix_fast.transports.mock import MockConnection, MockTransport

URL = "ws://example.test/socket"


async def _params() -> dict[str, str]:
    raise LookupError("no session")


def _token() -> str:
    raise PermissionError("vault locked")


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({"params": _params}, "LookupError('no session')"),
        ({"auth_token": _token}, "PermissionError('vault locked')"),
    ],
)
async def test_a_params_or_token_callable_that_raises_fails_the_connect(
    options: dict[str, Any], said: str
) -> None:
    server = MockTransport()
    socket = Socket(URL, transport=server, **options)
    with pytest.raises(ConnectError, match=re.escape(f"auth_token callable raised {said}")):
        await socket.connect()
    assert server.connections == []  # nothing was opened
    await socket.disconnect()


async def test_a_transport_factory_that_raises_fails_the_connect() -> None:
    def factory(options: TransportOptions, handler: TransportHandler) -> MockConnection:
        raise RuntimeError("no transport today")

    socket = Socket(URL, transport=factory)
    with pytest.raises(ConnectError, match="cannot connect: no transport today"):
        await socket.connect()
    await socket.disconnect()


async def test_a_second_close_report_from_a_transport_is_ignored() -> None:
    server = MockTransport()
    socket = Socket(URL, transport=server)
    closes: list[Any] = []
    socket.on_close(closes.append)
    await socket.connect()
    conn = server.current
    conn.client.transport_close(4000, "first", True)
    conn.client.transport_close(4001, "second", True)  # a buggy transport
    await settle()
    assert [(c.code, c.reason) for c in closes] == [(4000, "first")]
    await socket.disconnect()
