"""The Presence merge: native (``Presence.sync_*``) against the pure-Python reference.

- ``diff``: 1,000 joins and 1,000 leaves applied to a state of 10,000 keys: 500 keys join,
  500 keys leave, 500 keys update a meta (a leave of the old ref and a join of the new one with
  ``phx_ref_prev``).
- ``state-initial``: ``sync_state`` of 10,000 keys into an empty state (the first join).
- ``state-resync``: ``sync_state`` of 10,000 keys over 10,000 held keys, 15% of them changed
  (the state after a rejoin).

Each runs without callbacks and with no-op callbacks. Metas are shaped like the ones
Phoenix sends (base64 refs, ``online_at``, ``status``), and the diff and the new states are
decoded from JSON, as they come off the wire: no object is shared with the held state.
Results are checked against the reference before timing.

Measured (CPython 3.11, release build, median, pure Python / native): without callbacks,
diff 5.4-5.7x, initial sync_state 5.2-6.6x, resync 5.7-6.1x; with no-op callbacks 2.8-3.3x
(diff, initial) and 5.3-5.8x (resync), where calling 2,000-10,000 Python callbacks costs about
as much as the native merge itself; ``list`` with a chooser 1.1x (it is the chooser calls).
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from phoenix_fast import _presence_reference as reference
from phoenix_fast.presence import Presence

N = 10_000
rng = random.Random(1)


def _ref() -> str:
    return base64.b64encode(rng.randbytes(12)).decode()


def _meta(**extra: Any) -> dict[str, Any]:
    online_at = 1_700_000_000 + rng.randrange(10_000)
    return {"online_at": online_at, "phx_ref": _ref(), "status": "online", **extra}


def _presence(*metas: dict[str, Any]) -> dict[str, Any]:
    return {"metas": list(metas)}


STATE = {f"user:{i}": _presence(_meta()) for i in range(N)}

_keys = list(STATE)
_leaving, _updating = _keys[:500], _keys[500:1000]
_updates = {
    k: _presence(_meta(status="away", phx_ref_prev=STATE[k]["metas"][0]["phx_ref"]))
    for k in _updating
}
DIFF = {
    "joins": {**{f"new:{i}": _presence(_meta()) for i in range(500)}, **_updates},
    "leaves": {k: STATE[k] for k in _leaving + _updating},
}
DIFF = orjson.loads(orjson.dumps(DIFF))
assert len(DIFF["joins"]) == 1000 and len(DIFF["leaves"]) == 1000

_gone = set(_leaving)
NEW_STATE = {k: p for k, p in STATE.items() if k not in _gone}
NEW_STATE.update(_updates)
NEW_STATE.update({f"new:{i}": _presence(_meta()) for i in range(500)})
NEW_STATE = orjson.loads(orjson.dumps(NEW_STATE))
INITIAL_STATE = orjson.loads(orjson.dumps(STATE))

Sync = Callable[..., dict[str, Any]]
IMPLS: dict[str, tuple[Sync, Sync]] = {
    "native": (Presence.sync_state, Presence.sync_diff),
    "python": (reference.sync_state, reference.sync_diff),
}


def _noop(*_args: Any) -> None:
    pass


CALLBACKS = {"no-callbacks": (None, None), "callbacks": (_noop, _noop)}


def _check(result: dict[str, Any], other: Sync, *args: Any) -> None:
    assert list(result.items()) == list(other(*args).items())


@pytest.mark.parametrize("callbacks", list(CALLBACKS))
@pytest.mark.parametrize("impl", list(IMPLS))
def test_diff_1000_joins_1000_leaves_on_10000_keys(
    benchmark: Any, impl: str, callbacks: str
) -> None:
    sync_diff = IMPLS[impl][1]
    on_join, on_leave = CALLBACKS[callbacks]
    result = sync_diff(STATE, DIFF, on_join, on_leave)
    assert len(result) == N
    _check(result, reference.sync_diff, STATE, DIFF)
    benchmark.group = f"presence-diff-{callbacks}"
    benchmark(sync_diff, STATE, DIFF, on_join, on_leave)


@pytest.mark.parametrize("callbacks", list(CALLBACKS))
@pytest.mark.parametrize("impl", list(IMPLS))
def test_sync_state_initial_10000_keys(benchmark: Any, impl: str, callbacks: str) -> None:
    sync_state = IMPLS[impl][0]
    on_join, on_leave = CALLBACKS[callbacks]
    assert sync_state({}, INITIAL_STATE, on_join, on_leave) == STATE
    benchmark.group = f"presence-state-initial-{callbacks}"
    benchmark(sync_state, {}, INITIAL_STATE, on_join, on_leave)


@pytest.mark.parametrize("callbacks", list(CALLBACKS))
@pytest.mark.parametrize("impl", list(IMPLS))
def test_sync_state_resync_10000_keys(benchmark: Any, impl: str, callbacks: str) -> None:
    sync_state = IMPLS[impl][0]
    on_join, on_leave = CALLBACKS[callbacks]
    result = sync_state(STATE, NEW_STATE, on_join, on_leave)
    assert result == NEW_STATE
    _check(result, reference.sync_state, STATE, NEW_STATE)
    benchmark.group = f"presence-state-resync-{callbacks}"
    benchmark(sync_state, STATE, NEW_STATE, on_join, on_leave)


@pytest.mark.parametrize("impl", ["native", "python"])
def test_list_10000_keys_with_chooser(benchmark: Any, impl: str) -> None:
    list_ = Presence.list if impl == "native" else reference.list_presences

    def first(_key: str, presence: dict[str, Any]) -> Any:
        return presence["metas"][0]

    assert list_(STATE, first) == reference.list_presences(STATE, first)
    benchmark.group = "presence-list-chooser"
    benchmark(list_, STATE, first)
