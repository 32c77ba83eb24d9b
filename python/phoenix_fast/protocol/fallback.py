"""The fallback policy: when a socket gives up its WebSocket for LongPoll (no clock, no I/O).

What it decides and why is told in ``phoenix_fast._fallback``'s docstring; this is the
decision alone, fed what happened and answering with an :class:`Action`. The connection
machine (:mod:`phoenix_fast.protocol.connection`) runs it.
"""

from __future__ import annotations

import enum

from phoenix_fast.errors import ConnectError

__all__ = ["LONGPOLL", "MAX_SHORT_LIVED", "Action", "FallbackPolicy", "is_refusal"]

#: WebSocket connections in a row that may die within the threshold before switching.
MAX_SHORT_LIVED = 3
#: The transport name remembered for an endpoint.
LONGPOLL = "longpoll"


class Action(enum.Enum):
    """What the policy asks its runner to do."""

    ARM = "arm"  # start the deadline unless it runs
    RESTART = "restart"  # a fresh deadline and a ping (the WebSocket just opened)
    CANCEL = "cancel"  # stop the deadline
    FALL_BACK = "fall_back"  # switch to LongPoll now
    REMEMBER = "remember"  # remember LongPoll for the endpoint
    NONE = "none"


def is_refusal(error: BaseException) -> bool:
    """Whether ``error`` is an HTTP server refusing the WebSocket upgrade (not a passing fault)."""
    status = getattr(error, "status", None)
    return isinstance(error, ConnectError) and isinstance(status, int) and status >= 400


class FallbackPolicy:
    """When to switch from the primary transport to LongPoll; see the module docstring.

    Feed it what happens, it answers with an :class:`Action`; it keeps no clock.

    Args:
        threshold: seconds the primary transport has to work.
        max_short_lived: primary connections in a row dying within ``threshold`` that switch.

    Raises:
        ValueError: a threshold that is not positive, or ``max_short_lived`` below 1.
    """

    def __init__(self, threshold: float, max_short_lived: int = MAX_SHORT_LIVED) -> None:
        if not threshold > 0:
            raise ValueError(f"the fallback threshold must be positive, not {threshold!r}")
        if max_short_lived < 1:
            raise ValueError(f"max_short_lived must be at least 1, not {max_short_lived!r}")
        self.threshold = threshold
        self.max_short_lived = max_short_lived
        #: Switched to LongPoll.
        self.fell_back = False
        #: Why it switched: "memorized", "refused", "timeout" or "unstable".
        self.reason: str | None = None
        #: A primary connection has opened at some point.
        self.primary_opened = False
        #: A primary connection has answered the health-check ping at some point.
        self.primary_healthy = False
        #: Primary connections in a row that died within the threshold.
        self.short_lived = 0

    def connect(self, remembered: bool) -> Action:
        """A connection attempt starts (``remembered``: LongPoll is remembered for it)."""
        if self.fell_back:
            return Action.NONE
        if remembered:
            return self._fall_back("memorized")
        return Action.ARM

    def error(self, error: BaseException, was_open: bool) -> Action:
        """The primary connection reported ``error`` (``was_open``: after it opened)."""
        if self.fell_back or was_open:
            return Action.NONE
        if is_refusal(error) and not self.primary_opened:
            return self._fall_back("refused")
        return Action.NONE

    def opened(self) -> Action:
        """A primary connection opened: it has ``threshold`` seconds to answer a ping."""
        if self.fell_back:
            return Action.NONE
        self.primary_opened = True
        return Action.RESTART

    def ping_answered(self) -> Action:
        """The open primary connection answered the health-check ping."""
        if self.fell_back:
            return Action.NONE
        self.primary_healthy = True
        return Action.CANCEL

    def closed(self, uptime: float | None, by_user: bool) -> Action:
        """A primary connection closed after ``uptime`` seconds open (None: never opened).

        ``by_user``: the socket was disconnected (nothing to judge, the deadline stops).
        """
        if self.fell_back:
            return Action.NONE
        if by_user:
            return Action.CANCEL
        if uptime is None:
            return Action.ARM
        if uptime < self.threshold:
            self.short_lived += 1
            if self.short_lived >= self.max_short_lived:
                return self._fall_back("unstable")
        else:
            self.short_lived = 0
        return Action.ARM

    def deadline(self) -> Action:
        """The deadline passed without a working primary connection."""
        if self.fell_back:
            return Action.NONE
        return self._fall_back("timeout")

    def fallback_opened(self) -> Action:
        """A LongPoll connection opened after the switch."""
        if not self.fell_back or self.reason == "memorized":
            return Action.NONE
        if self.reason == "unstable" or not self.primary_healthy:
            return Action.REMEMBER
        return Action.NONE  # the WebSocket worked before: a passing outage, not a blocked path

    def _fall_back(self, reason: str) -> Action:
        self.fell_back = True
        self.reason = reason
        return Action.FALL_BACK
