"""Shared pieces of the Presence tests: a channel stand-in and both merge implementations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from phoenix_fast import _presence_reference as reference
from phoenix_fast.presence import Presence


class FakeChannel:
    """The part of a Channel a Presence uses: bindings, ``off`` and a ``join_ref`` that a
    reconnect (``rejoin``) changes."""

    def __init__(self) -> None:
        self.ref = 1
        self.bindings: dict[str, dict[int, Callable[..., Any]]] = {}
        self._next = 0

    @property
    def join_ref(self) -> str | None:
        return str(self.ref)

    def on(self, event: str, callback: Callable[..., Any]) -> int:
        self._next += 1
        self.bindings.setdefault(event, {})[self._next] = callback
        return self._next

    def off(self, event: str, ref: int | None = None) -> None:
        if ref is None:
            self.bindings.pop(event, None)
        else:
            self.bindings.get(event, {}).pop(ref, None)

    def trigger(self, event: str, payload: Any) -> None:
        for callback in list(self.bindings.get(event, {}).values()):
            callback(payload, None, self.join_ref)

    def rejoin(self) -> None:
        self.ref += 1


@dataclass(frozen=True)
class Impl:
    name: str
    sync_state: Callable[..., dict[Any, Any]]
    sync_diff: Callable[..., dict[Any, Any]]
    list: Callable[..., list[Any]]


NATIVE = Impl("native", Presence.sync_state, Presence.sync_diff, Presence.list)
REFERENCE = Impl("reference", reference.sync_state, reference.sync_diff, reference.list_presences)


@pytest.fixture(params=[NATIVE, REFERENCE], ids=lambda impl: impl.name)
def impl(request: pytest.FixtureRequest) -> Impl:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def channel() -> FakeChannel:
    return FakeChannel()


@pytest.fixture(scope="session")
def fake_channel_class() -> type[FakeChannel]:
    return FakeChannel
