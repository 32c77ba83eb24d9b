"""Presence tracking as ``Phoenix.Presence`` (over ``Phoenix.Tracker``) does it.

- State: ``{key: {"metas": [meta, ...]}}``; every meta carries a unique ``phx_ref``.
- Diff, broadcast as ``presence_diff`` to the topic:
  ``{"joins": {key: {"metas": [...]}}, "leaves": {key: {"metas": [...]}}}``.
- An update is one diff with a leave of the old meta and a join of the new one,
  whose ``phx_ref_prev`` is the old ``phx_ref``.
- A tracked channel leaves when it stops, crashes or its socket goes away.

Meta maps are built with sorted keys, as Phoenix (Jason) encodes them.
"""

from __future__ import annotations

import asyncio
import base64
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .channel import Channel
    from .pubsub import PubSub

__all__ = ["Tracker"]

Meta = dict[str, Any]


def _new_ref() -> str:
    return base64.b64encode(os.urandom(12)).decode()


def _with(meta: Meta, **extra: Any) -> Meta:
    merged = dict(meta)
    merged.update(extra)
    return dict(sorted(merged.items()))


def _group(key: str, metas: list[Meta]) -> dict[str, Any]:
    return {key: {"metas": metas}} if metas else {}


class Tracker:
    """Presences by topic and key, each entry owned by one channel."""

    def __init__(self, pubsub: PubSub) -> None:
        self._pubsub = pubsub
        self._topics: dict[str, dict[str, dict[Channel, Meta]]] = {}
        self._owned: dict[Channel, str] = {}

    def track(self, channel: Channel, key: str, meta: Meta) -> None:
        """Track ``channel`` under ``key`` in its topic and broadcast the join."""
        meta = _with(meta, phx_ref=_new_ref())
        self._topics.setdefault(channel.topic, {}).setdefault(key, {})[channel] = meta
        self._owned[channel] = key
        self._diff(channel.topic, _group(key, [meta]), {})

    def update(self, channel: Channel, changes: Meta) -> None:
        """Replace the meta tracked for ``channel``; broadcast a leave and a join."""
        key = self._owned[channel]
        entries = self._topics[channel.topic][key]
        old = entries[channel]
        new = _with(old, **changes, phx_ref=_new_ref(), phx_ref_prev=old["phx_ref"])
        entries[channel] = new
        self._diff(channel.topic, _group(key, [new]), _group(key, [old]))

    def untrack(self, channel: Channel) -> None:
        """Forget ``channel``'s presence, if any, and broadcast the leave."""
        key = self._owned.pop(channel, None)
        if key is None:
            return
        topic = channel.topic
        keys = self._topics[topic]
        meta = keys[key].pop(channel)
        if not keys[key]:
            del keys[key]
        if not keys:
            del self._topics[topic]
        self._diff(topic, {}, _group(key, [meta]))

    def list(self, topic: str) -> dict[str, Any]:
        """The presence state of ``topic``: ``{key: {"metas": [...]}}``."""
        keys = self._topics.get(topic, {})
        return {key: {"metas": list(entries.values())} for key, entries in keys.items()}

    def count(self) -> int:
        """The number of tracked presences (for leak checks)."""
        return len(self._owned)

    def _diff(self, topic: str, joins: dict[str, Any], leaves: dict[str, Any]) -> None:
        # Phoenix.Presence broadcasts diffs from its own process, after the
        # tracking call returned: the tracking channel's reply or presence_state
        # push goes out first. call_soon keeps that order, deterministically.
        payload = {"joins": joins, "leaves": leaves}
        loop = asyncio.get_running_loop()
        loop.call_soon(self._pubsub.broadcast, topic, "presence_diff", payload)
