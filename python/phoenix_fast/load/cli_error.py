"""How the ``phoenix-fast`` commands report bad input: one line on stderr, status 2."""

from __future__ import annotations

import sys

__all__ = ["fail"]


def fail(message: str, status: int = 2) -> int:
    """Prints ``phoenix-fast: error: <message>`` on stderr; returns ``status`` to exit with."""
    print(f"phoenix-fast: error: {message}", file=sys.stderr)
    return status
