"""Start the real action server and Rasa server on free ports over a freshly seeded store."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bot.launcher import Servers
from bot.settings import PROJECT_ROOT, Settings
from bot.store.db import create_schema, make_engine
from bot.store.seed import seed_demo
from bot.tracker_events import read_events, tracker_engine
from bot.training import train_if_stale

OUTPUT = PROJECT_ROOT / "tests" / "output"
WEBCHAT_SECRET = "e2e-shop-secret"  # what the shop signs its customers' web chat login tokens with
VOICE_SECRET = "e2e-voice-gateway-secret"
E2E_SLACK = {"TANDEM_SLACK_TOKEN": "xoxb-e2e-token", "TANDEM_SLACK_SIGNING_SECRET": "e2e-signing-secret"}
E2E_TELEGRAM = {"TANDEM_TELEGRAM_TOKEN": "123456789:AAE2Etoken", "TANDEM_TELEGRAM_BOT_NAME": "tandem_e2e_bot",
                "TANDEM_TELEGRAM_WEBHOOK_URL": "https://bot.example.com/webhooks/telegram/webhook",
                "TANDEM_TELEGRAM_SECRET_TOKEN": "e2e-telegram-secret"}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Bot:
    """A running Tandem: talk to it over REST, read its tracker store."""

    settings: Settings
    servers: Servers

    @property
    def webhook(self) -> str:
        return f"http://127.0.0.1:{self.settings.rasa_port}/webhooks/rest/webhook"

    def post(self, body: bytes, content_type: str = "application/json") -> tuple[int, object]:
        """POST raw bytes to the REST webhook; return the status and the decoded JSON answer."""
        request = urllib.request.Request(self.webhook, data=body, method="POST",
                                         headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def say(self, sender: str, message: str, **extra: object) -> list[dict]:
        """Send one customer message; return the bot's replies (status must be 200)."""
        status, replies = self.post(json.dumps({"sender": sender, "message": message, **extra}).encode())
        assert status == 200, (status, replies)
        return replies

    def parse(self, text: str) -> dict:
        """What the NLU makes of `text` (Rasa's /model/parse)."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.settings.rasa_port}/model/parse",
                                         data=json.dumps({"text": text}).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.loads(answer.read())

    def events(self, sender: str) -> list[dict]:
        """Every event the tracker store (SQLite or PostgreSQL) holds for `sender`, oldest first."""
        engine = tracker_engine(self.settings.tracker_store)
        try:
            return read_events(engine, [sender]).get(sender, [])
        finally:
            engine.dispose()


@contextmanager
def running_bot(var: Path, log_dir: Path, names: tuple[str, ...] = ("actions", "rasa"),
                **env: str) -> Iterator[Bot]:
    """Tandem with its own seeded store under `var`, its own ports and the extra `env` settings.

    `names` are the servers to start: add "console" for the handoff console and the widget's pages.
    """
    settings = Settings.from_env({"TANDEM_VAR_DIR": str(var), "TANDEM_RASA_PORT": str(free_port()),
                                  "TANDEM_ACTION_PORT": str(free_port()),
                                  "TANDEM_CONSOLE_PORT": str(free_port()), **env})
    engine = make_engine(settings.db_url)
    create_schema(engine)
    seed_demo(engine, seed=7, today=date.today(), customers=60, products=50, orders=400)
    engine.dispose()
    servers = Servers(settings, train_if_stale(settings.root, settings.models_dir))
    servers.start(log_dir=log_dir, names=names)
    try:
        yield Bot(settings, servers)
    finally:
        servers.stop()


def texts(replies: list[dict]) -> str:
    """All reply texts of one turn joined, for assertions."""
    return " | ".join(reply.get("text", "") for reply in replies)


def store_path(bot: Bot) -> Path:
    return Path(bot.settings.db_url.removeprefix("sqlite:///"))
