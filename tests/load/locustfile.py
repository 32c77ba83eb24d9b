"""A locustfile using phoenix_fast against the contract application (``echo:*``).

Run: ``locust -f tests/load/locustfile.py --host ws://127.0.0.1:4000/socket``.
"""

from __future__ import annotations

import time

from locust import constant, task

from phoenix_fast.channel import Channel
from phoenix_fast.load.locust_user import PhoenixUser


class EchoUser(PhoenixUser):
    """Joins ``echo:locust``, pings, and shouts (every user counts the others' shouts)."""

    wait_time = constant(0.05)
    room: Channel | None = None

    def on_start(self) -> None:
        self.room = self.client.join("echo:locust", {"user": id(self)})
        if self.room is not None:
            self.client.subscribe(self.room, "shout")
            self.shout()  # at least one each, even on a slow machine

    @task(5)
    def ping(self) -> None:
        if self.room is not None:
            self.client.push(self.room, "ping", {"body": "hi"})

    @task(1)
    def shout(self) -> None:
        if self.room is not None:
            self.client.push(self.room, "shout", {"ts": time.time() * 1000})
