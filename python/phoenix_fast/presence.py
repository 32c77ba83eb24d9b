"""Presence: who is in a channel, kept in sync from the server's ``presence_state`` and
``presence_diff`` events, as the JS client's ``Presence`` does.

A presence state maps each key (any string the server chose, ``"__proto__"`` included) to a
presence ``{"metas": [meta, ...]}``; each meta carries the ``phx_ref`` of one tracked process.
The merge runs in Rust on the decoded payloads (``rust/py/presence.rs``).

**Mutation contract.** The JS client deep-clones the state and the diff (``JSON.parse(
JSON.stringify(...))``) yet still changes some of its inputs: ``syncState`` overwrites the
``metas`` of presences in the new state it is given, and ``syncDiff`` updates a null-prototype
state (such as one it returned earlier) in place. Here the inputs are never mutated and nothing
is copied deeply: ``sync_state`` and ``sync_diff`` return a new dict, a presence whose metas
change is a new dict (a shallow copy with a new ``metas`` list), and every other presence and
every meta dict is shared between the inputs, the result and the callback arguments. Treat
presences and metas as immutable values (``copy.deepcopy`` one before changing it).

**Differences from the JS client, by design.** Keys keep the order of Python dicts (insertion
order; JS objects list integer-like keys first, in numeric order). Callbacks are fired after
the merge, in the JS client's order (every join of a message, then every leave), so a callback
that calls ``list()`` on a ``Presence`` sees the state after the whole message (the
``presence_state`` and the diffs buffered before it). A malformed presence (not a dict with a
``metas`` list) raises ``TypeError`` and changes nothing.
"""

from __future__ import annotations

import builtins
from collections import deque
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Protocol, TypeVar, cast, overload

from phoenix_fast import _native

__all__ = ["Presence", "PresenceChannel"]

T = TypeVar("T")
PresenceEntry = dict[str, Any]
"""One key's presence: ``{"metas": [meta, ...]}`` (plus whatever else the server sent)."""
PresenceState = dict[str, PresenceEntry]
OnJoin = Callable[[str, PresenceEntry | None, PresenceEntry], object]
"""``on_join(key, current_presence_or_None, new_presence)``."""
OnLeave = Callable[[str, PresenceEntry, PresenceEntry], object]
"""``on_leave(key, current_presence_after_removal, left_presence)``."""
OnSync = Callable[[], object]
JoinT = TypeVar("JoinT", bound=OnJoin)
LeaveT = TypeVar("LeaveT", bound=OnLeave)
SyncT = TypeVar("SyncT", bound=OnSync)

_DEFAULT_EVENTS = {"state": "presence_state", "diff": "presence_diff"}


class PresenceChannel(Protocol):
    """What ``Presence`` needs of a channel (``phoenix_fast.Channel`` provides it)."""

    @property
    def join_ref(self) -> str | None:
        """The ref of the channel's current join; a rejoin gives a new one."""

    def on(self, event: str, callback: Callable[..., Any]) -> int:
        """Calls ``callback(payload, ...)`` for each ``event``; returns a ref for ``off``."""

    def off(self, event: str, ref: int | None = None) -> Any:
        """Removes the binding ``ref`` of ``event``."""


def _as_dict(mapping: Mapping[Any, Any]) -> dict[Any, Any]:
    return mapping if isinstance(mapping, dict) else dict(mapping)


def _fire(
    joins: builtins.list[Any],
    leaves: builtins.list[Any],
    on_join: OnJoin | None,
    on_leave: OnLeave | None,
) -> None:
    # The records are flat lists of (key, presence, presence) triples; map() over one iterator
    # passed three times calls back with each triple, in a C loop.
    if on_join is not None and joins:
        records = iter(joins)
        deque(map(on_join, records, records, records), maxlen=0)
    if on_leave is not None and leaves:
        records = iter(leaves)
        deque(map(on_leave, records, records, records), maxlen=0)


def _list(presences: Mapping[str, PresenceEntry], chooser: Any = None) -> builtins.list[Any]:
    return _native.presence_list(_as_dict(presences), chooser)


class _StaticList(Protocol):
    @overload
    def __call__(
        self, presences: Mapping[str, PresenceEntry], chooser: None = None
    ) -> builtins.list[PresenceEntry]: ...
    @overload
    def __call__(
        self,
        presences: Mapping[str, PresenceEntry],
        chooser: Callable[[str, PresenceEntry], T],
    ) -> builtins.list[T]: ...
    def __call__(self, presences: Any, chooser: Any = None) -> Any: ...


class _BoundList(Protocol):
    @overload
    def __call__(self, by: None = None) -> builtins.list[PresenceEntry]: ...
    @overload
    def __call__(self, by: Callable[[str, PresenceEntry], T]) -> builtins.list[T]: ...
    def __call__(self, by: Any = None) -> Any: ...


class _ListMethod:
    """``Presence.list(presences, chooser)`` on the class, ``presence.list(by)`` on an instance,
    as in the JS client (where one is static and the other an instance method)."""

    @overload
    def __get__(self, obj: None, owner: type[Any] | None = None) -> _StaticList: ...
    @overload
    def __get__(self, obj: Presence, owner: type[Any] | None = None) -> _BoundList: ...
    def __get__(self, obj: Presence | None, owner: type[Any] | None = None) -> Any:
        if obj is None:
            return _list

        def bound_list(by: Any = None) -> builtins.list[Any]:
            return _list(obj._state, by)

        return bound_list


