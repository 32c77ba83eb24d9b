"""``Timer``: a retry timer whose delay depends on the number of tries, on the loop clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from phoenix_fast._logging import LOGGER

__all__ = ["Timer"]


class Timer:
    """Calls ``callback`` after ``timer_calc(tries + 1)`` seconds, counting the tries.

    The JS client's ``Timer``: ``schedule_timeout()`` cancels any scheduled call and schedules
    a new one; when it fires, ``tries`` is incremented, then ``callback`` runs. ``reset()``
    cancels and zeroes ``tries``, so the next delay is the first step again::

        timer = Timer(reconnect, lambda tries: [1.0, 5.0, 10.0][tries - 1] if tries <= 3 else 10.0)
        timer.schedule_timeout()  # fires after 1 s
        timer.schedule_timeout()  # replaces it: fires after 1 s (tries is still 0)

    Timing uses ``loop.call_later`` (the loop's clock), so tests may run it on fake time. An
    exception from ``callback`` is logged, never raised into the event loop.

    Args:
        callback: what to call when the timer fires.
        timer_calc: ``tries -> seconds``, with ``tries`` counted from 1.
        loop: the event loop to use; the running loop (at scheduling time) by default.
    """

    __slots__ = ("_handle", "_loop", "callback", "timer_calc", "tries")

    def __init__(
        self,
        callback: Callable[[], object],
        timer_calc: Callable[[int], float],
        *,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.callback = callback
        self.timer_calc = timer_calc
        self.tries = 0
        self._loop = loop
        self._handle: asyncio.TimerHandle | None = None

    @property
    def scheduled(self) -> bool:
        """Whether a call is scheduled."""
        return self._handle is not None

    def reset(self) -> None:
        """Cancels the scheduled call (if any) and zeroes ``tries``."""
        self.tries = 0
        self.cancel()

    def cancel(self) -> None:
        """Cancels the scheduled call, keeping ``tries``."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def schedule_timeout(self) -> None:
        """Replaces any scheduled call by one after ``timer_calc(tries + 1)`` seconds."""
        self.cancel()
        loop = self._loop or asyncio.get_running_loop()
        self._handle = loop.call_later(self.timer_calc(self.tries + 1), self._fire)

    def _fire(self) -> None:
        self._handle = None
        self.tries += 1
        try:
            self.callback()
        except Exception:
            LOGGER.exception("a Timer callback raised")

    def __repr__(self) -> str:
        return f"<Timer tries={self.tries} scheduled={self.scheduled}>"
