"""State shared by every socket of one server: config, pubsub, presence, tasks, connect log."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .config import ServerConfig
from .presence import Tracker
from .pubsub import PubSub

if TYPE_CHECKING:
    from .channel import Channel
    from .socket import PhoenixSocket

__all__ = ["ConnectInfo", "ServerContext"]

logger = logging.getLogger("phoenix_fast.testing")

ChannelFactory = Callable[["PhoenixSocket", str, Any, Any], "Channel"]


@dataclass(frozen=True)
class ConnectInfo:
    """What a client presented when it connected (one entry of the connect log).

    Attributes:
        transport: ``"websocket"`` or ``"longpoll"``.
        path: The request path, e.g. ``/socket/websocket``.
        params: Connect params decoded from the query string (``a[b]=c`` nests).
        vsn: The ``vsn`` param, or None when absent.
        auth_token: The token from the ``auth_token`` subprotocol (WebSocket) or
            the ``X-Phoenix-AuthToken`` header (LongPoll), or None.
        accepted: Whether the connection was accepted.
    """

    transport: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    vsn: str | None = None
    auth_token: str | None = None
    accepted: bool = True


class ServerContext:
    """Everything the sockets of one server share."""

    def __init__(
        self,
        config: ServerConfig,
        route: Callable[[str], ChannelFactory | None],
        connect_log: deque[ConnectInfo] | None = None,
    ) -> None:
        self.config = config
        self.route = route
        self.pubsub = PubSub()
        self.tracker = Tracker(self.pubsub)
        self.sockets: set[PhoenixSocket] = set()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.connect_log = connect_log if connect_log is not None else deque(maxlen=10_000)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` as a task owned by the server (cancelled when it stops)."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("reference server task failed", exc_info=task.exception())

    async def cancel_tasks(self) -> None:
        """Cancel every task the server owns and wait for them."""
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def stats(self) -> dict[str, int]:
        """Counts of live objects, for leak checks."""
        return {
            "sockets": len(self.sockets),
            "channels": sum(len(s.channels) for s in self.sockets),
            "subscriptions": self.pubsub.count(),
            "presences": self.tracker.count(),
            "tasks": len(self.tasks),
        }
