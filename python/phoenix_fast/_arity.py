"""How many positional arguments a user callback takes (JS callbacks ignore extra ones)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["check_callback", "positional_arity"]


def positional_arity(callback: Callable[..., Any], most: int, star: int | None = None) -> int:
    """The callback's required positional parameters, at most ``most``, so that
    ``lambda p, t=topic: ...`` is given one argument; ``*args`` gets ``star`` (``most`` by
    default). Callables whose signature cannot be read are given one."""
    try:
        params = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):
        return 1
    count = 0
    for param in params:
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            return most if star is None else max(count, star)
        if param.default is inspect.Parameter.empty and param.kind in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            count += 1
    return min(count, most)


def check_callback(callback: object, most: int, what: str) -> None:
    """Raises now, where the callback is registered, what would otherwise fail on every call.

    Raises:
        TypeError: ``callback`` is not callable, or requires more than ``most`` positional
            arguments.
    """
    if not callable(callback):
        raise TypeError(f"{what} must be callable, not {type(callback).__name__}")
    try:
        params = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):
        return
    required = sum(
        1
        for p in params
        if p.default is inspect.Parameter.empty
        and p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    )
    if required > most:
        name = getattr(callback, "__qualname__", repr(callback))
        raise TypeError(
            f"{what} {name} requires {required} positional arguments, but is called with at "
            f"most {most}"
        )
