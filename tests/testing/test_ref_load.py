"""load:* fanout and the server's emission speed."""

from __future__ import annotations

from framecount import count_burst
from refclient import Clients, reply, settle


async def test_load_join_and_unknown_event(clients: Clients) -> None:
    c = await clients.connect()
    assert await c.join("load:0", {"anything": 1}) == reply("1", "1", "load:0", "ok", {})
    await c.send(["1", "2", "load:0", "nope", {}])
    assert (await c.recv())[4] == {
        "status": "error",
        "response": {"event": "nope", "reason": "unknown event"},
    }


async def test_fanout_reaches_every_topic_subscriber(clients: Clients) -> None:
    driver = await clients.connect()
    await driver.join("load:driver")
    subs = [await clients.connect() for _ in range(3)]
    v1 = await clients.connect("vsn=1.0.0")
    # sockets 0 and 1 on room0, socket 2 on room1 and room2; room3 has no subscriber
    await subs[0].join("load:room0")
    await subs[1].join("load:room0")
    await subs[2].join("load:room1", join_ref="a")
    await subs[2].join("load:room2", join_ref="b")
    await v1.send({"topic": "load:room2", "event": "phx_join", "payload": {}, "ref": "1"})
    await v1.recv()
    await driver.send(
        ["1", "9", "load:driver", "fanout", {"prefix": "load:room", "count": 4, "n": 50, "size": 4}]
    )
    assert await driver.recv() == reply("1", "9", "load:driver", "ok", {})
    for sub in subs[:2]:
        ticks = await sub.recv_n(50)
        assert ticks[0] == [None, None, "load:room0", "tick", {"data": "xxxx", "round": 0}]
        assert [t[4]["round"] for t in ticks] == list(range(50))
    ticks = await subs[2].recv_n(100)
    assert [(t[2], t[4]["round"]) for t in ticks[:4]] == [
        ("load:room1", 0),
        ("load:room2", 0),
        ("load:room1", 1),
        ("load:room2", 1),
    ]
    assert await v1.recv_text() == (
        '{"event":"tick","payload":{"data":"xxxx","round":0},"ref":null,"topic":"load:room2"}'
    )
    await driver.nothing()


async def test_large_fanout_then_disconnects(clients: Clients) -> None:
    driver = await clients.connect()
    await driver.join("load:d")
    subs = [await clients.connect() for _ in range(4)]
    for i, sub in enumerate(subs):
        await sub.join(f"load:t{i % 2}")
    await driver.send(
        ["1", "2", "load:d", "fanout", {"prefix": "load:t", "count": 2, "n": 5000, "size": 50}]
    )
    await driver.recv()
    for sub in subs[:2]:
        last = (await sub.recv_n(5000))[-1]
        assert last[4]["round"] == 4999
    for sub in subs:
        await sub.close()
    await driver.close()
    stats = await settle(clients.server)
    assert stats == dict.fromkeys(stats, 0)


async def test_burst_with_a_raw_frame_counter(clients: Clients) -> None:
    frames, seconds = await count_burst(clients.server.url, 50_000, 100)
    assert frames == 50_000
    print(f"burst: {frames / seconds:,.0f} frames/s (same process, headers parsed)")
    # exact byte count: every frame has exactly the expected size, the last is i = n - 1
    frames, seconds = await count_burst(clients.server.url, 50_000, 100, bytes_only=True)
    assert frames == 50_000
    print(f"burst: {frames / seconds:,.0f} frames/s (same process, bytes counted)")
