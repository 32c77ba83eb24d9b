"""``Callbacks``: a socket's user callbacks, and how every user callback is run.

A user callback never breaks the socket: what it raises is logged, and what it returns, if
awaitable, runs as a task the socket keeps until done (its exception logged too).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from phoenix_fast._logging import SocketLog

if TYPE_CHECKING:
    from phoenix_fast.channel import _Binding

__all__ = ["Callbacks"]

#: (ref, callback) pairs of one kind, in the order they were added.
Registered = Sequence[tuple[str, Callable[..., object]]]

#: What a socket starts with, for every kind: one shared tuple, as a kind's sequence is only
#: ever replaced (four lists fewer to make and for the garbage collector to track a socket).
_NONE: Registered = ()


class Callbacks:
    """The socket's ``on_open``, ``on_close``, ``on_error`` and ``on_message`` callbacks,
    and the runner of every user callback (channel bindings and push hooks too).

    The sequences are replaced, never changed in place: a callback that adds or removes
    others does not disturb the run in progress.
    """

    __slots__ = ("_log", "_tasks", "close", "error", "message", "open")

    def __init__(self, log: SocketLog) -> None:
        self._log = log
        self.open: Registered = _NONE
        self.close: Registered = _NONE
        self.error: Registered = _NONE
        #: Read by the receive loop once per network read.
        self.message: Registered = _NONE
        #: The tasks of async callbacks, kept until done (None until the first).
        self._tasks: set[asyncio.Future[Any]] | None = None

    def add(self, kind: str, ref: str, callback: Callable[..., object]) -> None:
        """Adds ``callback`` under ``ref`` to the callbacks of ``kind`` (open, close, error,
        message)."""
        setattr(self, kind, [*getattr(self, kind), (ref, callback)])

    def remove(self, refs: Iterable[str]) -> None:
        """Removes the callbacks with these refs, of every kind."""
        drop = set(refs)
        for kind in ("open", "close", "error", "message"):
            setattr(self, kind, [(r, cb) for r, cb in getattr(self, kind) if r not in drop])

    def run(self, callback: Callable[..., object], *args: Any) -> None:
        """Calls a user callback: exceptions are logged, awaitables run as tasks."""
        try:
            result = callback(*args)
        except Exception as exc:
            self.failed(callback, exc)
            return
        if result is not None:
            self.returned(result)

    def run_all(self, registered: Registered, *args: Any) -> None:
        """Runs each of ``registered`` with ``args``."""
        for _, callback in registered:
            self.run(callback, *args)

    def run_bindings(
        self, bindings: list[_Binding], payload: Any, ref: str | None, join_ref: str | None
    ) -> None:
        """Calls a channel's bindings of one event, each with as many of (payload, ref,
        join_ref) as it takes; a raising one is logged and the rest still run."""
        for binding in bindings:
            callback = binding.callback
            try:
                if binding.nargs == 1:
                    result = callback(payload)
                else:
                    result = callback(*(payload, ref, join_ref)[: binding.nargs])
            except Exception as exc:
                self.failed(callback, exc)
                continue
            if result is not None:
                self.returned(result)

    def failed(self, callback: Callable[..., object], exc: Exception) -> None:
        """Logs what a user callback raised."""
        self._log.error("callback", f"{_name(callback)} raised {exc!r}", exc)

    def returned(self, result: object) -> None:
        """A callback returned something: an awaitable runs as a task, anything else is
        ignored."""
        if inspect.isawaitable(result):
            self.start_task(result)

    def start_task(self, awaitable: Awaitable[Any]) -> None:
        """Runs ``awaitable`` as a task kept until done; its exception is logged."""
        task = asyncio.ensure_future(awaitable)
        if self._tasks is None:
            self._tasks = set()
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Future[Any]) -> None:
        if self._tasks is not None:
            self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self._log.error("callback", f"an async callback raised {exc!r}", exc)


def _name(callback: Callable[..., object]) -> str:
    return getattr(callback, "__qualname__", None) or repr(callback)
