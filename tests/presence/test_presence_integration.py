"""Presence against the reference server's ``presence:*`` channels (or ``$PHOENIX_URL``):
two or three sockets, joins, leaves, status updates and rejoins while diffs arrive."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

try:
    from phoenix_fast.channel import Channel
    from phoenix_fast.socket import Socket
    from phoenix_fast.testing import ServerThread
except ImportError:  # pragma: no cover - only while the client or the server is missing
    pytest.skip("the client Socket or phoenix_fast.testing is missing", allow_module_level=True)

from phoenix_fast.presence import Presence
from phoenix_fast.testing.waiting import wait_for as _wait_for

WAIT = 10.0
FAST = {"reconnect_after": lambda tries: 0.05, "rejoin_after": lambda tries: 0.05}


async def wait_for(predicate: Callable[[], object], timeout: float = WAIT) -> None:
    await _wait_for(predicate, timeout)


def topic() -> str:
    return f"presence:{uuid.uuid4().hex[:12]}"


class Member:
    """One user: a socket, its channel on the topic and a Presence recording its callbacks."""

    def __init__(self, socket: Socket, channel: Channel) -> None:
        self.socket = socket
        self.channel = channel
        self.presence = Presence(channel)
        self.events: list[tuple[str, str, Any, Any]] = []
        self.syncs: list[tuple[str | None, dict[str, list[Any]]]] = []
        self.presence.on_join(lambda k, cur, new: self.events.append(("join", k, cur, new)))
        self.presence.on_leave(lambda k, cur, left: self.events.append(("leave", k, cur, left)))
        self.presence.on_sync(self._synced)

    def _synced(self) -> None:
        snapshot = {key: list(p["metas"]) for key, p in self.presence.state.items()}
        self.syncs.append((self.channel.join_ref, snapshot))

    def statuses(self) -> dict[str, list[str]]:
        return dict(self.presence.list(lambda key, p: (key, [m["status"] for m in p["metas"]])))


@contextlib.asynccontextmanager
async def member(url: str, room: str, user_id: str, **params: Any) -> AsyncIterator[Member]:
    async with Socket(url, **FAST) as socket:
        channel = socket.channel(room, {"user_id": user_id, **params})
        joined = Member(socket, channel)
        await channel.join()
        yield joined


def assert_one_meta_per_connection(m: Member) -> None:
    """Every on_sync saw each key with distinct phx_refs (no duplicated metas)."""
    for _join_ref, snapshot in m.syncs:
        for metas in snapshot.values():
            refs = [meta["phx_ref"] for meta in metas]
            assert len(refs) == len(set(refs))


async def test_two_sockets_see_each_other_join_update_and_leave(phoenix_url: str) -> None:
    room = topic()
    async with member(phoenix_url, room, "ada") as ada:
        await wait_for(lambda: ada.statuses() == {"ada": ["online"]})
        assert not ada.presence.in_pending_sync_state()
        assert ada.events[0][:3] == ("join", "ada", None)

        async with member(phoenix_url, room, "bob", status="busy") as bob:
            both = {"ada": ["online"], "bob": ["busy"]}
            await wait_for(lambda: ada.statuses() == both and bob.statuses() == both)
            assert ("join", "bob", None) in [e[:3] for e in ada.events]

            ada.events.clear()
            await bob.channel.push("update_status", {"status": "away"})
            await wait_for(lambda: ada.statuses()["bob"] == ["away"])
            [(_, _, before, joined), (_, _, after, left)] = ada.events
            assert before["metas"][0]["status"] == "busy"
            new_meta = joined["metas"][0]
            assert new_meta["phx_ref_prev"] == left["metas"][0]["phx_ref"]
            assert after == joined  # the old meta is gone, the new one stays
            assert [e[0] for e in ada.events] == ["join", "leave"]

            ada.events.clear()
            await bob.channel.leave()
            await wait_for(lambda: ada.statuses() == {"ada": ["online"]})
            [(kind, key, current, left)] = ada.events
            assert (kind, key, current) == ("leave", "bob", {"metas": []})
            assert left["metas"][0]["status"] == "away"

        assert_one_meta_per_connection(ada)


async def test_a_closed_socket_is_a_leave(phoenix_url: str) -> None:
    room = topic()
    async with member(phoenix_url, room, "ada") as ada:
        async with member(phoenix_url, room, "bob"):
            await wait_for(lambda: set(ada.statuses()) == {"ada", "bob"})
        await wait_for(lambda: set(ada.statuses()) == {"ada"})


async def test_same_key_from_two_sockets_holds_two_metas(phoenix_url: str) -> None:
    room = topic()
    async with member(phoenix_url, room, "ada") as first:
        async with member(phoenix_url, room, "ada", status="away") as second:
            await wait_for(lambda: sorted(first.statuses().get("ada", [])) == ["away", "online"])
            await wait_for(lambda: sorted(second.statuses().get("ada", [])) == ["away", "online"])
        await wait_for(lambda: first.statuses() == {"ada": ["online"]})
        assert_one_meta_per_connection(first)


async def test_rejoin_while_diffs_arrive_converges(phoenix_url: str) -> None:
    room = topic()
    async with (
        member(phoenix_url, room, "ada") as ada,
        member(phoenix_url, room, "bob") as bob,
    ):
        await wait_for(lambda: set(ada.statuses()) == {"ada", "bob"})
        stop = asyncio.Event()

        async def churn() -> int:
            n = 0
            while not stop.is_set():
                n += 1
                with contextlib.suppress(Exception):
                    await bob.channel.push("update_status", {"status": f"s{n}"})
            return n

        updates = asyncio.create_task(churn())
        await asyncio.sleep(0.05)
        old_join_ref = ada.channel.join_ref
        for _ in range(3):  # the socket goes away and comes back while bob keeps updating
            await ada.socket.disconnect()
            ada.socket.connect()
            await wait_for(lambda: ada.channel.state == "joined")
            await asyncio.sleep(0.03)
        stop.set()
        last = await updates
        final = {"ada": ["online"], "bob": [f"s{last}"]}
        await wait_for(lambda: ada.statuses() == final and bob.statuses() == final)

        assert ada.channel.join_ref != old_join_ref
        assert not ada.presence.in_pending_sync_state()
        # each on_sync ran for the join current at the time, never on a stale state
        join_refs = [join_ref for join_ref, _ in ada.syncs]
        assert join_refs[-1] == ada.channel.join_ref
        assert len(set(join_refs)) >= 2
        assert_one_meta_per_connection(ada)
        assert_one_meta_per_connection(bob)


async def test_every_socket_dropped_at_once_rebuilds_the_state(
    phoenix_server_factory: Callable[..., ServerThread],
) -> None:
    server = phoenix_server_factory()
    room = topic()
    async with (
        member(server.url, room, "ada") as ada,
        member(server.url, room, "bob") as bob,
    ):
        both = {"ada": ["online"], "bob": ["online"]}
        await wait_for(lambda: ada.statuses() == both and bob.statuses() == both)
        before = {key: p["metas"][0]["phx_ref"] for key, p in ada.presence.state.items()}
        syncs = len(ada.syncs)
        await asyncio.to_thread(server.disconnect_all, 1001)
        await wait_for(lambda: len(ada.syncs) > syncs and ada.channel.state == "joined")

        def rebuilt() -> bool:
            state = ada.presence.state
            return set(state) == {"ada", "bob"} and all(
                len(p["metas"]) == 1 and p["metas"][0]["phx_ref"] != before[k]
                for k, p in state.items()
            )

        await wait_for(rebuilt)
        await bob.channel.push("update_status", {"status": "back"})
        await wait_for(lambda: ada.statuses() == {"ada": ["online"], "bob": ["back"]})
        assert_one_meta_per_connection(ada)
