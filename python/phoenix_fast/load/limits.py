"""Naming the limit a run hit, once, with its fix, instead of counting socket errors.

Thousands of sockets failing the same way are one fact: this process ran out of file
descriptors (``EMFILE``), the system did (``ENFILE``), one source address ran out of
ephemeral ports to the server (``EADDRNOTAVAIL``), or the server refused connections
(``ECONNREFUSED``, a reset before the handshake ended, HTTP 503). :func:`classify` finds which
one an error is (the cause chain of a :class:`~phoenix_fast.errors.ConnectError` holds the
``OSError``); the run counts it under one error kind and adds one note with the fix
(:func:`note`), the same text in every worker process so that merged reports keep one.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path

__all__ = [
    "EPHEMERAL_PORTS",
    "LIMITS",
    "LIMIT_PREFIX",
    "OPEN_FILES",
    "REFUSED",
    "SYSTEM_FILES",
    "classify",
    "note",
]

OPEN_FILES = "open files"
SYSTEM_FILES = "system file table"
EPHEMERAL_PORTS = "ephemeral ports"
REFUSED = "server refusing connections"

#: A live snapshot's key for a limit hit (its value: the failures it caused so far).
LIMIT_PREFIX = "limit:"

#: Each limit's error kind (the row of the errors table that counts it).
LIMITS: dict[str, str] = {
    OPEN_FILES: "limit: open files of this process (EMFILE)",
    SYSTEM_FILES: "limit: open files of the whole system (ENFILE)",
    EPHEMERAL_PORTS: "limit: ephemeral ports (EADDRNOTAVAIL)",
    REFUSED: "limit: the server refused connections (refused, reset or HTTP 503)",
}

_BY_ERRNO = {
    errno.EMFILE: OPEN_FILES,
    errno.ENFILE: SYSTEM_FILES,
    errno.EADDRNOTAVAIL: EPHEMERAL_PORTS,
    errno.ECONNREFUSED: REFUSED,
}
_PORT_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def classify(error: BaseException, *, connecting: bool = True) -> str | None:
    """The limit ``error`` shows (one of :data:`LIMITS`' keys), or None.

    Args:
        error: what a socket reported (its causes are searched too).
        connecting: the socket was not open yet; a reset then is the server refusing, a
            reset of an open connection is a drop, not a limit.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        code = getattr(current, "errno", None)
        if isinstance(code, int):
            if code in _BY_ERRNO:
                return _BY_ERRNO[code]
            if code == errno.ECONNRESET and connecting:
                return REFUSED
        if getattr(current, "status", None) == 503:
            return REFUSED
        current = current.__cause__ or current.__context__
    return _from_text(str(error), connecting)


#: What the messages say when the error's cause was not kept (LongPoll's HTTP client reports
#: its failures as text): checked in this order.
_TEXTS = (
    ("too many open files in system", SYSTEM_FILES),
    ("too many open files", OPEN_FILES),
    ("cannot assign requested address", EPHEMERAL_PORTS),
    ("connection refused", REFUSED),
)
_STATUS_503 = re.compile(r"\b(?:status|HTTP)[ /:]*503\b|\(503\)", re.IGNORECASE)


def _from_text(text: str, connecting: bool) -> str | None:
    lowered = text.lower()
    for words, limit in _TEXTS:
        if words in lowered:
            return limit
    if _STATUS_503.search(text):
        return REFUSED
    if connecting and "connection reset" in lowered:
        return REFUSED
    return None


def note(limit: str) -> str:
    """One line naming ``limit`` and its fix, with this machine's figures."""
    if limit == OPEN_FILES:
        soft, hard = _nofile()
        raise_it = (
            f"raise it before the run with `ulimit -n {hard}`"
            if soft != hard
            else "the soft limit is the hard one: raise the hard limit (LimitNOFILE= of a "
            "systemd unit, nofile in /etc/security/limits.conf)"
        )
        return (
            f"the open-file limit of this process was hit (EMFILE, Too many open files: soft "
            f"limit {soft}, hard limit {hard}); each socket takes one. Fix: {raise_it}, or "
            "spread the sockets over more processes with --procs"
        )
    if limit == SYSTEM_FILES:
        return (
            "the system's file table is full (ENFILE). Fix: raise fs.file-max "
            "(`sudo sysctl -w fs.file-max=2000000`) or run fewer sockets on this machine"
        )
    if limit == EPHEMERAL_PORTS:
        low, high = _port_range()
        span = f"ports {low}-{high}, {high - low + 1:,} per server address" if low else "ports"
        return (
            "ephemeral ports ran out (EADDRNOTAVAIL, Cannot assign requested address): one "
            f"source address reaches one server address:port through its local {span}. "
            "Fix: widen net.ipv4.ip_local_port_range "
            "(`sudo sysctl -w net.ipv4.ip_local_port_range='1024 65535'`), or bind the sockets "
            "to more source addresses with --source-ip (e.g. --source-ip 127.0.0.2-127.0.0.9 "
            "to a server on this machine)"
        )
    return (
        "the server refused connections (connection refused, reset before the handshake, or "
        "HTTP 503): it is down, restarting, or at its own limit (accept backlog, connection "
        "limit, open files). Fix: raise the server's limits, or open sockets more slowly "
        "(--connect-concurrency, --ramp)"
    )


def _nofile() -> tuple[str, str]:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return "unknown", "unknown"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)

    def shown(value: int) -> str:
        return "unlimited" if value == resource.RLIM_INFINITY else str(value)

    return shown(soft), shown(hard)


def _port_range() -> tuple[int, int]:
    try:
        low, high = (int(part) for part in _PORT_RANGE.read_text().split())
    except (OSError, ValueError):
        return 0, 0
    return low, high
