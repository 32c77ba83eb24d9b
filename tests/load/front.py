"""A front for the reference server in the test's event loop: it forwards every connection
to the server (optionally ending TLS first) and keeps what the clients sent and what the
server answered, so that a test can read the handshakes (headers, extensions) the server's
connect log does not keep. With ``refuse_websocket`` it closes a WebSocket upgrade at once,
so that a client must fall back to LongPoll."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from pathlib import Path
from types import TracebackType

import pytest

from phoenix_fast.testing.tls import self_signed_certificate


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (made with the openssl command)."""
    try:
        return self_signed_certificate(folder)
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


class Front:
    """Forwards ``127.0.0.1:<port>`` to ``upstream_port``; ``sent`` and ``answered`` hold
    every byte each way."""

    def __init__(
        self,
        upstream_port: int,
        *,
        tls: tuple[Path, Path] | None = None,
        refuse_websocket: bool = False,
    ) -> None:
        self.upstream_port = upstream_port
        self.refuse_websocket = refuse_websocket
        self.sent = bytearray()
        self.answered = bytearray()
        self.refused = 0
        self._context: ssl.SSLContext | None = None
        if tls is not None:
            self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._context.load_cert_chain(*tls)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def url(self, path: str = "/socket") -> str:
        scheme = "wss" if self._context else "ws"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    async def __aenter__(self) -> Front:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self._context)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            first = await reader.read(65536)
            if self.refuse_websocket and b"/websocket" in first.split(b"\r\n", 1)[0]:
                self.refused += 1
                return
            self.sent += first
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            up_writer.write(first)
            await asyncio.gather(
                self._pipe(reader, up_writer, self.sent),
                self._pipe(up_reader, writer, self.answered),
            )
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)

    @staticmethod
    async def _pipe(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: bytearray
    ) -> None:
        try:
            while data := await reader.read(65536):
                seen += data
                writer.write(data)
                await writer.drain()
        except (OSError, ConnectionError):
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()
