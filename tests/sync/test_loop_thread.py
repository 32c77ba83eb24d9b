"""The process's background loop thread, with the thread waiter (gevent's is tested in
``test_locust_user.py``)."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from phoenix_fast._loop_thread import LoopThread
from phoenix_fast.sync import Socket
from phoenix_fast.testing.waiting import scaled


def test_one_shared_loop_thread_per_process() -> None:
    thread = LoopThread.shared()
    assert LoopThread.shared() is thread
    assert thread.pid == os.getpid()
    assert not thread.in_thread()


def test_results_and_errors_cross_over() -> None:
    thread = LoopThread.shared()

    async def where() -> bool:
        return thread.in_thread() and asyncio.get_running_loop() is thread.loop

    assert thread.run(where, 5) is True
    assert thread.call(lambda: 41 + 1, 5) == 42

    async def fail() -> None:
        raise KeyError("inside")

    with pytest.raises(KeyError, match="inside"):
        thread.run(fail, 5)
    with pytest.raises(ZeroDivisionError):
        thread.call(lambda: 1 // 0, 5)


def test_a_timeout_cancels_the_work() -> None:
    thread = LoopThread.shared()
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(TimeoutError, match=r"no result within 0\.05 s"):
        thread.run(forever, 0.05)
    assert cancelled.wait(scaled(5))


def test_a_blocking_call_from_the_loop_thread_raises_instead_of_deadlocking() -> None:
    thread = LoopThread.shared()

    def nested() -> str:
        try:
            thread.call(lambda: None, 1)
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    assert "in the loop thread" in thread.call(nested, 5)


def test_closing_a_stream_from_another_thread_ends_a_blocked_reader(phoenix_url: str) -> None:
    with Socket(phoenix_url) as socket:  # connects, as `async with` does
        assert socket.is_connected()
        channel = socket.channel("echo:loop-close")
        channel.join()
        stream = channel.stream("shout")  # no timeout: the reader blocks until closed
        read: list[object] = []
        got_one = threading.Event()

        def read_all() -> None:
            for message in stream:
                read.append(message.payload)
                got_one.set()

        reader = threading.Thread(target=read_all)
        reader.start()
        channel.push("shout", {"n": 1})
        assert got_one.wait(scaled(5))  # read, and blocked again waiting for the next one
        stream.close()
        reader.join(scaled(10))
        assert not reader.is_alive()
        assert read == [{"n": 1}]


def test_bad_arguments_raise_in_the_calling_thread() -> None:
    with pytest.raises(ValueError, match="scheme"):
        Socket("ftp://example.com/socket")
