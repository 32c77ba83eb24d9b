"""Errors that say why: the server's reason, the close code, the thread rule."""

from __future__ import annotations

import asyncio
import threading

import pytest
from helpers import make_socket

from phoenix_fast.errors import ConnectionClosed, InvalidState, JoinError, PushError


def test_push_and_join_errors_end_with_the_servers_reason() -> None:
    error = PushError("new_msg on room:1", "error", {"reason": "too long"})
    assert str(error) == "new_msg on room:1: error (too long)"
    assert str(JoinError("phx_join on nope:1", "error", {"reason": "unmatched topic"})).endswith(
        ": error (unmatched topic)"
    )


def test_a_response_without_a_reason_is_shown_cut_short() -> None:
    error = PushError("e on t", "error", {"detail": "x" * 1000})
    assert str(error).startswith("e on t: error ({'detail': 'xxx")
    assert str(error).endswith("...)") and len(str(error)) < 260
    assert error.response == {"detail": "x" * 1000}  # the whole is still there
    assert str(PushError("e on t", "error", {})) == "e on t: error"


def test_connection_closed_shows_code_and_reason() -> None:
    error = ConnectionClosed("the connection closed", 1009, "message too big")
    assert str(error) == "the connection closed (code 1009: message too big)"
    assert (error.code, error.reason) == (1009, "message too big")
    assert str(ConnectionClosed("gone")) == "gone"


def test_calls_from_another_thread_than_the_loops_raise() -> None:
    socket, _server = make_socket()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop = asyncio.Event()

    async def connect_and_wait() -> None:
        await socket.connect()
        started.set()
        await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(connect_and_wait(),))
    thread.start()
    try:
        assert started.wait(5)
        channel = socket.channel("room:1")
        with pytest.raises(InvalidState, match="another thread"):
            channel.join()
        with pytest.raises(InvalidState, match="run_coroutine_threadsafe"):
            socket.connect()
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(5)
        loop.close()
