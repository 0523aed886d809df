"""The real Rasa server as one replica of a scaled deployment (deploy/endpoints.scaled.yml): conversations
in PostgreSQL (read back by analytics), a conversation's lock in Redis, every event on RabbitMQ."""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import aio_pika
import pytest
from rasa.core.lock_store import RedisLockStore
from sqlalchemy import select

from bot.analytics import etl, models
from bot.settings import PROJECT_ROOT
from bot.tracker_events import read_events, tracker_engine
from tests.e2e.conftest import OUTPUT, Bot, running_bot, texts

pytestmark = pytest.mark.integration

REDIS_DB = "5"  # away from the default 1 that a developer's own Tandem may use
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/"
QUEUE = f"tandem_test_{secrets.token_hex(4)}"


@pytest.fixture(scope="module")
def replica(pg_engine, tmp_path_factory) -> Iterator[Bot]:
    """Tandem whose Rasa keeps conversations in the test's PostgreSQL, locks in Redis, events on RabbitMQ."""
    with running_bot(tmp_path_factory.mktemp("var"), OUTPUT / "scaled-rasa-logs",
                     TANDEM_TRACKER_URL=pg_engine.url.render_as_string(hide_password=False),
                     TANDEM_ENDPOINTS=str(PROJECT_ROOT / "deploy" / "endpoints.scaled.yml"),
                     TANDEM_REDIS_DB=REDIS_DB, TANDEM_EVENTS_QUEUE=QUEUE) as running:
        yield running
    asyncio.run(_delete_queue())


def test_rasa_writes_the_conversation_to_postgres_and_analytics_reads_it(replica: Bot, pg_engine) -> None:
    reply = texts(replica.say("pg-track", "Hi, where is my order 10001?"))
    assert "10001" in reply
    events = read_events(tracker_engine(replica.settings.tracker_store), ["pg-track"])["pg-track"]
    user = next(e for e in events if e["event"] == "user")
    assert user["parse_data"]["intent"]["name"] == "track_order" and user["input_channel"] == "rest"
    assert any(e["event"] == "bot" and "10001" in e["text"] for e in events)

    result = etl.run(pg_engine, pg_engine, now=datetime.utcnow() + timedelta(hours=2))
    assert result.conversations == 1 and result.events == len(events)
    with pg_engine.connect() as conn:
        row = conn.execute(select(models.conversations)).mappings().one()
    assert (row["sender"], row["channel"], row["first_intent"], row["turns"]) == (
        "pg-track", "rest", "track_order", 1)

    published = asyncio.run(_drain_queue())
    assert {"user", "bot", "action"} <= {e["event"] for e in published if e.get("sender_id") == "pg-track"}


def test_a_conversation_another_replica_holds_waits_for_its_lock_in_redis(replica: Bot) -> None:
    """The test plays a second replica that is busy with the conversation: Rasa must wait for it."""
    locks = RedisLockStore(host="127.0.0.1", port=6379, db=int(REDIS_DB), key_prefix="tandem")
    held = locks.issue_ticket("busy-chat", lock_lifetime=120)
    answers: list[list[dict]] = []
    worker = threading.Thread(target=lambda: answers.append(replica.say("busy-chat", "hi")))
    worker.start()
    try:
        time.sleep(3)
        assert worker.is_alive() and replica.events("busy-chat") == []  # nothing done while locked
    finally:
        locks.finish_serving("busy-chat", held)
        worker.join(timeout=120)
    assert answers and "I'm Tandem" in texts(answers[0])
    assert any(e["event"] == "user" for e in replica.events("busy-chat"))


async def _drain_queue() -> list[dict]:
    """Every event published to the test's queue so far."""
    connection = await aio_pika.connect_robust(RABBITMQ)
    async with connection:
        queue = await (await connection.channel()).declare_queue(QUEUE, durable=True)
        found = []
        while (message := await queue.get(fail=False, timeout=10)) is not None:
            await message.ack()
            found.append(json.loads(message.body))
        return found


async def _delete_queue() -> None:
    connection = await aio_pika.connect_robust(RABBITMQ)
    async with connection:
        await (await connection.channel()).queue_delete(QUEUE)
