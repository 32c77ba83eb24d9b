"""Channel semantics: joins, replies, refs, errors, crash, stop, duplicates, limits."""

from __future__ import annotations

import asyncio

from refclient import Clients, reply

from phoenix_fast.testing import ReferenceServer


async def test_join_reply_is_exact(clients: Clients) -> None:
    c = await clients.connect()
    await c.send(["1", "1", "echo:a", "phx_join", {}])
    assert await c.recv_text() == (
        '["1","1","echo:a","phx_reply",{"response":{"joined":"echo:a","params":{}},"status":"ok"}]'
    )


async def test_join_fail_and_delay(clients: Clients) -> None:
    c = await clients.connect()
    assert await c.join("echo:f", {"fail": "nope"}) == reply(
        "1", "1", "echo:f", "error", {"reason": "nope"}
    )
    loop = asyncio.get_running_loop()
    start = loop.time()
    await c.send(["2", "2", "echo:d", "phx_join", {"delay_ms": 80}])
    # the socket is blocked during a join, as in Phoenix: the heartbeat waits
    await c.send([None, "3", "phoenix", "heartbeat", {}])
    assert await c.recv() == reply(
        "2", "2", "echo:d", "ok", {"joined": "echo:d", "params": {"delay_ms": 80}}
    )
    assert loop.time() - start >= 0.075
    assert await c.recv() == reply(None, "3", "phoenix", "ok", {})


async def test_join_crash_and_non_object_params(clients: Clients) -> None:
    c = await clients.connect()
    assert await c.join("echo:x", "params") == reply(  # type: ignore[arg-type]
        "1", "1", "echo:x", "error", {"reason": "join crashed"}
    )


async def test_echo_events(clients: Clients) -> None:
    c = await clients.connect()
    await c.join("echo:a")
    await c.send(["1", "2", "echo:a", "ping", {"n": [1, 2]}])
    assert await c.recv() == reply("1", "2", "echo:a", "ok", {"n": [1, 2]})
    await c.send(["1", "3", "echo:a", "error_me", {}])
    assert await c.recv() == reply("1", "3", "echo:a", "error", {"reason": "requested"})
    await c.send(["1", "4", "echo:a", "noreply", {}])
    await c.nothing()
    await c.send(["1", "5", "echo:a", "what", {}])
    assert await c.recv_text() == (
        '["1","5","echo:a","phx_reply",'
        '{"response":{"event":"what","reason":"unknown event"},"status":"error"}]'
    )
    await c.send(["1", "6", "echo:a", "bin", {}])
    assert await c.recv() == reply(
        "1", "6", "echo:a", "error", {"reason": "expected binary payload"}
    )


async def test_boom_gives_phx_error_with_join_ref(clients: Clients) -> None:
    c = await clients.connect()
    await c.join("echo:a", join_ref="4")
    await c.send(["4", "5", "echo:a", "boom", {}])
    assert await c.recv() == ["4", "4", "echo:a", "phx_error", {"reason": "channel_crash"}]
    # the channel is gone: the topic is unmatched now
    await c.send(["4", "6", "echo:a", "ping", {}])
    assert await c.recv() == reply(None, "6", "echo:a", "error", {"reason": "unmatched topic"})


async def test_stop_replies_then_closes(clients: Clients) -> None:
    c = await clients.connect()
    await c.join("echo:a", join_ref="3")
    await c.send(["3", "9", "echo:a", "stop", {}])
    assert await c.recv() == reply("3", "9", "echo:a", "ok", {})
    assert await c.recv() == ["3", "3", "echo:a", "phx_close", {}]


async def test_leave(clients: Clients) -> None:
    c = await clients.connect()
    await c.join("echo:a", join_ref="3")
    await c.send(["3", "4", "echo:a", "phx_leave", {}])
    assert await c.recv() == reply("3", "4", "echo:a", "ok", {})
    assert await c.recv() == ["3", "3", "echo:a", "phx_close", {}]
    # leaving a topic not joined: ok with the message's join_ref
    await c.send(["8", "9", "echo:zz", "phx_leave", {}])
    assert await c.recv() == reply("8", "9", "echo:zz", "ok", {})


async def test_unmatched_topics(clients: Clients) -> None:
    c = await clients.connect()
    await c.send(["1", "1", "nope:a", "phx_join", {}])
    assert await c.recv() == reply(None, "1", "nope:a", "error", {"reason": "unmatched topic"})
    await c.send(["1", "2", "echo:notjoined", "ping", {}])
    assert await c.recv() == reply(
        None, "2", "echo:notjoined", "error", {"reason": "unmatched topic"}
    )
    await c.send([None, "3", "phoenix", "other", {}])
    assert await c.recv() == reply(None, "3", "phoenix", "error", {"reason": "unmatched topic"})


