"""``phoenix_fast.run`` and the loop factory: uvloop when it is installed, asyncio's otherwise."""

from __future__ import annotations

import asyncio
import sys

import pytest

import phoenix_fast
from phoenix_fast import _loop

uvloop = pytest.importorskip("uvloop")


def test_the_new_loop_is_uvloops_when_installed() -> None:
    loop = _loop.new_event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_without_uvloop_the_new_loop_is_asyncios(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # `import uvloop` raises ImportError
    loop = _loop.new_event_loop()
    try:
        assert not isinstance(loop, uvloop.Loop)
        assert isinstance(loop, asyncio.BaseEventLoop)
    finally:
        loop.close()


def test_run_returns_the_result_on_a_fresh_uvloop_and_closes_it() -> None:
    seen: list[asyncio.AbstractEventLoop] = []

    async def main() -> str:
        loop = asyncio.get_running_loop()
        seen.append(loop)
        return f"debug={loop.get_debug()}"

    assert phoenix_fast.run(main(), debug=True) == "debug=True"
    assert isinstance(seen[0], uvloop.Loop)
    assert seen[0].is_closed()


def test_run_raises_what_the_coroutine_raised() -> None:
    async def main() -> None:
        raise LookupError("inside")

    with pytest.raises(LookupError, match="inside"):
        phoenix_fast.run(main())
