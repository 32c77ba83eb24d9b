"""The native ref counter, table of pending replies and timing wheel, on fake time."""

from __future__ import annotations

import gc
import random
import sys
import weakref

import pytest

from phoenix_fast._native import Pending, TimerWheel


class Push:
    """A stand-in for the client's Push (weak-referenceable, unlike a plain object)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Push({self.name!r})"


# -- refs ---------------------------------------------------------------------------------------


def test_make_ref_counts_from_one() -> None:
    pending = Pending()
    assert pending.ref == 0
    assert [pending.make_ref() for _ in range(3)] == ["1", "2", "3"]
    assert pending.ref == 3


def test_make_ref_wraps_where_js_numbers_stop() -> None:
    pending = Pending()
    pending.set_ref(2**53 - 1)
    assert pending.make_ref() == str(2**53)
    assert pending.ref == 2**53
    assert pending.make_ref() == "0"
    assert pending.make_ref() == "1"


def test_make_ref_matches_the_js_float_rule() -> None:
    def js_next(ref: float) -> float:
        new = ref + 1
        return 0 if new == ref else new

    for start in (0, 2**53 - 2, 2**53):
        pending = Pending()
        pending.set_ref(start)
        js = float(start)
        for _ in range(4):
            js = js_next(js)
            assert pending.make_ref() == str(int(js))


def test_set_ref_rejects_values_out_of_range() -> None:
    pending = Pending()
    with pytest.raises(ValueError, match="out of range"):
        pending.set_ref(2**53 + 1)
    with pytest.raises(OverflowError):
        pending.set_ref(-1)
    assert pending.ref == 0


# -- add / resolve / discard --------------------------------------------------------------------


def test_add_and_resolve() -> None:
    pending = Pending()
    a, b = Push("a"), Push("b")
    pending.add("1", a, 10.0)
    pending.add("2", b, None)
    assert len(pending) == 2
    assert pending.timers() == 1
    assert "1" in pending
    assert "2" in pending
    assert pending.resolve("1") is a
    assert "1" not in pending
    assert pending.timers() == 0
    assert pending.discard("2") is b
    assert len(pending) == 0


def test_add_next_makes_the_next_ref_and_registers_the_item() -> None:
    pending = Pending()
    a, b = Push("a"), Push("b")
    assert pending.make_ref() == "1"
    assert pending.add_next(a, 5.0) == "2"
    assert pending.add_next(b, None) == "3"
    assert pending.timers() == 1
    with pytest.raises(ValueError, match="NaN"):
        pending.add_next(a, float("nan"))
    assert pending.make_ref() == "4"  # the failed call made no ref
    assert pending.expire(5.0) == [a]
    assert pending.resolve("3") is b
    assert len(pending) == 0


def test_unknown_refs_are_ignored() -> None:
    pending = Pending()
    assert pending.resolve("nope") is None
    assert pending.discard("nope") is None
    assert pending.reschedule("nope", 1.0) is False
    assert "nope" not in pending
    assert 1 not in pending
    assert None not in pending
    pending.add("1", Push("a"), 1.0)
    assert pending.resolve("1") is not None
    assert pending.resolve("1") is None, "a ref resolves once"


@pytest.mark.parametrize(
    "refs",
    [
        ["1", "01", "001", "1 ", "+1", "-1", "1.0", ""],
        ["0", "00", "x", "ref:1", "é", "\u0661"],
        ["9999999999999999999", "18446744073709551615", "18446744073709551616", "1" * 40],
    ],
)
def test_refs_that_look_alike_stay_distinct(refs: list[str]) -> None:
    pending = Pending()
    pushes = {ref: Push(ref) for ref in refs}
    for i, ref in enumerate(refs):
        pending.add(ref, pushes[ref], None if i % 2 else float(i))
    assert len(pending) == len(refs)
    assert all(ref in pending for ref in refs)
    assert pending.expire(float(len(refs))) == [pushes[r] for i, r in enumerate(refs) if i % 2 == 0]
    assert all(pending.resolve(r) is pushes[r] for i, r in enumerate(refs) if i % 2)
    assert len(pending) == 0


def test_adding_an_existing_ref_replaces_the_entry_and_its_timer() -> None:
    pending = Pending()
    old, new = Push("old"), Push("new")
    pending.add("1", old, 1.0)
    pending.add("1", new, 5.0)
    assert len(pending) == 1
    assert pending.timers() == 1
    assert pending.expire(2.0) == []
    assert pending.next_deadline() == 5.0
    assert pending.expire(5.0) == [new]
    pending.add("2", old, 1.0)
    pending.add("2", new, None)
    assert pending.timers() == 0
    assert pending.expire(100.0) == []
    assert pending.resolve("2") is new


def test_resolve_cancels_the_timer() -> None:
    pending = Pending()
    pending.add("1", Push("a"), 1.0)
    pending.resolve("1")
    assert pending.expire(10.0) == []
    assert pending.next_deadline() is None


def test_nan_times_are_rejected() -> None:
    pending = Pending()
    with pytest.raises(ValueError, match="NaN"):
        pending.add("1", Push("a"), float("nan"))
    assert len(pending) == 0
    with pytest.raises(ValueError, match="NaN"):
        pending.expire(float("nan"))
    pending.add("1", Push("a"), 1.0)
    with pytest.raises(ValueError, match="NaN"):
        pending.reschedule("1", float("nan"))
    assert pending.next_deadline() == 1.0


@pytest.mark.parametrize("resolution", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_resolutions_are_rejected(resolution: float) -> None:
    with pytest.raises(ValueError, match="resolution"):
        Pending(resolution)
    with pytest.raises(ValueError, match="resolution"):
        TimerWheel(resolution)


def test_resolution_defaults_to_a_millisecond() -> None:
    assert Pending().resolution == 0.001
    assert Pending(0.01).resolution == 0.01
    assert TimerWheel().resolution == 0.001


# -- expire / next_deadline on fake time --------------------------------------------------------


def test_expire_is_exact_within_a_tick() -> None:
    pending = Pending(0.001)
    push = Push("a")
    pending.add("1", push, 0.0105)
    assert pending.expire(0.0104) == []
    assert "1" in pending
    assert pending.expire(0.0106) == [push]
    assert "1" not in pending
    assert pending.timers() == 0


def test_expire_fires_at_exactly_the_deadline() -> None:
    pending = Pending()
    push = Push("a")
    pending.add("1", push, 2.5)
    assert pending.expire(2.4999999999) == []
    assert pending.expire(2.5) == [push]


def test_expire_orders_by_deadline_then_insertion() -> None:
    pending = Pending()
    deadlines = {"1": 3.0, "2": 1.0, "3": 3.0, "4": 0.5, "5": 1.0, "6": 1000.0, "7": 2.0}
    pushes = {ref: Push(ref) for ref in deadlines}
    for ref, deadline in deadlines.items():
        pending.add(ref, pushes[ref], deadline)
    fired = pending.expire(5.0)
    assert [p.name for p in fired] == ["4", "2", "5", "7", "1", "3"]
    assert len(pending) == 1
    assert pending.next_deadline() == 1000.0


def test_untimed_entries_never_expire() -> None:
    pending = Pending()
    pending.add("1", Push("a"), None)
    assert pending.next_deadline() is None
    assert pending.expire(1e12) == []
    assert len(pending) == 1
    assert pending.timers() == 0


def test_past_deadlines_fire_at_the_next_expire() -> None:
    pending = Pending()
    assert pending.expire(100.0) == []
    push = Push("a")
    pending.add("1", push, 50.0)
    assert pending.next_deadline() == 50.0
    assert pending.expire(100.0) == [push]


def test_next_deadline_is_never_later_than_the_earliest() -> None:
    rng = random.Random(7)
    pending = Pending(0.001)
    live: dict[str, float] = {}
    now = 0.0
    for step in range(3000):
        choice = rng.random()
        if choice < 0.5:
            ref = pending.make_ref()
            deadline = now + rng.choice([rng.uniform(0, 0.05), rng.uniform(0, 10), 1e4])
            pending.add(ref, Push(ref), deadline)
            live[ref] = deadline
        elif choice < 0.7 and live:
            ref = rng.choice(list(live))
            assert pending.resolve(ref) is not None
            del live[ref]
        else:
            now += rng.uniform(0, 0.02)
            fired = pending.expire(now)
            assert all(live.pop(p.name) <= now for p in fired)
            assert all(d > now for d in live.values()), f"late at step {step}"
        next_deadline = pending.next_deadline()
        if live:
            assert next_deadline is not None
            assert next_deadline <= min(live.values())
        else:
            assert next_deadline is None
        assert len(pending) == len(live) == pending.timers()


def test_waking_at_next_deadline_always_makes_progress() -> None:
    """A loop timer armed at next_deadline() never spins: each wake fires or moves on."""
    pending = Pending(0.001)
    rng = random.Random(3)
    deadlines = sorted(rng.uniform(0, 30) for _ in range(500))
    for i, deadline in enumerate(deadlines):
        pending.add(str(i), i, deadline)
    fired: list[int] = []
    wakes = 0
    while (when := pending.next_deadline()) is not None:
        wakes += 1
        assert wakes < 5000
        before = pending.next_deadline()
        got = pending.expire(when)
        assert got or pending.next_deadline() != before
        fired.extend(got)
    assert fired == list(range(500))
    assert wakes < 600


def test_reschedule() -> None:
    pending = Pending()
    a, b = Push("a"), Push("b")
    pending.add("1", a, 1.0)
    pending.add("2", b, 2.0)
    assert pending.reschedule("1", 3.0) is True
    assert pending.expire(2.5) == [b]
    assert pending.reschedule("1", None) is True
    assert pending.timers() == 0
    assert pending.expire(10.0) == []
    assert pending.reschedule("1", 11.0) is True
    assert pending.timers() == 1
    assert pending.next_deadline() == 11.0
    assert pending.expire(11.0) == [a]
    assert len(pending) == 0


# -- drain --------------------------------------------------------------------------------------


def test_drain_returns_everything_in_insertion_order() -> None:
    pending = Pending()
    pushes = [Push(str(i)) for i in range(6)]
    for i, push in enumerate(pushes):
        pending.add(str(i), push, None if i % 2 else 100.0 - i)
    assert pending.drain() == pushes
    assert len(pending) == 0
    assert pending.timers() == 0
    assert pending.next_deadline() is None
    assert pending.drain() == []
    pending.add("x", pushes[0], 1.0)
    assert pending.expire(1.0) == [pushes[0]]


# -- memory -------------------------------------------------------------------------------------


def test_adding_and_resolving_many_pushes_releases_everything() -> None:
    pending = Pending()
    pushes = [Push(str(i)) for i in range(100_000)]
    refs = [weakref.ref(p) for p in pushes[::1000]]
    for i, push in enumerate(pushes):
        pending.add(pending.make_ref(), push, 10.0 + i * 1e-4)
    assert len(pending) == 100_000
    assert pending.timers() == 100_000
    for i in range(1, 100_001):
        assert pending.resolve(str(i)) is not None
    assert len(pending) == 0
    assert pending.timers() == 0
    assert pending.next_deadline() is None
    del pushes, push
    assert all(r() is None for r in refs), "items are released once resolved"


def test_refcounts_return_to_baseline() -> None:
    pending = Pending()
    push = Push("a")
    base = sys.getrefcount(push)
    for i in range(1000):
        pending.add(str(i), push, float(i))
    assert sys.getrefcount(push) == base + 1000
    pending.expire(499.0)
    assert sys.getrefcount(push) == base + 500
    for i in range(500, 1000, 2):
        pending.discard(str(i))
    pending.add("x", push, None)
    pending.add("x", push, None)  # replaced: the old reference is dropped
    assert sys.getrefcount(push) == base + 251
    pending.drain()
    assert sys.getrefcount(push) == base


def test_items_are_released_when_the_table_is_dropped() -> None:
    pending = Pending()
    push = Push("a")
    ref = weakref.ref(push)
    pending.add("1", push, 1.0)
    pending.add("2", Push("b"), None)
    del push
    assert ref() is not None
    del pending
    assert ref() is None


def test_cycles_through_the_table_are_collected() -> None:
    class Socket:
        def __init__(self) -> None:
            self.pending = Pending()

    socket = Socket()
    push = Push("a")
    push.socket = socket  # type: ignore[attr-defined]
    socket.pending.add("1", push, 1.0)
    socket.pending.add("2", socket, None)
    ref = weakref.ref(socket)
    del socket, push
    gc.collect()
    assert ref() is None


# -- TimerWheel ---------------------------------------------------------------------------------


def test_timer_wheel() -> None:
    wheel = TimerWheel()
    a = wheel.insert(2.0, "a")
    b = wheel.insert(1.0, "b")
    c = wheel.insert(2.0, "c")
    assert len(wheel) == 3
    assert a in wheel
    assert "a" not in wheel
    assert wheel.next_deadline() is not None
    assert wheel.next_deadline() <= 1.0  # type: ignore[operator]
    assert wheel.cancel(c) == "c"
    assert wheel.cancel(c) is None
    assert c not in wheel
    assert wheel.cancel(2**64 - 1) is None
    assert wheel.reschedule(b, 3.0) is True
    assert wheel.reschedule(c, 3.0) is False
    assert wheel.expire(2.5) == ["a"]
    assert wheel.expire(3.0) == ["b"]
    assert len(wheel) == 0
    assert wheel.next_deadline() is None
    d = wheel.insert(5.0, "d")
    assert d != c, "ids are not reused"
    assert wheel.drain() == ["d"]


def test_timer_wheel_stale_ids_do_not_cancel_new_timers() -> None:
    wheel = TimerWheel()
    old = wheel.insert(1.0, "old")
    assert wheel.expire(1.0) == ["old"]
    new = wheel.insert(2.0, "new")
    assert wheel.cancel(old) is None
    assert wheel.cancel(new) == "new"


def test_timer_wheel_matches_a_sorted_model() -> None:
    rng = random.Random(11)
    wheel = TimerWheel(0.005)
    model: dict[int, tuple[float, int]] = {}
    now = 0.0
    seq = 0
    for _ in range(5000):
        if rng.random() < 0.6:
            deadline = now + rng.expovariate(1.0)
            model[wheel.insert(deadline, seq)] = (deadline, seq)
            seq += 1
        elif model and rng.random() < 0.3:
            timer = rng.choice(list(model))
            assert wheel.cancel(timer) == model.pop(timer)[1]
        else:
            now += rng.uniform(0, 0.3)
            expected = sorted(v for v in model.values() if v[0] <= now)
            assert wheel.expire(now) == [s for _, s in expected]
            model = {k: v for k, v in model.items() if v[0] > now}
        assert len(wheel) == len(model)
