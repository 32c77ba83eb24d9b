"""A TCP proxy that breaks the link between a client and a server on command.

Put it between your client and your server, then make the network misbehave the way it
does in production and check that your application copes::

    from phoenix_fast import Socket
    from phoenix_fast.testing import FaultProxy, wait_for

    async with FaultProxy("127.0.0.1", 4000) as proxy:
        socket = Socket(proxy.url_for("/socket"), heartbeat_interval=1.0)
        ...
        proxy.half_open()                 # the link goes silent, nothing is closed
        await wait_for(lambda: not socket.is_connected(), timeout=5)
        proxy.heal()                      # new links work again: the client reconnects

Each accepted connection is a :class:`Link` to the target, opened when the client
connects. Commands take effect at once and apply to every live link; the states
(``stall``, ``set_delay``, ``half_open``, ``refuse_new``) also apply to links made later,
until they are reverted. Directions are ``"to_server"`` (what the client sends) and
``"to_client"`` (what the server sends); ``"both"`` where a command accepts it.

The proxy runs on the event loop that starts it and is not thread-safe: call its methods
from coroutines or callbacks of that loop (to break a link from another thread, use
``loop.call_soon_threadsafe``). It speaks plain TCP and understands nothing above it, so
it works as well for WebSocket, LongPoll (HTTP) or TLS, and "frame" below means whatever
bytes one read from the socket returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket as _socket
import struct
import urllib.parse
from collections import deque
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Final, Literal

__all__ = ["Direction", "FaultProxy", "Link"]

Direction = Literal["to_server", "to_client"]
_DIRECTIONS: Final[tuple[Direction, Direction]] = ("to_server", "to_client")
#: the most bytes one read takes from a socket (one "chunk" as forwarded)
CHUNK: Final = 64 * 1024
#: the most chunks waiting in a delay line per direction before reading stops
_DELAY_LINE: Final = 64
_DEFAULT_PORTS: Final = {"ws": 80, "http": 80, "wss": 443, "https": 443}


def _directions(direction: str) -> tuple[Direction, ...]:
    if direction == "both":
        return _DIRECTIONS
    if direction in _DIRECTIONS:
        return (direction,)
    raise ValueError(f"direction must be 'to_server', 'to_client' or 'both', not {direction!r}")


def _direction(direction: str) -> Direction:
    if direction not in _DIRECTIONS:
        raise ValueError(f"direction must be 'to_server' or 'to_client', not {direction!r}")
    return direction


def _close(writer: asyncio.StreamWriter, *, reset: bool) -> None:
    """Closes a side: a FIN after what was written (or an RST at once, with ``reset``)."""
    transport = writer.transport
    if transport.is_closing():
        return
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # linger 0: close() sends an RST
                sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()


class _Eof:
    """The end of a direction's stream, queued behind its data."""


class _Cut:
    """Close the link once what precedes this was written (a truncated frame)."""


_EOF: Final = _Eof()
_CUT: Final = _Cut()
_Item = bytes | _Eof | _Cut


