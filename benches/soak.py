"""Soak: many channels through FaultProxy, with a random network or server fault every few
seconds, for minutes; then checks that the client recovered everything and leaked nothing.

    python benches/soak.py [--minutes 10] [--sockets 10] [--channels 1000] [--rate 100]
                           [--fault-every 5 20] [--heartbeat 5] [--settle 30]
                           [--transport websocket|longpoll] [--faults cut,reset,...]
                           [--seed N] [--json FILE] [--log FILE]

(``make soak``: the defaults, 1,000 channels over 10 sockets for 10 minutes.)

The reference server runs in a child process behind a FaultProxy in this process, so the
server can be restarted on the same port while the proxy stays up. Every channel (``echo``)
gets ``ping`` pushes at ``--rate`` per second in all: most with ``receive`` hooks, some
awaited by worker tasks. Every 5-20 s one fault, picked at random, lasts 1-5 s:

- ``cut`` / ``reset``: every link closed (FIN) / reset (RST);
- ``half_open``: every link goes silent, new ones too, until healed (the heartbeat notices);
- ``stall_in`` / ``stall_out``: the server's messages / the client's are held back;
- ``delay``: 50-500 ms of latency each way;
- ``truncate``: the next chunk to a client is cut short, then its link closed;
- ``refuse``: every link cut and reconnects refused;
- ``restart``: the server stops (closing its sockets) and starts again on the same port.

After the last fault, it waits for every channel to be joined again, stops the traffic,
waits for the replies, and checks (exit status 1 if any fails):

- the resident memory grew by less than 10% since the end of the warm-up;
- every socket's pending table is empty;
- every channel was joined, and every socket answered a ping, within ``--settle`` seconds
  (30) of the end of the last fault, and every channel is still joined at the very end;
- nothing unhandled was logged: no call of the loop's exception handler, no log record
  with a traceback or at ERROR level.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import random
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import phoenix_fast
from phoenix_fast.channel import Channel
from phoenix_fast.errors import PhoenixError
from phoenix_fast.socket import Socket
from phoenix_fast.testing import FaultProxy, ServerProcess
from phoenix_fast.transports.longpoll import LongPoll

FAULTS = (
    "cut",
    "reset",
    "half_open",
    "stall_in",
    "stall_out",
    "delay",
    "truncate",
    "refuse",
    "restart",
)
GROWTH_LIMIT = 0.10
AWAITING_WORKERS = 10
PUSH_TIMEOUT = 10.0


def resident() -> int:
    """Resident memory of this process in bytes (a read of procfs: it does not block)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    """Resident memory of this process in bytes, after a full collection."""
    gc.collect()
    return resident()


def mib(size: float) -> str:
    return f"{size / 2**20:.1f} MiB"


# -- what goes wrong, counted -------------------------------------------------------------