async def test_stale_join_ref_is_ignored_and_null_accepted(clients: Clients) -> None:
    c = await clients.connect()
    await c.join("echo:a", join_ref="5")
    await c.send(["4", "6", "echo:a", "ping", {"stale": True}])
    await c.send(["4", "7", "echo:a", "phx_leave", {}])
    await c.nothing()
    await c.send([None, "8", "echo:a", "ping", {}])
    # the reply carries the channel's join_ref even when the push had none
    assert await c.recv() == reply("5", "8", "echo:a", "ok", {})
    await c.send([None, "9", "echo:a", "phx_leave", {}])
    assert await c.recv() == reply("5", "9", "echo:a", "ok", {})
    assert await c.recv() == ["5", "5", "echo:a", "phx_close", {}]


async def test_join_without_join_ref(clients: Clients) -> None:
    c = await clients.connect()
    await c.send([None, "3", "echo:a", "phx_join", {}])
    assert await c.recv() == reply(None, "3", "echo:a", "ok", {"joined": "echo:a", "params": {}})
    # pushes carry the channel's join_ref: join_ref || ref
    await c.send([None, "4", "echo:a", "push_bin", {}])
    assert await c.recv_binary() == b"\x00\x01\x06\x073echo:abin_msg" + bytes(range(1, 11))
    await c.send([None, "5", "echo:a", "boom", {}])
    await c.recv()
    # phx_error carries the join message's join_ref, null here
    assert await c.recv() == [None, None, "echo:a", "phx_error", {"reason": "channel_crash"}]


async def test_duplicate_join_closes_the_old_channel(clients: Clients) -> None:
    c = await clients.connect()
    other = await clients.connect()
    await c.join("echo:a", join_ref="1")
    await other.join("echo:a", join_ref="1")
    await c.send(["2", "2", "echo:a", "phx_join", {"v": 2}])
    # Phoenix sends the new join's reply, then phx_close for the old join_ref
    assert await c.recv() == reply(
        "2", "2", "echo:a", "ok", {"joined": "echo:a", "params": {"v": 2}}
    )
    assert await c.recv() == ["1", "1", "echo:a", "phx_close", {}]
    await c.send(["2", "3", "echo:a", "shout", {"s": 1}])
    assert await c.recv() == [None, None, "echo:a", "shout", {"s": 1}]
    assert await c.recv() == reply("2", "3", "echo:a", "ok", {})
    assert await other.recv() == [None, None, "echo:a", "shout", {"s": 1}]
    await c.nothing()


async def test_shout_reaches_every_subscriber_and_v1(clients: Clients) -> None:
    a = await clients.connect()
    b = await clients.connect()
    v1 = await clients.connect("vsn=1.0.0")
    await a.join("echo:room")
    await b.join("echo:room", join_ref="9")
    await v1.send({"topic": "echo:room", "event": "phx_join", "payload": {}, "ref": "1"})
    assert await v1.recv() == {
        "event": "phx_reply",
        "payload": {"response": {"joined": "echo:room", "params": {}}, "status": "ok"},
        "ref": "1",
        "topic": "echo:room",
    }
    await a.send(["1", "2", "echo:room", "shout", {"hi": 1}])
    assert await a.recv() == [None, None, "echo:room", "shout", {"hi": 1}]
    assert await a.recv() == reply("1", "2", "echo:room", "ok", {})
    assert await b.recv_text() == '[null,null,"echo:room","shout",{"hi":1}]'
    assert (
        await v1.recv_text()
        == '{"event":"shout","payload":{"hi":1},"ref":null,"topic":"echo:room"}'
    )


async def test_v1_close_and_error_have_null_refs(clients: Clients) -> None:
    v1 = await clients.connect("vsn=1.0.0")
    await v1.send({"topic": "echo:a", "event": "phx_join", "payload": {}, "ref": "1"})
    await v1.recv()
    await v1.send({"topic": "echo:a", "event": "boom", "payload": {}, "ref": "2"})
    assert await v1.recv() == {
        "event": "phx_error",
        "payload": {"reason": "channel_crash"},
        "ref": None,
        "topic": "echo:a",
    }
    # V1 cannot encode binary: push_bin crashes the channel
    await v1.send({"topic": "echo:b", "event": "phx_join", "payload": {}, "ref": "3"})
    await v1.recv()
    await v1.send({"topic": "echo:b", "event": "push_bin", "payload": {}, "ref": "4"})
    assert (await v1.recv())["event"] == "phx_error"


