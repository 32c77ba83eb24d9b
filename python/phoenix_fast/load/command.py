"""The ``phoenix-fast load`` and ``phoenix-fast report`` subcommands.

``phoenix-fast load`` without a URL starts the embedded reference server in a child process
and runs the demonstration scenario against it; with a URL it loads that application. Exit
status: 0 when the run completed; 1 when it completed but failed (no channel joined, the
time limit came before ``--messages``, or a ``--threshold`` failed: the summary, the
report and the CSV are written first); 2 for bad options (a malformed threshold or stage,
a CSV file that cannot be written), an unreadable scenario file or an unreachable URL (one
line on stderr, before anything connects); 130 when interrupted (the summary and report
still cover what happened).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from phoenix_fast.load.cli_error import fail as _fail

__all__ = ["add_load_parser", "add_report_parser", "run_load", "run_report"]


def add_load_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``load``."""
    parser = subparsers.add_parser(
        "load",
        help="load-test a Phoenix application (no URL: a demo against the reference server)",
        description="Open many sockets and channels, push at a rate, count incoming events, "
        "and report counts, rates and latency percentiles. Without URL, runs a demonstration "
        "against the embedded reference server (options left unset take the demo's values).",
    )
    parser.add_argument("url", nargs="?", help="socket URL, e.g. ws://localhost:4000/socket")
    add = parser.add_argument
    add("-f", "--scenario", metavar="FILE", help="TOML scenario file (command line wins)")
    add(
        "--sockets",
        metavar="N",
        type=int,
        help="sockets to open (default: enough for the channels)",
    )
    add("--channels", metavar="N", type=int, help="channels to join in all (100; demo 1000)")
    add("--channels-per-socket", metavar="N", type=int, help="most channels on one socket (100)")
    add(
        "--topic",
        metavar="TEMPLATE",
        help="topic template: {n} channel, {i} on socket, {s} socket ('room:{n}')",
    )
    add(
        "--join-params",
        metavar="JSON",
        type=_json("--join-params"),
        help="join params, JSON template",
    )
    add(
        "--socket-params",
        metavar="JSON",
        type=_json("--socket-params"),
        help="connect params, JSON template",
    )
    add("--join-rate", metavar="PER_S", type=float, help="joins per second (default: all at once)")
    add("--ramp", metavar="S", type=float, help="spread the joins evenly over this many seconds")
    add("--push", action="append", metavar="EVENT[=RATE]", help="push EVENT (repeatable)")
    add(
        "--rate",
        metavar="PER_S",
        type=float,
        help="pushes per second of each --push without =RATE (100)",
    )
    add(
        "--payload",
        metavar="JSON",
        type=_json("--payload"),
        help="push payload, JSON template ({seq}, ...)",
    )
    add(
        "--subscribe",
        action="append",
        metavar="EVENT",
        help="count incoming EVENT; time it when its payload has a numeric ts (Unix ms, {ts})",
    )
    add("--duration", metavar="S", type=float, help="seconds to run (10)")
    add(
        "--stage",
        action="append",
        metavar="DURATION:RATE",
        help="ramp every push's rate linearly to RATE over DURATION (repeatable; 30s:1000)",
    )
    add(
        "--threshold",
        action="append",
        metavar="EXPR",
        help="pass/fail, e.g. 'push:ping p99<50ms', 'errors rate<0.1%%' (repeatable; exit 1)",
    )
    add(
        "--presence",
        action="store_true",
        default=None,
        help="join presence topics ('presence:{i}', user_id 'user-{n}' unless set) and time "
        "the first presence_state, one's own entry and joins reaching other subscribers",
    )
    add(
        "--restart-every",
        metavar="S",
        type=float,
        help="restart the embedded server every S seconds (no URL): a rejoin storm on purpose",
    )
    add("--interval", metavar="S", type=float, help="seconds per row of results over time (1)")
    add("--csv", metavar="FILE", help="write the rows of results over time to FILE as they come")
    add("--messages", metavar="N", type=int, help="end after this many pushes are answered")
    add("--time-limit", metavar="S", type=float, help="never run longer than this, seconds")
    add("--join-timeout", metavar="S", type=float, help="seconds to wait for a join reply (10)")
    add("--push-timeout", metavar="S", type=float, help="seconds to wait for a push reply (10)")
    add("--max-in-flight", metavar="N", type=int, help="most unanswered pushes per process (10000)")
    add(
        "--connect-concurrency",
        metavar="N",
        type=int,
        help="most handshakes in flight per process (100)",
    )
    add(
        "--source-ip",
        action="append",
        metavar="ADDR",
        help="local address to connect from, or a range A-B (repeatable; round-robin)",
    )
    add("--heartbeat", metavar="S", type=float, help="heartbeat interval, s; 0 = none (30)")
    add("--procs", metavar="N", type=int, help="worker processes on this machine (1)")
    conn = parser.add_argument_group("connection")
    conn.add_argument(
        "--transport",
        metavar="NAME",
        help="websocket (default) or longpoll (HTTP long polling)",
    )
    conn.add_argument(
        "--long-poll-fallback",
        metavar="S",
        type=float,
        help="fall back to LongPoll when WebSocket is not open within S seconds",
    )
    conn.add_argument(
        "--auth-token",
        metavar="TOKEN",
        help="auth token (WebSocket subprotocol, LongPoll header); never shown in reports",
    )
    conn.add_argument(
        "--header",
        action="append",
        metavar="'NAME: VALUE'",
        help="extra HTTP header on the handshake (repeatable); values never shown",
    )
    conn.add_argument("--vsn", metavar="VSN", help="serializer: 2.0.0 (default) or 1.0.0")
    conn.add_argument(
        "--compress",
        action="store_true",
        default=None,
        help="ask for per-message deflate (WebSocket)",
    )
    conn.add_argument(
        "--cacert", metavar="FILE", help="trust this CA (PEM) for wss:// and https://"
    )
    conn.add_argument(
        "--insecure",
        action="store_true",
        default=None,
        help="do not verify the server's certificate (a warning is printed)",
    )
    add("--report", metavar="FILE", help="write the JSON report to FILE")
    add("--html", metavar="FILE", help="write the HTML report (charts, offline) to FILE")
    add("--quiet", action="store_true", help="no live display (also off when not a terminal)")
    parser.set_defaults(func=run_load)


