"""A reference Phoenix-protocol server for tests and benchmarks.

It serves the contract application (``tests/CONTRACT.md`` in the repository: channels
``echo:*``, ``presence:*`` and ``load:*``) over WebSocket (``/socket/websocket``,
and ``/socket_compress/websocket`` with per-message deflate) and LongPoll
(``/socket/longpoll``), sending the frames Phoenix's own server sends.

In async code, in the running loop::

    from phoenix_fast.testing import ReferenceServer

    async with ReferenceServer(port=0, idle_timeout=1.0) as server:
        server.url  # "ws://127.0.0.1:PORT/socket"
        await server.stop()   # clients see the connection drop (1001)
        await server.start()  # same port again

In synchronous code, or for long-lived fixtures, in a background thread::

    with ServerThread(max_channels=5000) as server:
        server.url

In a child process (keeps the server off the client's GIL, for benchmarks)::

    with ServerProcess() as server:
        server.url

From a shell: ``phoenix-fast serve --port 4000`` (prints the URL, stops on
Ctrl-C or SIGTERM).

With pytest, the ``phoenix_url`` fixture gives the URL of a session-wide
server, or ``$PHOENIX_URL`` when set (to run the same tests against a real
Phoenix server); ``phoenix_server_factory(**options)`` starts servers with
custom options. Options are the fields of :class:`ServerConfig`. ``wait_for(predicate)``
polls a condition on the loop clock, for what the server does asynchronously.

``FaultProxy(host, port)`` sits between a client and a server and breaks the link on
command (cut, half-open, stall, delay, truncate, refuse), for testing reconnect handling.

Names are imported lazily, so importing this package (the pytest plugin does)
costs nothing until a server is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from phoenix_fast.testing._thread import ServerThread
    from phoenix_fast.testing.config import ServerConfig
    from phoenix_fast.testing.context import ConnectInfo
    from phoenix_fast.testing.faultproxy import FaultProxy
    from phoenix_fast.testing.process import ServerProcess
    from phoenix_fast.testing.server import ReferenceServer
    from phoenix_fast.testing.waiting import wait_for

__all__ = [
    "ConnectInfo",
    "FaultProxy",
    "ReferenceServer",
    "ServerConfig",
    "ServerProcess",
    "ServerThread",
    "wait_for",
]

_MODULES = {
    "ConnectInfo": "phoenix_fast.testing.context",
    "FaultProxy": "phoenix_fast.testing.faultproxy",
    "ReferenceServer": "phoenix_fast.testing.server",
    "ServerConfig": "phoenix_fast.testing.config",
    "ServerProcess": "phoenix_fast.testing.process",
    "ServerThread": "phoenix_fast.testing._thread",
    "wait_for": "phoenix_fast.testing.waiting",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
