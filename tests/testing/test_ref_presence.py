"""Presence as Phoenix.Presence does it: presence_state after join, presence_diff broadcasts."""

from __future__ import annotations

import time
from typing import Any

from refclient import Client, Clients, reply


def _metas(entry: dict[str, Any]) -> list[dict[str, Any]]:
    return list(entry["metas"])


async def _join(c: Client, topic: str, params: dict[str, Any], join_ref: str) -> tuple[Any, Any]:
    """Join; return (presence_state payload, own presence_diff payload)."""
    assert await c.join(topic, params, join_ref=join_ref) == reply(
        join_ref, join_ref, topic, "ok", {}
    )
    state = await c.recv()
    assert state[:4] == [join_ref, None, topic, "presence_state"]
    diff = await c.recv()
    assert diff[:4] == [None, None, topic, "presence_diff"]
    return state[4], diff[4]


async def test_join_requires_user_id(clients: Clients) -> None:
    c = await clients.connect()
    assert await c.join("presence:r", {}) == reply(
        "1", "1", "presence:r", "error", {"reason": "user_id required"}
    )


async def test_state_diff_update_and_leave_with_two_sockets(clients: Clients) -> None:
    a = await clients.connect()
    b = await clients.connect()
    before = int(time.time())
    state, diff = await _join(a, "presence:r", {"user_id": "alice"}, "1")
    (meta_a,) = _metas(state["alice"])
    assert set(state) == {"alice"}
    assert meta_a["status"] == "online" and before <= meta_a["online_at"] <= time.time()
    assert isinstance(meta_a["phx_ref"], str) and meta_a["phx_ref"]
    assert list(meta_a) == ["online_at", "phx_ref", "status"]
    assert diff == {"joins": {"alice": {"metas": [meta_a]}}, "leaves": {}}

    state, diff = await _join(b, "presence:r", {"user_id": 42, "status": "busy"}, "7")
    assert set(state) == {"alice", "42"}
    assert _metas(state["alice"]) == [meta_a]
    (meta_b,) = _metas(state["42"])
    assert meta_b["status"] == "busy" and meta_b["phx_ref"] != meta_a["phx_ref"]
    assert diff == {"joins": {"42": {"metas": [meta_b]}}, "leaves": {}}
    assert await a.recv() == [None, None, "presence:r", "presence_diff", diff]

    # update: ok reply first, then one diff with a leave of the old meta and a join of the new
    await b.send(["7", "8", "presence:r", "update_status", {"status": "away"}])
    assert await b.recv() == reply("7", "8", "presence:r", "ok", {})
    update = (await b.recv())[4]
    assert await a.recv() == [None, None, "presence:r", "presence_diff", update]
    (new_b,) = _metas(update["joins"]["42"])
    assert update["leaves"] == {"42": {"metas": [meta_b]}}
    assert new_b["status"] == "away" and new_b["phx_ref_prev"] == meta_b["phx_ref"]
    assert new_b["phx_ref"] not in (meta_b["phx_ref"], meta_a["phx_ref"])
    assert list(new_b) == ["online_at", "phx_ref", "phx_ref_prev", "status"]

    # leave: the leaving socket gets reply + phx_close, the other a diff
    await b.send(["7", "9", "presence:r", "phx_leave", {}])
    assert await b.recv() == reply("7", "9", "presence:r", "ok", {})
    assert await b.recv() == ["7", "7", "presence:r", "phx_close", {}]
    assert await a.recv() == [
        None,
        None,
        "presence:r",
        "presence_diff",
        {"joins": {}, "leaves": {"42": {"metas": [new_b]}}},
    ]
    await b.nothing()


async def test_same_key_on_two_sockets_has_two_metas(clients: Clients) -> None:
    a = await clients.connect()
    b = await clients.connect()
    state_a, _ = await _join(a, "presence:k", {"user_id": "u"}, "1")
    state_b, _ = await _join(b, "presence:k", {"user_id": "u"}, "1")
    await a.recv()
    metas = _metas(state_b["u"])
    assert len(metas) == 2 and metas[0] == _metas(state_a["u"])[0]


async def test_disconnect_and_crash_broadcast_leaves(clients: Clients) -> None:
    a = await clients.connect()
    b = await clients.connect()
    c = await clients.connect()
    await _join(a, "presence:d", {"user_id": "a"}, "1")
    _, diff_b = await _join(b, "presence:d", {"user_id": "b"}, "1")
    await a.recv()
    _, diff_c = await _join(c, "presence:d", {"user_id": "c"}, "1")
    await a.recv()
    await b.recv()

    await b.close()
    expected_b = {"joins": {}, "leaves": diff_b["joins"]}
    assert await a.recv() == [None, None, "presence:d", "presence_diff", expected_b]
    assert await c.recv() == [None, None, "presence:d", "presence_diff", expected_b]

    # a crash is a leave too (here: update_status without a status crashes the channel)
    await c.send(["1", "2", "presence:d", "update_status", {}])
    assert await c.recv() == ["1", "1", "presence:d", "phx_error", {"reason": "channel_crash"}]
    expected_c = {"joins": {}, "leaves": diff_c["joins"]}
    assert await a.recv() == [None, None, "presence:d", "presence_diff", expected_c]


async def test_presence_on_v1(clients: Clients) -> None:
    v1 = await clients.connect("vsn=1.0.0")
    await v1.send(
        {"topic": "presence:v", "event": "phx_join", "payload": {"user_id": "x"}, "ref": "1"}
    )
    assert (await v1.recv())["payload"] == {"response": {}, "status": "ok"}
    state = await v1.recv()
    assert state["event"] == "presence_state" and state["ref"] is None
    assert list(state["payload"]) == ["x"]
    assert (await v1.recv())["event"] == "presence_diff"


async def test_duplicate_presence_join(clients: Clients) -> None:
    c = await clients.connect()
    _, first = await _join(c, "presence:dup", {"user_id": "u"}, "1")
    await c.send(["2", "2", "presence:dup", "phx_join", {"user_id": "u", "status": "x"}])
    # the reply, phx_close for the old join_ref, then the new channel's presence_state
    assert await c.recv() == reply("2", "2", "presence:dup", "ok", {})
    assert await c.recv() == ["1", "1", "presence:dup", "phx_close", {}]
    state = await c.recv()
    assert state[3] == "presence_state"
    (meta,) = _metas(state[4]["u"])
    assert meta["status"] == "x"
    # the old presence's leave, then the new one's join
    leave = await c.recv()
    assert leave[4] == {"joins": {}, "leaves": first["joins"]}
    join = await c.recv()
    assert join[4] == {"joins": {"u": {"metas": [meta]}}, "leaves": {}}
