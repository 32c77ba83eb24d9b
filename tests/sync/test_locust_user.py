"""The Locust user on the shared loop thread: gevent-aware waits, event age on arrival.

Importing Locust monkey-patches the process for gevent, so each check runs in a child
process (the Locust run itself is tested in ``tests/load/test_cli.py``).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap

import pytest

from phoenix_fast.testing.waiting import scaled

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("locust") is None, reason="locust not installed"
)


def run_child(code: str, url: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), url],
        capture_output=True,
        text=True,
        timeout=scaled(60),
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


PRELUDE = """
    import json, sys, time, types
    import locust  # monkey-patches the process, as a locustfile does
    import gevent
    from locust.env import Environment
    from phoenix_fast.load import locust_user
    from phoenix_fast.load.locust_user import PhoenixClient

    url = sys.argv[1]
    env = Environment()
    fired = []
    env.events.request.add_listener(lambda **kw: fired.append(kw))
    client = PhoenixClient(url, env, timeout=5.0)
"""


def test_event_age_is_taken_on_arrival_not_when_reported(phoenix_url: str) -> None:
    code = (
        PRELUDE
        + """
    clock = types.SimpleNamespace(now=1000.0)
    locust_user.time = types.SimpleNamespace(
        time=lambda: clock.now, perf_counter=time.perf_counter
    )
    room = client.join("echo:locust-age")
    client.subscribe(room, "shout")
    client.push(room, "shout", {"ts": 1000.0 * 1000 - 25})  # 25 ms old when it arrives
    client.push(room, "ping")  # the broadcast arrived before this reply
    clock.now = 1003.0  # reported three seconds later
    client.flush()
    ages = [f["response_time"] for f in fired if f["request_type"] == "phoenix-event"]
    client.close()
    print(json.dumps({"ages": ages}))
    """
    )
    assert run_child(code, phoenix_url) == {"ages": [25.0]}


def test_a_waiting_user_lets_the_other_greenlets_run(phoenix_url: str) -> None:
    code = (
        PRELUDE
        + """
    ticks = [0]
    def ticker():
        while True:
            gevent.sleep(0.01)
            ticks[0] += 1
    other = gevent.spawn(ticker)
    gevent.sleep(0)
    room = client.join("echo:locust-wait", {"delay_ms": 300})  # the reply takes 300 ms
    during = ticks[0]
    other.kill()
    client.close()
    print(json.dumps({"joined": room is not None, "ticked": during > 0}))
    """
    )
    assert run_child(code, phoenix_url) == {"joined": True, "ticked": True}
