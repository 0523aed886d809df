"""The real Rasa server with deploy/endpoints.postgres.yml keeps conversations in PostgreSQL for analytics."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.analytics import etl, models
from bot.settings import PROJECT_ROOT
from bot.tracker_events import read_events, tracker_engine
from tests.e2e.conftest import OUTPUT, Bot, running_bot, texts

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pg_bot(pg_engine, tmp_path_factory) -> Iterator[Bot]:
    """Tandem whose tracker store is the test's PostgreSQL database."""
    with running_bot(tmp_path_factory.mktemp("var"), OUTPUT / "postgres-tracker-logs",
                     TANDEM_TRACKER_URL=pg_engine.url.render_as_string(hide_password=False),
                     TANDEM_ENDPOINTS=str(PROJECT_ROOT / "deploy" / "endpoints.postgres.yml")) as running:
        yield running


def test_rasa_writes_the_conversation_to_postgres_and_analytics_reads_it(pg_bot: Bot, pg_engine) -> None:
    reply = texts(pg_bot.say("pg-track", "Hi, where is my order 10001?"))
    assert "10001" in reply
    events = read_events(tracker_engine(pg_bot.settings.tracker_store), ["pg-track"])["pg-track"]
    user = next(e for e in events if e["event"] == "user")
    assert user["parse_data"]["intent"]["name"] == "track_order" and user["input_channel"] == "rest"
    assert any(e["event"] == "bot" and "10001" in e["text"] for e in events)

    result = etl.run(pg_engine, pg_engine, now=datetime.utcnow() + timedelta(hours=2))
    assert result.conversations == 1 and result.events == len(events)
    with pg_engine.connect() as conn:
        row = conn.execute(select(models.conversations)).mappings().one()
    assert (row["sender"], row["channel"], row["first_intent"], row["turns"]) == (
        "pg-track", "rest", "track_order", 1)
