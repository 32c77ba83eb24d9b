"""How many positional arguments a user callback takes (JS callbacks ignore extra ones)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import FunctionType, MethodType
from typing import Any

__all__ = ["check_callback", "positional_arity"]

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _shape(callback: Callable[..., Any]) -> tuple[int, bool] | None:
    """(required positional parameters, takes ``*args``), or None if unreadable.

    A plain function or a method bound to one is read from its code object: the load tool
    binds two callbacks per channel, and ``inspect.signature`` took 11.5 µs a call, about a
    tenth of each socket's cost in a 5,000-socket connect storm. Anything else (partials,
    wrapped functions, classes, builtins) goes through ``inspect.signature``.
    """
    func: Any = callback
    bound = 0
    if type(callback) is MethodType:
        func, bound = callback.__func__, 1
    if type(func) is FunctionType and not hasattr(func, "__wrapped__"):
        if "__signature__" not in func.__dict__:
            code = func.__code__
            required = code.co_argcount - len(func.__defaults__ or ()) - bound
            return max(required, 0), bool(code.co_flags & inspect.CO_VARARGS)
    try:
        params = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):
        return None
    required = 0
    star = False
    for param in params:
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            star = True
        elif param.default is inspect.Parameter.empty and param.kind in _POSITIONAL:
            required += 1
    return required, star


def positional_arity(callback: Callable[..., Any], most: int, star: int | None = None) -> int:
    """The callback's required positional parameters, at most ``most``, so that
    ``lambda p, t=topic: ...`` is given one argument; ``*args`` gets ``star`` (``most`` by
    default). Callables whose signature cannot be read are given one."""
    shape = _shape(callback)
    if shape is None:
        return 1
    count, takes_star = shape
    if takes_star:
        return most if star is None else max(count, star)
    return min(count, most)


def check_callback(callback: object, most: int, what: str) -> None:
    """Raises now, where the callback is registered, what would otherwise fail on every call.

    Raises:
        TypeError: ``callback`` is not callable, or requires more than ``most`` positional
            arguments.
    """
    if not callable(callback):
        raise TypeError(f"{what} must be callable, not {type(callback).__name__}")
    shape = _shape(callback)
    if shape is None:
        return
    required = shape[0]
    if required > most:
        name = getattr(callback, "__qualname__", repr(callback))
        raise TypeError(
            f"{what} {name} requires {required} positional arguments, but is called with at "
            f"most {most}"
        )
