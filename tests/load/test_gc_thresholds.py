"""The load processes' garbage collector thresholds: raised for a run, restored after."""

from __future__ import annotations

import asyncio
import gc

import pytest

from phoenix_fast.load.procs import GC_THRESHOLDS, gc_thresholds, run_loop


def test_a_run_has_the_load_thresholds_and_leaves_the_process_as_it_was() -> None:
    before = gc.get_threshold()
    assert before != GC_THRESHOLDS  # else this test could not tell

    async def main() -> tuple[int, int, int]:
        await asyncio.sleep(0)
        return gc.get_threshold()

    assert run_loop(main) == GC_THRESHOLDS
    assert gc.get_threshold() == before


def test_the_thresholds_are_restored_when_the_run_fails() -> None:
    before = gc.get_threshold()

    async def main() -> None:
        raise RuntimeError("the run failed")

    with pytest.raises(RuntimeError, match="the run failed"):
        run_loop(main)
    assert gc.get_threshold() == before
    with gc_thresholds((5_000, 5, 5)):
        assert gc.get_threshold() == (5_000, 5, 5)
    assert gc.get_threshold() == before
