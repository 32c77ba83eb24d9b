"""pytest plugin of phoenix_fast (registered as the ``phoenix_fast`` pytest11 entry point).

Fixtures:

- ``phoenix_server`` (session): a reference server, started once per session in a thread
  (a :class:`~phoenix_fast.testing.ServerThread`, the default) or a child process (a
  :class:`~phoenix_fast.testing.ServerProcess`, ``--phoenix-server=process``). It has
  ``url`` either way.
- ``phoenix_url`` (session): the socket URL to test against, e.g.
  ``ws://127.0.0.1:PORT/socket``: ``$PHOENIX_URL`` when set (a real Phoenix server
  implementing the contract application), else ``phoenix_server``'s.
- ``phoenix_socket_options`` (function): the :class:`~phoenix_fast.Socket` arguments of the
  sockets below, ``{}``; override it to test another configuration.
- ``phoenix_socket`` (function, async tests): a connected :class:`~phoenix_fast.Socket` on
  the test's loop, disconnected after the test.
- ``phoenix_channel`` (function, async tests): ``channel = await phoenix_channel(topic,
  params=None, timeout=None)`` joins ``topic`` on ``phoenix_socket``; every channel it
  joined is left after the test.
- ``phoenix_sync_socket`` and ``phoenix_sync_channel`` (function, any test): the same with
  the blocking client, :mod:`phoenix_fast.sync`.
- ``phoenix_benchmark`` (function, sync tests, needs pytest-benchmark): times async client
  code (see :mod:`phoenix_fast.testing.benchmark`).
- ``phoenix_server_factory`` (function): ``factory(**options)`` starts a
  :class:`~phoenix_fast.testing.ServerThread` with :class:`ServerConfig`
  options (short ``idle_timeout``, ``max_channels``, ...); it can be stopped and
  restarted on the same port, and is closed at the end of the test.

The async fixtures run on the loop of the plugin that runs the test: pytest-asyncio (any
mode; the loop scope of the test is followed) or anyio's plugin (``@pytest.mark.anyio``, on
its asyncio backend). A test that no such plugin runs gets an error that says which to use.

Importing this module is cheap: servers, clients and event-loop plugins are imported when
a fixture runs.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from phoenix_fast.socket import Socket
    from phoenix_fast.sync import Socket as SyncSocket
    from phoenix_fast.testing._fixtures import ChannelFactory, SyncChannelFactory
    from phoenix_fast.testing._thread import ServerThread
    from phoenix_fast.testing.benchmark import LoopBenchmark
    from phoenix_fast.testing.process import ServerProcess

__all__ = [
    "ENV_URL",
    "phoenix_benchmark",
    "phoenix_channel",
    "phoenix_server",
    "phoenix_server_factory",
    "phoenix_socket",
    "phoenix_socket_options",
    "phoenix_sync_channel",
    "phoenix_sync_socket",
    "phoenix_url",
]

ENV_URL = "PHOENIX_URL"

NO_LOOP_PLUGIN = (
    "{fixture} is an async fixture, and no event-loop plugin runs {test}. Either install "
    'pytest-asyncio and set asyncio_mode = "auto" (or mark the test @pytest.mark.asyncio), '
    "or use anyio's plugin: mark the test @pytest.mark.anyio. In a synchronous test, use "
    "{sync_fixture}."
)
SYNC_TEST = (
    "{fixture} is an async fixture and {test} is a synchronous test: make the test "
    "`async def` (with pytest-asyncio or anyio), or use {sync_fixture}."
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--phoenix-server``."""
    group = parser.getgroup("phoenix_fast")
    group.addoption(
        "--phoenix-server",
        choices=("thread", "process"),
        default="thread",
        help="where the session reference server of phoenix_server runs (default: thread)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """With pytest-asyncio active, register the async fixtures it runs."""
    if config.pluginmanager.has_plugin("asyncio"):
        from phoenix_fast.testing import _asyncio_fixtures

        config.pluginmanager.register(_asyncio_fixtures, "phoenix_fast_asyncio_fixtures")


# -- servers --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def phoenix_server(request: pytest.FixtureRequest) -> Iterator[ServerThread | ServerProcess]:
    """A reference server for the session (``--phoenix-server`` says where it runs)."""
    if request.config.getoption("phoenix_server") == "process":
        from phoenix_fast.testing.process import ServerProcess

        with ServerProcess() as proc:
            yield proc
        return
    from phoenix_fast.testing._thread import ServerThread

    with ServerThread() as thread:
        yield thread


@pytest.fixture(scope="session")
def phoenix_url(request: pytest.FixtureRequest) -> str:
    """The socket URL: ``$PHOENIX_URL``, or the session reference server's."""
    url = os.environ.get(ENV_URL)
    if url:
        return url
    server: ServerThread | ServerProcess = request.getfixturevalue("phoenix_server")
    return server.url


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


# -- async clients ----------------------------------------------------------------------------


@pytest.fixture
def phoenix_socket_options() -> dict[str, Any]:
    """Arguments of the fixtures' sockets (override it: ``{"vsn": "1.0.0"}`` say)."""
    return {}


@pytest.fixture
def phoenix_socket(
    request: pytest.FixtureRequest, phoenix_url: str, phoenix_socket_options: dict[str, Any]
) -> Iterator[Socket]:
    """A connected async socket on the test's loop, disconnected after the test."""
    runner = _loop_runner(request, "phoenix_socket", "phoenix_sync_socket")
    if runner == "anyio":
        from phoenix_fast.testing._fixtures import open_socket

        yield from _anyio_fixture(
            request, open_socket, {"url": phoenix_url, "options": phoenix_socket_options}
        )
        return
    from phoenix_fast.testing._asyncio_fixtures import socket_fixture_name

    yield request.getfixturevalue(socket_fixture_name(runner))


@pytest.fixture
def phoenix_channel(
    request: pytest.FixtureRequest, phoenix_socket: Socket
) -> Iterator[ChannelFactory]:
    """``await phoenix_channel(topic, params=None, *, timeout=None)``: a joined channel on
    ``phoenix_socket`` (``JoinError`` if refused); each is left after the test."""
    runner = _loop_runner(request, "phoenix_channel", "phoenix_sync_channel")
    if runner == "anyio":
        from phoenix_fast.testing._fixtures import channel_factory

        yield from _anyio_fixture(request, channel_factory, {"socket": phoenix_socket})
        return
    from phoenix_fast.testing._asyncio_fixtures import channel_fixture_name

    yield request.getfixturevalue(channel_fixture_name(runner))


def _loop_runner(request: pytest.FixtureRequest, fixture: str, sync_fixture: str) -> str:
    """``"anyio"``, or the pytest-asyncio loop scope of the test; fails the test with the fix
    when no event-loop plugin runs it."""
    node = request.node
    test = getattr(node, "function", None)
    names = {"fixture": fixture, "sync_fixture": sync_fixture, "test": node.name}
    if not inspect.iscoroutinefunction(test):
        pytest.fail(SYNC_TEST.format(**names), pytrace=False)
    plugins = request.config.pluginmanager
    if plugins.has_plugin("asyncio"):
        import pytest_asyncio

        if pytest_asyncio.is_async_test(node):
            return _asyncio_loop_scope(request)
    if "anyio_backend" in request.fixturenames:
        return "anyio"
    pytest.fail(NO_LOOP_PLUGIN.format(**names), pytrace=False)


def _asyncio_loop_scope(request: pytest.FixtureRequest) -> str:
    marker = request.node.get_closest_marker("asyncio")
    scope = None
    if marker is not None:
        scope = marker.kwargs.get("loop_scope") or marker.kwargs.get("scope")
    if scope is None:
        scope = request.config.getini("asyncio_default_test_loop_scope") or "function"
    return str(scope)


def _anyio_fixture(
    request: pytest.FixtureRequest, make: Callable[..., Any], kwargs: dict[str, Any]
) -> Iterator[Any]:
    """Runs the async generator ``make(**kwargs)`` on anyio's test runner (the loop the test
    runs on), keeping the runner until the fixture's teardown."""
    from anyio.pytest_plugin import extract_backend_and_options, get_runner

    backend, options = extract_backend_and_options(request.getfixturevalue("anyio_backend"))
    if backend != "asyncio":
        pytest.fail(
            f"phoenix_fast is an asyncio client: run {request.node.name} on anyio's asyncio "
            "backend (an anyio_backend fixture returning 'asyncio')",
            pytrace=False,
        )
    with get_runner(backend, options) as runner:
        yield from runner.run_asyncgen_fixture(make, kwargs)


# -- sync clients ------------------------------------------------------------------------------


@pytest.fixture
def phoenix_sync_socket(
    phoenix_url: str, phoenix_socket_options: dict[str, Any]
) -> Iterator[SyncSocket]:
    """A connected :class:`phoenix_fast.sync.Socket`, closed after the test."""
    from phoenix_fast.testing._fixtures import sync_socket

    yield from sync_socket(phoenix_url, phoenix_socket_options)


@pytest.fixture
def phoenix_sync_channel(phoenix_sync_socket: SyncSocket) -> Iterator[SyncChannelFactory]:
    """``phoenix_sync_channel(topic, params=None, *, timeout=None)``: a joined
    :class:`phoenix_fast.sync.Channel`; each is left after the test."""
    from phoenix_fast.testing._fixtures import sync_channel_factory

    yield from sync_channel_factory(phoenix_sync_socket)


# -- benchmarks --------------------------------------------------------------------------------


@pytest.fixture
def phoenix_benchmark(
    request: pytest.FixtureRequest, phoenix_url: str, phoenix_socket_options: dict[str, Any]
) -> Iterator[LoopBenchmark]:
    """Times async client code with pytest-benchmark, on a loop the fixture owns (see
    :mod:`phoenix_fast.testing.benchmark`); the test must be synchronous."""
    if inspect.iscoroutinefunction(getattr(request.node, "function", None)):
        pytest.fail(
            f"phoenix_benchmark needs a synchronous test (pytest-benchmark cannot block inside "
            f"a running loop): write `def {request.node.name}(phoenix_benchmark)`",
            pytrace=False,
        )
    try:
        benchmark = request.getfixturevalue("benchmark")
    except pytest.FixtureLookupError:
        pytest.fail(
            "phoenix_benchmark needs pytest-benchmark: pip install pytest-benchmark",
            pytrace=False,
        )
    from phoenix_fast.testing.benchmark import LoopBenchmark

    bench = LoopBenchmark(benchmark, phoenix_url, phoenix_socket_options)
    try:
        yield bench
    finally:
        bench.close()
