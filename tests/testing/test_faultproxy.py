"""FaultProxy over plain TCP: each fault as the two ends see it, and a clean shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest

from phoenix_fast.testing import FaultProxy, wait_for
from phoenix_fast.testing.waiting import scaled


class Target:
    """A TCP server that echoes (or, with ``echo=False``, only records) what it reads."""

    def __init__(self, *, echo: bool = True) -> None:
        self.echo = echo
        self.received = bytearray()
        self.eofs = 0
        self.writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self, port: int = 0) -> Target:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        task = asyncio.get_running_loop().create_task(self._pump(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                self.received += data
                if self.echo:
                    writer.write(data)
                    await writer.drain()
            self.eofs += 1
        except OSError:
            self.eofs += 1
        finally:
            writer.close()

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in self.writers:
            writer.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for writer in self.writers:
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        await self._server.wait_closed()
        self._server = None
        self.writers.clear()


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    server = await Target().start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def proxy(target: Target) -> AsyncIterator[FaultProxy]:
    async with FaultProxy("127.0.0.1", target.port) as fault_proxy:
        yield fault_proxy


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@pytest.fixture
async def connect(proxy: FaultProxy) -> AsyncIterator[Callable[[], asyncio.Future[Conn]]]:
    writers: list[asyncio.StreamWriter] = []

    async def opened() -> Conn:
        reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
        writers.append(writer)
        return reader, writer

    def open_one() -> asyncio.Future[Conn]:
        return asyncio.ensure_future(opened())

    yield open_one
    for writer in writers:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def ended(reader: asyncio.StreamReader) -> bool:
    """True when the peer closed: an end of stream, or a reset (a socket closed with
    unread data in its receive buffer sends an RST instead of a FIN)."""
    try:
        return await asyncio.wait_for(reader.read(), scaled(5)) == b""
    except ConnectionResetError:
        return True


async def read_exactly(reader: asyncio.StreamReader, size: int) -> bytes:
    return await asyncio.wait_for(reader.readexactly(size), scaled(5))


async def test_forwards_both_ways_and_counts_bytes(
    proxy: FaultProxy, target: Target, connect: Callable[[], asyncio.Future[Conn]]
) -> None:
    reader, writer = await connect()
    writer.write(b"hello")
    assert await read_exactly(reader, 5) == b"hello"
    assert proxy.live_links == 1 and proxy.accepted == 1
    (link,) = proxy.links
    assert (link.bytes_to_server, link.bytes_to_client) == (5, 5)
    assert (proxy.bytes_to_server, proxy.bytes_to_client) == (5, 5)
    assert proxy.url_for("/socket") == f"ws://127.0.0.1:{proxy.port}/socket"
    assert proxy.url_for("/x", scheme="http").startswith("http://127.0.0.1:")
    writer.close()
    await wait_for(lambda: proxy.live_links == 0 and target.eofs == 1)


async def test_cut_ends_the_stream_or_resets_it(
    proxy: FaultProxy, target: Target, connect: Callable[[], asyncio.Future[Conn]]
) -> None:
    reader, _ = await connect()
    await wait_for(lambda: proxy.live_links == 1)
    assert proxy.cut() == 1
    assert await asyncio.wait_for(reader.read(10), scaled(5)) == b""
    await wait_for(lambda: target.eofs == 1)
    reader, _ = await connect()  # new connections are still accepted
    await wait_for(lambda: proxy.live_links == 1)
    assert proxy.cut(reset=True) == 1
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(10), scaled(5))
    assert proxy.live_links == 0


async def test_half_open_drops_everything_and_closes_nothing(
    proxy: FaultProxy, target: Target, connect: Callable[[], asyncio.Future[Conn]]
) -> None:
    reader, writer = await connect()
    writer.write(b"a")
    assert await read_exactly(reader, 1) == b"a"
    (link,) = proxy.links
    proxy.half_open()
    writer.write(b"lost")
    await wait_for(lambda: link.dropped == 4)
    assert bytes(target.received) == b"a" and link.bytes_to_server == 1
    target.writers[0].write(b"also lost")  # the server speaks: the client hears nothing
    await wait_for(lambda: link.dropped == 4 + 9)
    target.writers[0].close()  # the server goes away: the client is not told
    await wait_for(lambda: target.eofs == 1)
    assert proxy.live_links == 1 and link.bytes_to_client == 1 and not reader.at_eof()
    writer.close()  # the client gives up: that ends the link
    await wait_for(lambda: proxy.live_links == 0)


async def test_new_links_are_silent_until_healed(
    proxy: FaultProxy, target: Target, connect: Callable[[], asyncio.Future[Conn]]
) -> None:
    proxy.half_open()
    _, writer = await connect()
    writer.write(b"hello?")
    await wait_for(lambda: proxy.live_links == 1 and proxy.links[0].dropped == 6)
    assert target.received == b""
    proxy.heal()
    reader, writer = await connect()
    writer.write(b"back")
    assert await read_exactly(reader, 4) == b"back"


async def test_a_stall_to_the_server_holds_data_back_and_resume_delivers_it_in_order(
    proxy: FaultProxy, target: Target, connect: Callable[[], asyncio.Future[Conn]]
) -> None:
    target.echo = False
    _, writer = await connect()
    await wait_for(lambda: proxy.live_links == 1)
    proxy.stall("to_server")
    payload = bytes(range(256)) * (32 * 4096)  # 32 MiB: more than every buffer in the way
    writer.write(payload)
    # backpressure reaches the client: the kernel buffers are full and its own fills
    await wait_for(lambda: writer.transport.get_write_buffer_size() > 0)
    assert len(target.received) < len(payload)
    proxy.resume("to_server")
    await asyncio.wait_for(writer.drain(), scaled(30))
    await wait_for(lambda: len(target.received) == len(payload), timeout=30)
    assert target.received == payload


async def test_a_stall_to_the_client_holds_replies_until_resumed(
    proxy: FaultProxy, target: Target, connect: Callable[[], asyncio.Future[Conn]]
) -> None:
    reader, writer = await connect()
    await wait_for(lambda: proxy.live_links == 1)
    proxy.stall("to_client")
    writer.write(b"ping")
    await wait_for(lambda: target.received == b"ping")
    (link,) = proxy.links
    assert link.bytes_to_client == 0
    proxy.resume()
    assert await read_exactly(reader, 4) == b"ping"


async def test_a_delay_postpones_each_chunk_and_keeps_their_order(
    proxy: FaultProxy, connect: Callable[[], asyncio.Future[Conn]]
) -> None:
    reader, writer = await connect()
    loop = asyncio.get_running_loop()
    proxy.set_delay(0.1, "to_client")
    proxy.set_delay(0.05, "to_server")
    start = loop.time()
    for i in range(5):
        writer.write(b"%d" % i)
        await asyncio.sleep(0.01)
    assert await read_exactly(reader, 5) == b"01234"
    # never earlier than both delays (less 2 ms: uvloop's clock counts whole milliseconds)
    assert loop.time() - start >= 0.15 - 0.002
    proxy.set_delay(0)
    writer.write(b"x")
    assert await read_exactly(reader, 1) == b"x"


async def test_truncate_next_forwards_a_prefix_then_closes(
    proxy: FaultProxy, target: Target, connect: Callable[[], asyncio.Future[Conn]]
) -> None:
    reader, writer = await connect()
    writer.write(b"first")
    assert await read_exactly(reader, 5) == b"first"
    proxy.truncate_next("to_client", keep=3)
    writer.write(b"0123456789")
    assert await asyncio.wait_for(reader.read(), scaled(5)) == b"012"  # then the end of the stream
    await wait_for(lambda: proxy.live_links == 0 and target.eofs == 1)
    assert target.received == b"first0123456789"


async def test_a_truncation_can_be_cancelled(
    proxy: FaultProxy, connect: Callable[[], asyncio.Future[Conn]]
) -> None:
    reader, writer = await connect()
    proxy.truncate_next("to_client", keep=1)
    proxy.truncate_next("to_client", keep=None)
    writer.write(b"whole")
    assert await read_exactly(reader, 5) == b"whole"


async def test_truncate_next_to_the_server(
    proxy: FaultProxy, target: Target, connect: Callable[[], asyncio.Future[Conn]]
) -> None:
    target.echo = False
    reader, writer = await connect()
    proxy.truncate_next("to_server", keep=2)
    writer.write(b"abcdef")
    assert await asyncio.wait_for(reader.read(), scaled(5)) == b""
    await wait_for(lambda: target.eofs == 1)
    assert target.received == b"ab"


async def test_refuse_new_resets_or_ends_new_connections_and_spares_live_ones(
    proxy: FaultProxy, target: Target, connect: Callable[[], asyncio.Future[Conn]]
) -> None:
    live_reader, live_writer = await connect()
    await wait_for(lambda: proxy.live_links == 1)
    proxy.refuse_new()
    reader, _ = await connect()
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(10), scaled(5))
    proxy.refuse_new(reset=False)
    reader, _ = await connect()
    assert await asyncio.wait_for(reader.read(10), scaled(5)) == b""
    assert proxy.refused == 2 and proxy.accepted == 3 and len(target.writers) == 1
    live_writer.write(b"still")
    assert await read_exactly(live_reader, 5) == b"still"
    proxy.accept_new()
    reader, writer = await connect()
    writer.write(b"in")
    assert await read_exactly(reader, 2) == b"in"


async def test_a_target_that_goes_away_and_comes_back() -> None:
    target = await Target().start()
    port = target.port
    async with FaultProxy("127.0.0.1", port) as proxy:
        reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
        await wait_for(lambda: proxy.live_links == 1)
        await target.stop()  # the server restarts: the link ends
        assert await asyncio.wait_for(reader.read(10), scaled(5)) == b""
        writer.close()
        reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
        with pytest.raises(ConnectionResetError):  # nothing listens: as a refused connect
            await asyncio.wait_for(reader.read(10), scaled(5))
        writer.close()
        assert proxy.refused == 1
        await target.start(port)
        try:
            reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
            writer.write(b"again")
            assert await read_exactly(reader, 5) == b"again"
            writer.close()
        finally:
            await target.stop()


async def test_close_releases_every_link_and_task(
    target: Target, connect: Callable[[], asyncio.Future[Conn]]
) -> None:
    before = asyncio.all_tasks()
    proxy = await FaultProxy("127.0.0.1", target.port).start()
    conns = [await asyncio.open_connection(proxy.host, proxy.port) for _ in range(3)]
    await wait_for(lambda: proxy.live_links == 3)
    proxy.stall("both")
    proxy.set_delay(5)
    conns[0][1].write(b"held")
    proxy.links[1].half_open()
    await proxy.close()
    assert proxy.live_links == 0
    assert asyncio.all_tasks() - before == {asyncio.current_task()} - before
    try:
        for reader, _ in conns:
            assert await ended(reader)
    finally:
        for _, writer in conns:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    await proxy.close()  # twice is fine


async def test_from_url_proxies_the_url_s_host_and_port(target: Target) -> None:
    async with FaultProxy.from_url(f"ws://127.0.0.1:{target.port}/socket?vsn=2.0.0") as proxy:
        assert proxy.target_port == target.port
        assert proxy.url == f"ws://127.0.0.1:{proxy.port}/socket?vsn=2.0.0"
        reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
        writer.write(b"via url")
        assert await read_exactly(reader, 7) == b"via url"
        writer.close()
        await writer.wait_closed()
    assert FaultProxy.from_url("wss://example.com/socket").target_port == 443


def test_bad_arguments_are_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="target_port must be 1-65535"):
        FaultProxy("127.0.0.1", 0)
    with pytest.raises(ValueError, match="port must be 0-65535"):
        FaultProxy("127.0.0.1", 80, port=70000)
    proxy = FaultProxy("127.0.0.1", 80)
    with pytest.raises(ValueError, match="'to_server', 'to_client' or 'both'"):
        proxy.set_delay(1, "up")
    with pytest.raises(ValueError, match="must be >= 0 seconds"):
        proxy.set_delay(-1)
    with pytest.raises(ValueError, match="'to_server' or 'to_client'"):
        proxy.truncate_next("both")
    with pytest.raises(ValueError, match="keep must be >= 0"):
        proxy.truncate_next("to_client", keep=-1)
    with pytest.raises(ValueError, match="path must start with '/'"):
        proxy.url_for("socket")
    with pytest.raises(ValueError, match="only for a proxy made by from_url"):
        _ = proxy.url
    with pytest.raises(ValueError, match="expected a ws://, wss://, http:// or https:// URL"):
        FaultProxy.from_url("tcp://127.0.0.1:4000")
