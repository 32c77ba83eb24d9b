"""The table of pending replies: 10,000 pushes with timeouts.

Compares, in one run, the native ``Pending`` (ref counter, ref table and timing wheel in Rust),
a pure-Python equivalent (a dict of refs and a ``heapq`` of deadlines with lazy deletion) and,
for add/resolve, what the wheel replaces: one asyncio timer per push. Each benchmark checks its
result before it is timed.
"""

from __future__ import annotations

import asyncio
import heapq
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from phoenix_fast._native import Pending

N = 10_000
TIMEOUT = 10.0
NOW = 1000.0


class PyPending:
    """The pure-Python equivalent: a dict of refs and a heap of (deadline, seq, ref)."""

    def __init__(self) -> None:
        self.ref = 0
        self.items: dict[str, tuple[Any, float | None, int]] = {}
        self.heap: list[tuple[float, int, str]] = []
        self.seq = 0

    def make_ref(self) -> str:
        new = self.ref + 1
        self.ref = 0 if new > 2**53 else new
        return str(self.ref)

    def add(self, ref: str, item: Any, deadline: float | None) -> None:
        seq = self.seq
        self.seq += 1
        self.items[ref] = (item, deadline, seq)
        if deadline is not None:
            heapq.heappush(self.heap, (deadline, seq, ref))

    def resolve(self, ref: str) -> Any:
        entry = self.items.pop(ref, None)
        return None if entry is None else entry[0]

    def expire(self, now: float) -> list[Any]:
        heap, items, out = self.heap, self.items, []
        while heap and heap[0][0] <= now:
            _, seq, ref = heapq.heappop(heap)
            entry = items.get(ref)
            if entry is not None and entry[2] == seq:  # skip resolved and replaced entries
                del items[ref]
                out.append(entry[0])
        return out

    def next_deadline(self) -> float | None:
        heap, items = self.heap, self.items
        while heap and (entry := items.get(heap[0][2])) is not None and entry[2] != heap[0][1]:
            heapq.heappop(heap)
        while heap and heap[0][2] not in items:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def __len__(self) -> int:
        return len(self.items)


PUSHES = [object() for _ in range(N)]
_rng = random.Random(42)
# Replies arrive roughly in order; each push times out TIMEOUT after it was sent.
DEADLINES = [NOW + i * 1e-4 + TIMEOUT + _rng.uniform(0, 1e-3) for i in range(N)]
EXPECTED_ORDER = [PUSHES[i] for i in sorted(range(N), key=lambda i: (DEADLINES[i], i))]


def _add_resolve(table: Pending | PyPending) -> int:
    make_ref, add, resolve = table.make_ref, table.add, table.resolve
    refs = [make_ref() for _ in PUSHES]
    for ref, push, deadline in zip(refs, PUSHES, DEADLINES, strict=True):
        add(ref, push, deadline)
    resolved = 0
    for ref in refs:
        if resolve(ref) is not None:
            resolved += 1
    return resolved


def _add_resolve_native() -> int:
    return _add_resolve(Pending())


def _add_resolve_python() -> int:
    return _add_resolve(PyPending())


def _add_resolve_asyncio_timers() -> int:
    """One ``loop.call_at`` per push, cancelled on reply: what the wheel replaces."""
    loop = asyncio.new_event_loop()
    try:
        handles: dict[str, tuple[Any, asyncio.TimerHandle]] = {}
        counter = 0
        for push, deadline in zip(PUSHES, DEADLINES, strict=True):
            counter += 1
            ref = str(counter)
            handles[ref] = (push, loop.call_at(deadline, handles.pop, ref, None))
        resolved = 0
        for i in range(1, counter + 1):
            entry = handles.pop(str(i), None)
            if entry is not None:
                entry[1].cancel()
                resolved += 1
        return resolved
    finally:
        loop.close()


@pytest.mark.benchmark(group="pending-add-resolve-10000")
@pytest.mark.parametrize(
    "run",
    [_add_resolve_native, _add_resolve_python, _add_resolve_asyncio_timers],
    ids=["native", "python-dict-heapq", "asyncio-timer-per-push"],
)
def test_add_resolve(benchmark: Any, run: Callable[[], int]) -> None:
    assert run() == N
    assert benchmark(run) == N


def _filled(table: Pending | PyPending) -> Pending | PyPending:
    for i, (push, deadline) in enumerate(zip(PUSHES, DEADLINES, strict=True)):
        table.add(str(i + 1), push, deadline)
    return table


def _expire_at_once(table: Pending | PyPending) -> list[Any]:
    return table.expire(NOW + 2 * TIMEOUT)


def _expire_on_a_timer(table: Pending | PyPending) -> list[Any]:
    """What the client's loop timer does: wake at next_deadline(), expire, repeat."""
    out: list[Any] = []
    while (when := table.next_deadline()) is not None:
        out += table.expire(when)
    return out


def _steps() -> Iterator[float]:
    yield from (NOW + TIMEOUT + i * 1e-3 for i in range(2000))


def _expire_by_steps(table: Pending | PyPending) -> list[Any]:
    """Expire called every millisecond across the 1 s over which the timeouts fall due."""
    out: list[Any] = []
    for now in _steps():
        out += table.expire(now)
    return out


@pytest.mark.benchmark(group="pending-expire-10000")
@pytest.mark.parametrize("make", [Pending, PyPending], ids=["native", "python-dict-heapq"])
@pytest.mark.parametrize(
    "expire",
    [_expire_at_once, _expire_by_steps, _expire_on_a_timer],
    ids=["at-once", "every-ms", "at-next-deadline"],
)
def test_expire(
    benchmark: Any,
    make: Callable[[], Pending | PyPending],
    expire: Callable[[Pending | PyPending], list[Any]],
) -> None:
    table = _filled(make())
    fired = expire(table)
    assert len(fired) == N
    assert all(a is b for a, b in zip(fired, EXPECTED_ORDER, strict=True))
    assert len(table) == 0

    def setup() -> tuple[tuple[Pending | PyPending], dict[str, Any]]:
        return (_filled(make()),), {}

    fired = benchmark.pedantic(expire, setup=setup, rounds=30)
    assert len(fired) == N
