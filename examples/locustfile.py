"""Locust users that chat through phoenix_fast: one machine, or many with Locust's master/worker.

Install the extra (``pip install 'phoenix_fast[locust]'``), start the reference server
(``phoenix-fast serve``) or use your application, then::

    locust -f examples/locustfile.py --host ws://127.0.0.1:4000/socket \\
        --headless -u 200 -r 50 -t 1m
    # distributed: a master, and workers on every load machine (one per core)
    locust -f examples/locustfile.py --master --host ws://app.internal:4000/socket
    locust -f examples/locustfile.py --worker --master-host 10.0.0.10 --processes 4

Joins, pushes and connects appear in Locust's statistics as ``phoenix`` requests; the
broadcasts each user receives as ``phoenix-event`` requests named ``event:shout``, with the
age of their ``ts`` field as response time.
"""

from __future__ import annotations

import itertools
import time

from locust import between, task

from phoenix_fast.channel import Channel
from phoenix_fast.load.locust_user import PhoenixUser

ROOMS = 10
_numbers = itertools.count()


class Chatter(PhoenixUser):
    """Joins one of ``ROOMS`` rooms, pings often, shouts to the room now and then."""

    wait_time = between(0.05, 0.2)
    socket_params = {"token": "locust"}  # noqa: RUF012 - read by PhoenixUser
    room: Channel | None = None

    def on_start(self) -> None:
        number = next(_numbers)
        self.nick = f"chatter-{number}"
        # join returns None (and Locust records the failure) when the server refuses
        self.room = self.client.join(f"echo:room-{number % ROOMS}", {"user": self.nick})
        if self.room is not None:
            self.client.subscribe(self.room, "shout")

    @task(10)
    def ping(self) -> None:
        if self.room is not None:
            self.client.push(self.room, "ping", {"body": "hi"})

    @task(1)
    def shout(self) -> None:
        if self.room is not None:
            self.client.push(self.room, "shout", {"from": self.nick, "ts": time.time() * 1000})