class Link:
    """One client connection and its connection to the target.

    Attributes:
        bytes_to_server: Bytes forwarded from the client to the server so far.
        bytes_to_client: Bytes forwarded from the server to the client so far.
        dropped: Bytes read and thrown away since the link became a black hole.
    """

    def __init__(
        self,
        proxy: FaultProxy,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        server: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> None:
        self._proxy = proxy
        self._client_reader, self._client_writer = client
        self._server_reader, self._server_writer = server
        self.bytes_to_server = 0
        self.bytes_to_client = 0
        self.dropped = 0
        self._black_hole = proxy._half_open
        self._closed = False
        self._done = asyncio.Event()
        loop = asyncio.get_running_loop()
        #: per direction: chunks read and not yet written (with their due time)
        self._lines: dict[Direction, deque[tuple[float, _Item]]] = {d: deque() for d in _DIRECTIONS}
        self._line_changed: dict[Direction, asyncio.Event] = {
            d: asyncio.Event() for d in _DIRECTIONS
        }
        self._tasks = [
            loop.create_task(self._read("to_server")),
            loop.create_task(self._read("to_client")),
            loop.create_task(self._write("to_server")),
            loop.create_task(self._write("to_client")),
        ]

    @property
    def closed(self) -> bool:
        """True once the link is closed on both sides."""
        return self._closed

    @property
    def black_hole(self) -> bool:
        """True once :meth:`half_open` made this link drop everything."""
        return self._black_hole

    def cut(self, *, reset: bool = False) -> None:
        """Closes both sides at once (an RST to each with ``reset``); data not yet
        forwarded is lost."""
        self._shut(reset=reset, flush=False)

    def half_open(self) -> None:
        """From now on, reads and drops everything both ways and forwards no close.

        See :meth:`FaultProxy.half_open`."""
        self._black_hole = True
        for direction in _DIRECTIONS:
            self._lines[direction].clear()
            self._line_changed[direction].set()

    # -- forwarding ----------------------------------------------------------------------

    def _ends(self, direction: Direction) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if direction == "to_server":
            return self._client_reader, self._server_writer
        return self._server_reader, self._client_writer

    async def _read(self, direction: Direction) -> None:
        proxy = self._proxy
        reader, _ = self._ends(direction)
        line = self._lines[direction]
        changed = self._line_changed[direction]
        loop = asyncio.get_running_loop()
        try:
            while True:
                # a full delay line or a stall stops reading: the sender's buffers fill
                while len(line) >= _DELAY_LINE and not self._black_hole:
                    changed.clear()
                    await changed.wait()
                await proxy._flowing[direction].wait()
                data = await reader.read(CHUNK)
                if self._black_hole:
                    if not data:
                        break
                    self.dropped += len(data)
                    continue
                await proxy._flowing[direction].wait()  # a stall that began during the read
                if self._black_hole:
                    self.dropped += len(data)
                    continue
                item: _Item = data if data else _EOF
                due = loop.time() + proxy._delay[direction]
                keep = proxy._truncate[direction]
                if data and keep is not None:
                    proxy._truncate[direction] = None
                    line.append((due, data[:keep]))
                    item = _CUT
                line.append((due, item))
                changed.set()
                if not isinstance(item, bytes):
                    return
        except OSError:
            self._shut(reset=True, flush=False)
            return
        # end of stream on a black hole: the client's close ends the link (the server
        # would time it out); the server's close is never shown to the client
        if direction == "to_server":
            self._shut(reset=False, flush=False)

    async def _write(self, direction: Direction) -> None:
        _, writer = self._ends(direction)
        line = self._lines[direction]
        changed = self._line_changed[direction]
        loop = asyncio.get_running_loop()
        try:
            while True:
                while not line:
                    changed.clear()
                    await changed.wait()
                due, item = line[0]
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue  # half_open() may have emptied the line meanwhile
                line.popleft()
                changed.set()  # room in the line for the reader
                if isinstance(item, bytes):
                    writer.write(item)
                    self._count(direction, len(item))
                    await writer.drain()
                else:
                    self._shut(reset=False, flush=True)
                    return
        except OSError:
            self._shut(reset=True, flush=False)

    def _count(self, direction: Direction, size: int) -> None:
        if direction == "to_server":
            self.bytes_to_server += size
            self._proxy.bytes_to_server += size
        else:
            self.bytes_to_client += size
            self._proxy.bytes_to_client += size

    # -- closing -----------------------------------------------------------------------

    def _shut(self, *, reset: bool, flush: bool) -> None:
        if self._closed:
            return
        self._closed = True
        for writer in (self._client_writer, self._server_writer):
            _close(writer, reset=reset and not flush)
        self._proxy._links.pop(self, None)
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        self._done.set()

    async def _wait_closed(self) -> None:
        await self._done.wait()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for writer in (self._client_writer, self._server_writer):
            await FaultProxy._wait_writer(writer)


class FaultProxy:
    """A TCP proxy to ``target_host:target_port`` that injects faults on command.

    ::

        async with FaultProxy("127.0.0.1", server_port) as proxy:
            Socket(proxy.url_for("/socket"))   # connects through the proxy

    It listens on ``host:port`` (loopback and a free port by default). Every accepted
    connection opens one to the target; when the target cannot be reached (it is
    restarting, say) the client's connection is reset, as a refused connection would be,
    so the target may stop and come back on the same port behind a proxy that stays up.

    Args:
        target_host: Host of the server to forward to.
        target_port: Its port.
        host: Interface to listen on.
        port: Port to listen on; 0 picks a free one (kept until :meth:`close`).
        connect_timeout: Seconds to wait for the target before resetting the client.

    Attributes:
        accepted: Connections accepted so far (refused ones included).
        refused: Connections closed at accept by :meth:`refuse_new` or because the
            target could not be reached.
        bytes_to_server: Bytes forwarded to the server over every link so far.
        bytes_to_client: Bytes forwarded to clients over every link so far.
    """

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        connect_timeout: float = 5.0,
    ) -> None:
        if not 0 < target_port < 65536:
            raise ValueError(f"target_port must be 1-65535, not {target_port}")
        if not 0 <= port < 65536:
            raise ValueError(f"port must be 0-65535 (0: a free one), not {port}")
        self.target_host = target_host
        self.target_port = target_port
        self._host = host
        self._port = port
        self.connect_timeout = connect_timeout
        self.accepted = 0
        self.refused = 0
        self.bytes_to_server = 0
        self.bytes_to_client = 0
        self._server: asyncio.Server | None = None
        self._links: dict[Link, None] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._half_open = False
        self._refusing: bool | None = None  # None: accepting; else reset or not
        self._flowing: dict[Direction, asyncio.Event] = {}
        self._delay: dict[Direction, float] = dict.fromkeys(_DIRECTIONS, 0.0)
        self._truncate: dict[Direction, int | None] = dict.fromkeys(_DIRECTIONS)
        self._target_url: urllib.parse.SplitResult | None = None

    @classmethod
    def from_url(cls, url: str, **options: Any) -> FaultProxy:
        """A proxy to the host and port of ``url`` (``ws``, ``wss``, ``http`` or ``https``);
        :attr:`url` is then the same URL through the proxy. ``options`` as for the
        constructor."""
        parts = urllib.parse.urlsplit(url)
        default = _DEFAULT_PORTS.get(parts.scheme)
        if default is None or not parts.hostname:
            raise ValueError(f"expected a ws://, wss://, http:// or https:// URL, not {url!r}")
        proxy = cls(parts.hostname, parts.port or default, **options)
        proxy._target_url = parts
        return proxy

    # -- where it listens ---------------------------------------------------------------

    @property
    def host(self) -> str:
        """The interface the proxy listens on."""
        return self._host

    @property
    def port(self) -> int:
        """The port the proxy listens on (known once started)."""
        return self._port

    def url_for(self, path: str = "/socket", scheme: str = "ws") -> str:
        """``scheme://host:port/path`` through the proxy, e.g. for ``Socket(...)``."""
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', not {path!r}")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{scheme}://{host}:{self._port}{path}"

    @property
    def url(self) -> str:
        """The URL given to :meth:`from_url`, through the proxy (same scheme, path and
        query). For ``wss``, give the client ``server_hostname`` or a context that accepts
        the server's certificate for ``127.0.0.1``: the proxy does not touch TLS."""
        parts = self._target_url
        if parts is None:
            raise ValueError("url is known only for a proxy made by from_url(); use url_for()")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return parts._replace(netloc=f"{host}:{self._port}").geturl()

    @property
    def links(self) -> tuple[Link, ...]:
        """The live links, oldest first."""
        return tuple(self._links)

    @property
    def live_links(self) -> int:
        """How many links are open."""
        return len(self._links)

    # -- life ------------------------------------------------------------------------------

    async def start(self) -> FaultProxy:
        """Starts listening; returns self."""
        if self._server is not None:
            return self
        self._flowing = {d: asyncio.Event() for d in _DIRECTIONS}
        for event in self._flowing.values():
            event.set()
        self._server = await asyncio.start_server(self._accept, self._host, self._port)
        self._port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stops listening and closes every link; waits until all is released."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for event in self._flowing.values():
            event.set()
        links = list(self._links)
        for link in links:
            link.cut()
        await asyncio.gather(*(link._wait_closed() for link in links))
        while self._closing:
            tasks = list(self._closing)
            await asyncio.gather(*tasks, return_exceptions=True)
            # gather of finished tasks completes eagerly on Python 3.12+ (no yield to the
            # loop, so their done callbacks would never run): drop them here
            self._closing.difference_update(tasks)
        await server.wait_closed()

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- faults ------------------------------------------------------------------------------

    def cut(self, *, reset: bool = False) -> int:
        """Closes every live link, both sides, at once; returns how many were cut.

        In production: the server crashed or was redeployed, a load balancer or NAT dropped
        the connection, the Wi-Fi changed. With ``reset`` each side gets an RST
        ("connection reset by peer") instead of a clean end of stream. New connections are
        still accepted (combine with :meth:`refuse_new` for a server that stays away).
        """
        links = list(self._links)
        for link in links:
            link.cut(reset=reset)
        return len(links)

    def half_open(self) -> None:
        """Every link goes silent both ways, and nothing is closed.

        In production: the server's machine lost power or its network, a NAT or firewall
        forgot the connection, a laptop slept. No FIN or RST ever arrives, writes still
        succeed, and only a heartbeat (or TCP keep-alive) notices. Data both ways is read
        and dropped, so it never heals; a close from the client ends the link, a close
        from the server is not shown to the client. Links accepted from now on are
        silent too (the handshake hangs), until :meth:`heal`.
        """
        self._half_open = True
        for link in self._links:
            link.half_open()

    def heal(self) -> None:
        """Links accepted from now on work again (silent links stay silent)."""
        self._half_open = False

    def stall(self, direction: str) -> None:
        """Stops reading in ``direction`` ("to_server", "to_client" or "both"), without
        dropping anything, until :meth:`resume`.

        In production, ``"to_server"``: a server that stops reading (stuck process, long
        GC pause, overloaded node); the client's writes pile up in its socket buffers,
        then in its own. ``"to_client"``: the server's messages and heartbeat replies stop
        arriving though the link is up (congestion, a stuck middlebox). What was sent
        meanwhile is delivered in order on resume.
        """
        for d in _directions(direction):
            self._flowing[d].clear()

    def resume(self, direction: str = "both") -> None:
        """Ends a :meth:`stall` in ``direction``."""
        for d in _directions(direction):
            self._flowing[d].set()

    def set_delay(self, seconds: float, direction: str = "both") -> None:
        """Delivers each chunk ``seconds`` later in ``direction`` (0 removes the delay).

        In production: a distant or congested network, a slow proxy. This is latency, not
        bandwidth: chunks keep their order and several are in flight at once. It applies
        to what is read from now on.
        """
        if not seconds >= 0:
            raise ValueError(f"the delay must be >= 0 seconds, not {seconds}")
        for d in _directions(direction):
            self._delay[d] = float(seconds)

    def truncate_next(self, direction: str, keep: int | None = 0) -> None:
        """Forwards only the first ``keep`` bytes of the next chunk read in ``direction``,
        then closes that link (both sides, after those bytes); ``keep=None`` cancels a
        truncation that has not happened yet.

        In production: the server crashed in the middle of writing a message, or a
        middlebox dropped the connection mid-frame; the client reads a partial frame and
        then the end of the stream. Only the first link to read in that direction is hit.
        """
        if keep is not None and keep < 0:
            raise ValueError(f"keep must be >= 0 bytes (None: cancel), not {keep}")
        self._truncate[_direction(direction)] = keep

    def refuse_new(self, *, reset: bool = True) -> None:
        """Closes new connections as soon as they are accepted, until :meth:`accept_new`.

        In production: a server that is down or restarting, a load balancer with no
        healthy backend, a full accept queue. With ``reset`` (the default) the client sees
        its connection reset, as for a closed port; without it, a clean end of stream
        before any reply. Live links are not touched (see :meth:`cut`).
        """
        self._refusing = reset

    def accept_new(self) -> None:
        """Ends :meth:`refuse_new`: new connections are forwarded again."""
        self._refusing = None

    # -- accepting -----------------------------------------------------------------------

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self._refusing is not None or self._server is None:
            self.refused += 1
            _close(writer, reset=bool(self._refusing))
            self._track(self._wait_writer(writer))
            return
        self._track(self._connect(reader, writer))

    def _track(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            server = await asyncio.wait_for(
                asyncio.open_connection(self.target_host, self.target_port),
                self.connect_timeout,
            )
        except (OSError, asyncio.TimeoutError):
            self.refused += 1
            _close(writer, reset=True)
            await self._wait_writer(writer)
            return
        if self._server is None or writer.transport.is_closing():
            _close(server[1], reset=False)
            _close(writer, reset=False)
            await asyncio.gather(self._wait_writer(server[1]), self._wait_writer(writer))
            return
        link = Link(self, (reader, writer), server)
        self._links[link] = None
        await link._wait_closed()

    @staticmethod
    async def _wait_writer(writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    def __repr__(self) -> str:
        return (
            f"<FaultProxy {self._host}:{self._port} -> {self.target_host}:{self.target_port}"
            f" links={len(self._links)}>"
        )
