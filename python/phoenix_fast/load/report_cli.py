"""``phoenix-fast report html``, ``phoenix-fast report compare`` and ``load --html``.

Registering them imports nothing of the load tool (its extra may be missing: the CLI says so
in one line); the handlers import what they need. Exit status: 0 done; 1 ``compare
--fail-on-regression`` found a regression; 2 an unreadable report, reports of different
formats, or a file that cannot be written (one line, with the fix).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from phoenix_fast.load.cli_error import fail as _fail

__all__ = ["add_report_actions", "execute_with_html", "run_report_action"]


def add_report_actions(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers ``report html`` and ``report compare``."""
    html = actions.add_parser(
        "html",
        help="write a self-contained HTML page with charts",
        description="Write one HTML file (no network needed to open it) with the run, the "
        "summary, the thresholds, charts over time and latency distributions. Several "
        "reports are merged first, as 'report merge' does.",
    )
    html.add_argument("files", nargs="+", metavar="FILE", help="reports (merged if several)")
    html.add_argument("-o", "--output", metavar="FILE", required=True, help="the HTML file")
    compare = actions.add_parser(
        "compare",
        help="compare runs: rates, latencies and errors, with regressions marked",
        description="Compare a new run with a base run: rates, each latency's p50, p99 and "
        "max, and errors, with the change in percent. With several reports per side the "
        "medians are compared, and a change is a regression only when it is worse than "
        "both --tolerance and the spread between the runs of a side.",
    )
    compare.add_argument("files", nargs="*", metavar="FILE", help="BASE NEW (one report each)")
    compare.add_argument("--base", nargs="+", metavar="FILE", help="reports of the base runs")
    compare.add_argument("--new", nargs="+", metavar="FILE", help="reports of the new runs")
    compare.add_argument(
        "--tolerance",
        metavar="PCT",
        type=_percent,
        default=10.0,
        help="smallest change, in percent, that can be a regression (10)",
    )
    compare.add_argument(
        "--fail-on-regression", action="store_true", help="exit with status 1 on a regression"
    )
    compare.add_argument("--html", metavar="FILE", help="also write a side-by-side HTML page")
    compare.add_argument("--json", action="store_true", help="print the comparison as JSON")


def _percent(text: str) -> float:
    try:
        value = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r} (e.g. 10)") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r} (give 0 or more)")
    return value


def _writable(path: str, option: str) -> str | None:
    """The one-line error for an output path whose folder does not exist, else None."""
    folder = Path(path).resolve().parent
    if not folder.is_dir():
        return f"cannot write {option} {path}: no such folder {folder} (create it first)"
    return None


def run_report_action(args: argparse.Namespace) -> int:
    """Handler of ``report html`` and ``report compare``."""
    if args.action == "html":
        return _run_html(args)
    from phoenix_fast.load.compare import run_compare

    return run_compare(args)


def _run_html(args: argparse.Namespace) -> int:
    from phoenix_fast.load.html_report import html_of_files
    from phoenix_fast.load.report import ReportError

    problem = _writable(args.output, "-o")
    if problem:
        return _fail(problem)
    try:
        text = html_of_files(args.files)
    except ReportError as exc:
        return _fail(str(exc))
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as exc:
        return _fail(f"cannot write {args.output}: {exc.strerror} (give a writable path)")
    print(f"HTML report written to {args.output}", file=sys.stderr)
    return 0


def execute_with_html(scenario: Any, args: argparse.Namespace) -> int:
    """``load ... --html FILE``: the run as :func:`~phoenix_fast.load.session.execute` makes
    it, then the HTML page of its report (also when a threshold failed)."""
    from phoenix_fast.load.session import execute

    problem = _writable(args.html, "--html")
    if problem:
        return _fail(problem)
    scratch = None
    report_path = args.report
    if not report_path:
        handle, scratch = tempfile.mkstemp(prefix="phoenix-fast-report-", suffix=".json")
        os.close(handle)
        os.unlink(scratch)  # execute writes it; its absence says the run wrote nothing
        report_path = scratch
    try:
        status = execute(scenario, report_path=report_path, quiet=args.quiet, csv_path=args.csv)
        if not Path(report_path).exists():
            return status
        from phoenix_fast.load.html_report import write_html
        from phoenix_fast.load.report import ReportError, read_report

        try:
            write_html(args.html, read_report(report_path), [args.report] if args.report else [])
        except (OSError, ReportError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            return _fail(f"cannot write --html {args.html}: {reason}")
        print(f"HTML report written to {args.html}", file=sys.stderr)
        return status
    finally:
        if scratch and Path(scratch).exists():
            os.unlink(scratch)
