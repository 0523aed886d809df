"""The customer's history on PostgreSQL: Rasa's tracker store and the retail store in one real database."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import select
from sqlalchemy.exc import InternalError

from bot.history import last_contact_text, recent_timeline_text, timeline
from bot.store import identities, verification
from bot.store.db import session_scope
from bot.store.identities import ChannelId
from bot.store.models import OutboxMessage, Refund
from bot.store.seed import seed_demo
from bot.tracker_events import read_events, tracker_engine
from tests.conftest import SMALL_SIZES, SMALL_TODAY
from tests.unit.tracker_store import domain, talk

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 2, 12, 0)  # SMALL_TODAY, a Monday
ALEX = "alex.morgan@example.com"
ALEX_TELEGRAM, ALEX_SLACK = "telegram:100000001", "slack:U0ALEXMORG"


@pytest.fixture(scope="module")
def pg(pg_engine):
    """The small demo store and Rasa's events table (written by Rasa itself) in one PostgreSQL database."""
    seed_demo(pg_engine, today=SMALL_TODAY, force=True, **SMALL_SIZES)
    url = pg_engine.url.render_as_string(hide_password=False)
    rasa = SQLTrackerStore(domain(), dialect="postgresql", host=url, db=pg_engine.url.database)
    conversations = {
        ALEX_TELEGRAM: talk(datetime(2026, 2, 25, 10), "get_refund", channel="telegram", order_id=10002,
                            customer_id=1),
        ALEX_SLACK: talk(datetime(2026, 2, 20, 10), "track_order", channel="slack", order_id=10001),
        "web-alex": talk(datetime(2026, 2, 27, 16), "check_invoice", channel="socketio", customer_id=1),
    }
    for sender_id, events in conversations.items():
        asyncio.run(rasa.save(DialogueStateTracker.from_dict(sender_id, events, domain().slots)))
    rasa.engine.dispose()
    with session_scope(pg_engine) as s:
        identities.link_conversation(s, "web-alex", 1, datetime(2026, 2, 27, 16))
        s.add(Refund(order_id=10002, amount_cents=2500, reason="broken", status="approved",
                     requested_at=datetime(2026, 2, 25, 11), updated_at=datetime(2026, 2, 26, 9)))
    tracker = tracker_engine(url)
    yield pg_engine, tracker
    tracker.dispose()


def test_events_read_back_from_postgres_read_only(pg) -> None:
    _, tracker = pg
    found = read_events(tracker, [ALEX_TELEGRAM, ALEX_SLACK, "nobody", "'; DROP TABLE events; --"])
    assert sorted(found) == [ALEX_SLACK, ALEX_TELEGRAM]
    (said,) = [e for e in found[ALEX_TELEGRAM] if e["event"] == "user"]
    assert said["parse_data"]["intent"]["name"] == "get_refund" and said["input_channel"] == "telegram"
    recent = read_events(tracker, [ALEX_TELEGRAM, ALEX_SLACK], since=datetime(2026, 2, 24))
    assert list(recent) == [ALEX_TELEGRAM]
    with tracker.connect() as conn, pytest.raises(InternalError, match="read-only"):
        conn.exec_driver_sql("DELETE FROM events")


def test_the_history_on_postgres(pg) -> None:
    store, tracker = pg
    with session_scope(store) as s:
        history = timeline(s, tracker, 1, now=NOW)
        text = recent_timeline_text(s, 1, now=NOW, tracker=tracker)
    talks = [e.session.sender_id for e in history.entries if e.session is not None]
    assert talks == ["web-alex", ALEX_TELEGRAM, ALEX_SLACK] and history.conversations_complete
    assert "refund of €25.00 for order 10002 was approved" in text
    with session_scope(store) as s:
        telegram_only = timeline(s, tracker, 1, now=datetime(2026, 2, 26, 12))
    assert last_contact_text(telegram_only, datetime(2026, 2, 26, 12)) == (
        "Yesterday on Telegram you asked about a refund for order 10002; it was approved earlier today.")


def test_codes_on_postgres(pg) -> None:
    store, _ = pg
    requester, sender_id = ChannelId("telegram", "555000111"), "telegram:555000111"
    with session_scope(store) as s:
        assert verification.request_code(s, requester, ALEX, NOW)
    with session_scope(store) as s:
        (body,) = s.execute(select(OutboxMessage.body)).scalars()
    code = body.split(" is ")[1][:6]
    wrong = "000000" if code != "000000" else "111111"
    with session_scope(store) as s:
        assert verification.confirm_code(s, requester, wrong, sender_id=sender_id, now=NOW).tries_left == 4
    with session_scope(store) as s:
        result = verification.confirm_code(s, requester, code, sender_id=sender_id,
                                           now=NOW + timedelta(minutes=1))
        assert result == verification.Confirmation("ok", 1)
        assert identities.resolve(s, requester).id == 1
