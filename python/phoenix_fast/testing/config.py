"""Options of the reference server, with Phoenix's defaults."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

__all__ = ["SERVE_OPTIONS", "ServerConfig", "config_from_args"]


@dataclass(frozen=True)
class ServerConfig:
    """Options of :class:`~phoenix_fast.testing.ReferenceServer`.

    Attributes:
        host: Interface to bind (loopback by default).
        port: TCP port; 0 picks a free one (kept across stop/start).
        max_channels: Channels one socket may join (Phoenix's
            ``max_channels_per_transport``, default 100).
        idle_timeout: Seconds a WebSocket may stay silent before the server
            closes it (Phoenix's websocket ``timeout``, default 60 s).
        longpoll_window: Seconds a LongPoll GET waits for messages before
            answering 204 (Phoenix's ``window_ms``, default 10 s).
        longpoll_session_timeout: Seconds without a poll after which a LongPoll
            session ends; None means 1.5 x ``longpoll_window``, as Phoenix.
        max_frame_size: Largest accepted WebSocket message in bytes; 0 means
            unlimited (Phoenix's default is infinity). Larger messages close
            the socket with 1009.
        close_timeout: Seconds to wait for the client's close frame after the
            server closes a WebSocket.
        workers: How many processes share the port (``serve --workers``; above 1 the
            port is bound with SO_REUSEPORT and fan-out is refused, see
            :mod:`phoenix_fast.testing.workers`).
    """

    host: str = "127.0.0.1"
    port: int = 0
    max_channels: int = 100
    idle_timeout: float = 60.0
    longpoll_window: float = 10.0
    longpoll_session_timeout: float | None = None
    max_frame_size: int = 0
    close_timeout: float = 5.0
    workers: int = 1

    @property
    def session_timeout(self) -> float:
        """The effective LongPoll session timeout in seconds."""
        if self.longpoll_session_timeout is not None:
            return self.longpoll_session_timeout
        return self.longpoll_window * 1.5

    def replace(self, **changes: Any) -> ServerConfig:
        """A copy with ``changes`` applied (unknown names raise TypeError)."""
        return dataclasses.replace(self, **changes)


#: The fields that say where the server listens and in how many processes: ``serve
#: --workers`` gives each worker its own (the shared port, the count).
_PLACEMENT = ("host", "port", "workers")
#: The other fields, each a ``phoenix-fast serve`` option of the same name
#: (``--max-channels`` sets ``max_channels``): the one list that :func:`config_from_args`
#: reads and that ``serve --workers`` passes on to each worker.
SERVE_OPTIONS = tuple(f.name for f in dataclasses.fields(ServerConfig) if f.name not in _PLACEMENT)


def config_from_args(args: Any, workers: int = 1) -> ServerConfig:
    """The configuration that ``phoenix-fast serve``'s options describe (``args`` is its
    ``argparse.Namespace``); ``workers`` is how many processes share the port."""
    options = {name: getattr(args, name) for name in SERVE_OPTIONS}
    return ServerConfig(host=args.host, port=args.port, workers=workers, **options)
