"""The garbage collector in a process that only serves (``phoenix-fast serve`` and its
workers).

What exists once the server listens (the imported modules, aiohttp's application, the event
loop) lives as long as the process. Left to the collector, every full collection walks all of
it again, and a full collection comes every few thousand connections: before this, one took
13-15 ms in the middle of a 30 ms benchmark scenario (200 sockets joining, S5), in one run
of every two or three. Frozen, those objects are never walked again, and a full collection of
what the connections left took 1-2 ms (measured with ``gc.callbacks``, CHANGELOG session 9).
A real Phoenix server has no such process-wide pause; a reference server for benchmarks
should not add one to the client's figures.
"""

from __future__ import annotations

import gc

__all__ = ["freeze_startup_heap"]


def freeze_startup_heap() -> None:
    """Collects what start-up left behind, then moves every surviving object out of the
    collector's reach (``gc.freeze``): call it once, when the server listens. Objects made
    later are collected as usual."""
    gc.collect()
    gc.freeze()
