"""The Locust user reports what its socket does on its own, seen by the socket's observer:
a ``drop`` failure, ``reconnect`` failures while the server is away, then a ``reconnect``
timed as the time disconnected, and the channel's ``rejoin``.

Importing Locust monkey-patches the process for gevent, so the user runs in a child process;
the test drives the server (stop, start) from this one as the child reports its progress.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable

import pytest

from phoenix_fast.testing import ServerThread
from phoenix_fast.testing.waiting import scaled

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("locust") is None, reason="locust not installed"
)

CHILD = """
    import json, sys, time
    import locust  # monkey-patches the process, as a locustfile does
    import gevent
    from locust.env import Environment
    from phoenix_fast.load.locust_user import PhoenixClient

    env = Environment()
    fired = []
    env.events.request.add_listener(lambda **kw: fired.append(kw))
    client = PhoenixClient(sys.argv[1], env, timeout=5.0)
    # the server answers each join (the rejoin too) after 50 ms
    assert client.join("echo:locust-lifecycle", {"delay_ms": 50}) is not None

    def wait_until(name, failed):
        deadline = time.monotonic() + float(sys.argv[2])
        while time.monotonic() < deadline:
            client.flush()
            if any(f["name"] == name and (f["exception"] is not None) == failed for f in fired):
                return
            gevent.sleep(0.02)
        sys.exit(f"no {name} {'failure' if failed else 'success'}: {fired}")

    print("joined", flush=True)
    wait_until("reconnect", True)  # the server is away: an attempt failed
    print("refused", flush=True)
    wait_until("rejoin", False)  # the server is back: reconnected, then rejoined
    client.close()
    print(json.dumps([
        [f["name"], f["response_time"], None if f["exception"] is None else str(f["exception"])]
        for f in fired if f["name"] in ("drop", "reconnect", "rejoin")
    ]))
"""


def test_drops_reconnects_and_rejoins_are_reported(
    phoenix_server_factory: Callable[..., ServerThread],
) -> None:
    server = phoenix_server_factory()
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CHILD), server.url, str(scaled(20))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "joined\n"
        server.stop()  # the connection drops and reconnecting is refused
        assert child.stdout.readline() == "refused\n"
        server.start()
        out, err = child.communicate(timeout=scaled(30))
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err[-3000:]
    rows = json.loads(out.strip().splitlines()[-1])
    drops = [row for row in rows if row[0] == "drop"]
    assert len(drops) == 1 and drops[0][2].startswith("the connection dropped"), rows
    failed = [row for row in rows if row[0] == "reconnect" and row[2] is not None]
    done = [row for row in rows if row[0] == "reconnect" and row[2] is None]
    assert failed and all("a reconnect attempt failed" in row[2] for row in failed), rows
    # the reconnect's response time is the time disconnected: longer than any failed try
    assert len(done) == 1 and done[0][1] >= max(row[1] for row in failed), rows
    rejoins = [row for row in rows if row[0] == "rejoin"]
    assert len(rejoins) == 1 and rejoins[0][2] is None, rows
    assert rejoins[0][1] >= 45, rows  # its own round trip, the server's 50 ms delay in it
    # close() at the end is ours: no second drop (checked above), nothing after the rejoin
    assert rows[-1][0] == "rejoin", rows