def add_report_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``report`` (``report merge``, ``report show``)."""
    parser = subparsers.add_parser(
        "report", help="merge, show or compare load reports, or chart one as HTML"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    merge = actions.add_parser(
        "merge",
        help="add reports up exactly (counts and histograms)",
        description="Merge the JSON reports of runs made side by side (processes, machines) "
        "into one: counts and latency histograms add exactly.",
    )
    merge.add_argument("files", nargs="+", metavar="FILE", help="reports to merge")
    merge.add_argument("-o", "--output", metavar="FILE", help="write the merged report here")
    merge.add_argument("--json", action="store_true", help="print the merged JSON to stdout")
    show = actions.add_parser("show", help="print the summary of a report")
    show.add_argument("files", nargs=1, metavar="FILE")
    show.add_argument("-o", "--output", help=argparse.SUPPRESS)
    show.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    from phoenix_fast.load.report_cli import add_report_actions

    add_report_actions(actions)  # html, compare
    parser.set_defaults(func=run_report)


def _json(option: str) -> Any:
    def parse(text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"not JSON ({exc}): {text!r}") from None

    parse.__name__ = option
    return parse


def cli_options(args: argparse.Namespace) -> dict[str, Any]:
    """The scenario options given on the command line (unset ones left out).

    Raises:
        ScenarioError: ``--rate`` or ``--payload`` without ``--push``, or a bad ``--push``.
    """
    from phoenix_fast.load.scenario import PushSpec, ScenarioError

    names = (
        "url sockets channels channels_per_socket topic join_params socket_params join_rate "
        "ramp duration messages time_limit join_timeout push_timeout max_in_flight "
        "heartbeat procs connect_concurrency transport long_poll_fallback auth_token vsn "
        "compress cacert insecure presence restart_every"
    ).split()
    options = {name: getattr(args, name, None) for name in names}
    if getattr(args, "source_ip", None):
        options["source_ips"] = tuple(args.source_ip)
    if getattr(args, "header", None):
        from phoenix_fast.load.connection import header_pairs

        options["headers"] = header_pairs(args.header)
    if args.subscribe:
        options["subscribe"] = tuple(args.subscribe)
    if args.stage:
        from phoenix_fast.load.scenario import parse_stage

        options["stages"] = tuple(parse_stage(text) for text in args.stage)
    if args.threshold:
        options["thresholds"] = tuple(args.threshold)
    options["interval"] = args.interval
    if not args.push:
        if args.rate is not None or args.payload is not None:
            raise ScenarioError(
                "--rate and --payload apply to --push EVENT[=RATE]: add one "
                "(the demo pushes ping and shout: --push ping=2000 --push shout=100)"
            )
        return options
    pushes = []
    for item in args.push:
        event, _, rate = item.partition("=")
        try:
            value = float(rate) if rate else (100.0 if args.rate is None else args.rate)
        except ValueError:
            raise ScenarioError(f"--push {item!r}: the rate after '=' is not a number") from None
        payload = {"seq": "{seq}"} if args.payload is None else args.payload
        pushes.append(PushSpec(event, value, payload))
    options["pushes"] = tuple(pushes)
    return options


def run_load(args: argparse.Namespace) -> int:
    """Handler of ``load``."""
    from phoenix_fast.load.scenario import ScenarioError, build_scenario, load_toml

    try:
        file_options = load_toml(args.scenario) if args.scenario else None
        scenario = build_scenario(cli_options(args), file_options)
    except ScenarioError as exc:
        return _fail(str(exc))
    from phoenix_fast.load.session import execute

    if getattr(args, "html", None):
        from phoenix_fast.load.report_cli import execute_with_html

        return execute_with_html(scenario, args)
    return execute(scenario, report_path=args.report, quiet=args.quiet, csv_path=args.csv)


def run_report(args: argparse.Namespace) -> int:
    """Handler of ``report``."""
    if args.action in ("html", "compare"):
        from phoenix_fast.load.report_cli import run_report_action

        return run_report_action(args)
    from rich.console import Console

    from phoenix_fast.load.report import (
        ReportError,
        merge_reports,
        print_summary,
        read_report,
        write_report,
    )

    try:
        reports = [read_report(path) for path in args.files]
        report = merge_reports(reports, args.files) if args.action == "merge" else reports[0]
        if args.output:
            write_report(args.output, report)
    except ReportError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write {args.output}: {exc.strerror}")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        console = Console()
        print_summary(console if console.is_terminal else Console(width=120), report)
    return 0
