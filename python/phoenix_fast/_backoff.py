"""The JS client's default backoff schedules (in seconds) and an optional jitter."""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["Backoff", "reconnect_after", "rejoin_after", "with_jitter"]

#: ``tries -> seconds``: how long to wait before attempt number ``tries`` (1-based).
Backoff = Callable[[int], float]

_RECONNECT_STEPS = (0.01, 0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 1.0, 2.0)
_RECONNECT_CAP = 5.0
_REJOIN_STEPS = (1.0, 2.0, 5.0)
_REJOIN_CAP = 10.0


def reconnect_after(tries: int) -> float:
    """The default reconnect delay: 10, 50, 100, 150, 200, 250, 500 ms, 1, 2 s, then 5 s."""
    if 1 <= tries <= len(_RECONNECT_STEPS):
        return _RECONNECT_STEPS[tries - 1]
    return _RECONNECT_CAP


def rejoin_after(tries: int) -> float:
    """A channel's default rejoin delay: 1, 2, 5 s, then 10 s."""
    if 1 <= tries <= len(_REJOIN_STEPS):
        return _REJOIN_STEPS[tries - 1]
    return _REJOIN_CAP


def with_jitter(
    backoff: Backoff, jitter: float, rng: Callable[[], float] = random.random
) -> Backoff:
    """Wraps ``backoff`` so each delay ``d`` becomes a random value in ``[d * (1 - jitter), d]``.

    ``jitter=1.0`` is "full jitter" (uniform in ``[0, d]``), which spreads the reconnects of
    many clients after a server restart; ``jitter=0`` returns ``backoff`` itself.

    Raises:
        ValueError: if ``jitter`` is not within ``[0, 1]``.
    """
    if not 0.0 <= jitter <= 1.0:
        raise ValueError(f"jitter must be within [0, 1], not {jitter!r}")
    if jitter == 0.0:
        return backoff

    def jittered(tries: int) -> float:
        delay = backoff(tries)
        return delay * (1.0 - jitter * rng())

    return jittered
