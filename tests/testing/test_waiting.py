"""The tests' one factor for wall-clock bounds, and ``wait_for`` under it."""

from __future__ import annotations

import asyncio

import pytest

from phoenix_fast.testing.waiting import TIME_SCALE_ENV, scaled, time_scale, wait_for


def test_the_factor_is_one_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TIME_SCALE_ENV, raising=False)
    assert time_scale() == 1.0
    assert scaled(2.5) == 2.5
    monkeypatch.setenv(TIME_SCALE_ENV, " ")
    assert time_scale() == 1.0


def test_the_factor_multiplies_every_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TIME_SCALE_ENV, "2.5")
    assert time_scale() == 2.5
    assert scaled(4) == 10.0


@pytest.mark.parametrize("raw", ["fast", "0", "-1", "nan", "inf"])
def test_a_factor_that_is_not_a_positive_number_says_how_to_fix_it(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv(TIME_SCALE_ENV, raw)
    with pytest.raises(ValueError, match=f"{TIME_SCALE_ENV} must be a number > 0.*not '{raw}'"):
        time_scale()


async def test_wait_for_returns_once_the_condition_holds() -> None:
    calls = 0

    def third_time() -> bool:
        nonlocal calls
        calls += 1
        return calls >= 3

    await wait_for(third_time, timeout=5, interval=0)
    assert calls == 3


async def test_wait_for_gives_up_after_the_scaled_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TIME_SCALE_ENV, "3")
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(AssertionError, match=r"condition not met within 0\.03 s"):
        await wait_for(lambda: False, timeout=0.01, interval=0.001)
    assert loop.time() - start >= 0.03
