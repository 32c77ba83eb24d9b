"""Open a local HTML file in headless Chromium over its DevTools protocol: the console's
errors, a value the page computed, and a full-page screenshot.

Chromium is Debian's ``chromium`` package (``.ci/run`` installs it). Where it is missing
the tests that need it are skipped, except in CI (``CI`` set), where that is a failure.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from phoenix_fast.testing.waiting import scaled

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--remote-debugging-port=0",
)
START_TIMEOUT_S = 30.0


def chromium_or_skip() -> str:
    """The Chromium executable; skips the test where there is none (fails in CI)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    message = "no chromium on PATH (apt-get install -y chromium; .ci/run does it in CI)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class PageResult:
    """What a page did: console errors and exceptions, and the value asked for."""

    errors: list[str] = field(default_factory=list)
    value: Any = None


class _Cdp:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0
        self.errors: list[str] = []
        self.events: dict[str, asyncio.Event] = {}

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        wanted = self.next_id
        await self.ws.send_str(json.dumps({"id": wanted, "method": method, "params": params}))
        while True:
            message = await self.ws.receive_json()
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self._event(message)

    async def wait_for(self, event: str) -> None:
        flag = self.events.setdefault(event, asyncio.Event())
        while not flag.is_set():
            self._event(await self.ws.receive_json())

    def _event(self, message: dict[str, Any]) -> None:
        method, params = message.get("method", ""), message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = params.get("args") or []
            self.errors.append(" ".join(str(a.get("value", a.get("description"))) for a in args))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails") or {}
            text = (details.get("exception") or {}).get("description") or details.get("text")
            self.errors.append(f"exception: {text}")
        elif method == "Log.entryAdded" and (params.get("entry") or {}).get("level") == "error":
            self.errors.append(f"log: {params['entry'].get('text')}")
        self.events.setdefault(method, asyncio.Event()).set()


@asynccontextmanager
async def _browser(executable: str) -> AsyncIterator[int]:
    # Chromium's helper processes may still write to the profile as the browser exits
    with tempfile.TemporaryDirectory(
        prefix="phoenix-fast-chromium-", ignore_cleanup_errors=True
    ) as profile:
        process = await asyncio.create_subprocess_exec(
            executable,
            *FLAGS,
            f"--user-data-dir={profile}",
            "about:blank",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            loop = asyncio.get_running_loop()
            deadline = loop.time() + scaled(START_TIMEOUT_S)
            while not (port_file.exists() and port_file.read_text().strip()):
                if process.returncode is not None:
                    raise RuntimeError(f"chromium exited with {process.returncode}")
                if loop.time() > deadline:
                    raise RuntimeError("chromium did not open its DevTools port")
                await asyncio.sleep(0.05)  # polling for the file chromium writes
            yield int(port_file.read_text().split()[0])
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 10)
                except asyncio.TimeoutError:
                    process.kill()
                    await process.wait()


async def open_page(
    html: Path, expression: str, screenshot: Path | None = None, width: int = 1400
) -> PageResult:
    """Loads ``html``, evaluates ``expression`` (its JSON value is returned), and saves a
    full-page PNG to ``screenshot``."""
    executable = chromium_or_skip()
    uri = html.resolve().as_uri()  # noqa: ASYNC240 (a path's text, no I/O to speak of)
    async with _browser(executable) as port, aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/json/list") as response:
            targets = await response.json()
        page = next(t for t in targets if t.get("type") == "page")
        async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            cdp = _Cdp(ws)
            for domain in ("Runtime", "Log", "Page"):
                await cdp.call(f"{domain}.enable")
            await cdp.call(
                "Emulation.setDeviceMetricsOverride",
                width=width,
                height=900,
                deviceScaleFactor=1,
                mobile=False,
            )
            cdp.events.pop("Page.loadEventFired", None)
            await cdp.call("Page.navigate", url=uri)
            await cdp.wait_for("Page.loadEventFired")
            evaluated = await cdp.call(
                "Runtime.evaluate", expression=expression, returnByValue=True
            )
            value = (evaluated.get("result") or {}).get("value")
            if screenshot is not None:
                metrics = await cdp.call("Page.getLayoutMetrics")
                height = int(metrics["cssContentSize"]["height"]) + 1
                await cdp.call(
                    "Emulation.setDeviceMetricsOverride",
                    width=width,
                    height=height,
                    deviceScaleFactor=1,
                    mobile=False,
                )
                shot = await cdp.call("Page.captureScreenshot", format="png")
                await asyncio.to_thread(screenshot.write_bytes, base64.b64decode(shot["data"]))
            return PageResult(errors=list(cdp.errors), value=value)
