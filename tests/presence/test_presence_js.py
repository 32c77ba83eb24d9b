"""The behaviours of the JS client's presence_test.js, restated for phoenix_fast.

The static-API tests run against both the native merge and the pure-Python reference.
"""

from __future__ import annotations

import copy
from typing import Any

from phoenix_fast.presence import Presence


def meta(ident: int, ref: str, **extra: Any) -> dict[str, Any]:
    return {"id": ident, "phx_ref": ref, **extra}


def pres(*metas: dict[str, Any]) -> dict[str, Any]:
    return {"metas": list(metas)}


def three_users() -> dict[str, Any]:
    return {"u1": pres(meta(1, "1")), "u2": pres(meta(2, "2")), "u3": pres(meta(3, "3"))}


class Recorder:
    """Collects callback calls, snapshotting their arguments as they are at call time."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def __call__(self, *args: Any) -> None:
        self.calls.append(copy.deepcopy(args))


def first_meta(_key: str, presence: dict[str, Any]) -> Any:
    return presence["metas"][0]


# -- sync_state ----------------------------------------------------------------------------


def test_sync_state_from_empty_returns_new_state_and_leaves_input_alone(impl: Any) -> None:
    new_state = {"u1": pres(meta(1, "1"))}
    state: dict[str, Any] = {}
    impl.sync_state(state, new_state)
    assert state == {}
    assert impl.sync_state(state, new_state) == new_state


def test_sync_state_reports_added_keys_as_joins_and_missing_keys_as_leaves(impl: Any) -> None:
    state = {"u4": pres(meta(4, "4"))}
    joined, left = Recorder(), Recorder()
    result = impl.sync_state(state, three_users(), joined, left)
    assert result == three_users()
    assert joined.calls == [
        ("u1", None, pres(meta(1, "1"))),
        ("u2", None, pres(meta(2, "2"))),
        ("u3", None, pres(meta(3, "3"))),
    ]
    assert left.calls == [("u4", pres(), pres(meta(4, "4")))]


def test_sync_state_joins_only_the_metas_that_are_new(impl: Any) -> None:
    state = {"u3": pres(meta(3, "3"))}
    new_state = {"u3": pres(meta(3, "3"), meta(3, "3.new"))}
    joined, left = Recorder(), Recorder()
    result = impl.sync_state(state, copy.deepcopy(new_state), joined, left)
    assert result == new_state
    assert joined.calls == [("u3", pres(meta(3, "3")), pres(meta(3, "3.new")))]
    assert left.calls == []


# -- sync_diff -----------------------------------------------------------------------------


def test_sync_diff_into_empty_state(impl: Any) -> None:
    joins = {"u1": pres(meta(1, "1"))}
    assert impl.sync_diff({}, {"joins": joins, "leaves": {}}) == joins


def test_sync_diff_drops_a_key_left_empty_and_appends_joined_metas(impl: Any) -> None:
    diff = {"joins": {"u1": pres(meta(1, "1.2"))}, "leaves": {"u2": pres(meta(2, "2"))}}
    assert impl.sync_diff(three_users(), diff) == {
        "u1": pres(meta(1, "1"), meta(1, "1.2")),
        "u3": pres(meta(3, "3")),
    }


def test_sync_diff_keeps_a_key_that_still_has_metas(impl: Any) -> None:
    state = {"u1": pres(meta(1, "1"), meta(1, "1.2"))}
    diff = {"joins": {}, "leaves": {"u1": pres(meta(1, "1"))}}
    assert impl.sync_diff(state, diff) == {"u1": pres(meta(1, "1.2"))}


# -- keys that are special in JavaScript (and others) --------------------------------------

ODD_KEYS = ["__proto__", "constructor", "hasOwnProperty", "", "ünï 🚀", "toString", "0"]


def test_sync_state_joins_and_leaves_any_string_key(impl: Any) -> None:
    new_state = {key: pres(meta(i, str(i))) for i, key in enumerate(ODD_KEYS)}
    joined: list[str] = []
    state = impl.sync_state({}, new_state, lambda key, *_: joined.append(key))
    assert joined == ODD_KEYS
    assert impl.list(state, lambda _k, p: p["metas"][0]["id"]) == list(range(len(ODD_KEYS)))

    left: list[str] = []
    state = impl.sync_state(state, {}, None, lambda key, *_: left.append(key))
    assert left == ODD_KEYS
    assert impl.list(state) == []


def test_sync_diff_joins_and_leaves_any_string_key(impl: Any) -> None:
    for key in ODD_KEYS:
        state = impl.sync_diff({}, {"joins": {key: pres(meta(1, "1"))}, "leaves": {}})
        assert impl.list(state, lambda k, p: (k, p["metas"][0]["id"])) == [(key, 1)]
        state = impl.sync_diff(state, {"joins": {}, "leaves": {key: pres(meta(1, "1"))}})
        assert impl.list(state) == []


# -- list ----------------------------------------------------------------------------------


def test_list_returns_every_presence_by_default(impl: Any) -> None:
    assert impl.list(three_users()) == [
        pres(meta(1, "1")),
        pres(meta(2, "2")),
        pres(meta(3, "3")),
    ]


def test_list_applies_the_chooser(impl: Any) -> None:
    state = {"u1": pres(meta(1, "1.first"), meta(1, "1.second"))}
    assert impl.list(state, first_meta) == [meta(1, "1.first")]


# -- instance ------------------------------------------------------------------------------


def test_instance_applies_a_state_then_a_diff(channel: Any) -> None:
    presence = Presence(channel)
    user1, user2 = pres(meta(1, "1")), pres(meta(2, "2"))
    channel.trigger("presence_state", {"u1": user1, "u2": user2})
    assert presence.list(first_meta) == [meta(1, "1"), meta(2, "2")]
    channel.trigger("presence_diff", {"joins": {}, "leaves": {"u1": user1}})
    assert presence.list(first_meta) == [meta(2, "2")]


def test_instance_buffers_diffs_until_the_state_of_the_current_join(channel: Any) -> None:
    presence = Presence(channel)
    joins, leaves = Recorder(), Recorder()
    presence.on_join(joins)
    presence.on_leave(leaves)
    user1, user2, user3 = pres(meta(1, "1")), pres(meta(2, "2")), pres(meta(3, "3"))

    early = {"joins": {}, "leaves": {"u2": user2}}
    channel.trigger("presence_diff", early)
    assert presence.list(first_meta) == []
    assert presence.pending_diffs == [early]
    assert presence.in_pending_sync_state()

    channel.trigger("presence_state", {"u1": user1, "u2": user2})
    assert leaves.calls == [("u2", pres(), pres(meta(2, "2")))]
    assert presence.list(first_meta) == [meta(1, "1")]
    assert presence.pending_diffs == []
    assert joins.calls == [("u1", None, user1), ("u2", None, user2)]
    assert not presence.in_pending_sync_state()

    channel.rejoin()
    assert presence.in_pending_sync_state()
    channel.trigger("presence_diff", {"joins": {}, "leaves": {"u1": user1}})
    assert presence.list(first_meta) == [meta(1, "1")]

    channel.trigger("presence_state", {"u1": user1, "u3": user3})
    assert presence.list(first_meta) == [meta(3, "3")]


def test_instance_listens_to_custom_event_names(channel: Any) -> None:
    presence = Presence(channel, events={"state": "the_state", "diff": "the_diff"})
    user1 = pres(meta(1, "1"))
    channel.trigger("the_state", {"user1": user1})
    assert presence.list(first_meta) == [meta(1, "1")]
    channel.trigger("the_diff", {"joins": {}, "leaves": {"user1": user1}})
    assert presence.list(first_meta) == []


def test_instance_replaces_a_meta_updated_as_leave_plus_join(channel: Any) -> None:
    presence = Presence(channel)
    user1 = pres(meta(1, "1"))
    user2 = pres(meta(2, "2", name="chris"))
    channel.trigger("presence_state", copy.deepcopy({"u1": user1, "u2": user2}))
    joins, leaves = Recorder(), Recorder()
    presence.on_join(joins)
    presence.on_leave(leaves)

    def all_metas(_key: str, presence: dict[str, Any]) -> Any:
        return presence["metas"]

    assert presence.list(all_metas) == [[meta(1, "1")], [meta(2, "2", name="chris")]]

    updated = meta(2, "2.2", name="chris.2", phx_ref_prev="2")
    channel.trigger("presence_diff", {"joins": {"u2": pres(updated)}, "leaves": {"u2": user2}})
    assert presence.list(all_metas) == [[meta(1, "1")], [updated]]
    assert joins.calls == [("u2", pres(meta(2, "2", name="chris")), pres(updated))]
    assert leaves.calls == [("u2", pres(updated), pres(meta(2, "2", name="chris")))]