async def test_binary_frames(clients: Clients) -> None:
    c = await clients.connect()
    await c.join("echo:b", join_ref="12")
    # client push: kind 0, [join_ref, ref, topic, event] lengths, then payload
    await c.send_binary(
        b"\x00\x02\x02\x06\x03" + b"12" + b"13" + b"echo:b" + b"bin" + b"\x00\xffab"
    )
    # reply: kind 1, [join_ref, ref, topic, status] lengths
    assert await c.recv_binary() == b"\x01\x02\x02\x06\x02" + b"1213echo:bok" + b"\x00\xffab"
    await c.send(["12", "14", "echo:b", "push_bin", {}])
    # server push: kind 0, [join_ref, topic, event] lengths, no ref
    assert await c.recv_binary() == b"\x00\x02\x06\x07" + b"12echo:bbin_msg" + bytes(range(1, 11))
    assert await c.recv() == reply("12", "14", "echo:b", "ok", {})
    # a binary ping is echoed as a binary reply; a binary shout is a kind 2 broadcast
    await c.send_binary(b"\x00\x02\x02\x06\x04" + b"1215echo:bping" + b"\x01")
    assert await c.recv_binary() == b"\x01\x02\x02\x06\x02" + b"1215echo:bok\x01"
    await c.send_binary(b"\x00\x02\x02\x06\x05" + b"1216echo:bshout" + b"\x02")
    assert await c.recv_binary() == b"\x02\x06\x05echo:bshout\x02"
    assert await c.recv() == reply("12", "16", "echo:b", "ok", {})
    # stale join_ref in a binary push: ignored
    await c.send_binary(b"\x00\x04\x02\x06\x04" + b"null15echo:bping" + b"\x01")
    await c.nothing()


async def test_burst_order_and_shape(clients: Clients) -> None:
    c = await clients.connect()
    await c.join("echo:b", join_ref="2")
    await c.send(["2", "3", "echo:b", "burst", {"n": 3000, "size": 5}])
    await c.send(["2", "4", "echo:b", "ping", {"after": True}])
    assert await c.recv() == reply("2", "3", "echo:b", "ok", {"sent": 3000})
    texts = [await c.recv_text() for _ in range(3000)]
    assert texts[0] == '["2",null,"echo:b","burst_msg",{"data":"xxxxx","i":0}]'
    assert texts[-1] == '["2",null,"echo:b","burst_msg",{"data":"xxxxx","i":2999}]'
    # messages queued behind the burst are handled after it, as in a channel process
    assert await c.recv() == reply("2", "4", "echo:b", "ok", {"after": True})


async def test_burst_v1(clients: Clients) -> None:
    v1 = await clients.connect("vsn=1.0.0")
    await v1.send({"topic": "echo:b", "event": "phx_join", "payload": {}, "ref": "1"})
    await v1.recv()
    await v1.send({"topic": "echo:b", "event": "burst", "payload": {"n": 2, "size": 1}, "ref": "2"})
    await v1.recv()
    assert await v1.recv_text() == (
        '{"event":"burst_msg","payload":{"data":"x","i":0},"ref":null,"topic":"echo:b"}'
    )
    assert (await v1.recv())["payload"]["i"] == 1


async def test_bad_burst_params_crash_the_channel(clients: Clients) -> None:
    c = await clients.connect()
    await c.join("echo:b")
    await c.send(["1", "2", "echo:b", "burst", {"n": "many"}])
    assert await c.recv() == ["1", "1", "echo:b", "phx_error", {"reason": "channel_crash"}]


async def test_max_channels_default_100() -> None:
    async with ReferenceServer() as server:
        pool = Clients(server)
        try:
            c = await pool.connect()
            for i in range(100):
                await c.send([str(i), str(i), f"echo:{i}", "phx_join", {}])
            replies = await c.recv_n(100)
            assert all(r[4]["status"] == "ok" for r in replies)
            await c.send(["x", "y", "echo:100", "phx_join", {}])
            assert await c.recv() == reply(
                "x", "y", "echo:100", "error", {"reason": "too many channels joined"}
            )
            # leaving frees a slot
            await c.send(["0", "z", "echo:0", "phx_leave", {}])
            await c.recv_n(2)
            assert (await c.join("echo:100", join_ref="w"))[4]["status"] == "ok"
        finally:
            await pool.close()


async def test_max_channels_can_be_raised() -> None:
    async with ReferenceServer(max_channels=2500) as server:
        pool = Clients(server)
        try:
            c = await pool.connect()
            for i in range(2000):
                await c.send([str(i), str(i), f"load:{i}", "phx_join", {}])
            replies = await c.recv_n(2000)
            assert {r[4]["status"] for r in replies} == {"ok"}
            assert server.stats()["channels"] == 2000
        finally:
            await pool.close()


async def test_many_pushes_with_replies(clients: Clients) -> None:
    c = await clients.connect()
    await c.join("echo:p")
    n = 20_000
    for i in range(n):
        await c.send(["1", str(i), "echo:p", "ping", {"i": i}])
    last = None
    for _ in range(n):
        last = await c.recv()
    assert last == reply("1", str(n - 1), "echo:p", "ok", {"i": n - 1})


async def test_v2_cannot_push_a_non_object(clients: Clients) -> None:
    c = await clients.connect()
    await c.join("echo:a")
    await c.send(["1", "2", "echo:a", "ping", [1, 2]])
    assert await c.recv() == reply("1", "2", "echo:a", "ok", [1, 2])
    # Phoenix's V2 fastlane! raises on a non-map payload: the shouting channel crashes
    await c.send(["1", "3", "echo:a", "shout", [1, 2]])
    assert await c.recv() == ["1", "1", "echo:a", "phx_error", {"reason": "channel_crash"}]