class Unhandled(logging.Handler):
    """Counts log records that report something unhandled: a traceback, or ERROR and above."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self.warnings = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.levelno >= logging.ERROR:
            self.records.append(record)
            sys.stderr.write(f"soak: UNHANDLED in the log: {self.format(record)}\n")
        else:
            self.warnings += 1


@dataclass
class Stats:
    pushes: int = 0
    replies: Counter[str] = field(default_factory=Counter)
    awaited_errors: Counter[str] = field(default_factory=Counter)
    opens: int = 0
    loop_errors: list[dict[str, Any]] = field(default_factory=list)
    faults: list[tuple[float, str, float]] = field(default_factory=list)
    recoveries: list[float] = field(default_factory=list)
    overlapped: int = 0
    rss_samples: list[tuple[float, int]] = field(default_factory=list)


# -- the run -------------------------------------------------------------------------------


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.stats = Stats()
        self.sockets: list[Socket] = []
        self.channels: list[Channel] = []
        self.stopping = False
        self.buffered = 0

    def all_joined(self) -> bool:
        return all(channel.state == "joined" for channel in self.channels)

    def joined(self) -> int:
        return sum(channel.state == "joined" for channel in self.channels)

    async def healthy(self) -> bool:
        """Every channel joined and every socket's link answering a ping within 2 s (a
        channel still looks joined on a half-open link until the heartbeat notices)."""
        if not self.all_joined():
            return False

        async def answered(socket: Socket) -> bool:
            try:
                return await asyncio.wait_for(socket.ping(), 2.0) is not None
            except TimeoutError:
                return False

        return all(await asyncio.gather(*(answered(socket) for socket in self.sockets)))

    async def _until_healthy(self, deadline: float) -> float | None:
        """The loop time a health check that came out healthy began, or None at
        ``deadline``."""
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            if await self.healthy():
                return began
            if loop.time() > deadline:
                return None
            await asyncio.sleep(0.1)

    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self.stats.loop_errors.append(context)
        loop.default_exception_handler(context)

    async def run(self) -> dict[str, Any]:
        args = self.args
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(self._on_loop_error)
        per_socket = -(-args.channels // args.sockets)
        server = ServerProcess(max_channels=max(100, 2 * per_socket))
        await asyncio.to_thread(server.start)
        try:
            async with FaultProxy("127.0.0.1", server.port) as proxy:
                return await self._run(loop, server, proxy)
        finally:
            await asyncio.to_thread(server.stop)

    async def _run(
        self, loop: asyncio.AbstractEventLoop, server: ServerProcess, proxy: FaultProxy
    ) -> dict[str, Any]:
        args = self.args
        started = loop.time()
        for _ in range(args.sockets):
            socket = Socket(
                proxy.url_for("/socket"),
                heartbeat_interval=args.heartbeat,
                transport=LongPoll if args.transport == "longpoll" else None,
                longpoller_timeout=args.longpoller_timeout,
            )
            socket.on_open(self._count_open)
            self.sockets.append(socket)
        for i in range(args.channels):
            channel = self.sockets[i % args.sockets].channel(f"echo:soak:{i}", {"i": i})
            self.channels.append(channel)
            channel.join()
        await asyncio.gather(*(socket.connect() for socket in self.sockets))
        await self._wait(self.all_joined, 60.0, "the first joins")
        print(
            f"soak: {args.channels} channels joined over {args.sockets} {args.transport} "
            f"sockets in {loop.time() - started:.1f} s; faults every {args.fault_every[0]:g}-"
            f"{args.fault_every[1]:g} s for {args.minutes:g} min",
            flush=True,
        )
        tasks = [loop.create_task(self._pace(loop))]
        tasks += [loop.create_task(self._await_pushes()) for _ in range(AWAITING_WORKERS)]
        tasks.append(loop.create_task(self._sample_rss(loop)))
        start = loop.time()
        end = start + args.minutes * 60
        warmup_end = start + args.warmup
        baseline: int | None = None
        faults = loop.create_task(self._faults(loop, server, proxy, end))
        await asyncio.sleep(max(0.0, warmup_end - loop.time()))
        baseline = rss()
        print(f"soak: warm-up over, RSS {mib(baseline)}", flush=True)
        last_fault_end = await faults
        # the network is healthy again: every channel must come back within --settle s
        settle_start = last_fault_end if last_fault_end is not None else loop.time()
        rejoined = await self._until_healthy(settle_start + args.settle + 60)
        rejoin_time = (rejoined - settle_start) if rejoined is not None else None
        self.stopping = True
        await asyncio.gather(*tasks)
        # private attributes, read only: the pending-reply table of each socket (every push
        # awaiting its reply or timeout), and pushes held back until a channel or socket opens
        drained = await self._until(
            lambda: all(len(s._deadlines) == 0 for s in self.sockets),
            loop.time() + PUSH_TIMEOUT + 5,
        )
        pending = [len(s._deadlines) for s in self.sockets]
        self.buffered = sum(len(c._push_buffer) for c in self.channels)
        self.buffered += sum(len(s._sender.buffer) for s in self.sockets)
        final = rss()
        joined_at_end = self.joined()
        await asyncio.gather(*(socket.disconnect() for socket in self.sockets))
        return self._report(
            baseline, final, rejoin_time, pending, drained is not None, joined_at_end
        )

    def _count_open(self) -> None:
        self.stats.opens += 1

    async def _wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        loop = asyncio.get_running_loop()
        if await self._until(predicate, loop.time() + timeout) is None:
            raise SystemExit(f"soak: {what} did not complete within {timeout:g} s")

    @staticmethod
    async def _until(predicate: Callable[[], bool], deadline: float) -> float | None:
        """Polls ``predicate`` until ``deadline``; the loop time it became true, or None."""
        loop = asyncio.get_running_loop()
        while not predicate():
            if loop.time() > deadline:
                return None
            await asyncio.sleep(0.05)
        return loop.time()

    # -- traffic ----------------------------------------------------------------------------

    def _pick(self) -> Channel | None:
        for _ in range(10):
            channel = self.rng.choice(self.channels)
            if channel.state == "joined":
                return channel
        return None

    def _reply(self, status: str) -> Callable[[Any], None]:
        def count(_response: Any) -> None:
            self.stats.replies[status] += 1

        return count

    async def _pace(self, loop: asyncio.AbstractEventLoop) -> None:
        """Pushes at --rate per second on joined channels, counting replies by status."""
        hooked = max(0.0, self.args.rate - AWAITING_WORKERS)
        start = loop.time()
        sent = 0
        on_ok, on_error, on_timeout = (self._reply(s) for s in ("ok", "error", "timeout"))
        while not self.stopping:
            due = int((loop.time() - start) * hooked)
            if due - sent > hooked:  # more than a second behind: skip, never burst
                sent = due - int(hooked)
            while sent < due:
                sent += 1
                channel = self._pick()
                if channel is None:
                    continue
                self.stats.pushes += 1
                push = channel.push("ping", {"n": sent}, timeout=PUSH_TIMEOUT)
                push.receive("ok", on_ok).receive("error", on_error)
                push.receive("timeout", on_timeout)
            await asyncio.sleep(0.02)

    async def _await_pushes(self) -> None:
        """One push at a time, awaited: failures surface as exceptions, counted by type."""
        while not self.stopping:
            channel = self._pick()
            if channel is None:
                await asyncio.sleep(0.1)
                continue
            self.stats.pushes += 1
            try:
                await channel.push("ping", {"awaited": True}, timeout=PUSH_TIMEOUT)
                self.stats.replies["ok"] += 1
            except PhoenixError as exc:
                self.stats.awaited_errors[type(exc).__name__] += 1
            await asyncio.sleep(1.0)

    async def _sample_rss(self, loop: asyncio.AbstractEventLoop) -> None:
        start = loop.time()
        while not self.stopping:
            self.stats.rss_samples.append((loop.time() - start, resident()))
            await asyncio.sleep(5.0)

    # -- faults -----------------------------------------------------------------------------

    async def _faults(
        self,
        loop: asyncio.AbstractEventLoop,
        server: ServerProcess,
        proxy: FaultProxy,
        end: float,
    ) -> float | None:
        """Injects faults until ``end``; returns the loop time the last one was lifted."""
        low, high = self.args.fault_every
        start = loop.time()
        last_end: float | None = None
        next_at = start + self.rng.uniform(low, high)
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            if loop.time() >= end:
                return last_end
            kind = self.rng.choice(self.args.faults)
            interval = self.rng.uniform(low, high)
            next_at = loop.time() + interval  # faults start every 5-20 s, however long
            hold = self.rng.uniform(1.0, min(5.0, interval / 2))
            at = loop.time() - start
            await self._inject(kind, hold, server, proxy)
            last_end = loop.time()
            self.stats.faults.append((at, kind, hold))
            print(
                f"soak: {at:6.1f} s  {kind:<9} {hold:.1f} s; joined {self.joined()}"
                f"/{len(self.channels)}",
                flush=True,
            )
            # time to full recovery, when it comes before the next fault
            recovered = await self._until_healthy(min(next_at, end))
            if recovered is not None:
                self.stats.recoveries.append(recovered - last_end)
            else:
                self.stats.overlapped += 1

    async def _inject(
        self, kind: str, hold: float, server: ServerProcess, proxy: FaultProxy
    ) -> None:
        rng = self.rng
        if kind == "cut":
            proxy.cut()
        elif kind == "reset":
            proxy.cut(reset=True)
        elif kind == "half_open":
            proxy.half_open()
            await asyncio.sleep(hold)
            proxy.heal()
        elif kind in ("stall_in", "stall_out"):
            direction = "to_client" if kind == "stall_in" else "to_server"
            proxy.stall(direction)
            await asyncio.sleep(hold)
            proxy.resume(direction)
        elif kind == "delay":
            proxy.set_delay(rng.uniform(0.05, 0.5))
            await asyncio.sleep(hold)
            proxy.set_delay(0)
        elif kind == "truncate":
            proxy.truncate_next("to_client", keep=rng.randrange(0, 20))
            await asyncio.sleep(hold)
            proxy.truncate_next("to_client", keep=None)
        elif kind == "refuse":
            proxy.refuse_new(reset=rng.random() < 0.5)
            proxy.cut()
            await asyncio.sleep(hold)
            proxy.accept_new()
        elif kind == "restart":
            await asyncio.to_thread(server.stop)
            await asyncio.sleep(hold)
            await asyncio.to_thread(server.start)
        else:  # pragma: no cover - the parser allows only FAULTS
            raise AssertionError(kind)

    # -- the verdict ------------------------------------------------------------------------

    def _report(
        self,
        baseline: int | None,
        final: int,
        rejoin_time: float | None,
        pending: list[int],
        drained: bool,
        joined_at_end: int,
    ) -> dict[str, Any]:
        args, stats = self.args, self.stats
        assert baseline is not None
        growth = (final - baseline) / baseline
        peak = max((size for _, size in stats.rss_samples), default=final)
        unhandled = len(self.log.records) + len(stats.loop_errors)
        checks = {
            f"RSS grew {growth:+.1%} since warm-up ({mib(baseline)} -> {mib(final)}), "
            f"limit {GROWTH_LIMIT:.0%}": growth < GROWTH_LIMIT,
            f"pending tables empty: {pending}; pushes still buffered: {self.buffered}": (
                drained and not any(pending) and self.buffered == 0
            ),
            f"channels joined at the very end: {joined_at_end}/{len(self.channels)}": (
                joined_at_end == len(self.channels)
            ),
            (
                f"every channel joined {rejoin_time:.1f} s after the last fault, limit "
                f"{args.settle:g} s"
                if rejoin_time is not None
                else f"channels not all joined and answering {args.settle + 60:g} s after the "
                "last fault"
            ): rejoin_time is not None and rejoin_time <= args.settle,
            f"unhandled exceptions: {len(stats.loop_errors)} from the loop, "
            f"{len(self.log.records)} in the log": unhandled == 0,
        }
        kinds = Counter(kind for _, kind, _ in stats.faults)
        recoveries = sorted(stats.recoveries)
        report = {
            "minutes": args.minutes,
            "sockets": args.sockets,
            "channels": args.channels,
            "rate": args.rate,
            "transport": args.transport,
            "seed": args.seed,
            "faults": dict(sorted(kinds.items())),
            "fault_count": len(stats.faults),
            "pushes": stats.pushes,
            "replies": dict(stats.replies),
            "awaited_errors": dict(stats.awaited_errors),
            "socket_opens": stats.opens,
            "recovery_s": {
                "count": len(recoveries),
                "p50": recoveries[len(recoveries) // 2] if recoveries else None,
                "max": recoveries[-1] if recoveries else None,
                "overlapped_next_fault": stats.overlapped,
            },
            "rejoin_after_last_fault_s": rejoin_time,
            "rss": {"warmup": baseline, "final": final, "peak": peak, "growth": growth},
            "rss_mib_every_5s": [round(size / 2**20, 2) for _, size in stats.rss_samples],
            "pending": pending,
            "buffered": self.buffered,
            "log_warnings": self.log.warnings,
            "unhandled": unhandled,
            "checks": checks,
            "passed": all(checks.values()),
        }
        by_kind = ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()))
        print(f"soak: {len(stats.faults)} faults ({by_kind})")
        print(
            f"soak: {stats.pushes:,} pushes; replies {dict(stats.replies)}; awaited pushes "
            f"failed {dict(stats.awaited_errors)}; {stats.opens} socket opens; "
            f"{self.log.warnings} warnings logged"
        )
        if recoveries:
            print(
                f"soak: all channels joined again {recoveries[len(recoveries) // 2]:.1f} s "
                f"(median), {recoveries[-1]:.1f} s (max) after a fault ended; "
                f"{stats.overlapped} faults came before full recovery"
            )
        print(f"soak: RSS peak {mib(peak)}")
        for text, ok in checks.items():
            print(f"soak: {'PASS' if ok else 'FAIL'}  {text}")
        return report

    log: Unhandled


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="soak", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="faults for this long (10)")
    parser.add_argument("--sockets", type=int, default=10, help="sockets (10)")
    parser.add_argument("--channels", type=int, default=1000, help="channels in all (1000)")
    parser.add_argument("--rate", type=float, default=100.0, help="pushes per second (100)")
    parser.add_argument(
        "--fault-every",
        type=float,
        nargs=2,
        default=(5.0, 20.0),
        metavar=("MIN", "MAX"),
        help="seconds between two faults, drawn uniformly (5 20)",
    )
    parser.add_argument("--heartbeat", type=float, default=5.0, help="heartbeat interval (5)")
    parser.add_argument(
        "--transport",
        choices=("websocket", "longpoll"),
        default="websocket",
        help="the sockets' transport (websocket)",
    )
    parser.add_argument(
        "--longpoller-timeout",
        type=float,
        default=10.0,
        help="LongPoll request timeout: how a silent server is noticed without heartbeats (10)",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=30.0,
        help="seconds allowed for every channel to rejoin after the last fault (30)",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=None,
        help="seconds before the RSS baseline (60, or a fifth of a shorter run)",
    )
    parser.add_argument(
        "--faults", default=",".join(FAULTS), help=f"the faults to draw from ({','.join(FAULTS)})"
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (printed)")
    parser.add_argument("--json", type=Path, help="write the report as JSON")
    parser.add_argument("--log", type=Path, help="write the warnings and errors logged here")
    args = parser.parse_args(argv)
    problems = []
    if args.minutes <= 0:
        problems.append("--minutes must be > 0")
    if args.sockets < 1 or args.channels < args.sockets:
        problems.append("need --sockets >= 1 and --channels >= --sockets")
    if args.rate <= AWAITING_WORKERS:
        problems.append(f"--rate must be above {AWAITING_WORKERS} (the awaiting workers' share)")
    low, high = args.fault_every
    if not 2 <= low <= high:
        problems.append("--fault-every MIN MAX needs 2 <= MIN <= MAX")
    if args.heartbeat <= 0 or args.settle <= 0 or args.longpoller_timeout <= 0:
        problems.append("--heartbeat, --longpoller-timeout and --settle must be > 0")
    faults = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown or not faults:
        problems.append(f"--faults: unknown {unknown}; choose from {','.join(FAULTS)}")
    if problems:
        parser.exit(2, f"soak: {'; '.join(problems)}\n")
    args.faults = faults
    if args.warmup is None:
        args.warmup = min(60.0, args.minutes * 60 / 5)
    if not 0 <= args.warmup < args.minutes * 60:
        parser.exit(2, "soak: --warmup must be >= 0 and shorter than the run\n")
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(2**32)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    log = Unhandled()
    log.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.setLevel(logging.WARNING)
    root.addHandler(log)
    if args.log is not None:
        args.log.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(args.log, mode="w")
        file_handler.setFormatter(log.formatter)
        root.addHandler(file_handler)
    soak = Soak(args)
    soak.log = log
    print(f"soak: seed {args.seed}", flush=True)
    wall = time.monotonic()
    report = phoenix_fast.run(soak.run())
    report["wall_s"] = round(time.monotonic() - wall, 1)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report["client_cpu_s"] = round(usage.ru_utime + usage.ru_stime, 1)
    print(
        f"soak: {report['wall_s']:.0f} s wall, {report['client_cpu_s']:.1f} s of CPU in this "
        "process (client and proxy)"
    )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
