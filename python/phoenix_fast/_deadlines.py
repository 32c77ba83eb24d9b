"""``Deadlines``: a socket's pending pushes and its one loop timer.

Pending pushes live in the native ``Pending`` table (ref -> push, and a timing wheel of their
deadlines). One loop timer, armed at the earliest deadline, serves the whole table and the
connection machine's next step (heartbeat, reconnect, fallback): no asyncio timer per push,
and none per machine deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from phoenix_fast import _native
from phoenix_fast._bound_loop import BoundLoop
from phoenix_fast._logging import SocketLog

if TYPE_CHECKING:
    from phoenix_fast.protocol.connection import ConnectionMachine
    from phoenix_fast.push import Push

__all__ = ["Deadlines"]


class Deadlines:
    """The pushes waiting for a reply or a timeout, and the timer that serves every deadline.

    Args:
        loop: the socket's loop.
        machine: the connection machine, whose ``next_deadline()`` the timer also serves.
        on_timeout: called with a push whose deadline passed (already out of the table).
        on_machine_due: called with the time when the machine's deadline has come (its
            ``tick``).
        log: the socket's log (a raising timeout or tick is logged, the timer goes on).
    """

    __slots__ = (
        "_handle",
        "_log",
        "_loop",
        "_machine",
        "_on_machine_due",
        "_on_timeout",
        "at",
        "pending",
    )

    def __init__(
        self,
        loop: BoundLoop,
        machine: ConnectionMachine,
        on_timeout: Callable[[Push], None],
        on_machine_due: Callable[[float], None],
        log: SocketLog,
    ) -> None:
        #: ref -> push, with each push's deadline (the native table; 1 ms wheel slots).
        self.pending = _native.Pending(0.001)
        self._loop = loop
        self._machine = machine
        self._on_timeout = on_timeout
        self._on_machine_due = on_machine_due
        self._log = log
        self._handle: asyncio.TimerHandle | None = None
        #: When the timer fires (None: not armed).
        self.at: float | None = None

    def make_ref(self) -> str:
        """The socket's next ref: "1", "2", ... (wrapping to "0"), as the JS client's."""
        return self.pending.make_ref()

    def track(self, push: Push, now: float) -> str:
        """Gives ``push`` a new ref and registers it, timing out ``push.timeout`` after
        ``now``; forgets its previous ref. Returns the new ref."""
        pending = self.pending
        if push.ref is not None:
            pending.resolve(push.ref)
        deadline = push._deadline = now + push.timeout
        ref = push.ref = pending.add_next(push, deadline)
        if self.at is None or deadline < self.at:
            self.arm(deadline)
        return ref

    def untrack(self, ref: str) -> bool:
        """Forgets the pending push ``ref``; False if it was not pending."""
        return self.pending.resolve(ref) is not None

    def fail_sent(self, sent_over: Callable[[Push], bool], error: BaseException) -> None:
        """Fails the awaiters of the pending pushes that went out and ``sent_over`` picks:
        no reply can come for them any more.

        Their entries stay, so that ``receive("timeout")`` hooks still run at the deadline,
        as in JS; pushes not sent yet are left alone. A scan of the table: this happens once
        per lost connection or crashed channel, never per message.
        """
        pending = self.pending
        for push in pending.drain():
            pending.add(push.ref, push, push._deadline)
            if push._conn is not None and sent_over(push):
                push._conn = None
                push._fail(error)

    def rearm(self) -> None:
        """Arms the timer for the machine's deadline if it comes first (after every machine
        input; a deadline that moved later only makes the timer fire early once, for
        nothing)."""
        deadline = self._machine.next_deadline()
        if deadline is not None and (self.at is None or deadline < self.at):
            self.arm(deadline)

    def arm(self, deadline: float) -> None:
        """Arms the timer at ``deadline`` (callers arm only an earlier one)."""
        if self._handle is not None:
            self._handle.cancel()
        self.at = deadline
        self._handle = self._loop.get().call_at(deadline, self._fire)

    def _fire(self) -> None:
        # asyncio may run a timer up to its clock resolution early: it fired, so it is time
        now = max(self._loop.get().time(), self.at or 0.0)
        self._handle = self.at = None
        on_timeout = self._on_timeout
        for push in self.pending.expire(now):
            try:
                on_timeout(push)
            except Exception as exc:  # noqa: PERF203 - one failure must not stop the others
                self._log.error("push", "a timeout failed", exc)
        machine = self._machine
        due = machine.next_deadline()
        if due is not None and due <= now:
            try:
                self._on_machine_due(now)
            except Exception as exc:  # a bug: logged, and the timer keeps running
                self._log.error("transport", "carrying out the connection's next step failed", exc)
            due = machine.next_deadline()
        deadline = self.pending.next_deadline()
        if due is not None and (deadline is None or due < deadline):
            deadline = due
        if deadline is not None and (self.at is None or deadline < self.at):
            self.arm(deadline)

    def __len__(self) -> int:
        return len(self.pending)

    def __repr__(self) -> str:
        return f"<Deadlines {len(self.pending)} pending, next at {self.at}>"
