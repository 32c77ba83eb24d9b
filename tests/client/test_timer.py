"""Timer and the backoff schedules, on fake time."""

from __future__ import annotations

import asyncio

import pytest

from phoenix_fast._backoff import reconnect_after, rejoin_after, with_jitter
from phoenix_fast.timer import Timer


async def test_timer_schedules_by_tries_and_resets() -> None:
    loop = asyncio.get_running_loop()
    fired: list[float] = []
    timer = Timer(lambda: fired.append(loop.time()), lambda tries: [1.0, 5.0, 10.0][tries - 1])
    timer.schedule_timeout()
    await asyncio.sleep(1)
    assert fired == [1.0] and timer.tries == 1
    timer.schedule_timeout()
    await asyncio.sleep(5)
    assert fired == [1.0, 6.0] and timer.tries == 2
    timer.reset()
    timer.schedule_timeout()
    await asyncio.sleep(1)
    assert fired == [1.0, 6.0, 7.0]


async def test_schedule_replaces_the_previous_call_and_reset_cancels() -> None:
    fired: list[int] = []
    timer = Timer(lambda: fired.append(1), lambda tries: 1.0)
    timer.schedule_timeout()
    await asyncio.sleep(0.5)
    timer.schedule_timeout()
    await asyncio.sleep(0.9)
    assert fired == [] and timer.scheduled
    timer.reset()
    await asyncio.sleep(5)
    assert fired == [] and not timer.scheduled and timer.tries == 0


async def test_a_raising_callback_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    def boom() -> None:
        raise RuntimeError("boom")

    timer = Timer(boom, lambda tries: 0.1)
    timer.schedule_timeout()
    await asyncio.sleep(0.2)
    assert "Timer callback raised" in caplog.text and timer.tries == 1


def test_default_backoffs_in_seconds() -> None:
    assert [reconnect_after(t) for t in range(1, 12)] == [
        0.01,
        0.05,
        0.1,
        0.15,
        0.2,
        0.25,
        0.5,
        1.0,
        2.0,
        5.0,
        5.0,
    ]
    assert [rejoin_after(t) for t in range(1, 6)] == [1.0, 2.0, 5.0, 10.0, 10.0]


def test_jitter() -> None:
    assert with_jitter(rejoin_after, 0) is rejoin_after
    assert with_jitter(rejoin_after, 0.5, rng=lambda: 1.0)(3) == 2.5
    assert with_jitter(rejoin_after, 1.0, rng=lambda: 0.25)(4) == 7.5
    assert with_jitter(rejoin_after, 1.0, rng=lambda: 0.0)(1) == 1.0
    with pytest.raises(ValueError):
        with_jitter(rejoin_after, 1.5)
