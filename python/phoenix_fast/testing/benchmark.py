"""Timing async client code with pytest-benchmark: the ``phoenix_benchmark`` fixture.

pytest-benchmark's ``benchmark()`` is synchronous and cannot run inside a running event loop,
so the test is a plain ``def`` and the fixture owns the loop (uvloop when installed): it
drives that loop itself, once per round, in the test's thread. Sockets and channels made
through it live on that loop. ::

    @pytest.mark.benchmark(group="ping")
    def test_ping(phoenix_benchmark):
        channel = phoenix_benchmark.channel("echo:bench")
        phoenix_benchmark(lambda: channel.push("ping", {"n": 1}), iterations=500)

``phoenix_benchmark(fn, iterations=N)`` awaits ``fn()`` N times per round, one after the
other, inside one run of the loop, so the cost of starting and stopping the loop is spread
over N calls; pytest-benchmark then divides each round by N, and its table shows the time
of one call. Before the rounds it measures a no-op coroutine the same way: that floor (the
harness's own cost per call) is stored next to the result in ``benchmark.extra_info``
(``floor_us_per_call``), with ``iterations``. ``--benchmark-autosave`` and
``--benchmark-compare`` work as for any benchmark.

``phoenix_benchmark.scenario(target, setup=..., teardown=...)`` times a whole async scenario
per round instead (a burst, thousands of joins), with untimed async set-up and clean-up.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from phoenix_fast._loop import new_event_loop
from phoenix_fast.channel import Channel
from phoenix_fast.errors import PhoenixError
from phoenix_fast.socket import Socket

__all__ = ["LoopBenchmark"]

T = TypeVar("T")


class LoopBenchmark:
    """pytest-benchmark on an event loop owned by the fixture (see the module docstring).

    Args:
        benchmark: pytest-benchmark's ``benchmark`` fixture.
        url: where :meth:`socket` and :meth:`channel` connect by default.
        socket_options: default :class:`~phoenix_fast.Socket` arguments.
    """

    def __init__(
        self, benchmark: Any, url: str, socket_options: dict[str, Any] | None = None
    ) -> None:
        self.benchmark = benchmark
        self.url = url
        self.socket_options = dict(socket_options or {})
        #: The loop every socket of this benchmark lives on.
        self.loop = new_event_loop()
        self._sockets: list[Socket] = []

    # -- set-up, on the fixture's loop ---------------------------------------------------

    def run(self, awaitable: Awaitable[T]) -> T:
        """Runs ``awaitable`` to completion on the fixture's loop (for set-up code: pass a
        coroutine, as ``socket.connect()`` and ``channel.join()`` need the loop running
        when they are called)."""
        return self.loop.run_until_complete(_awaited(awaitable))

    def socket(self, url: str | None = None, **options: Any) -> Socket:
        """A connected socket on the fixture's loop, disconnected after the test."""
        socket = Socket(url or self.url, **{**self.socket_options, **options})
        self._sockets.append(socket)

        async def connect() -> None:
            await socket.connect()

        self.run(connect())
        return socket

    def channel(
        self,
        topic: str,
        params: dict[str, Any] | None = None,
        *,
        socket: Socket | None = None,
        **socket_options: Any,
    ) -> Channel:
        """A joined channel, on ``socket`` or on a new one made with ``socket_options``."""
        if socket is None:
            socket = self.socket(**socket_options)
        channel = socket.channel(topic, params)

        async def join() -> None:
            await channel.join()

        self.run(join())
        return channel

    # -- timing --------------------------------------------------------------------------

    def __call__(
        self,
        fn: Callable[[], Awaitable[Any]],
        *,
        iterations: int = 100,
        rounds: int = 20,
        warmup_rounds: int = 2,
    ) -> Any:
        """Times ``await fn()``: ``iterations`` calls per round, ``rounds`` rounds after
        ``warmup_rounds`` untimed ones. Returns the last call's result.

        With ``--benchmark-disable`` (plain test runs) it runs one round, as a smoke test.
        """
        if iterations < 1 or rounds < 1 or warmup_rounds < 0:
            raise ValueError(
                "iterations and rounds must be at least 1, warmup_rounds at least 0 "
                f"(got {iterations}, {rounds}, {warmup_rounds})"
            )
        loop, result = self.loop, [None]

        async def batch() -> None:
            for _ in range(iterations):
                result[0] = await fn()

        # pytest-benchmark calls the target `iterations` times per round and divides the
        # round by `iterations`; the first call of each round runs the whole batch
        calls = [0]

        def target() -> None:
            call = calls[0]
            calls[0] = (call + 1) % iterations
            if call == 0:
                loop.run_until_complete(batch())

        info = self.benchmark.extra_info
        info["iterations"] = iterations
        if not getattr(self.benchmark, "disabled", False):
            info["floor_us_per_call"] = round(self._floor(iterations, rounds) * 1e6, 3)
        self.benchmark.pedantic(
            target, rounds=rounds, warmup_rounds=warmup_rounds, iterations=iterations
        )
        return result[0]

    def _floor(self, iterations: int, rounds: int) -> float:
        """Median seconds per call of a no-op coroutine through the same harness."""

        async def noop() -> None:
            return None

        async def batch() -> None:
            for _ in range(iterations):
                await noop()

        self.loop.run_until_complete(batch())  # warm-up
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            self.loop.run_until_complete(batch())
            samples.append((time.perf_counter() - start) / iterations)
        samples.sort()
        return samples[len(samples) // 2]

    def scenario(
        self,
        target: Callable[[T], Awaitable[Any]],
        *,
        setup: Callable[[], Awaitable[T]],
        teardown: Callable[[T], Awaitable[Any]] | None = None,
        rounds: int = 5,
        warmup_rounds: int = 1,
    ) -> Any:
        """Times ``await target(state)`` once per round, where ``state = await setup()``
        (untimed, before each round) and ``await teardown(state)`` runs after it (untimed).

        Returns the last round's result.
        """
        loop, result = self.loop, [None]
        disabled = getattr(self.benchmark, "disabled", False)
        states: list[Any] = []

        def before() -> tuple[tuple[Any, ...], dict[str, Any]]:
            state = loop.run_until_complete(setup())
            if disabled:
                states.append(state)
            return (state,), {}

        def timed(state: T) -> None:
            result[0] = loop.run_until_complete(_awaited(target(state)))

        def after(state: T) -> None:
            if teardown is not None:
                loop.run_until_complete(_awaited(teardown(state)))

        try:
            self.benchmark.pedantic(
                timed, setup=before, teardown=after, rounds=rounds, warmup_rounds=warmup_rounds
            )
        finally:
            for state in states:  # disabled, pytest-benchmark runs once and skips teardown
                after(state)
        return result[0]

    # -- clean-up ------------------------------------------------------------------------

    def close(self) -> None:
        """Disconnects the sockets made here and closes the loop."""
        loop = self.loop
        if loop.is_closed():
            return

        async def disconnect_all() -> None:
            for socket in self._sockets:
                with contextlib.suppress(PhoenixError):
                    await socket.disconnect()

        try:
            loop.run_until_complete(disconnect_all())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable
