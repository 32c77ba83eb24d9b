"""Presence at scale (``--presence``): every channel joins a presence topic under a
``user_id`` and follows the topic's members through :class:`phoenix_fast.Presence`.

Measured, in the report's ``latency_ms`` and its ``presence`` section, and the latencies in
each interval's row too (appended through :meth:`Stats.samples`, as the other latencies):

- ``presence:state``: from the join sent to the channel's first ``presence_state``; its size
  (the members listed) goes into the ``size:presence_state`` histogram;
- ``presence:self``: from the join sent to the channel's own ``user_id`` in its own list
  (the server tracked it and told it so);
- ``presence:propagation``: from a member's join sent to its ``user_id`` appearing in the list
  of another subscriber of the topic (one that had its state already). Only members joined by
  this process are timed (their send time is known here), each once per subscriber;
- ``presence_state`` and ``presence_diff`` events, counted (diffs per second).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from phoenix_fast.presence import Presence

if TYPE_CHECKING:
    from phoenix_fast.channel import Channel
    from phoenix_fast.load.stats import Stats

__all__ = [
    "DIFF",
    "PRESENCE_NAMES",
    "PROPAGATION",
    "SELF",
    "SIZE",
    "STATE",
    "PresenceClock",
    "PresenceWatch",
    "summary",
]

STATE = "presence:state"
SELF = "presence:self"
PROPAGATION = "presence:propagation"
SIZE = "size:presence_state"
DIFF = "presence_diff"
STATE_EVENT = "presence_state"
#: The latency names a presence run records (the CSV's columns, a chart over time).
PRESENCE_NAMES = (STATE, SELF, PROPAGATION)


class PresenceClock:
    """When each member (topic, user_id) joined by this process was sent its join."""

    __slots__ = ("sent",)

    def __init__(self) -> None:
        self.sent: dict[tuple[str, str], float] = {}

    def joining(self, topic: str, key: str) -> float:
        """Notes a join sent now (the first one of a member counts); returns now."""
        now = time.perf_counter()
        self.sent.setdefault((topic, key), now)
        return now


class PresenceWatch:
    """One channel's presence: its list (a :class:`Presence`) and the figures it gives."""

    __slots__ = ("clock", "key", "presence", "seen", "sent", "stats", "synced", "topic", "tracked")

    def __init__(
        self, channel: Channel, topic: str, key: str, stats: Stats, clock: PresenceClock
    ) -> None:
        self.topic, self.key, self.stats, self.clock = topic, key, stats, clock
        self.sent = clock.joining(topic, key)
        self.synced = False
        self.tracked = False
        #: The members this subscriber has listed since its first state.
        self.seen: set[str] = set()
        self.presence = Presence(channel)
        self.presence.on_join(self._joined)
        # after the Presence's own bindings: its list already holds the state or the diff
        channel.on(STATE_EVENT, self._state)
        channel.on(DIFF, self._diff)

    def _state(self, payload: Any) -> None:
        self.stats.event(STATE_EVENT)
        if self.synced:
            return
        self.synced = True
        stats = self.stats
        stats.samples(STATE).append(int((time.perf_counter() - self.sent) * 1e6))
        # a size, not a latency: its histogram only, out of the rows' latency_ms
        stats.record(SIZE, len(payload) if isinstance(payload, dict) else 0)
        self.seen.update(self.presence.state)

    def _diff(self, _payload: Any) -> None:
        self.stats.event(DIFF)

    def _joined(self, key: str, current: Any, _new: Any) -> None:
        now = time.perf_counter()
        if key == self.key:
            if not self.tracked:
                self.tracked = True
                self.stats.samples(SELF).append(int((now - self.sent) * 1e6))
            return
        if not self.synced or current is not None or key in self.seen:
            return
        self.seen.add(key)
        sent = self.clock.sent.get((self.topic, key))
        if sent is not None:
            self.stats.samples(PROPAGATION).append(int((now - sent) * 1e6))


def summary(
    events: dict[str, int], histograms: dict[str, Any], elapsed: float
) -> dict[str, Any] | None:
    """The report's ``presence`` section (None when the run followed no presence)."""
    sizes = histograms.get(SIZE)
    states = sizes.get_total_count() if sizes is not None else 0
    if not states and not events.get(DIFF):
        return None
    out: dict[str, Any] = {
        "states": states,
        "diffs": events.get(DIFF, 0),
        "diffs_per_s": events.get(DIFF, 0) / max(elapsed, 1e-9),
    }
    if sizes is not None and states:
        out["state_size"] = {
            "mean": round(sizes.get_mean_value(), 1),
            "p50": sizes.get_value_at_percentile(50.0),
            "max": sizes.get_max_value(),
        }
    return out
