"""pytest plugin of phoenix_fast (registered as the ``phoenix_fast`` pytest11 entry point).

Fixtures:

- ``phoenix_url`` (session): the socket URL to test against, e.g.
  ``ws://127.0.0.1:PORT/socket``. ``$PHOENIX_URL`` when set (a real Phoenix
  server implementing the contract application), else a reference server
  started once per session, in a thread (default) or a child process
  (``--phoenix-server=process``).
- ``phoenix_server_factory`` (function): ``factory(**options)`` starts a
  :class:`~phoenix_fast.testing.ServerThread` with :class:`ServerConfig`
  options (short ``idle_timeout``, ``max_channels``, ...); it can be stopped and
  restarted on the same port, and is closed at the end of the test.

Importing this module is cheap: servers are imported when a fixture runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from phoenix_fast.testing._thread import ServerThread

__all__ = ["ENV_URL", "phoenix_server_factory", "phoenix_url"]

ENV_URL = "PHOENIX_URL"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--phoenix-server``."""
    group = parser.getgroup("phoenix_fast")
    group.addoption(
        "--phoenix-server",
        choices=("thread", "process"),
        default="thread",
        help="where the session reference server of phoenix_url runs (default: thread)",
    )


@pytest.fixture(scope="session")
def phoenix_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The socket URL: ``$PHOENIX_URL``, or a session-wide reference server's."""
    url = os.environ.get(ENV_URL)
    if url:
        yield url
        return
    if request.config.getoption("phoenix_server") == "process":
        from phoenix_fast.testing.process import ServerProcess

        with ServerProcess() as proc:
            yield proc.url
        return
    from phoenix_fast.testing._thread import ServerThread

    with ServerThread() as thread:
        yield thread.url


@pytest.fixture
def phoenix_server_factory() -> Iterator[Callable[..., ServerThread]]:
    """A factory of started reference servers with custom options, closed after the test."""
    from phoenix_fast.testing._thread import ServerThread

    servers: list[ServerThread] = []

    def start(**options: Any) -> ServerThread:
        server = ServerThread(**options)
        servers.append(server)
        return server.start()

    yield start
    for server in reversed(servers):
        server.close()
