"""Decoded frames carry the channel's own topic string (the default codec remembers it), so
routing finds the topic by identity and a channel holds one topic string, not two."""

from __future__ import annotations

from typing import Any

from phoenix_fast.message import Message
from phoenix_fast.socket import Socket
from phoenix_fast.testing.waiting import wait_for


async def test_decoded_frames_carry_the_channel_topic_object(phoenix_url: str) -> None:
    async with Socket(phoenix_url) as socket:
        topic = "".join(["echo:", "identity"])  # made at run time: not an interned literal
        channel = socket.channel(topic)
        seen: list[Message] = []
        socket.on_message(seen.append)
        await channel.join()
        await channel.push("ping", {"n": 1})
        await wait_for(lambda: len(seen) >= 2, 5.0)
        assert all(message.topic is topic for message in seen)


async def test_a_topic_of_a_str_subclass_is_not_handed_to_other_frames(phoenix_url: str) -> None:
    class Topic(str):
        pass

    async with Socket(phoenix_url) as socket:
        channel = socket.channel(Topic("echo:subclass"))
        got: list[Any] = []
        socket.on_message(lambda message: got.append(type(message.topic)))
        await channel.join()
        assert got and set(got) == {str}
