"""Running on uvloop when it is installed; never required, never installed on import."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["new_event_loop", "run"]

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop: uvloop's when installed, else asyncio's default."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run(main: Coroutine[Any, Any, T], *, debug: bool | None = None) -> T:
    """``asyncio.run(main)`` on uvloop when it is installed (phoenix_fast is fastest there)."""
    if sys.version_info >= (3, 11):
        with asyncio.Runner(debug=debug, loop_factory=new_event_loop) as runner:
            return runner.run(main)
    else:  # pragma: no cover - Python 3.10 only; coverage is measured on 3.11 (make test-python)
        return _run_on_3_10(main, debug)


def _run_on_3_10(  # pragma: no cover - Python 3.10 only (see run)
    main: Coroutine[Any, Any, T], debug: bool | None
) -> T:
    """``run`` where there is no ``asyncio.Runner`` (added in 3.11)."""
    loop = new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        if debug is not None:
            loop.set_debug(debug)
        return loop.run_until_complete(main)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        loop.close()
