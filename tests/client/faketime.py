"""A virtual-time event loop: time only moves when the loop would otherwise wait.

``FakeTimeLoop().time()`` starts at 0 and, whenever the loop has nothing ready to run and a
timer is scheduled, jumps straight to that timer instead of sleeping. A 30 s heartbeat test
therefore takes microseconds, and every duration is exact. Real I/O still works (the selector
is polled without blocking), but nothing waits for it while timers are pending, so keep tests
that talk to a real server on a real loop.
"""

from __future__ import annotations

import asyncio
import selectors
from typing import Any


class _VirtualSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    def __init__(self, loop: FakeTimeLoop) -> None:
        super().__init__()
        self._fake_loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        events = super().select(0)
        if events or timeout is None or timeout <= 0:
            if not events and timeout is None:
                return super().select(None)
            return events
        self._fake_loop.advance(timeout)
        return []


class FakeTimeLoop(asyncio.SelectorEventLoop):
    """An asyncio loop on a virtual clock (see the module docstring)."""

    def __init__(self) -> None:
        self._now = 0.0
        super().__init__(_VirtualSelector(self))

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Moves the clock forward (the loop does this itself when it would block)."""
        self._now += seconds
