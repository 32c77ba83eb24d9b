"""``phoenix_fast.sync``: the blocking client over the one background loop thread."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import phoenix_fast
from phoenix_fast._loop_thread import LoopThread
from phoenix_fast.errors import (
    ConnectError,
    InvalidState,
    JoinError,
    PushError,
    PushTimeout,
    StreamOverflow,
)
from phoenix_fast.sync import Socket, connect
from phoenix_fast.testing.waiting import scaled


@pytest.fixture
def socket(phoenix_url: str) -> Iterator[Socket]:
    with connect(phoenix_url, timeout=5.0) as socket:
        yield socket


def test_the_issue_example_joins_pushes_and_streams(phoenix_url: str) -> None:
    with phoenix_fast.sync.connect(phoenix_url, params={"user": "ada"}) as socket:
        assert socket.is_connected()
        channel = socket.channel("echo:sync-example")
        assert channel.join() == {"joined": "echo:sync-example", "params": {}}
        stream = channel.stream("shout", timeout=5)
        assert channel.push("ping", {"body": "hi"}) == {"body": "hi"}
        for i in range(3):
            channel.push("shout", {"i": i})
        got = [next(stream).payload["i"] for _ in range(3)]
        assert got == [0, 1, 2]
    assert not socket.is_connected()
    assert str(socket.connection_state()) == "closed"


def test_errors_are_the_async_clients(socket: Socket) -> None:
    refused = socket.channel("echo:sync-refused", {"fail": "nope"})
    with pytest.raises(JoinError) as joined:
        refused.join()
    assert joined.value.response == {"reason": "nope"}
    refused.leave()
    channel = socket.channel("echo:sync-errors")
    with pytest.raises(InvalidState):
        channel.push("ping")
    channel.join()
    with pytest.raises(PushError) as pushed:
        channel.push("error_me")
    assert pushed.value.response == {"reason": "requested"}
    with pytest.raises(PushTimeout):
        channel.push("noreply", timeout=0.05)


def test_calls_from_many_threads_share_one_socket(socket: Socket) -> None:
    channel = socket.channel("echo:sync-threads")
    channel.join()
    results: dict[int, list[Any]] = {}

    def worker(n: int) -> None:
        results[n] = [channel.push("ping", {"n": n, "i": i})["i"] for i in range(50)]

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(scaled(30))
    assert results == {n: list(range(50)) for n in range(8)}


def test_stream_timeout_raises_and_the_stream_goes_on(socket: Socket) -> None:
    channel = socket.channel("echo:sync-timeout")
    channel.join()
    stream = channel.stream("shout", timeout=0.05)
    with pytest.raises(TimeoutError, match="no 'shout' message on echo:sync-timeout"):
        next(stream)
    channel.push("shout", {"late": True})
    assert next(stream).payload == {"late": True}


def test_stream_ends_when_the_channel_closes_after_its_queued_messages(socket: Socket) -> None:
    channel = socket.channel("echo:sync-close")
    channel.join()
    with channel.stream("burst_msg", timeout=5) as stream:
        channel.push("burst", {"n": 3000, "size": 10})
        channel.push("stop")  # the server closes the channel after the burst
        received = [message.payload["i"] for message in stream]
    assert received == list(range(3000))
    assert stream.dropped == 0


def test_stream_overflow_error_as_in_the_async_stream(socket: Socket) -> None:
    channel = socket.channel("echo:sync-overflow")
    channel.join()
    stream = channel.stream("burst_msg", maxsize=10, overflow="error", timeout=5)
    channel.push("burst", {"n": 50, "size": 10})
    channel.push("ping")  # the burst was read before this reply
    with pytest.raises(StreamOverflow):
        next(stream)
    # the stream closed itself; what it had queued can still be read
    assert [message.payload["i"] for message in stream] == list(range(10))
    assert stream.dropped >= 1


def test_callbacks_run_in_the_loop_thread_and_cannot_block(socket: Socket) -> None:
    channel = socket.channel("echo:sync-callback")
    channel.join()
    seen: list[Any] = []
    done = threading.Event()

    def on_shout(payload: Any) -> None:
        seen.append(LoopThread.shared().in_thread())
        try:
            channel.push("ping")
        except RuntimeError as exc:
            seen.append(str(exc))
        done.set()

    ref = channel.on("shout", on_shout)
    channel.push("shout", {})
    assert done.wait(scaled(5))
    assert seen[0] is True
    assert "in the loop thread" in seen[1]
    channel.off("shout", ref)


def test_a_failed_connect_raises_and_leaves_no_socket_retrying(phoenix_url: str) -> None:
    with pytest.raises(ConnectError):
        connect(phoenix_url, params={"token": "bad"})
    socket = Socket(phoenix_url, params={"token": "bad"})
    with pytest.raises(ConnectError):
        socket.connect()
    socket.close()
    assert str(socket.connection_state()) == "closed"


def test_run_gives_the_async_api_in_the_loop_thread(socket: Socket) -> None:
    async def rtt() -> float | None:
        return await socket.async_socket.ping()

    assert isinstance(socket.run(rtt), float)
    assert isinstance(socket.ping(), float)


def test_import_phoenix_fast_does_not_import_the_sync_client() -> None:
    code = (
        "import sys, phoenix_fast; assert 'phoenix_fast.sync' not in sys.modules; "
        "assert phoenix_fast.sync.connect; assert 'phoenix_fast.sync' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=scaled(30))


def test_a_script_that_never_closes_its_socket_exits_cleanly(phoenix_url: str) -> None:
    code = (
        "import sys, threading, phoenix_fast.sync as s; "
        "socket = s.connect(sys.argv[1]); channel = socket.channel('echo:sync-exit'); "
        "channel.join(); channel.stream('shout'); print(channel.push('ping', {'a': 1}))"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code, phoenix_url],
        capture_output=True,
        text=True,
        timeout=scaled(30),
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "{'a': 1}\n", "")
