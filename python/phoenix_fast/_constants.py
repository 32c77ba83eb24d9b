"""Protocol names and defaults, in one place (durations in seconds)."""

from __future__ import annotations

DEFAULT_VSN = "2.0.0"
PHOENIX_TOPIC = "phoenix"

EVENT_JOIN = "phx_join"
EVENT_LEAVE = "phx_leave"
EVENT_REPLY = "phx_reply"
EVENT_ERROR = "phx_error"
EVENT_CLOSE = "phx_close"
EVENT_HEARTBEAT = "heartbeat"

#: Default push (and join, leave) timeout, as the JS client's ``DEFAULT_TIMEOUT``.
DEFAULT_TIMEOUT = 10.0
#: Default time between a heartbeat reply and the next heartbeat.
DEFAULT_HEARTBEAT_INTERVAL = 30.0
#: How long a teardown waits for the transport to confirm its close (JS: 150+300+450+600 ms).
CLOSE_WAIT = 1.5
#: The prefix of the subprotocol carrying the auth token.
AUTH_TOKEN_PREFIX = "base64url.bearer.phx."
#: WebSocket close code "normal closure".
WS_CLOSE_NORMAL = 1000
#: Largest WebSocket message the client accepts by default.
DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024
#: Most bytes a socket holds for the network before pushes fail with ``BufferFull``.
DEFAULT_MAX_BUFFER = 8 * 1024 * 1024
#: Events a channel handles itself (replies, close, error) before its bindings see them.
CHANNEL_INTERNAL_EVENTS = frozenset((EVENT_REPLY, EVENT_CLOSE, EVENT_ERROR))
#: Seconds a LongPoll poll or POST may take (the JS client's ``longpollerTimeout``).
DEFAULT_LONGPOLLER_TIMEOUT = 20.0
