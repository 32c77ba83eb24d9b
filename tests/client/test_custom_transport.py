"""A transport of the user's own, written against ``phoenix_fast.transports.base.Transport``
with only what it must define: the base class's defaults carry the rest (abort as close, no
flow control, no read pausing), and its helpers guard and describe."""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any, ClassVar

import pytest
from helpers import settle

from phoenix_fast import Socket
from phoenix_fast._constants import EVENT_HEARTBEAT, EVENT_JOIN, EVENT_REPLY
from phoenix_fast._states import SocketState
from phoenix_fast.message import Message
from phoenix_fast.transports.base import (
    Transport,
    TransportHandler,
    TransportOptions,
    client_ssl,
    describe_os_error,
    guard,
)


class Minimal(Transport):
    """In memory: answers joins; heartbeats only while ``answer_heartbeats``."""

    made: ClassVar[list[Minimal]] = []
    answer_heartbeats: ClassVar[bool] = True

    def __init__(self, options: TransportOptions, handler: TransportHandler) -> None:
        self.handler = handler
        self.state = SocketState.CONNECTING
        self.closes: list[tuple[int | None, str]] = []
        Minimal.made.append(self)
        asyncio.get_running_loop().call_soon(self._open)

    def _open(self) -> None:
        self.state = SocketState.OPEN
        self.handler.transport_open()

    @property
    def ready_state(self) -> SocketState:
        return self.state

    def send(self, message: Message) -> None:
        if message.event == EVENT_HEARTBEAT and not Minimal.answer_heartbeats:
            return
        if message.event in (EVENT_JOIN, EVENT_HEARTBEAT) or message.event == "ping":
            reply = {"status": "ok", "response": {}}
            answer = Message(message.join_ref, message.ref, message.topic, EVENT_REPLY, reply)
            asyncio.get_running_loop().call_soon(self.handler.transport_messages, [answer])

    def close(self, code: int | None = None, reason: str = "") -> None:
        if self.state is SocketState.CLOSED:
            return
        self.closes.append((code, reason))
        self.state = SocketState.CLOSED
        asyncio.get_running_loop().call_soon(self.handler.transport_close, code, reason, True)


@pytest.fixture(autouse=True)
def _fresh() -> None:
    Minimal.made = []
    Minimal.answer_heartbeats = True


async def test_the_defaults_carry_a_socket_with_channels_and_streams() -> None:
    socket = Socket("ws://example.test/socket", transport=Minimal)
    await socket.connect()
    assert socket.transport_name == "Minimal"
    assert socket.buffered_amount == 0
    await socket.drain()  # no flow control: returns at once
    channel = socket.channel("room")
    await channel.join()
    stream = channel.stream("msg")  # queueing pauses and resumes reading: no-ops here
    transport = Minimal.made[0]
    transport.handler.transport_messages([Message(channel.join_ref, None, "room", "msg", {})])
    assert (await anext(stream)).payload == {}
    await socket.disconnect()
    assert transport.closes == [(1000, "")]


async def test_a_missed_heartbeat_aborts_through_close_by_default() -> None:
    Minimal.answer_heartbeats = False
    socket = Socket("ws://example.test/socket", transport=Minimal, heartbeat_interval=5.0)
    closes: list[Any] = []
    socket.on_close(closes.append)
    await socket.connect()
    await asyncio.sleep(11)  # fake time: the heartbeat went unanswered past its timeout
    await settle()
    first = Minimal.made[0]
    assert first.closes == [(1000, "heartbeat timeout")]  # abort(...) became close(...)
    assert [(c.code, c.reason) for c in closes] == [(1000, "heartbeat timeout")]
    await socket.disconnect()


def test_guard_logs_a_raising_handler_and_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    def broken(*args: Any) -> None:
        raise KeyError(args)

    with caplog.at_level(logging.ERROR, logger="phoenix_fast"):
        guard(broken, 1, 2)
    assert caplog.messages == ["the transport handler raised"]


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (ConnectionRefusedError(111, "ignored"), "Connection refused"),
        (OSError(None, "no route, in its own words"), "no route, in its own words"),
        (OSError("only a message"), "only a message"),
        (TimeoutError(), "TimeoutError"),
    ],
)
def test_os_errors_are_described_in_a_few_words(error: BaseException, said: str) -> None:
    assert describe_os_error(error) == said


def test_tls_option_for_a_secure_scheme() -> None:
    context = ssl.create_default_context()
    assert client_ssl(context, "wss") is context
    assert client_ssl(None, "wss") is client_ssl(True, "https")  # one shared default
    with pytest.raises(ValueError, match=r"ssl=False cannot be used with wss://"):
        client_ssl(False, "wss")


def test_the_options_a_socket_makes_are_complete_frozen_dataclasses() -> None:
    from dataclasses import FrozenInstanceError, fields, replace

    socket = Socket(
        "ws://h/socket", params={"k": "v"}, headers={"X-A": "b"}, max_buffer=9, compress=True
    )
    options = socket._transport_options({"k": "v"}, "token")
    assert set(vars(options)) == {f.name for f in fields(TransportOptions)}
    made = TransportOptions(**{f.name: getattr(options, f.name) for f in fields(TransportOptions)})
    assert options == made and repr(options) == repr(made)
    assert replace(options, compress=False).compress is False
    with pytest.raises(FrozenInstanceError):
        options.compress = False  # type: ignore[misc]
