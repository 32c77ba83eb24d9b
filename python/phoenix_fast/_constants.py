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
