"""The client against the contract application (reference server, or $PHOENIX_URL), on real
loops (asyncio and uvloop). Every contract event is exercised here."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from phoenix_fast.channel import Channel
from phoenix_fast.errors import ConnectError, EncodeError, JoinError, PushError, PushTimeout
from phoenix_fast.serializers import ReferenceSerializer
from phoenix_fast.socket import Socket
from phoenix_fast.testing.waiting import wait_for as _wait_for

WAIT = 5.0


async def wait_for(predicate: Callable[[], object], timeout: float = WAIT) -> None:
    await _wait_for(predicate, timeout)


async def joined(socket: Socket, topic: str, params: Any = None) -> Channel:
    channel = socket.channel(topic, params)
    await channel.join()
    return channel


async def test_join_replies_with_topic_and_params(phoenix_url: str) -> None:
    async with Socket(phoenix_url) as socket:
        channel = socket.channel("echo:params", {"a": 1, "nested": {"b": [1, 2]}})
        assert await channel.join() == {
            "joined": "echo:params",
            "params": {"a": 1, "nested": {"b": [1, 2]}},
        }
        assert channel.state == "joined"


async def test_join_error_and_rejoin(phoenix_url: str) -> None:
    async with Socket(phoenix_url, rejoin_after=lambda tries: 0.05) as socket:
        params = {"fail": "nope"}
        channel = socket.channel("echo:fail", lambda: params)
        with pytest.raises(JoinError) as info:
            await channel.join()
        assert info.value.response == {"reason": "nope"}
        assert channel.state == "errored"
        params = {}  # the next rejoin reads the params again, and succeeds
        await wait_for(lambda: channel.state == "joined")


async def test_slow_join_times_out_then_rejoins(phoenix_url: str) -> None:
    async with Socket(phoenix_url, rejoin_after=lambda tries: 0.05) as socket:
        delays = iter([400, 0])
        channel = socket.channel("echo:slow", lambda: {"delay_ms": next(delays, 0)})
        with pytest.raises(PushTimeout):
            await channel.join(timeout=0.1)
        await wait_for(lambda: channel.state == "joined")


async def test_ping_error_me_noreply_unknown(phoenix_url: str) -> None:
    async with Socket(phoenix_url) as socket:
        channel = await joined(socket, "echo:events")
        assert await channel.push("ping", {"x": [1, "two"]}) == {"x": [1, "two"]}
        with pytest.raises(PushError) as error:
            await channel.push("error_me")
        assert (error.value.status, error.value.response) == ("error", {"reason": "requested"})
        with pytest.raises(PushTimeout):
            await channel.push("noreply", timeout=0.2)
        with pytest.raises(PushError) as unknown:
            await channel.push("what", {})
        assert unknown.value.response == {"reason": "unknown event", "event": "what"}


async def test_an_unencodable_push_raises_and_leaves_nothing_behind(phoenix_url: str) -> None:
    async with Socket(phoenix_url) as socket:
        channel = await joined(socket, "echo:encode")
        before = len(socket._deadlines.pending)
        with pytest.raises(EncodeError):
            channel.push("ping", {"not json": {1, 2}})
        assert len(socket._deadlines.pending) == before  # no pending entry, no timer
        assert await channel.push("ping", {"a": 1}) == {"a": 1}  # the link is unharmed


async def test_boom_crashes_the_channel_which_rejoins(phoenix_url: str) -> None:
    async with Socket(phoenix_url, rejoin_after=lambda tries: 0.05) as socket:
        channel = await joined(socket, "echo:boom")
        first_join_ref = channel.join_ref
        errors: list[Any] = []
        channel.on_error(errors.append)
        channel.push("boom")
        await wait_for(lambda: bool(errors))
        assert channel.state in ("errored", "joining", "joined")
        await wait_for(lambda: channel.state == "joined")
        assert channel.join_ref != first_join_ref
        assert await channel.push("ping", {"ok": 1}) == {"ok": 1}


async def test_stop_closes_the_channel(phoenix_url: str) -> None:
    async with Socket(phoenix_url) as socket:
        channel = await joined(socket, "echo:stop")
        closes: list[Any] = []
        channel.on_close(closes.append)
        assert await channel.push("stop") == {}
        await wait_for(lambda: channel.state == "closed")
        assert closes == [{}] and channel not in socket.channels


async def test_shout_reaches_every_subscriber(phoenix_url: str) -> None:
    async with Socket(phoenix_url) as one, Socket(phoenix_url) as two:
        a, b = await joined(one, "echo:room"), await joined(two, "echo:room")
        heard: list[tuple[str, Any]] = []
        a.on("shout", lambda p: heard.append(("a", p)))
        b.on("shout", lambda p: heard.append(("b", p)))
        assert await a.push("shout", {"msg": "hi"}) == {}
        await wait_for(lambda: len(heard) == 2)
        assert sorted(heard) == [("a", {"msg": "hi"}), ("b", {"msg": "hi"})]


async def test_burst_arrives_in_order_through_a_stream(phoenix_url: str) -> None:
    async with Socket(phoenix_url) as socket:
        channel = await joined(socket, "echo:burst")
        stream = channel.stream("burst_msg", maxsize=10_000)
        assert await channel.push("burst", {"n": 500, "size": 100}) == {"sent": 500}
        got = []
        async for message in stream:
            got.append(message.payload["i"])
            if len(got) == 500:
                break
        assert got == list(range(500))
        assert len(message.payload["data"]) == 100 and stream.dropped == 0
        stream.close()


async def test_a_stream_that_keeps_up_loses_nothing_of_a_long_burst(phoenix_url: str) -> None:
    # far more than one loop iteration's reads: without the read yield, libuv read megabytes
    # per iteration and the default stream dropped ~97% of such a burst
    n = 60_000
    async with Socket(phoenix_url) as socket:
        channel = await joined(socket, "echo:long-burst")
        stream = channel.stream("burst_msg")  # the default maxsize and drop_oldest
        assert await channel.push("burst", {"n": n, "size": 100}) == {"sent": n}
        total = 0
        async for message in stream:
            total += 1
            if message.payload["i"] == n - 1:
                break
        assert (total, stream.dropped) == (n, 0)


async def test_binary_push_reply_and_server_push(phoenix_url: str) -> None:
    async with Socket(phoenix_url) as socket:
        channel = await joined(socket, "echo:bin")
        payload = bytes(range(256)) * 40
        assert await channel.push("bin", payload) == payload
        with pytest.raises(PushError) as info:
            await channel.push("bin", {"not": "binary"})
        assert info.value.response == {"reason": "expected binary payload"}
        pushed: list[Any] = []
        channel.on("bin_msg", pushed.append)
        assert await channel.push("push_bin") == {}
        await wait_for(lambda: bool(pushed))
        assert pushed == [bytes(range(1, 11))]


async def test_duplicate_join_on_one_socket_leaves_the_first(phoenix_url: str) -> None:
    async with Socket(phoenix_url) as socket:
        first = await joined(socket, "echo:dup")
        second = socket.channel("echo:dup")
        await second.join()
        assert first.state == "closed" and second.state == "joined"
        heard: list[Any] = []
        second.on("shout", heard.append)
        first.on("shout", lambda p: heard.append(("first", p)))
        await second.push("shout", {"n": 1})
        await wait_for(lambda: bool(heard))
        await asyncio.sleep(0.05)
        assert heard == [{"n": 1}]


async def test_presence_state_and_diff(phoenix_url: str) -> None:
    async with Socket(phoenix_url) as socket:
        with pytest.raises(JoinError) as info:
            await socket.channel("presence:x", {}).join()
        assert info.value.response == {"reason": "user_id required"}
        channel = socket.channel("presence:lobby", {"user_id": "ada"})
        states: list[Any] = []
        diffs: list[Any] = []
        channel.on("presence_state", states.append)
        channel.on("presence_diff", diffs.append)
        await channel.join()
        await wait_for(lambda: bool(states))
        assert states[0]["ada"]["metas"][0]["status"] == "online"
        await channel.push("update_status", {"status": "away"})

        def away() -> bool:
            return any(
                meta["status"] == "away"
                for diff in diffs
                for meta in diff["joins"].get("ada", {}).get("metas", [])
            )

        await wait_for(away)
        assert any("ada" in diff["leaves"] for diff in diffs)


async def test_load_fanout(phoenix_url: str) -> None:
    async with Socket(phoenix_url) as socket:
        ticks: list[Any] = []
        for i in range(3):
            channel = await joined(socket, f"load:fan{i}")
            channel.on("tick", lambda p, t=channel.topic: ticks.append((t, p["round"])))
        sender = await joined(socket, "load:sender")
        await sender.push("fanout", {"prefix": "load:fan", "count": 3, "n": 2, "size": 8})
        await wait_for(lambda: len(ticks) == 6)
        assert sorted(ticks) == sorted((f"load:fan{i}", r) for i in range(3) for r in range(2))


async def test_bad_token_is_refused_with_403(phoenix_url: str) -> None:
    socket = Socket(phoenix_url, params={"token": "bad"})
    with pytest.raises(ConnectError) as info:
        await socket.connect()
    assert info.value.status == 403
    await socket.disconnect()


async def test_vsn_1_and_a_custom_serializer(phoenix_url: str) -> None:
    for vsn in ("1.0.0", "2.0.0"):
        serializer = ReferenceSerializer(vsn)
        socket = Socket(phoenix_url, vsn=vsn, encode=serializer.encode, decode=serializer.decode)
        async with socket:
            channel = await joined(socket, f"echo:vsn{vsn}")
            assert await channel.push("ping", {"vsn": vsn}) == {"vsn": vsn}


async def test_ping_measures_a_round_trip(phoenix_url: str) -> None:
    async with Socket(phoenix_url) as socket:
        rtt = await socket.ping()
        assert rtt is not None and 0 <= rtt < 1
