"""A straightforward pure-Python Presence merge, kept for differential tests and benchmarks.

It is a direct reading of ``syncState``/``syncDiff``/``list`` in the JS client's
``presence.js``, under the same contract as the native merge (``rust/py/presence.rs``):
inputs are never mutated, the result is a new dict, a presence whose metas change is a new dict
and everything else (other presences, every meta) is shared with the inputs. Refs compare with
``in`` on a list, as the JS client compares them with ``indexOf``. Unlike the native merge,
callbacks are fired as the merge goes, as the JS client does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Presence = dict[str, Any]
OnJoin = Callable[[Any, Presence | None, Presence], object]
OnLeave = Callable[[Any, Presence, Presence], object]


def _metas(key: object, presence: object) -> list[Any]:
    metas = presence.get("metas") if isinstance(presence, dict) else None
    if not isinstance(metas, list):
        kind = type(presence).__name__
        raise TypeError(f"presence {key!r} must be a dict with a 'metas' list, not {kind}")
    return metas


def _ref(meta: object) -> Any:
    return meta.get("phx_ref") if isinstance(meta, dict) else None


def _part(diff: Mapping[str, Any], name: str) -> dict[Any, Any]:
    part = diff.get(name)
    if part is None:
        return {}
    if not isinstance(part, dict):
        raise TypeError(f"diff[{name!r}] must be a dict, not {type(part).__name__}")
    return part


def sync_state(
    state: dict[Any, Any],
    new_state: dict[Any, Any],
    on_join: OnJoin | None = None,
    on_leave: OnLeave | None = None,
) -> dict[Any, Any]:
    """The joins and leaves (by ``phx_ref``) that turn ``state`` into ``new_state``, applied."""
    joins: dict[Any, Any] = {}
    leaves = {key: presence for key, presence in state.items() if key not in new_state}
    for key, new_presence in new_state.items():
        new_metas = _metas(key, new_presence)
        if key not in state:
            joins[key] = new_presence
            continue
        current = state[key]
        current_metas = _metas(key, current)
        new_refs = [_ref(m) for m in new_metas]
        current_refs = [_ref(m) for m in current_metas]
        joined = [m for m in new_metas if _ref(m) not in current_refs]
        left = [m for m in current_metas if _ref(m) not in new_refs]
        if joined:
            joins[key] = {**new_presence, "metas": joined}
        if left:
            leaves[key] = {**current, "metas": left}
    return sync_diff(state, {"joins": joins, "leaves": leaves}, on_join, on_leave)


def sync_diff(
    state: dict[Any, Any],
    diff: Mapping[str, Any],
    on_join: OnJoin | None = None,
    on_leave: OnLeave | None = None,
) -> dict[Any, Any]:
    """Joins first (held metas not in the join kept in front), then leaves (by ``phx_ref``)."""
    result = dict(state)
    joins = _part(diff, "joins")
    leaves = _part(diff, "leaves")
    for key, new_presence in joins.items():
        new_metas = _metas(key, new_presence)
        current = result.get(key)
        if key in result:
            joined_refs = [_ref(m) for m in new_metas]
            kept = [m for m in _metas(key, current) if _ref(m) not in joined_refs]
            result[key] = {**new_presence, "metas": kept + new_metas}
        else:
            result[key] = new_presence
        if on_join is not None:
            on_join(key, current, new_presence)
    for key, left_presence in leaves.items():
        left_metas = _metas(key, left_presence)
        if key not in result:
            continue
        current = result[key]
        left_refs = [_ref(m) for m in left_metas]
        remaining = [m for m in _metas(key, current) if _ref(m) not in left_refs]
        after = {**current, "metas": remaining}
        if remaining:
            result[key] = after
        else:
            del result[key]
        if on_leave is not None:
            on_leave(key, after, left_presence)
    return result


def list_presences(
    presences: Mapping[Any, Any], chooser: Callable[[Any, Any], Any] | None = None
) -> list[Any]:
    """The presences in key order, or ``chooser(key, presence)`` for each."""
    if chooser is None:
        return list(presences.values())
    return [chooser(key, presence) for key, presence in presences.items()]
