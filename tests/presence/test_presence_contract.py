"""What phoenix_fast decided beyond presence_test.js: the mutation contract, callback order,
odd inputs, malformed inputs and the instance API's extras."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from phoenix_fast import _native
from phoenix_fast.presence import Presence


def meta(ref: Any, **extra: Any) -> dict[str, Any]:
    return {"phx_ref": ref, **extra}


def pres(*metas: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"metas": list(metas), **extra}


# -- mutation contract ---------------------------------------------------------------------


def test_sync_state_mutates_neither_input(impl: Any) -> None:
    state = {"a": pres(meta("1"), meta("2")), "b": pres(meta("3")), "c": pres(meta("4"))}
    new_state = {"a": pres(meta("2"), meta("5")), "c": pres(meta("4")), "d": pres(meta("6"))}
    before = copy.deepcopy((state, new_state))
    impl.sync_state(state, new_state, lambda *a: None, lambda *a: None)
    assert (state, new_state) == before


def test_sync_diff_mutates_neither_input_even_when_chained(impl: Any) -> None:
    state = impl.sync_state({}, {"a": pres(meta("1"), meta("2")), "b": pres(meta("3"))})
    diff = {"joins": {"a": pres(meta("9"))}, "leaves": {"a": pres(meta("1")), "b": pres(meta("3"))}}
    before = copy.deepcopy((state, diff))
    result = impl.sync_diff(state, diff, lambda *a: None, lambda *a: None)
    assert (state, diff) == before
    assert result == {"a": pres(meta("2"), meta("9"))}


def test_unchanged_presences_and_all_metas_are_shared_not_copied() -> None:
    kept = pres(meta("1"))
    changed = pres(meta("2"), meta("3"))
    state = {"kept": kept, "changed": changed}
    result = Presence.sync_diff(state, {"leaves": {"changed": pres(meta("2"))}})
    assert result is not state
    assert result["kept"] is kept
    assert result["changed"] is not changed
    assert result["changed"]["metas"][0] is changed["metas"][1]


def test_presence_fields_besides_metas_come_from_the_joined_presence(impl: Any) -> None:
    state = {"a": pres(meta("1"), name="old")}
    result = impl.sync_diff(state, {"joins": {"a": pres(meta("2"), name="new")}})
    assert result == {"a": pres(meta("1"), meta("2"), name="new")}


# -- order ---------------------------------------------------------------------------------


def test_callbacks_fire_every_join_then_every_leave(impl: Any) -> None:
    calls: list[tuple[str, str]] = []
    diff = {
        "joins": {"x": pres(meta("x")), "y": pres(meta("y"))},
        "leaves": {"a": pres(meta("a")), "b": pres(meta("b"))},
    }
    state = {"a": pres(meta("a")), "b": pres(meta("b"))}
    impl.sync_diff(
        state,
        diff,
        lambda key, *_: calls.append(("join", key)),
        lambda key, *_: calls.append(("leave", key)),
    )
    assert calls == [("join", "x"), ("join", "y"), ("leave", "a"), ("leave", "b")]


def test_sync_state_leaves_removed_keys_first_then_changed_keys(impl: Any) -> None:
    state = {"changed": pres(meta("1"), meta("2")), "gone": pres(meta("3"))}
    new_state = {"changed": pres(meta("1"))}
    left: list[Any] = []
    impl.sync_state(state, new_state, None, lambda *args: left.append(args))
    assert left == [
        ("gone", pres(), pres(meta("3"))),
        ("changed", pres(meta("1")), pres(meta("2"))),
    ]


def test_sync_state_keeps_held_metas_in_front_as_the_js_client_does(impl: Any) -> None:
    # not new_state's order: held metas still present come first, then the joined ones
    state = {"a": pres(meta("1"), meta("2"))}
    result = impl.sync_state(state, {"a": pres(meta("3"), meta("1"))})
    assert result == {"a": pres(meta("1"), meta("3"))}


def test_sync_state_keeps_held_keys_in_place_and_appends_new_ones(impl: Any) -> None:
    state = {"b": pres(meta("b")), "a": pres(meta("a"))}
    new_state = {"c": pres(meta("c")), "a": pres(meta("a")), "b": pres(meta("b"))}
    assert list(impl.sync_state(state, new_state)) == ["b", "a", "c"]


def test_a_held_meta_with_the_same_ref_is_not_replaced_by_sync_state(impl: Any) -> None:
    state = {"a": pres(meta("1", status="away"))}
    result = impl.sync_state(state, {"a": pres(meta("1", status="online"))})
    assert result == state


# -- refs ----------------------------------------------------------------------------------


def test_metas_without_a_ref_match_each_other(impl: Any) -> None:
    state = {"a": pres({"id": 1}, meta(None), meta("x"))}
    result = impl.sync_diff(state, {"leaves": {"a": pres({"id": 2})}})
    assert result == {"a": pres(meta("x"))}


def test_refs_compare_by_value_not_identity(impl: Any) -> None:
    ref = "".join(["ab", "cd"])
    state = {"a": pres(meta(ref))}
    result = impl.sync_diff(state, {"leaves": {"a": pres(meta("abcd"))}})
    assert result == {}


def test_non_string_refs_compare_with_python_equality(impl: Any) -> None:
    state = {"a": pres(meta(1), meta("1"), meta(2))}
    result = impl.sync_diff(state, {"leaves": {"a": pres(meta(1))}})
    assert result == {"a": pres(meta("1"), meta(2))}


@pytest.mark.parametrize("count", [3, 9, 40])
def test_many_metas_under_one_key(impl: Any, count: int) -> None:
    metas = [meta(f"r{i}") for i in range(count)]
    state = impl.sync_state({}, {"room": pres(*metas)})
    leaving = pres(*metas[::2], meta(7), meta(None))
    result = impl.sync_diff(state, {"leaves": {"room": leaving}})
    assert result == {"room": pres(*metas[1::2])}
    rejoined = impl.sync_diff(result, {"joins": {"room": pres(*metas[::3])}})
    expected = [m for m in metas[1::2] if m not in metas[::3]] + metas[::3]
    assert rejoined == {"room": pres(*expected)}


# -- odd and malformed input ---------------------------------------------------------------


def test_missing_or_null_diff_parts_are_empty(impl: Any) -> None:
    state = {"a": pres(meta("1"))}
    assert impl.sync_diff(state, {}) == state
    assert impl.sync_diff(state, {"joins": None, "leaves": None}) == state


def test_leave_of_an_unknown_key_is_ignored(impl: Any) -> None:
    called: list[Any] = []
    state = {"a": pres(meta("1"))}
    result = impl.sync_diff(state, {"leaves": {"zz": pres(meta("1"))}}, None, called.append)
    assert result == state
    assert called == []


@pytest.mark.parametrize(
    ("state", "diff"),
    [
        ({}, {"joins": {"a": {"no": "metas"}}}),
        ({}, {"joins": {"a": None}}),
        ({}, {"joins": {"a": {"metas": "x"}}}),
        ({"a": {"metas": None}}, {"joins": {"a": pres(meta("1"))}}),
        ({"a": pres(meta("1"))}, {"leaves": {"a": {}}}),
        ({}, {"joins": ["a"]}),
    ],
)
def test_malformed_diffs_raise_type_error_and_change_nothing(
    impl: Any, state: dict[str, Any], diff: dict[str, Any]
) -> None:
    before = copy.deepcopy((state, diff))
    with pytest.raises(TypeError):
        impl.sync_diff(state, diff)
    assert (state, diff) == before


@pytest.mark.parametrize(
    ("state", "new_state"),
    [({}, {"a": None}), ({"a": None}, {"a": pres(meta("1"))}), ({"a": 1}, {})],
)
def test_malformed_states_raise_type_error(
    impl: Any, state: dict[str, Any], new_state: dict[str, Any]
) -> None:
    with pytest.raises(TypeError):
        impl.sync_state(state, new_state)


def test_native_functions_report_no_records_when_unwanted() -> None:
    state, joins, leaves = _native.presence_sync_diff(
        {"a": pres(meta("1"))},
        {"joins": {"b": pres(meta("2"))}, "leaves": {"a": pres(meta("1"))}},
        False,
        False,
    )
    assert state == {"b": pres(meta("2"))}
    assert joins == [] and leaves == []


def test_mappings_that_are_not_dicts_are_accepted() -> None:
    from types import MappingProxyType

    state = MappingProxyType({"a": pres(meta("1"))})
    result = Presence.sync_diff(state, MappingProxyType({"joins": {"b": pres(meta("2"))}}))
    assert list(result) == ["a", "b"]
    assert Presence.list(MappingProxyType(result), lambda k, _p: k) == ["a", "b"]


class EvilKey(str):
    """A key whose comparison empties the diff part being iterated."""

    victim: dict[str, Any] = {}  # noqa: RUF012

    __hash__ = str.__hash__

    def __eq__(self, other: object) -> bool:
        EvilKey.victim.clear()
        return str.__eq__(self, other)


def test_a_dict_changed_during_the_merge_raises_instead_of_crashing() -> None:
    joins = {EvilKey("a"): pres(meta("2")), "b": pres(meta("3"))}
    EvilKey.victim = joins
    with pytest.raises(RuntimeError, match="changed size"):
        Presence.sync_diff({"a": pres(meta("1"))}, {"joins": joins})


def test_a_chooser_that_changes_the_state_raises_as_python_iteration_does(impl: Any) -> None:
    state = {"a": pres(meta("1")), "b": pres(meta("2"))}
    with pytest.raises(RuntimeError, match="changed size"):
        impl.list(state, lambda k, _p: state.pop("b", None) or k)


# -- instance extras -----------------------------------------------------------------------


def test_on_sync_follows_each_state_and_each_applied_diff(channel: Any) -> None:
    presence = Presence(channel)
    events: list[str] = []
    presence.on_join(lambda key, *_: events.append(f"join {key}"))
    presence.on_leave(lambda key, *_: events.append(f"leave {key}"))
    presence.on_sync(lambda: events.append("sync"))
    channel.trigger("presence_diff", {"joins": {"b": pres(meta("2"))}})
    channel.trigger("presence_diff", {"leaves": {"a": pres(meta("1"))}})
    assert events == []
    channel.trigger("presence_state", {"a": pres(meta("1"))})
    assert events == ["join a", "join b", "leave a", "sync"]
    channel.trigger("presence_diff", {"joins": {"c": pres(meta("3"))}})
    assert events[4:] == ["join c", "sync"]
    assert presence.list(lambda k, _p: k) == ["b", "c"]


def test_callbacks_see_the_state_after_the_whole_message(channel: Any) -> None:
    presence = Presence(channel)
    seen: list[list[str]] = []
    presence.on_join(lambda *_: seen.append(presence.list(lambda k, _p: k)))
    channel.trigger("presence_diff", {"joins": {"b": pres(meta("2"))}})
    channel.trigger("presence_state", {"a": pres(meta("1"))})
    assert seen == [["a", "b"], ["a", "b"]]


def test_callback_setters_work_as_decorators(channel: Any) -> None:
    presence = Presence(channel)

    @presence.on_sync
    def synced() -> None:
        pass

    assert presence._on_sync is synced


def test_close_unbinds_from_the_channel(channel: Any) -> None:
    presence = Presence(channel, events={"diff": "d"})
    assert set(channel.bindings) == {"presence_state", "d"}
    presence.close()
    presence.close()
    assert all(not b for b in channel.bindings.values())
    channel.trigger("presence_state", {"a": pres(meta("1"))})
    assert presence.list() == []


def test_unknown_event_names_are_rejected(channel: Any) -> None:
    with pytest.raises(ValueError, match="unknown presence events"):
        Presence(channel, events={"sate": "x"})


def test_state_is_a_read_only_view(channel: Any) -> None:
    presence = Presence(channel)
    channel.trigger("presence_state", {"a": pres(meta("1"))})
    assert dict(presence.state) == {"a": pres(meta("1"))}
    with pytest.raises(TypeError):
        presence.state["b"] = pres()  # type: ignore[index]
    assert "pending" not in repr(presence)


def test_a_malformed_state_changes_nothing_and_keeps_diffs_buffered(channel: Any) -> None:
    presence = Presence(channel)
    diff = {"joins": {"b": pres(meta("2"))}}
    channel.trigger("presence_diff", diff)
    with pytest.raises(TypeError):
        channel.trigger("presence_state", {"a": None})
    assert presence.in_pending_sync_state()
    assert presence.pending_diffs == [diff]
    channel.trigger("presence_state", {"a": pres(meta("1"))})
    assert presence.list(lambda k, _p: k) == ["a", "b"]


def test_a_state_arriving_without_a_join_ref_leaves_the_presence_pending(channel: Any) -> None:
    channel.ref = ""
    presence = Presence(channel)
    channel.trigger("presence_state", {"a": pres(meta("1"))})
    assert presence.in_pending_sync_state()
