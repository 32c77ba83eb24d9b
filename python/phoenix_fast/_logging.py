"""One logging front for a socket: a stdlib ``Logger`` or a JS-style ``logger(kind, msg, data)``.

Trace lines (``kind``, ``msg``) are only built when a logger was given. Errors always go
somewhere: to the given logger, else to ``logging.getLogger("phoenix_fast")``. Nothing here
ever receives a token or the values of params; callers pass topics, events and refs only.
"""

from __future__ import annotations

import logging
from typing import Any

from phoenix_fast._types import LoggerFunc
from phoenix_fast.errors import ProtocolError, TransportError

__all__ = ["LOGGER", "SocketLog"]

LOGGER = logging.getLogger("phoenix_fast")

#: Failures of the network or the server, logged without a traceback (a user callback that
#: raises is a bug in user code, and keeps its traceback).
_EXPECTED = (TransportError, ProtocolError, OSError, TimeoutError)


class SocketLog:
    """Routes a socket's log lines to the user's logger (see module docstring)."""

    __slots__ = ("_func", "_logger", "enabled")

    def __init__(self, logger: logging.Logger | LoggerFunc | None) -> None:
        self._logger: logging.Logger | None = None
        self._func: LoggerFunc | None = None
        if isinstance(logger, logging.Logger):
            self._logger = logger
        elif logger is not None:
            self._func = logger
        #: Whether trace lines are wanted (the hot path checks this before formatting).
        self.enabled = logger is not None and (
            self._logger is None or self._logger.isEnabledFor(logging.DEBUG)
        )

    def __call__(self, kind: str, msg: str, data: Any = None) -> None:
        """A trace line (JS ``socket.log(kind, msg, data)``)."""
        if self._func is not None:
            try:
                self._func(kind, msg, data)
            except Exception:
                LOGGER.exception("the socket's logger raised")
        elif self._logger is not None:
            self._logger.debug("%s: %s", kind, msg)

    def error(self, kind: str, msg: str, exc: BaseException | None = None) -> None:
        """A problem the client survived: a raising callback, a bad frame, a failed connect."""
        if self._func is not None:
            try:
                self._func(kind, msg, exc)
            except Exception:
                LOGGER.exception("the socket's logger raised")
            return
        logger = self._logger or LOGGER
        if exc is None or isinstance(exc, _EXPECTED):
            # the network and the peer fail in expected ways: one line, the traceback only
            # when debugging
            logger.warning("%s: %s", kind, msg, exc_info=logger.isEnabledFor(logging.DEBUG) and exc)
            return
        logger.warning("%s: %s", kind, msg, exc_info=(type(exc), exc, exc.__traceback__))
