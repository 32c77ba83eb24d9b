"""Proof of fidelity: the official Phoenix JavaScript client runs the contract against the server.

``tests/js/contract.mjs`` drives ``phoenix`` from npm (the official client, pinned with ``ws``
in ``tests/js/package-lock.json``; ``make js`` installs them) on Node, over WebSocket and over
LongPoll, through every channel and event of the contract application (CONTRACT.md), plus
raw-frame checks of the V1 and V2 serializers. It prints one JSON line per check; each check
becomes one test here, named ``<transport>-<check>``, so a failure names what deviates.

The server is the session's ``phoenix_url`` (the reference server in a background thread, or
``$PHOENIX_URL``, e.g. a real Phoenix application implementing the contract). Node runs once per
transport (about 3 s each) and the results are shared by the module's tests.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from phoenix_fast.testing.waiting import scaled

JS_DIR = Path(__file__).parent / "js"
SCRIPT = JS_DIR / "contract.mjs"
NODE = shutil.which("node")
# contract.mjs stops starting checks after 30 s and every check has its own timeout (<= 10 s)
RUN_TIMEOUT = scaled(45.0)

COMMON_CHECKS = (
    "connect.open",
    "connect.refused",
    "connect.auth_token",
    "heartbeat.ping",
    "echo.join",
    "echo.join_fail",
    "echo.join_delay",
    "echo.ping",
    "echo.push_buffered",
    "echo.error_me",
    "echo.noreply",
    "echo.unknown_event",
    "echo.boom",
    "echo.stop",
    "echo.leave",
    "echo.shout",
    "echo.burst",
    "echo.bin_not_binary",
    "echo.duplicate_join",
    "echo.max_channels",
    "presence.user_id_required",
    "presence.state",
    "presence.diff_join",
    "presence.update_status",
    "presence.leave",
    "load.fanout",
)
# binary frames, per-message deflate, heartbeats and raw frames exist on WebSocket only
# (the JS client skips heartbeats on LongPoll); a LongPoll client that stops polling is only
# dropped after Phoenix's 10 s inactivity window, too long for presence.disconnect
WEBSOCKET_ONLY_CHECKS = (
    "heartbeat.interval",
    "echo.bin",
    "echo.push_bin",
    "echo.shout_binary",
    "compress.socket",
    "presence.disconnect",
    "raw.vsn_refused",
    "raw.v1.heartbeat",
    "raw.v1.no_vsn",
    "raw.v1.join",
    "raw.v1.ping",
    "raw.v1.push",
    "raw.v1.broadcast",
    "raw.v2.heartbeat",
    "raw.v2.extra_elements",
    "raw.v2.unjoined_topic",
    "raw.v2.duplicate_join",
    "raw.v2.join_is_synchronous",
    "raw.v2.binary_frames",
    "raw.v2.error_and_close",
)
# raw LongPoll requests: refusals, a V1 session (one JSON frame per POST), an ndjson batch
LONGPOLL_ONLY_CHECKS = (
    "raw.longpoll.vsn_refused",
    "raw.longpoll.v1",
    "raw.longpoll.v2_batch",
)
CHECKS = {
    "websocket": COMMON_CHECKS + WEBSOCKET_ONLY_CHECKS,
    "longpoll": COMMON_CHECKS + LONGPOLL_ONLY_CHECKS,
}

pytestmark = [
    pytest.mark.skipif(
        NODE is None, reason="node is not on PATH (the official JS client needs it)"
    ),
    pytest.mark.skipif(
        not (JS_DIR / "node_modules" / "phoenix").is_dir()
        or not (JS_DIR / "node_modules" / "ws").is_dir(),
        reason="tests/js/node_modules is absent: `make js` installs the pinned JS client",
    ),
]


@dataclass
class ContractRun:
    """The outcome of one ``node contract.mjs <url> <transport>`` run."""

    transport: str
    command: str
    returncode: int | None = None
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    summary: dict[str, Any] | None = None
    stderr: str = ""
    problem: str = ""

    def explain(self) -> str:
        """What went wrong with the run as a whole, for a check's failure message."""
        lines = [f"`{self.command}` exited with {self.returncode}"]
        if self.problem:
            lines.append(self.problem)
        if self.stderr.strip():
            lines.append("stderr (tail):\n" + self.stderr.strip()[-2000:])
        return "\n".join(lines)


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def run_contract(url: str, transport: str) -> ContractRun:
    """Run contract.mjs once and parse its JSON lines (also after a timeout)."""
    assert NODE is not None
    argv = [NODE, str(SCRIPT), url, transport]
    run = ContractRun(transport, " ".join(["node", "tests/js/contract.mjs", url, transport]))
    try:
        proc = subprocess.run(
            argv, cwd=JS_DIR, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        run.problem = f"killed after {RUN_TIMEOUT} s"
        stdout, run.stderr = _text(exc.stdout), _text(exc.stderr)
    else:
        run.returncode = proc.returncode
        stdout, run.stderr = proc.stdout, proc.stderr
    for line in stdout.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            run.stderr += f"\n(unparsed stdout) {line}"
            continue
        if record.get("summary"):
            run.summary = record
        elif "check" in record:
            run.results[record["check"]] = record
    if run.summary is None and not run.problem:
        run.problem = "no summary line: the script did not finish"
    return run


@pytest.fixture(scope="module")
def contract_run(phoenix_url: str) -> Callable[[str], ContractRun]:
    """Runs the script once per transport (on first use) and caches the outcome."""
    runs: dict[str, ContractRun] = {}

    def get(transport: str) -> ContractRun:
        if transport not in runs:
            runs[transport] = run_contract(phoenix_url, transport)
        return runs[transport]

    return get


@pytest.mark.parametrize(
    ("transport", "check"),
    [pytest.param(t, c, id=f"{t}-{c}") for t, names in CHECKS.items() for c in names],
)
def test_js_client(contract_run: Callable[[str], ContractRun], transport: str, check: str) -> None:
    """One contract check, as run by the official JS client."""
    run = contract_run(transport)
    result = run.results.get(check)
    if result is None:
        pytest.fail(f"{check} is missing from the output\n{run.explain()}", pytrace=False)
    if not result.get("ok"):
        info = f"\ninfo: {json.dumps(result['info'])}" if "info" in result else ""
        pytest.fail(
            f"{check} over {transport} ({result.get('ms')} ms): {result.get('error')}{info}",
            pytrace=False,
        )


@pytest.mark.parametrize("transport", list(CHECKS))
def test_js_client_checks_are_all_listed(
    contract_run: Callable[[str], ContractRun], transport: str
) -> None:
    """The script ran to its summary, and every check it ran is one listed in this module."""
    run = contract_run(transport)
    unlisted = sorted(set(run.results) - set(CHECKS[transport]))
    assert not unlisted, f"checks run by contract.mjs but not listed in {__name__}: {unlisted}"
    assert run.summary is not None, run.explain()
    assert run.summary["passed"] + run.summary["failed"] == len(run.results), run.summary
