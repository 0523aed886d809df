"""Channel tests: a channel's real blueprint in a real Sanic app on loopback, registered as Rasa registers
it, with an agent that answers every message by echoing it through the message's output channel; the
deliveries store; and one running Tandem talking to the fake Slack and Telegram (e2e)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from rasa.core.channels.channel import InputChannel, UserMessage, register
from sanic import Sanic

from bot.store.db import create_schema, make_engine
from tests.channels.fake_platforms import RecordingServer, slack_api, telegram_api
from tests.conftest import Tandem
from tests.e2e.conftest import E2E_SLACK, E2E_TELEGRAM, Bot, free_port

__all__ = ["E2E_SLACK", "E2E_TELEGRAM"]  # the tests import them from here

_apps = itertools.count(1)
Sanic.test_mode = True  # several Sanic apps in one process (else Sanic's touch-up breaks the second)



@dataclass
class EchoAgent:
    """Stands in for Rasa's Agent: records each message and answers 'echo: <text>' through its output.

    `failures` makes that many messages fail, as Rasa fails when its lock store is unreachable.
    """

    messages: list[UserMessage] = field(default_factory=list)
    failures: int = 0

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the lock store is unreachable")
        await message.output_channel.send_text_message(message.sender_id, f"echo: {message.text}")

    def texts(self) -> list[str]:
        return [message.text for message in self.messages]


@dataclass
class ChannelApp:
    """A channel served on loopback: its webhook URL and the agent behind it."""

    webhook: str
    agent: EchoAgent

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        """POST raw bytes to the webhook; the status and the answer's text."""
        async with aiohttp.ClientSession() as session, \
                session.post(self.webhook, data=body, headers=headers) as answer:
            return answer.status, await answer.text()


@asynccontextmanager
async def serving(channel: InputChannel) -> AsyncIterator[ChannelApp]:
    """`channel` registered in a fresh Sanic app on a free loopback port, between server start and stop."""
    app = Sanic(f"channel_test_{next(_apps)}")
    app.ctx.agent = agent = EchoAgent()
    register([channel], app, "/webhooks/")
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True,
                                     access_log=False)
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield ChannelApp(f"http://127.0.0.1:{port}/webhooks/{channel.name()}/webhook", agent)
    finally:
        await server.before_stop()
        await server.close()
        await server.wait_closed()
        await server.after_stop()


@pytest.fixture
def deliveries_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A store schema in a temporary SQLite file that channels find through TANDEM_DB_URL."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    create_schema(engine)
    engine.dispose()
    monkeypatch.setenv("TANDEM_DB_URL", url)
    return url


@pytest.fixture
def fake_slack() -> Iterator[RecordingServer]:
    with slack_api() as server:
        yield server


@pytest.fixture
def fake_telegram() -> Iterator[RecordingServer]:
    with telegram_api("tandem_test_bot") as server:
        yield server


@dataclass
class PlatformsBot:
    """A running Tandem whose Slack and Telegram channels talk to the fake platforms."""

    bot: Bot
    slack: RecordingServer
    telegram: RecordingServer

    def url(self, channel: str) -> str:
        return f"http://127.0.0.1:{self.bot.settings.rasa_port}/webhooks/{channel}/webhook"


@pytest.fixture(scope="session")
def platforms_bot(tandem: Tandem) -> PlatformsBot:
    """The shared running Tandem (tests/conftest.py), whose Slack and Telegram talk to the fakes."""
    return PlatformsBot(tandem.bot, tandem.slack, tandem.telegram)
