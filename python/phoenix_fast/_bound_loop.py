"""``BoundLoop``: the event loop a socket runs on, and the one thread allowed to call it."""

from __future__ import annotations

import asyncio
import threading

from phoenix_fast.errors import InvalidState

__all__ = ["BoundLoop"]


class BoundLoop:
    """The loop a socket, its channels and its pushes use, found once and then kept.

    A socket is made outside any loop (as JS sockets are made before anything runs), so the
    loop is bound at the first ``connect()`` or the first call that needs it; the thread
    that runs it is the only one that may call into the socket afterwards.
    """

    __slots__ = ("loop", "thread")

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        #: The thread running ``loop`` (None until bound).
        self.thread: int | None = None

    def bind(self) -> None:
        """Binds the running loop (``connect()`` does, so a socket may move to a new loop
        after the previous one closed)."""
        self.loop = asyncio.get_running_loop()
        self.thread = threading.get_ident()

    def get(self) -> asyncio.AbstractEventLoop:
        """The bound loop, binding the running one if none is bound or it closed."""
        loop = self.loop
        if loop is None or loop.is_closed():
            self.bind()
            loop = self.loop
            assert loop is not None
        return loop

    def running(self) -> asyncio.AbstractEventLoop:
        """The running loop, cheaply: the bound one when it is the one running (CPython
        3.11's ``asyncio.get_running_loop`` makes a ``getpid`` system call on every call)."""
        loop = self.loop
        if loop is not None and loop.is_running():
            return loop
        return asyncio.get_running_loop()

    def time(self) -> float:
        """The loop's clock."""
        return self.get().time()

    def check_thread(self) -> None:
        """Raises if called from another thread than the one running the bound loop.

        asyncio objects are not thread-safe: a push from another thread would corrupt the
        transport's buffers silently. One C call on the push path; the loop is only looked
        at when the threads differ.

        Raises:
            InvalidState: the socket's loop runs in another thread.
        """
        owner = self.thread
        if owner is None or owner == threading.get_ident():
            return
        loop = self.loop
        if loop is not None and loop.is_running():
            raise InvalidState(
                "the Socket was called from another thread than the one running its event "
                "loop; asyncio is not thread-safe: hand the call to the loop with "
                "asyncio.run_coroutine_threadsafe() or loop.call_soon_threadsafe(), or use "
                "phoenix_fast.sync, whose calls are thread-safe"
            )
