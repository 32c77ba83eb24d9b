"""A chat bot: joins a room, answers commands, and leaves when told to.

Run the reference server in one terminal and the bot in another::

    phoenix-fast serve                                  # ws://127.0.0.1:4000/socket
    python examples/chat_bot.py --room lobby

Anyone who shouts ``!ping``, ``!time`` or ``!bye`` in ``echo:lobby`` gets an answer; ``!bye``
makes the bot leave. The URL comes from ``--url``, else ``$PHOENIX_URL``, else the reference
server's default. Against your own Phoenix application, change ``TOPIC`` and the event names
(``shout`` is the contract application's broadcast event).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

import phoenix_fast
from phoenix_fast import Socket
from phoenix_fast.errors import JoinError, PhoenixError

DEFAULT_URL = "ws://127.0.0.1:4000/socket"
TOPIC = "echo:{room}"


class ChatBot:
    """Answers ``!ping``, ``!time`` and ``!bye`` said in one room."""

    def __init__(self, socket: Socket, room: str, name: str) -> None:
        self.name = name
        self.channel = socket.channel(TOPIC.format(room=room), {"user": name})
        self.channel.on("shout", self.on_shout)
        self.done = asyncio.Event()

    async def run(self) -> None:
        await self.channel.join()  # raises JoinError if the server refuses
        await self.say("hello! try !ping, !time or !bye")
        print(f"{self.name}: joined {self.channel.topic}", flush=True)
        await self.done.wait()
        await self.channel.leave()
        print(f"{self.name}: left {self.channel.topic}", flush=True)

    def on_shout(self, payload: dict[str, Any]) -> None:
        # Callbacks run inside the socket's receive loop: never block here. Work that waits
        # for the server (a push and its reply) goes into a task.
        if payload.get("from") == self.name:
            return  # the server broadcasts our own messages back to us
        body = str(payload.get("body", ""))
        print(f"{payload.get('from', '?')}: {body}", flush=True)
        if body == "!ping":
            self.reply("pong")
        elif body == "!time":
            self.reply(time.strftime("%H:%M:%S UTC", time.gmtime()))
        elif body == "!bye":
            self.reply("bye!")
            self.done.set()

    def reply(self, text: str) -> None:
        task = asyncio.get_running_loop().create_task(self.say(text))
        task.add_done_callback(_report_failure)

    async def say(self, text: str) -> None:
        await self.channel.push("shout", {"from": self.name, "body": text})


def _report_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        print(f"could not answer: {task.exception()!r}", flush=True)


async def main(url: str, room: str, name: str) -> int:
    async with Socket(url, params={"token": "chat-bot"}) as socket:
        try:
            await ChatBot(socket, room, name).run()
        except JoinError as exc:
            print(f"the server refused the join: {exc.response}")
            return 1
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", default=os.environ.get("PHOENIX_URL", DEFAULT_URL))
    parser.add_argument("--room", default="lobby")
    parser.add_argument("--name", default="bot")
    return parser.parse_args()


if __name__ == "__main__":
    args = parse_args()
    try:
        raise SystemExit(phoenix_fast.run(main(args.url, args.room, args.name)))
    except PhoenixError as exc:  # cannot connect, connection lost for good, ...
        raise SystemExit(f"chat_bot: {exc}") from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
