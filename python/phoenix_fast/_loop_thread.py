"""One background event loop per process, for callers that are not coroutines.

The synchronous client (``phoenix_fast.sync``) and the Locust user both run the asyncio
client here: one real OS thread per process runs an event loop (uvloop when installed), and
callers hand it coroutine factories with :meth:`LoopThread.run`, then wait for the result.

How a caller waits is pluggable (a :class:`Waiter` makes one :class:`Signal` per call):
plain threads block on a ``threading.Event``; greenlets (Locust, once gevent monkey-patched
the process) wait on a gevent event that the loop thread sets through the hub's
``run_callback_threadsafe``, so the wait yields to the other greenlets instead of stalling
the hub. The state of a call is changed in the loop thread, but for one flag the caller
raises when it stops waiting (a single attribute write, read by the loop thread before the work
starts), and the loop thread touches nothing of the caller's but its signal: no lock is shared
between the two threads (under gevent, ``threading``'s locks would be the hub's).

The thread is started on first use, and again in a child process after a ``fork`` (Locust's
``--processes``): a loop thread never crosses a fork.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

__all__ = ["THREAD_WAITER", "LoopThread", "Signal", "ThreadWaiter", "Waiter"]

T = TypeVar("T")

#: Seconds the interpreter's exit waits for the loop thread to stop.
_EXIT_TIMEOUT = 2.0


class Signal(Protocol):
    """One call's wake-up: set once by the loop thread, waited on by the caller."""

    def set(self) -> None:
        """Wakes the caller (called in the loop thread)."""
        ...

    def wait(self, timeout: float | None) -> bool:
        """Blocks the caller until set or ``timeout`` seconds have passed; whether set."""
        ...


class Waiter(Protocol):
    """How callers wait for the loop thread: a new :class:`Signal` per call."""

    def signal(self) -> Signal:
        """A new signal, made in the calling thread."""
        ...


class ThreadWaiter:
    """Plain threads wait on a ``threading.Event``."""

    def signal(self) -> Signal:
        """A new ``threading.Event``."""
        return threading.Event()


#: The waiter of plain threads.
THREAD_WAITER: Waiter = ThreadWaiter()


class _Call:
    """One call handed to the loop thread; written in the loop thread, except ``abandoned``,
    which the caller sets when it stops waiting."""

    __slots__ = ("abandoned", "error", "task", "value")

    def __init__(self) -> None:
        self.abandoned = False
        self.task: asyncio.Future[Any] | None = None
        self.value: Any = None
        self.error: BaseException | None = None


def _gevent_monkey() -> Any:
    """gevent's ``monkey`` module if the process imported it, else None."""
    return sys.modules.get("gevent.monkey")


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        monkey = _gevent_monkey()
        if monkey is not None and monkey.is_module_patched("selectors"):
            # a selector gevent did not patch: the loop thread is a real thread, not a greenlet
            selector = monkey.get_original("selectors", "DefaultSelector")()
            return asyncio.SelectorEventLoop(selector)
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _start_os_thread(target: Callable[[], None]) -> threading.Thread | None:
    """Starts ``target`` in a real OS thread, even when gevent patched ``threading``;
    returns the ``Thread`` when it could be made with ``threading``."""
    monkey = _gevent_monkey()
    if monkey is not None and monkey.is_module_patched("threading"):
        monkey.get_original("_thread", "start_new_thread")(target, ())
        return None
    thread = threading.Thread(target=target, name="phoenix-fast-loop", daemon=True)
    thread.start()
    return thread


