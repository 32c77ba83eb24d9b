"""Property-based differential tests: the native merge against the pure-Python reference.

Both must return equal states (key order and meta order included), fire the same callbacks
with equal arguments in the same order, and leave their inputs untouched.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from phoenix_fast import _presence_reference as reference
from phoenix_fast.presence import Presence

KEYS = st.sampled_from(["u1", "u2", "u3", "10", "2", "__proto__", "constructor", "", "ü🚀"])
# few distinct refs, so that metas collide; some missing, None or not strings
REFS = st.one_of(
    st.sampled_from(["a", "b", "c", "d", "e", "f"]).map(lambda s: "".join(["r", s])),
    st.none(),
    st.integers(min_value=0, max_value=2),
)


@st.composite
def metas(draw: st.DrawFn) -> dict[str, Any] | int:
    if draw(st.integers(0, 30)) == 0:
        return 0  # not a dict: its ref counts as None
    meta: dict[str, Any] = {"n": draw(st.integers(0, 3))}
    if draw(st.integers(0, 10)):
        meta["phx_ref"] = draw(REFS)
    return meta


@st.composite
def presences(draw: st.DrawFn) -> dict[str, Any]:
    size = draw(st.sampled_from([0, 1, 1, 2, 3, 12]))  # 12 takes the hashed path
    presence: dict[str, Any] = {"metas": draw(st.lists(metas(), min_size=size, max_size=size))}
    if draw(st.booleans()):
        presence["extra"] = draw(st.integers(0, 2))
    return presence


STATES = st.dictionaries(KEYS, presences(), max_size=6)
DIFFS = st.fixed_dictionaries({"joins": STATES, "leaves": STATES})


def plain(value: Any) -> Any:
    """Order-sensitive form: dicts become lists of items (dict == ignores order)."""
    if isinstance(value, dict):
        return [(k, plain(v)) for k, v in value.items()]
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def run(sync: Any, state: Any, other: Any) -> tuple[Any, Any]:
    calls: list[Any] = []
    inputs = copy.deepcopy((state, other))
    try:
        result = sync(
            state,
            other,
            lambda *args: calls.append(("join", copy.deepcopy(args))),
            lambda *args: calls.append(("leave", copy.deepcopy(args))),
        )
    except TypeError:
        result = TypeError
        calls = []  # the reference fires as it goes; the native merge raises first
    assert (state, other) == inputs
    return plain(result), plain(calls)


@settings(max_examples=400, deadline=None)
@given(state=STATES, new_state=STATES)
def test_sync_state_matches_reference(state: Any, new_state: Any) -> None:
    assert run(Presence.sync_state, state, new_state) == run(reference.sync_state, state, new_state)


@settings(max_examples=400, deadline=None)
@given(state=STATES, diff=DIFFS)
def test_sync_diff_matches_reference(state: Any, diff: Any) -> None:
    assert run(Presence.sync_diff, state, diff) == run(reference.sync_diff, state, diff)


STEPS = st.one_of(STATES.map(lambda s: ("state", s)), DIFFS.map(lambda d: ("diff", d)))


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(STEPS, max_size=8))
def test_sequences_match_reference(steps: list[tuple[str, Any]]) -> None:
    native: dict[str, Any] = {}
    ref: dict[str, Any] = {}
    for kind, payload in steps:
        if kind == "state":
            native = Presence.sync_state(native, payload)
            ref = reference.sync_state(ref, payload)
        else:
            native = Presence.sync_diff(native, payload)
            ref = reference.sync_diff(ref, payload)
        assert plain(native) == plain(ref)
        assert plain(Presence.list(native, lambda k, p: (k, p))) == plain(
            reference.list_presences(ref, lambda k, p: (k, p))
        )


class ReferenceInstance:
    """The JS client's Presence instance, read literally, over the pure-Python merge."""

    def __init__(self, channel: Any, calls: list[Any]) -> None:
        self.channel = channel
        self.state: dict[str, Any] = {}
        self.pending: list[Any] = []
        self.join_ref: str | None = None
        self.calls = calls

    def on_join(self, *args: Any) -> None:
        self.calls.append(("join", copy.deepcopy(args)))

    def on_leave(self, *args: Any) -> None:
        self.calls.append(("leave", copy.deepcopy(args)))

    def handle_state(self, new_state: Any) -> None:
        self.join_ref = self.channel.join_ref
        self.state = reference.sync_state(self.state, new_state, self.on_join, self.on_leave)
        for diff in self.pending:
            self.state = reference.sync_diff(self.state, diff, self.on_join, self.on_leave)
        self.pending = []
        self.calls.append(("sync",))

    def handle_diff(self, diff: Any) -> None:
        if not self.join_ref or self.join_ref != self.channel.join_ref:
            self.pending.append(diff)
        else:
            self.state = reference.sync_diff(self.state, diff, self.on_join, self.on_leave)
            self.calls.append(("sync",))


EVENTS = st.one_of(STEPS, st.just(("rejoin", None)))


@settings(max_examples=200, deadline=None)
@given(events=st.lists(EVENTS, max_size=12))
def test_instance_matches_a_literal_port_of_the_js_instance(
    fake_channel_class: Any, events: list[tuple[str, Any]]
) -> None:
    channel = fake_channel_class()
    native_calls: list[Any] = []
    model_calls: list[Any] = []
    presence = Presence(channel)
    presence.on_join(lambda *args: native_calls.append(("join", copy.deepcopy(args))))
    presence.on_leave(lambda *args: native_calls.append(("leave", copy.deepcopy(args))))
    presence.on_sync(lambda: native_calls.append(("sync",)))
    model = ReferenceInstance(channel, model_calls)
    for kind, payload in events:
        if kind == "rejoin":
            channel.rejoin()
            continue
        event = "presence_state" if kind == "state" else "presence_diff"
        channel.trigger(event, payload)
        (model.handle_state if kind == "state" else model.handle_diff)(payload)
        assert plain(dict(presence.state)) == plain(model.state)
        assert presence.in_pending_sync_state() == (
            not model.join_ref or model.join_ref != channel.join_ref
        )
        assert presence.pending_diffs == model.pending
    assert plain(native_calls) == plain(model_calls)