class Presence:
    """The presences of one channel, synced from its presence events.

    Diffs are buffered until a ``presence_state`` arrives for the channel's current join
    (initially and after every rejoin), then applied after it. ``events`` renames the two
    events: ``{"state": "presence_state", "diff": "presence_diff"}`` by default.
    """

    list = _ListMethod()
    """``presence.list(by=None)``: each presence, or ``by(key, presence)`` for each;
    ``Presence.list(presences, chooser=None)``: the same for a given state."""

    def __init__(self, channel: PresenceChannel, events: Mapping[str, str] | None = None) -> None:
        names = dict(_DEFAULT_EVENTS)
        if events is not None:
            unknown = set(events) - set(_DEFAULT_EVENTS)
            if unknown:
                raise ValueError(f"unknown presence events {sorted(unknown)}: use 'state', 'diff'")
            names.update(events)
        self._channel = channel
        self._state: PresenceState = {}
        self._pending: builtins.list[Mapping[str, Any]] = []
        self._join_ref: str | None = None
        self._on_join: OnJoin | None = None
        self._on_leave: OnLeave | None = None
        self._on_sync: OnSync | None = None
        self._bindings: builtins.list[tuple[str, int]] = []
        self._bindings.append((names["state"], channel.on(names["state"], self._handle_state)))
        self._bindings.append((names["diff"], channel.on(names["diff"], self._handle_diff)))

    def __repr__(self) -> str:
        pending = ", pending sync" if self.in_pending_sync_state() else ""
        return f"<Presence {len(self._state)} keys{pending}>"

    def on_join(self, callback: JoinT) -> JoinT:
        """Sets ``callback(key, current_or_None, new_presence)``; usable as a decorator."""
        self._on_join = callback
        return callback

    def on_leave(self, callback: LeaveT) -> LeaveT:
        """Sets ``callback(key, current_after_removal, left_presence)``; usable as a decorator."""
        self._on_leave = callback
        return callback

    def on_sync(self, callback: SyncT) -> SyncT:
        """Sets ``callback()``, called after each state or applied diff; usable as a decorator."""
        self._on_sync = callback
        return callback

    @property
    def state(self) -> Mapping[str, PresenceEntry]:
        """A read-only view of the current state (key to presence)."""
        return MappingProxyType(self._state)

    @property
    def pending_diffs(self) -> builtins.list[Mapping[str, Any]]:
        """The diffs waiting for a ``presence_state`` (a copy)."""
        return builtins.list(self._pending)

    def in_pending_sync_state(self) -> bool:
        """Whether no ``presence_state`` has arrived yet for the channel's current join."""
        return not self._join_ref or self._join_ref != self._channel.join_ref

    def close(self) -> None:
        """Unbinds from the channel: later presence events are ignored. Idempotent."""
        bindings, self._bindings = self._bindings, []
        for event, ref in bindings:
            self._channel.off(event, ref)

    def _handle_state(self, new_state: Mapping[str, Any], *_: Any) -> None:
        # Nothing changes (and the diffs stay buffered) if a payload is malformed.
        on_join, on_leave, on_sync = self._on_join, self._on_leave, self._on_sync
        want_joins, want_leaves = on_join is not None, on_leave is not None
        join_ref = self._channel.join_ref
        state, joins, leaves = _native.presence_sync_state(
            self._state, _as_dict(new_state), want_joins, want_leaves
        )
        steps = [(joins, leaves)]
        for diff in self._pending:
            state, joins, leaves = _native.presence_sync_diff(
                state, _as_dict(diff), want_joins, want_leaves
            )
            steps.append((joins, leaves))
        self._join_ref, self._state, self._pending = join_ref, state, []
        for joins, leaves in steps:
            _fire(joins, leaves, on_join, on_leave)
        if on_sync is not None:
            on_sync()

    def _handle_diff(self, diff: Mapping[str, Any], *_: Any) -> None:
        if self.in_pending_sync_state():
            self._pending.append(diff)
            return
        on_join, on_leave, on_sync = self._on_join, self._on_leave, self._on_sync
        self._state, joins, leaves = _native.presence_sync_diff(
            self._state, _as_dict(diff), on_join is not None, on_leave is not None
        )
        _fire(joins, leaves, on_join, on_leave)
        if on_sync is not None:
            on_sync()

    @staticmethod
    def sync_state(
        state: Mapping[str, PresenceEntry],
        new_state: Mapping[str, PresenceEntry],
        on_join: OnJoin | None = None,
        on_leave: OnLeave | None = None,
    ) -> PresenceState:
        """``state`` brought to ``new_state``: metas whose ``phx_ref`` is new are joins, metas
        gone are leaves, and they are applied as by ``sync_diff``. Returns the new state."""
        result, joins, leaves = _native.presence_sync_state(
            _as_dict(state), _as_dict(new_state), on_join is not None, on_leave is not None
        )
        _fire(joins, leaves, on_join, on_leave)
        return cast(PresenceState, result)

    @staticmethod
    def sync_diff(
        state: Mapping[str, PresenceEntry],
        diff: Mapping[str, Mapping[str, PresenceEntry]],
        on_join: OnJoin | None = None,
        on_leave: OnLeave | None = None,
    ) -> PresenceState:
        """``state`` with a ``{"joins": ..., "leaves": ...}`` diff applied: each join replaces
        the key's presence, keeping its metas not in the join in front of the joined ones;
        then each leave removes metas by ``phx_ref``, and the key once none remain."""
        result, joins, leaves = _native.presence_sync_diff(
            _as_dict(state), _as_dict(diff), on_join is not None, on_leave is not None
        )
        _fire(joins, leaves, on_join, on_leave)
        return cast(PresenceState, result)
