"""A one-shot result that any number of coroutines may await, at any time.

Futures are created only when someone awaits, and only on the running loop, so an outcome
that nobody awaits costs nothing and can never leak a "Future exception was never
retrieved" warning. Once settled, awaiting returns (or raises) at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any, Generic, TypeVar

__all__ = ["Outcome"]

T = TypeVar("T")


class Outcome(Generic[T]):
    """A value or an exception, settled once; the first settlement wins."""

    __slots__ = ("_done", "_error", "_value", "_waiters")

    def __init__(self) -> None:
        self._done = False
        self._value: T | None = None
        self._error: BaseException | None = None
        #: None, the one awaiter's future, or a list of them
        self._waiters: asyncio.Future[Any] | list[asyncio.Future[Any]] | None = None

    @property
    def done(self) -> bool:
        """Whether the outcome is settled."""
        return self._done

    @property
    def awaited(self) -> bool:
        """Whether a coroutine is waiting on the outcome right now."""
        return self._waiters is not None

    def set_result(self, value: T) -> bool:
        """Settles with ``value``; returns False (and does nothing) if already settled."""
        if self._done:
            return False
        self._done, self._value = True, value
        self._wake()
        return True

    def set_exception(self, error: BaseException) -> bool:
        """Settles with ``error``; returns False (and does nothing) if already settled."""
        if self._done:
            return False
        self._done, self._error = True, error
        self._wake()
        return True

    def result(self) -> T:
        """The value, or raises the exception; only valid once settled."""
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, None
        if waiters is None:
            return
        for fut in waiters if isinstance(waiters, list) else (waiters,):
            if fut.done():  # its awaiting task was cancelled
                continue
            if self._error is not None:
                fut.set_exception(self._error)
            else:
                fut.set_result(self._value)

    async def wait(self) -> T:
        """Waits until settled, then returns the value or raises the exception."""
        return await self

    def __await__(self) -> Generator[Any, None, T]:
        # a bare future per awaiter, settled with the outcome itself: no coroutine layer
        # between the awaiting task and the future (this is on every awaited push)
        if self._done:
            return self._settled()
        fut: asyncio.Future[T] = self._waiter_loop().create_future()
        waiters = self._waiters
        if waiters is None:
            self._waiters = fut  # the usual single awaiter: no list
        elif isinstance(waiters, list):
            waiters.append(fut)
        else:
            self._waiters = [waiters, fut]
        return fut.__await__()

    def _waiter_loop(self) -> asyncio.AbstractEventLoop:
        """The loop of the awaiting task (an owner that knows it overrides this: CPython's
        ``get_running_loop`` makes a ``getpid`` system call every time)."""
        return asyncio.get_running_loop()

    def _settled(self) -> Generator[Any, None, T]:
        return self.result()
        yield  # pragma: no cover - makes this a generator that never suspends
