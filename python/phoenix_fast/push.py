"""``Push``: one message to a channel and what became of it (a reply, or a timeout)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from phoenix_fast import _native
from phoenix_fast._outcome import Outcome
from phoenix_fast._types import Payload, PushCallback
from phoenix_fast.errors import PushError, PushTimeout

if TYPE_CHECKING:
    from phoenix_fast.channel import Channel

__all__ = ["Push"]

TIMEOUT = "timeout"


class Push(Outcome[Any]):
    """A message pushed to a channel (you get one from ``push``, ``join`` or ``leave``).

    Register callbacks per reply status, as in the JS client::

        channel.push("new_msg", {"body": "hi"}) \\
            .receive("ok", lambda resp: ...) \\
            .receive("error", lambda resp: ...) \\
            .receive("timeout", lambda resp: ...)

    The status is whatever the server replied (``"ok"``, ``"error"``, or any other atom) or
    ``"timeout"`` when no reply came within ``timeout`` seconds. A callback registered after
    the push resolved with its status runs at once.

    A push is also awaitable: ``response = await channel.push(...)`` returns the ``ok``
    response, raises :class:`~phoenix_fast.errors.PushError` (with ``status`` and
    ``response``) for any other status, :class:`~phoenix_fast.errors.PushTimeout` on timeout,
    or :class:`~phoenix_fast.errors.ConnectionClosed` when the connection that carried it
    closed before the reply (the ``timeout`` callbacks still run at the deadline, as in JS).
    Awaiting a push that already resolved returns or raises at once; awaiting reports the
    push's first outcome, even if it is sent again later (as a join is on rejoin).
    """

    __slots__ = (
        "_conn",
        "_deadline",
        "_error_cls",
        "_hooks",
        "_on_outcome",
        "_payload",
        "_received",
        "channel",
        "event",
        "ref",
        "sent",
        "timeout",
    )

    def __init__(
        self,
        channel: Channel,
        event: str,
        payload: Payload | Callable[[], Payload],
        timeout: float,
        *,
        error_cls: Callable[[str, str, Any], Exception] = PushError,
    ) -> None:
        self.channel = channel
        self.event = event
        self._payload = payload
        self.timeout = timeout
        #: The ref of the last send (None until sent, and after a reset).
        self.ref: str | None = None
        #: Whether the push was handed to the socket since the last reset.
        self.sent = False
        self._received: tuple[str, Any] | None = None
        # shared and empty until the first receive(): most pushes are awaited instead
        self._hooks: tuple[tuple[str, PushCallback], ...] = ()
        #: The owner's own reaction to every outcome (a channel's join push uses it): one
        #: bound method instead of a hook per status on each of thousands of channels.
        self._on_outcome: Callable[[str, Any], None] | None = None
        # Outcome.__init__ written out: one call fewer per push
        self._done = False
        self._value: Any = None
        self._error: BaseException | None = None
        self._waiters: asyncio.Future[Any] | list[asyncio.Future[Any]] | None = None
        self._error_cls = error_cls
        self._deadline = 0.0
        self._conn: object = None

    @property
    def payload(self) -> Payload:
        """The payload to send (a callable payload, as join params may be, is called)."""
        payload = self._payload
        return payload() if callable(payload) else payload

    @property
    def received(self) -> tuple[str, Any] | None:
        """``(status, response)`` once resolved (None while pending, and after a reset)."""
        return self._received

    def receive(self, status: str, callback: PushCallback) -> Push:
        """Calls ``callback(response)`` when the push resolves with ``status``.

        Runs it at once if the push already resolved with that status.

        Returns:
            The push itself, to chain calls.
        """
        received = self._received
        if received is not None and received[0] == status:
            self.channel.socket._callbacks.run(callback, received[1])
        self._hooks = (*self._hooks, (status, callback))
        return self

    def resend(self, timeout: float) -> None:
        """Sends again with a fresh ref and ``timeout``, forgetting the previous outcome."""
        self.timeout = timeout
        self._reset()
        self.send()

    def send(self) -> None:
        """Sends with a fresh ref and starts the timeout (a push that timed out stays unsent).

        Raises:
            EncodeError: the payload cannot be encoded (the push is then not pending).
        """
        received = self._received
        if received is not None and received[0] == TIMEOUT:
            return
        self.channel.socket._sender.send_push(self)

    # -- internal --------------------------------------------------------------------

    def _start_timeout(self) -> None:
        socket = self.channel.socket
        socket._deadlines.track(self, socket._loop.time())

    def _cancel_timeout(self) -> None:
        if self.ref is not None:
            self.channel.socket._deadlines.untrack(self.ref)

    def _reset(self) -> None:
        self._cancel_timeout()
        self.ref = None
        self._received = None
        self.sent = False
        self._conn = None

    def _trigger(self, status: str, response: Any) -> None:
        """Resolves as if the server replied (JS ``push.trigger``), if still pending."""
        if self.ref is not None and self.channel.socket._deadlines.untrack(self.ref):
            self._resolve(status, response)

    def _resolve(self, status: str, response: Any) -> None:
        """The reply arrived (or the timeout fired); the pending entry is already gone."""
        self._received = (status, response)
        self._conn = None
        if status == TIMEOUT:
            self.channel._discard_buffered(self)
        if self._on_outcome is not None:
            self._on_outcome(status, response)
        if self._hooks:
            run = self.channel.socket._callbacks.run
            for hook_status, callback in self._hooks:
                if hook_status == status:
                    run(callback, response)
        if self._done:
            return
        if status == "ok":
            # Outcome.set_result and _wake written out for the usual single awaiter: two
            # calls fewer on every awaited push
            self._done, self._value = True, response
            waiters = self._waiters
            if waiters is not None:
                if isinstance(waiters, list):
                    self._wake()
                else:
                    self._waiters = None
                    if not waiters.done():  # else its awaiting task was cancelled
                        waiters.set_result(response)
        elif status == TIMEOUT:
            where = f"{self.event} on {self.channel.topic}"
            self.set_exception(PushTimeout(f"{where}: no reply within {self.timeout} s"))
        else:
            where = f"{self.event} on {self.channel.topic}"
            self.set_exception(self._error_cls(where, status, response))

    def __await__(self) -> Generator[Any, None, Any]:
        # Outcome.__await__ with the socket's loop looked up in place (BoundLoop.running
        # and _waiter_loop written out): three calls fewer on every awaited push
        if self._done:
            return self._settled()
        loop = self.channel.socket._loop.loop
        if loop is None or not loop.is_running():
            loop = asyncio.get_running_loop()
        fut = loop.create_future()
        waiters = self._waiters
        if waiters is None:
            self._waiters = fut
        elif isinstance(waiters, list):
            waiters.append(fut)
        else:
            self._waiters = [waiters, fut]
        return fut.__await__()

    def _fail(self, error: BaseException) -> None:
        """Fails the awaiters (not the ``receive`` callbacks) with ``error``."""
        self.set_exception(error)

    def __repr__(self) -> str:
        status = self._received[0] if self._received else "pending"
        return f"<Push {self.channel.topic} {self.event} ref={self.ref} {status}>"


#: The native half of a push's everyday life: a new push filed and framed in one call
#: (``Sender.send_new``), and a reply taken from the pending table and, for an awaited
#: push's ``ok``, settled in place (``Router.route``). It works on ``Push``'s slots directly
#: and refuses a class whose slots it does not know, so a slot added above fails at import
#: until ``rust/py/push_lane.rs`` learns it.
LANE = _native.PushLane(Push, PushError)
