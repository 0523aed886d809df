"""Store fixtures (an empty store in a temporary SQLite file, a fresh PostgreSQL database) and the one
running Tandem that every end-to-end test shares."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from bot.store.db import create_schema, make_engine
from bot.store.seed import seed_demo
from tests.channels.fake_platforms import RecordingServer, slack_api, telegram_api
from tests.e2e.conftest import (
    E2E_SLACK,
    E2E_TELEGRAM,
    OUTPUT,
    VOICE_SECRET,
    WEBCHAT_SECRET,
    Bot,
    running_bot,
)

DEFAULT_TEST_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SMALL_TODAY = date(2026, 3, 2)
SMALL_SIZES = {"customers": 50, "products": 40, "orders": 300}


@pytest.fixture
def engine(tmp_path) -> Iterator[Engine]:
    """An empty store schema in a temporary SQLite file."""
    store = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    create_schema(store)
    yield store
    store.dispose()


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A small demo store in SQLite (SMALL_SIZES, anchored on SMALL_TODAY), seeded once per module."""
    store = make_engine(f"sqlite:///{tmp_path_factory.mktemp('store') / 'store.db'}")
    seed_demo(store, today=SMALL_TODAY, **SMALL_SIZES)
    yield store
    store.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on `engine`; whatever the test leaves uncommitted is rolled back."""
    with Session(engine, future=True) as s:
        yield s


@pytest.fixture(scope="session")
def pg_url() -> str:
    """A PostgreSQL URL allowed to create databases: env `TANDEM_TEST_PG_URL`, else local trust auth."""
    return os.environ.get("TANDEM_TEST_PG_URL", DEFAULT_TEST_PG_URL)


@pytest.fixture(scope="module")
def pg_engine(pg_url: str) -> Iterator[Engine]:
    """An engine on a new database `tandem_test_<random>`, dropped after the module."""
    admin = create_engine(pg_url, future=True, isolation_level="AUTOCOMMIT")
    name = f"tandem_test_{secrets.token_hex(4)}"  # identifiers cannot be bound; this one is ours
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    store = make_engine(make_url(pg_url).set(database=name).render_as_string(hide_password=False))
    try:
        yield store
    finally:
        store.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Tandem:
    """The running servers and the fake Slack and Telegram they talk to."""

    bot: Bot
    slack: RecordingServer
    telegram: RecordingServer


@pytest.fixture(scope="session")
def tandem(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tandem]:
    """One Tandem (bot, actions, console) for every e2e, channel and browser test: web chat logins,
    Slack and Telegram at local fakes, the voice gateway on. Logs under tests/output/e2e-logs."""
    with slack_api() as slack, telegram_api(E2E_TELEGRAM["TANDEM_TELEGRAM_BOT_NAME"]) as telegram, \
            running_bot(tmp_path_factory.mktemp("var"), OUTPUT / "e2e-logs", ("actions", "rasa", "console"),
                        TANDEM_WEBCHAT_SECRET=WEBCHAT_SECRET, TANDEM_VOICE_SECRET=VOICE_SECRET,
                        TANDEM_SLACK_API_URL=f"{slack.url}/api/", TANDEM_TELEGRAM_API_URL=telegram.url,
                        **E2E_SLACK, **E2E_TELEGRAM) as bot:
        yield Tandem(bot, slack, telegram)


@pytest.fixture(scope="session")
def bot(tandem: Tandem) -> Bot:
    """The shared running Tandem, to talk to over REST and read its tracker store."""
    return tandem.bot