class LoopThread:
    """An asyncio event loop running forever in a daemon OS thread.

    Use :meth:`shared` for the process's one loop thread. Everything that touches a socket or
    channel of this loop must run in the loop thread: through :meth:`run` (waits for the
    result) or :meth:`call_soon` (does not).
    """

    _shared: LoopThread | None = None
    _shared_lock = threading.Lock()

    def __init__(self) -> None:
        self.loop = _new_loop()
        self.pid = os.getpid()
        self._thread_id: int | None = None

        def run() -> None:
            self._thread_id = threading.get_ident()
            asyncio.set_event_loop(self.loop)
            self.loop.run_forever()

        # not waited for: what callers schedule before the loop runs waits in its queue
        self._thread = _start_os_thread(run)
        atexit.register(self._stop_at_exit)

    def _stop_at_exit(self) -> None:
        """Stops the loop before the interpreter finalizes, so that the daemon thread is not
        cut off in the middle of a callback (sockets still open are not closed cleanly)."""
        if self.pid != os.getpid() or self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread is not None:
            self._thread.join(_EXIT_TIMEOUT)

    @classmethod
    def shared(cls) -> LoopThread:
        """The loop thread of this process, started on first use (so after any fork)."""
        thread = cls._shared
        if thread is not None and thread.pid == os.getpid():
            return thread
        with cls._shared_lock:
            thread = cls._shared
            if thread is None or thread.pid != os.getpid():
                thread = cls._shared = cls()
            return thread

    def in_thread(self) -> bool:
        """Whether the caller runs in this loop's thread (inside a callback, say)."""
        return threading.get_ident() == self._thread_id

    def call_soon(self, callback: Callable[..., object], *args: Any) -> None:
        """Schedules ``callback(*args)`` in the loop thread; does not wait."""
        self.loop.call_soon_threadsafe(callback, *args)

    def run(
        self,
        make: Callable[[], Awaitable[T]],
        timeout: float | None,
        waiter: Waiter = THREAD_WAITER,
    ) -> T:
        """Runs ``await make()`` in the loop thread and returns its result.

        ``make`` is called in the loop thread, so it may create sockets, channels and
        pushes. The caller waits with ``waiter``.

        Raises:
            TimeoutError: no result within ``timeout`` seconds (the task is cancelled).
            RuntimeError: called from the loop thread itself, where waiting would deadlock.
            Exception: whatever ``await make()`` raised.
        """

        def start(call: _Call, finish: Callable[[Any, BaseException | None], None]) -> None:
            task = call.task = asyncio.ensure_future(make())
            task.add_done_callback(lambda done: _settle(done, finish))

        return self._wait(start, timeout, waiter)  # type: ignore[no-any-return]

    def call(self, fn: Callable[[], T], timeout: float | None, waiter: Waiter = THREAD_WAITER) -> T:
        """Runs ``fn()`` (not a coroutine: no task is made) in the loop thread and returns
        its result; raises as :meth:`run` does."""

        def start(call: _Call, finish: Callable[[Any, BaseException | None], None]) -> None:
            finish(fn(), None)

        return self._wait(start, timeout, waiter)  # type: ignore[no-any-return]

    def _wait(
        self,
        start: Callable[[_Call, Callable[[Any, BaseException | None], None]], None],
        timeout: float | None,
        waiter: Waiter,
    ) -> Any:
        if self.in_thread():
            raise RuntimeError(
                "a blocking phoenix_fast call was made in the loop thread (from a callback?): "
                "it would wait for itself forever. Use the async object (.async_socket, "
                ".async_channel) there, without waiting"
            )
        call, signal = _Call(), waiter.signal()

        def finish(value: Any, error: BaseException | None) -> None:  # in the loop thread
            call.value, call.error = value, error
            signal.set()

        def begin() -> None:  # in the loop thread
            if call.abandoned:
                return
            try:
                start(call, finish)
            except BaseException as exc:  # make() or fn() raised: the caller gets it
                finish(None, exc)

        def give_up() -> None:  # in the caller's thread
            # Set here, not only in _abandon: begin() is queued before _abandon, so a flag set
            # in the loop thread would come too late to skip work that has not started yet.
            call.abandoned = True
            self.loop.call_soon_threadsafe(_abandon, call)

        self.loop.call_soon_threadsafe(begin)
        try:
            done = signal.wait(timeout)
        except BaseException:  # interrupted (KeyboardInterrupt, a killed greenlet)
            give_up()
            raise
        if not done:
            give_up()
            raise TimeoutError(f"no result within {timeout} s")
        if call.error is not None:
            raise call.error
        return call.value


def _abandon(call: _Call) -> None:
    """The caller stopped waiting (in the loop thread): the work was skipped if it had not
    started (``begin`` saw ``abandoned``), and is cancelled if it is a task still running."""
    if call.task is not None:
        call.task.cancel()


def _settle(task: asyncio.Future[Any], finish: Callable[[Any, BaseException | None], None]) -> None:
    """Hands the outcome of ``task`` to the caller (in the loop thread)."""
    if task.cancelled():
        finish(None, asyncio.CancelledError())
        return
    error = task.exception()
    finish(None if error is not None else task.result(), error)
