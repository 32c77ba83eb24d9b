"""The loop thread's edges: work the caller gave up on, interrupted waits, the exit hook, and
the loop and thread it makes once gevent patched the process."""

from __future__ import annotations

import asyncio
import selectors
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from phoenix_fast import _loop_thread
from phoenix_fast._loop_thread import LoopThread, Signal
from phoenix_fast.testing.waiting import scaled


class Interrupted(BaseException):
    """What a killed greenlet or a Ctrl-C raises in a waiting caller."""


@pytest.fixture
def blocked() -> Iterator[threading.Event]:
    """Holds the shared loop thread in a callback until the event is set (or 10 s pass)."""
    gate = threading.Event()
    LoopThread.shared().call_soon(gate.wait, scaled(10))
    yield gate
    gate.set()


def _drained(thread: LoopThread) -> None:
    """Returns once the loop ran everything scheduled before this call (its queue is FIFO)."""
    thread.call(lambda: None, scaled(10))


def test_a_call_the_caller_gave_up_on_never_runs(blocked: threading.Event) -> None:
    thread, ran = LoopThread.shared(), []
    with pytest.raises(TimeoutError, match=r"no result within 0\.05 s"):
        thread.call(lambda: ran.append("late"), 0.05)
    blocked.set()
    _drained(thread)
    assert ran == []  # not run behind the back of a caller that was told it timed out


def test_a_coroutine_the_caller_gave_up_on_never_starts(blocked: threading.Event) -> None:
    thread, ran = LoopThread.shared(), []

    async def work() -> None:
        ran.append("late")

    with pytest.raises(TimeoutError):
        thread.run(work, 0.05)
    blocked.set()
    _drained(thread)
    assert ran == []


def test_an_interrupted_wait_cancels_the_running_work() -> None:
    thread = LoopThread.shared()
    started, cancelled = threading.Event(), threading.Event()

    class InterruptedSignal:
        def __init__(self) -> None:
            self.event = threading.Event()

        def set(self) -> None:
            self.event.set()

        def wait(self, timeout: float | None) -> bool:
            assert started.wait(scaled(5))
            raise Interrupted

    class InterruptedWaiter:
        def signal(self) -> Signal:
            return InterruptedSignal()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(Interrupted):
        thread.run(forever, None, InterruptedWaiter())
    assert cancelled.wait(scaled(5))


def test_call_soon_runs_in_the_loop_thread_without_waiting() -> None:
    thread = LoopThread.shared()
    seen: list[Any] = []
    done = threading.Event()

    def record(value: str) -> None:
        seen.extend((value, thread.in_thread()))
        done.set()

    thread.call_soon(record, "given")
    assert done.wait(scaled(5))
    assert seen == ["given", True]


def test_the_exit_hook_stops_the_loop_and_its_thread() -> None:
    thread = LoopThread()
    try:
        assert thread.call(lambda: 7, scaled(5)) == 7
        assert thread._thread is not None
        thread._stop_at_exit()
        assert not thread._thread.is_alive()
        assert not thread.loop.is_running()
    finally:
        thread.loop.close()
    thread._stop_at_exit()  # the interpreter's exit runs it again: the closed loop is left


def test_the_exit_hook_of_a_parent_process_leaves_the_childs_loop_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    thread = LoopThread()
    try:
        monkeypatch.setattr(thread, "pid", -1)  # as seen in a child after a fork
        thread._stop_at_exit()
        assert thread.call(lambda: "still running", scaled(5)) == "still running"
    finally:
        monkeypatch.undo()
        thread._stop_at_exit()
        thread.loop.close()


class _RecordingSelector(selectors.DefaultSelector):
    made = 0

    def __init__(self) -> None:
        super().__init__()
        type(self).made += 1


@pytest.fixture
def gevent_patched(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """gevent's real ``monkey`` module, reporting ``selectors`` and ``threading`` as patched;
    ``get_original`` hands out a recording selector and the real ``start_new_thread``;
    uvloop made unimportable (gevent's path is asyncio's)."""
    monkey = pytest.importorskip("gevent.monkey")
    asked: dict[str, list[str]] = {"patched": [], "original": []}
    real_get_original = monkey.get_original

    def is_module_patched(name: str) -> bool:
        asked["patched"].append(name)
        return name in ("selectors", "threading")

    def get_original(module: str, name: str) -> Any:
        asked["original"].append(f"{module}.{name}")
        if (module, name) == ("selectors", "DefaultSelector"):
            real_get_original(module, name)  # the name exists in gevent's table
            return _RecordingSelector
        return real_get_original(module, name)

    monkeypatch.setattr(monkey, "is_module_patched", is_module_patched)
    monkeypatch.setattr(monkey, "get_original", get_original)
    monkeypatch.setitem(_loop_thread.sys.modules, "uvloop", None)
    return asked


def test_under_gevent_the_loop_runs_on_the_unpatched_selector_in_a_real_thread(
    gevent_patched: dict[str, list[str]],
) -> None:
    made = _RecordingSelector.made
    thread = LoopThread()
    try:
        assert _RecordingSelector.made == made + 1
        assert isinstance(thread.loop, asyncio.SelectorEventLoop)
        assert thread._thread is None  # started with _thread.start_new_thread, no Thread
        assert gevent_patched["original"] == [
            "selectors.DefaultSelector",
            "_thread.start_new_thread",
        ]

        async def where() -> bool:
            return thread.in_thread() and asyncio.get_running_loop() is thread.loop

        assert thread.run(where, scaled(5)) is True
        assert not thread.in_thread()
    finally:
        thread._stop_at_exit()  # no Thread to join: waits for nothing
        deadline = thread.loop.time() + scaled(5)
        while thread.loop.is_running() and thread.loop.time() < deadline:
            threading.Event().wait(0.01)  # polling a condition, bounded
        thread.loop.close()


def test_without_uvloop_or_gevent_the_loop_is_asyncios_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(_loop_thread.sys.modules, "uvloop", None)
    monkeypatch.delitem(_loop_thread.sys.modules, "gevent.monkey", raising=False)
    thread = LoopThread()
    try:
        assert type(thread.loop).__module__.startswith("asyncio.")  # not uvloop's Loop
        assert thread.call(asyncio.get_running_loop, scaled(5)) is thread.loop
    finally:
        thread._stop_at_exit()
        thread.loop.close()
