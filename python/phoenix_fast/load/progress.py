"""The live progress display of a load run (rich), silent when the output is not a terminal.

It shows connected sockets, joined channels, pushes, replies, incoming events (totals and
per second over the last refresh) and errors, refreshed a few times a second from
snapshots (:meth:`Runner.snapshot` or the sum of the workers' snapshots).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.table import Table

__all__ = ["REFRESH_SECONDS", "Progress"]

#: Seconds between refreshes.
REFRESH_SECONDS = 0.25

_RATES = (("pushes", "pushes_sent"), ("replies", "replies_ok"), ("events in", "events_received"))


class Progress:
    """A live table updated with :meth:`update`; a no-op unless ``enabled``.

    Use it as a context manager around the run::

        with Progress(console, planned_sockets=20, planned_channels=1000) as progress:
            progress.update(runner.snapshot())

    Args:
        console: where to draw (stderr, typically).
        planned_sockets: sockets the run opens, for "12 / 20".
        planned_channels: channels the run joins.
        enabled: draw at all; by default only when ``console`` is a terminal.
    """

    def __init__(
        self,
        console: Console,
        *,
        planned_sockets: int,
        planned_channels: int,
        enabled: bool | None = None,
    ) -> None:
        self.console = console
        self.enabled = console.is_terminal if enabled is None else enabled
        self._planned = (planned_sockets, planned_channels)
        self._live: Live | None = None
        self._started = time.monotonic()
        self._last: tuple[float, Mapping[str, int]] | None = None
        self._rates: dict[str, float] = {}

    def __enter__(self) -> Progress:
        self._started = time.monotonic()
        if self.enabled:
            self._live = Live(
                self._render({}), console=self.console, auto_refresh=False, transient=True
            )
            self._live.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        live, self._live = self._live, None
        if live is not None:
            live.stop()

    def update(self, snapshot: Mapping[str, int]) -> None:
        """Shows ``snapshot`` (counters plus the ``sockets`` and ``channels`` gauges)."""
        if self._live is None:
            return
        now = time.monotonic()
        if self._last is not None:
            then, previous = self._last
            span = max(now - then, 1e-6)
            for label, key in _RATES:
                self._rates[label] = (snapshot.get(key, 0) - previous.get(key, 0)) / span
        self._last = (now, dict(snapshot))
        self._live.update(self._render(snapshot), refresh=True)

    def _render(self, snap: Mapping[str, int]) -> Table:
        sockets, channels = self._planned
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", justify="right")
        table.add_column(justify="right")
        table.add_column(justify="left")
        elapsed = time.monotonic() - self._started
        table.add_row("elapsed", f"{elapsed:6.1f} s", "")
        table.add_row("sockets", f"{snap.get('sockets', 0):,}", f"of {sockets:,} connected")
        table.add_row("channels", f"{snap.get('channels', 0):,}", f"of {channels:,} joined")
        for label, key in _RATES:
            rate = self._rates.get(label, 0.0)
            table.add_row(label, f"{snap.get(key, 0):,}", f"{rate:,.0f}/s")
        if "push_p50_us" in snap:
            p50, p99 = snap["push_p50_us"] / 1000, snap.get("push_p99_us", 0) / 1000
            table.add_row("push p50", f"{p50:,.2f} ms", f"p99 {p99:,.2f} ms (last interval)")
        if snap.get("generator_saturated"):
            table.add_row(
                "[bold red]saturated[/]",
                f"CPU {snap.get('generator_cpu_pct', 0)}%",
                "this client is the limit (see the summary); try --procs",
            )
        for key, failures in snap.items():
            if key.startswith("limit:"):
                table.add_row(
                    "[bold red]limit hit[/]",
                    f"{failures:,}",
                    f"{key[len('limit:') :]} (the fix is in the summary)",
                )
        drops, reconnects = snap.get("socket_drops", 0), snap.get("socket_reconnects", 0)
        table.add_row(
            "errors", f"{snap.get('errors', 0):,}", f"drops {drops:,}, reconnects {reconnects:,}"
        )
        return table
