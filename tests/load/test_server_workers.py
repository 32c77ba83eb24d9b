"""``phoenix-fast serve --workers N``: processes sharing one port, and fan-out refused with
a reason rather than under-counted (spoken to over raw WebSocket frames, protocol 2.0.0)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from phoenix_fast.cli import build_parser
from phoenix_fast.testing.config import SERVE_OPTIONS, ServerConfig, config_from_args
from phoenix_fast.testing.workers import REFUSAL, _worker_command, _worker_parser


@pytest.fixture
async def workers_url() -> AsyncIterator[str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "phoenix_fast.cli", "serve", "--port", "0", "--workers", "2",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
        assert line.startswith("ws://"), line
        yield line
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 15) == 0
    # every worker ended with the parent
    ps = await asyncio.create_subprocess_exec(
        "pgrep", "-f", f"phoenix_fast.testing.workers .*--port {line.rsplit(':', 1)[1][:-7]}",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await ps.communicate()
    assert out == b""


class Conn:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ref = 0
        self.joins: dict[str, str] = {}

    async def call(self, topic: str, event: str, payload: Any) -> dict[str, Any]:
        """Sends a message and returns the payload of its reply."""
        self.ref += 1
        ref = str(self.ref)
        if event == "phx_join":
            self.joins[topic] = ref
        join_ref = self.joins.get(topic)
        await self.ws.send_str(json.dumps([join_ref, ref, topic, event, payload]))
        while True:
            _join_ref, got_ref, _topic, got_event, body = json.loads(await self.ws.receive_str())
            if got_event == "phx_reply" and got_ref == ref:
                reply: dict[str, Any] = body
                return reply


async def test_sockets_spread_over_workers_and_fanout_is_refused(workers_url: str) -> None:
    async with aiohttp.ClientSession() as http:
        sockets = [await http.ws_connect(f"{workers_url}/websocket?vsn=2.0.0") for _ in range(16)]
        conns = [Conn(ws) for ws in sockets]
        infos = await asyncio.gather(*(c.call("worker:info", "phx_join", {}) for c in conns))
        assert {info["status"] for info in infos} == {"ok"}
        assert {info["response"]["workers"] for info in infos} == {2}
        # the kernel hashes each connection to a worker: 16 all on one has odds 2**-15
        assert len({info["response"]["pid"] for info in infos}) == 2
        conn = conns[0]
        assert (await conn.call("echo:w", "phx_join", {}))["status"] == "ok"
        ping = await conn.call("echo:w", "ping", {"n": 1})
        assert ping == {"status": "ok", "response": {"n": 1}}
        shout = await conn.call("echo:w", "shout", {"x": 1})
        assert shout == {"status": "error", "response": {"reason": REFUSAL}}
        presence = await conn.call("presence:w", "phx_join", {"user_id": "u1"})
        assert presence == {"status": "error", "response": {"reason": REFUSAL}}
        fanout = await conn.call("load:w", "phx_join", {})
        assert fanout["status"] == "error" and "--workers" in fanout["response"]["reason"]
        for ws in sockets:
            await ws.close()


async def test_workers_end_when_their_parent_is_killed() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "phoenix_fast.cli", "serve", "--port", "0", "--workers", "2",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    url = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
    port = url.rsplit(":", 1)[1].split("/")[0]
    pattern = f"phoenix_fast.testing.workers .*--port {port} "
    assert len(await pids(pattern)) == 2
    proc.kill()  # no chance to end its workers
    await proc.wait()

    async def gone() -> None:
        while await pids(pattern):  # noqa: ASYNC110 (another process's exit: no event)
            await asyncio.sleep(0.1)

    await asyncio.wait_for(gone(), 15)


async def pids(pattern: str) -> list[str]:
    ps = await asyncio.create_subprocess_exec(
        "pgrep", "-f", pattern, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await ps.communicate()
    return out.decode().split()


def test_every_serve_option_reaches_the_server_and_each_worker() -> None:
    """``serve``'s options set the single server's configuration and are passed on, unchanged,
    to each worker of ``serve --workers``: a ServerConfig field that ``serve`` does not take,
    or that a worker does not parse, fails here."""
    defaults = ServerConfig()
    fields = {f.name for f in dataclasses.fields(ServerConfig)}
    assert set(SERVE_OPTIONS) == fields - {"host", "port", "workers"}
    argv = ["serve", "--host", "127.0.0.2", "--port", "0", "--workers", "3", "--log-level", "INFO"]
    wanted = {}
    for name in SERVE_OPTIONS:  # a value other than the default, of the field's type
        default = getattr(defaults, name)
        wanted[name] = default * 2 + 3 if default is not None else 7.5
        argv += [f"--{name.replace('_', '-')}", str(wanted[name])]
    args = build_parser().parse_args(argv)
    single = config_from_args(args)
    assert single == ServerConfig(host="127.0.0.2", port=0, **wanted)
    worker_args = _worker_parser().parse_args(_worker_command(args, 4321)[3:])
    assert worker_args.log_level == "INFO" and worker_args.workers == 3
    worker = config_from_args(worker_args, workers=worker_args.workers)
    assert worker == single.replace(port=4321, workers=3)
