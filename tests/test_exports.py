"""The public surface: ``__all__`` is sorted, complete, and every name in it exists."""

from __future__ import annotations

import asyncio

import phoenix_fast


def test_all_is_sorted_and_resolvable() -> None:
    names = phoenix_fast.__all__
    assert names == sorted(names)
    for name in names:
        assert getattr(phoenix_fast, name) is not None, name


def test_public_classes_are_exported() -> None:
    for name in ("Socket", "Channel", "Push", "Presence", "Timer", "LongPoll", "Serializer"):
        assert name in phoenix_fast.__all__


def test_run_uses_uvloop_when_installed() -> None:
    async def which() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert phoenix_fast.run(which()).startswith("uvloop")
