"""``Deadlines``, the one loop timer, on its own: a failing timeout or machine step is logged
and the timer goes on (fake time)."""

from __future__ import annotations

import asyncio
from typing import Any

from phoenix_fast._bound_loop import BoundLoop
from phoenix_fast._deadlines import Deadlines
from phoenix_fast._logging import SocketLog


class Machine:
    """A connection machine reduced to its deadline; each step pushes it one second on."""

    def __init__(self, first: float | None) -> None:
        self.deadline = first
        self.steps: list[float] = []

    def next_deadline(self) -> float | None:
        return self.deadline


class Push:
    def __init__(self, timeout: float) -> None:
        self.ref: str | None = None
        self.timeout = timeout
        self._deadline = 0.0
        self._conn: object = None


def make(machine: Machine, on_timeout: Any, on_due: Any) -> tuple[Deadlines, list[tuple[str, str]]]:
    logged: list[tuple[str, str]] = []
    log = SocketLog(lambda kind, msg, data: logged.append((kind, msg)))
    loop = BoundLoop()
    loop.bind()
    return Deadlines(loop, machine, on_timeout, on_due, log), logged  # type: ignore[arg-type]


async def test_a_raising_timeout_is_logged_and_the_other_pushes_still_time_out() -> None:
    timed_out: list[Push] = []

    def on_timeout(push: Push) -> None:
        timed_out.append(push)
        if len(timed_out) == 1:
            raise RuntimeError("hook bug")

    deadlines, logged = make(Machine(None), on_timeout, lambda now: None)
    now = asyncio.get_running_loop().time()
    pushes = [Push(1.0), Push(1.0), Push(2.0)]
    for push in pushes:
        deadlines.track(push, now)  # type: ignore[arg-type]
    assert len(deadlines) == 3 and repr(deadlines) == f"<Deadlines 3 pending, next at {now + 1.0}>"
    await asyncio.sleep(1.5)
    assert sorted(timed_out, key=id) == sorted(pushes[:2], key=id)
    assert logged == [("push", "a timeout failed")]
    await asyncio.sleep(1.0)  # the timer was armed again for the last one
    assert len(timed_out) == 3 and len(deadlines) == 0
    assert repr(deadlines) == "<Deadlines 0 pending, next at None>"


async def test_a_raising_machine_step_is_logged_and_the_timer_keeps_serving_it() -> None:
    machine = Machine(None)

    def on_due(now: float) -> None:
        machine.steps.append(now)
        machine.deadline = now + 1.0  # the machine's next step
        if len(machine.steps) == 1:
            raise RuntimeError("carrying out a step failed")

    deadlines, logged = make(machine, lambda push: None, on_due)
    start = asyncio.get_running_loop().time()
    machine.deadline = start + 1.0
    deadlines.rearm()
    await asyncio.sleep(3.5)
    assert machine.steps == [start + 1.0, start + 2.0, start + 3.0]
    assert logged == [("transport", "carrying out the connection's next step failed")]
    machine.deadline = None
