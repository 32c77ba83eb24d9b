"""The Sans-I/O core: the connection and channel state machines, and the fallback policy.

Nothing here does I/O, imports asyncio or a transport, or reads a clock: inputs carry the
time, outputs are actions and events for the asyncio layer (``Socket``, ``Channel``) to carry
out. That keeps every decision about when to connect, heartbeat, reconnect, fall back, join
and rejoin in one place, testable as tables of (state, input) -> (state, actions, events).
"""

from __future__ import annotations
