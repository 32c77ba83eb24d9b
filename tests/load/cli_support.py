"""Running ``phoenix-fast`` as a user would, for the load tool's command-line tests."""

from __future__ import annotations

import subprocess
import sys


def phoenix_fast(*argv: str, timeout: float = 45.0) -> subprocess.CompletedProcess[str]:
    """``python -m phoenix_fast.cli ARGV``, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "phoenix_fast.cli", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_line_error(done: subprocess.CompletedProcess[str], *, only: bool = False) -> str:
    """The error line of a run that exited 2 without a traceback (``only``: and printed
    nothing else on stderr)."""
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    if only:
        assert len(lines) == 1, done.stderr
    assert lines[-1].startswith("phoenix-fast: error: "), done.stderr
    return lines[-1]
