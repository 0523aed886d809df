"""A voice channel's real blueprint in a real Sanic app on loopback, with a scripted bot in Rasa's place."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Sanic

TEAM_LINE = "+441632960001"  # where the scripted bot transfers a caller who asks for a person


def script(text: str) -> list[str | dict[str, Any]]:
    """What the scripted bot answers to `text`: texts and custom JSON, in order."""
    if text == "/greet":
        return ["Hi, I'm Tandem, the shop's assistant. What can I do for you?"]
    if text.isdigit():
        return [f"Order {text} is on its way."]
    if "person" in text:
        return ["I'm putting you through to our team now.", {"voice": {"transfer": TEAM_LINE}}]
    if "order" in text:
        return ["What's the order number?"]
    if "crash" in text:
        raise RuntimeError("the bot fell over")
    return [f"You said: {text}"]


@dataclass
class ScriptedBot:
    """Rasa's `on_new_message`: records each message and answers through the channel's collecting output."""

    received: list[UserMessage] = field(default_factory=list)

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message)
        for reply in script(message.text or ""):
            if isinstance(reply, dict):
                await message.output_channel.send_custom_json(message.sender_id, reply)
            else:
                await message.output_channel.send_text_message(message.sender_id, reply)

    @property
    def texts(self) -> list[str]:
        return [message.text for message in self.received]


@asynccontextmanager
async def serving(channel: InputChannel, bot: ScriptedBot) -> AsyncIterator[str]:
    """The channel's blueprint mounted as Rasa mounts it, on a free loopback port: yields its webhook URL."""
    Sanic.test_mode = True  # several apps in one process: Sanic then keeps its protocol methods reusable
    app = Sanic(f"voice_test_{uuid.uuid4().hex}")
    app.blueprint(channel.blueprint(bot), url_prefix=f"/webhooks/{channel.name()}")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    await server.startup()  # the socket is already listening; this finalizes the app's routes
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/webhooks/{channel.name()}/webhook"
    finally:
        await server.close()
        sock.close()
