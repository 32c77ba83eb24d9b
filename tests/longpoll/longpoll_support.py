"""Helpers of the LongPoll tests: a scriptable fake LongPoll server, a recording transport
handler, and small utilities."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from phoenix_fast.message import Message
from phoenix_fast.testing.waiting import wait_for as wait_for  # re-exported for the tests


@dataclass
class Request:
    """One request the fake server received."""

    method: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    peer: Any = None

    @property
    def lines(self) -> list[str]:
        return self.body.decode().split("\n")


Answer = Callable[[Request], Awaitable[Any]]


@dataclass
class FakeLongPoll:
    """A LongPoll endpoint whose answers the test scripts.

    GETs are answered by ``on_get`` (default: a new session, then 204 after ``window``
    seconds), POSTs by ``on_post`` (default: ``{"status": 200}``). An answer is a dict sent as
    JSON, or bytes sent as they are, or a ``web.StreamResponse``.
    """

    url: str = ""
    requests: list[Request] = field(default_factory=list)
    on_get: Answer | None = None
    on_post: Answer | None = None
    window: float = 0.2
    token: str = "tok/1+="
    posted: asyncio.Queue[Request] = field(default_factory=asyncio.Queue)

    def gets(self) -> list[Request]:
        return [r for r in self.requests if r.method == "GET"]

    def posts(self) -> list[Request]:
        return [r for r in self.requests if r.method == "POST"]

    async def default_get(self, request: Request) -> Any:
        if request.headers.get("X-Phoenix-Longpoll-Token") != self.token:
            return {"status": 410, "token": self.token, "messages": []}
        await asyncio.sleep(self.window)
        return {"status": 204, "token": self.token, "messages": []}

    async def handle(self, http: web.Request) -> web.StreamResponse:
        peer = http.transport.get_extra_info("peername") if http.transport else None
        body = await http.read()
        request = Request(http.method, dict(http.query), dict(http.headers), body, peer)
        self.requests.append(request)
        if http.method == "POST":
            self.posted.put_nowait(request)
            answer = await (self.on_post or _ok)(request)
        else:
            answer = await (self.on_get or self.default_get)(request)
        if isinstance(answer, web.StreamResponse):
            return answer
        body = answer if isinstance(answer, bytes) else orjson.dumps(answer)
        return web.Response(body=body, content_type="application/json")


async def _ok(_request: Request) -> Any:
    return {"status": 200}


class Recorder:
    """A ``TransportHandler`` that records what the transport reports."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.opened = asyncio.Event()
        self.closed = asyncio.Event()
        self.messages: list[Any] = []
        self.errors: list[BaseException] = []
        self.close_args: tuple[int | None, str, bool] | None = None

    def transport_open(self) -> None:
        self.events.append(("open", None))
        self.opened.set()

    def transport_messages(self, items: list[Any]) -> None:
        self.events.append(("messages", items))
        self.messages.extend(items)

    def transport_error(self, error: BaseException) -> None:
        self.events.append(("error", error))
        self.errors.append(error)

    def transport_close(self, code: int | None, reason: str, was_clean: bool) -> None:
        self.events.append(("close", (code, reason, was_clean)))
        assert self.close_args is None, "transport_close reported twice"
        self.close_args = (code, reason, was_clean)
        self.closed.set()


def msg(topic: str, event: str, payload: Any, ref: str | None = None) -> Message:
    return Message("1", ref, topic, event, payload)
