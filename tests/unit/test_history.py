"""The timeline: a real Rasa tracker store read back, sessions given only to their customer, the texts."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from bot import history
from bot.history import last_contact_text, recent_timeline_text, relative_day, timeline
from bot.store import identities
from bot.store.db import session_scope
from bot.store.models import HandoffTicket, Refund
from bot.tracker_events import read_events, tracker_engine
from tests.unit.tracker_store import RasaTrackerStore, talk, ts

NOW = datetime.combine(date.today(), time(12, 0))  # the seeded store is anchored on today
UNREACHABLE = "postgresql://postgres@127.0.0.1:1/nothing"
ALEX_TELEGRAM, ALEX_SLACK = "telegram:100000001", "slack:U0ALEXMORG"
ALEX_PHONE = "twilio_voice:+447700900001"


def days_ago(days: float, hour: int = 10) -> datetime:
    return datetime.combine(NOW.date() - timedelta(days=days), time(hour, 0))


@pytest.fixture
def tracker(tmp_path: Path) -> Iterator[RasaTrackerStore]:
    store = RasaTrackerStore(tmp_path / "tracker.db")
    yield store
    store.close()


def unverified_telegram(store) -> tuple[str, int]:
    """B's unverified Telegram chat: (sender id, customer id)."""
    external, customer_id = store.rows("SELECT external_id, customer_id FROM identities WHERE "
                                       "channel = 'telegram' AND NOT verified AND customer_id != 1 "
                                       "ORDER BY id LIMIT 1")[0]
    return identities.channel_sender("telegram", external), customer_id


def alex_everywhere(store, tracker: RasaTrackerStore) -> str:
    """Alex's conversations on four channels, and others' that must not join them; B's unverified id."""
    b_telegram, b_id = unverified_telegram(store)
    with session_scope(store.engine) as s:
        identities.link_conversation(s, "web-alex", 1, days_ago(8))
        identities.link_conversation(s, "web-shared", 1, days_ago(20))
    tracker.save(ALEX_TELEGRAM, talk(days_ago(5), "get_refund", channel="telegram", order_id=10002,
                                     customer_id=1))
    tracker.save(ALEX_SLACK, talk(days_ago(12), "track_order", channel="slack", order_id=10001))
    tracker.save("web-alex", talk(days_ago(8), "check_invoice", channel="socketio", order_id=10002,
                                  customer_id=1))
    tracker.save("web-shared", talk(days_ago(20), "complaint", channel="socketio", customer_id=b_id))
    tracker.save(ALEX_PHONE, talk(days_ago(200), "delivery_period", channel="twilio_voice"))  # too old
    tracker.save(b_telegram, talk(days_ago(1), "cancel_order", channel="telegram", order_id=10001))
    return b_telegram


def approve_refund(store, order_id: int, requested: datetime, approved: datetime) -> None:
    with session_scope(store.engine) as s:
        s.add(Refund(order_id=order_id, amount_cents=1999, reason="broken", status="approved",
                     requested_at=requested, updated_at=approved))


# --- reading the tracker store --------------------------------------------------------------


def test_read_events_reads_what_rasa_wrote(tracker) -> None:
    tracker.save(ALEX_TELEGRAM, talk(days_ago(5), "get_refund", channel="telegram", order_id=10002))
    tracker.save(ALEX_SLACK, talk(days_ago(1), "track_order", channel="slack"))
    engine = tracker_engine(tracker.path)
    found = read_events(engine, [ALEX_TELEGRAM, "nobody", "x'); DROP TABLE events; --"])
    assert list(found) == [ALEX_TELEGRAM]
    events = found[ALEX_TELEGRAM]
    assert [e["event"] for e in events][:4] == ["action", "session_started", "action", "user"]
    assert events[3]["parse_data"]["intent"]["name"] == "get_refund"
    assert events[3]["input_channel"] == "telegram"
    assert read_events(engine, [ALEX_TELEGRAM, ALEX_SLACK], since=days_ago(2)).keys() == {ALEX_SLACK}
    assert read_events(engine, []) == {}
    assert len(read_events(engine, [ALEX_SLACK])[ALEX_SLACK]) == 7  # the table is intact


def test_read_events_is_read_only(tracker) -> None:
    tracker.save(ALEX_TELEGRAM, talk(days_ago(5), "greet", channel="telegram"))
    with tracker_engine(tracker.path).connect() as conn, pytest.raises(OperationalError, match="readonly"):
        conn.exec_driver_sql("DELETE FROM events")


def test_no_tracker_store_yet_reads_as_empty(tmp_path) -> None:
    missing = tmp_path / "not-yet" / "tracker.db"
    assert read_events(tracker_engine(missing), [ALEX_TELEGRAM]) == {}
    assert not missing.exists()
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert read_events(tracker_engine(empty), [ALEX_TELEGRAM]) == {}


def test_rows_that_are_not_json_objects_are_skipped(tracker) -> None:
    tracker.save(ALEX_TELEGRAM, talk(days_ago(5), "greet", channel="telegram"))
    with sqlite3.connect(tracker.path) as conn:
        conn.executemany("INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)",
                         [(ALEX_TELEGRAM, "user", ts(NOW), data) for data in ("{not json", "[1]", None)])
    assert len(read_events(tracker_engine(tracker.path), [ALEX_TELEGRAM])[ALEX_TELEGRAM]) == 7


# --- whose conversations ------------------------------------------------------------------


def test_the_customers_conversations_on_every_channel_and_nobody_elses(store, tracker) -> None:
    b_telegram = alex_everywhere(store, tracker)
    tracker.save("web-nobody", talk(days_ago(3), "greet", channel="socketio", customer_id=1))  # never linked
    engine = tracker_engine(tracker.path)
    with session_scope(store.engine) as s:
        alex = history.customer_conversations(s, engine, 1, now=NOW, since=NOW - timedelta(days=90))
        _, b_id = unverified_telegram(store)
        b = history.customer_conversations(s, engine, b_id, now=NOW, since=NOW - timedelta(days=90))
    assert [(t.sender_id, t.channel, t.topics) for t in alex] == [
        (ALEX_TELEGRAM, "telegram", ("get_refund",)),
        ("web-alex", "socketio", ("check_invoice",)),
        (ALEX_SLACK, "slack", ("track_order",)),
    ]
    assert all(t.sender_id != b_telegram for t in alex) and b == []  # an unverified id joins nobody


def test_a_web_chat_on_another_channels_sender_id_is_not_the_customers(store, tracker) -> None:
    """A web client that picks Alex's Telegram chat id as its sender id does not join Alex's history."""
    tracker.save(ALEX_TELEGRAM, talk(days_ago(2), "complaint", channel="socketio"))
    with session_scope(store.engine) as s:
        found = history.customer_conversations(s, tracker_engine(tracker.path), 1, now=NOW,
                                               since=NOW - timedelta(days=90))
    assert found == []


# --- the timeline and its texts -------------------------------------------------------------


def test_the_timeline_merges_both_stores_newest_first(store, tracker) -> None:
    alex_everywhere(store, tracker)
    approve_refund(store, 10002, days_ago(4), days_ago(3))
    with session_scope(store.engine) as s:
        s.add(HandoffTicket(sender_id=ALEX_TELEGRAM, channel="telegram", customer_id=1, reason="complaint",
                            priority=2, summary="-", status="closed", created_at=days_ago(6)))
        entries = timeline(s, tracker_engine(tracker.path), 1, now=NOW).entries
    times = [e.at for e in entries]
    assert times == sorted(times, reverse=True) and entries[0].at <= NOW
    kinds = {e.kind for e in entries}
    assert kinds == {"conversation", "order", "refund", "ticket"}
    texts = [e.text for e in entries]
    assert f"{days_ago(3):%Y-%m-%d %H:%M} UTC, refund of €19.99 for order 10002 was approved" in texts
    assert any(t.endswith("handed to our team (ticket 1, complaint, closed)") for t in texts)
    assert any(t.endswith("order 10001 was shipped") for t in texts)
    talk_line = ", Telegram: get refund (order 10002); resolved after 1 turn, mood neutral → neutral"
    assert any(t.endswith(talk_line) for t in texts)


def test_last_contact_names_the_day_the_channel_the_topic_and_what_happened_since(store, tracker) -> None:
    alex_everywhere(store, tracker)
    approve_refund(store, 10002, days_ago(4), days_ago(3))
    with session_scope(store.engine) as s:
        text = last_contact_text(timeline(s, tracker_engine(tracker.path), 1, now=NOW), NOW)
    assert text == (f"Last {days_ago(5):%A} on Telegram you asked about a refund for order 10002; "
                    f"it was approved on {days_ago(3):%A}.")


def test_the_timeline_ends_at_now(store, tracker) -> None:
    alex_everywhere(store, tracker)
    then = days_ago(6)
    with session_scope(store.engine) as s:
        history = timeline(s, tracker_engine(tracker.path), 1, now=then)
    assert history.entries and all(e.at <= then for e in history.entries)
    opening = relative_day(days_ago(8), then, leading=True)
    assert last_contact_text(history, then) == (f"{opening} in our web chat you asked about the invoice for "
                                                "order 10002.")


@pytest.mark.parametrize(("name", "sender", "conversation", "expected"), [
    ("the order moved on since", ALEX_SLACK,
     talk(days_ago(3), "track_order", channel="slack", order_id=10001),
     "on Slack you asked about the delivery of order 10001; it was shipped yesterday."),
    ("handed over, nothing since", ALEX_TELEGRAM,
     talk(days_ago(0, 9), "complaint", channel="telegram",
          extra=[{"event": "action", "name": "action_handoff_to_human"}]),
     "on Telegram you made a complaint and we passed it to our team."),
    ("no topic, no order", ALEX_PHONE, talk(days_ago(2), "greet", channel="twilio_voice"),
     "on the phone you got in touch with us."),
    ("an order that is not the customer's: no news of it", ALEX_SLACK,
     talk(days_ago(3), "track_refund", channel="slack", order_id=10999),
     "on Slack you asked about the refund for order 10999."),
])
def test_last_contact_sentences(store, tracker, name, sender, conversation, expected) -> None:
    tracker.save(sender, conversation)
    with session_scope(store.engine) as s:
        text = last_contact_text(timeline(s, tracker_engine(tracker.path), 1, now=NOW), NOW)
    started = datetime.utcfromtimestamp(conversation[0]["timestamp"])
    assert text == f"{relative_day(started, NOW, leading=True)} {expected}", name


@pytest.mark.parametrize(("value", "plain", "leading"), [
    (NOW - timedelta(hours=3), "earlier today", "Earlier today"),
    (NOW + timedelta(minutes=5), "earlier today", "Earlier today"),  # a clock a little ahead
    (NOW - timedelta(days=1), "yesterday", "Yesterday"),
    (NOW - timedelta(days=3), f"on {NOW - timedelta(days=3):%A}", f"Last {NOW - timedelta(days=3):%A}"),
    (NOW - timedelta(days=6), f"on {NOW - timedelta(days=6):%A}", f"Last {NOW - timedelta(days=6):%A}"),
])
def test_relative_days(value, plain, leading) -> None:
    assert (relative_day(value, NOW), relative_day(value, NOW, leading=True)) == (plain, leading)


def test_dates_beyond_a_week() -> None:
    now = datetime(2026, 3, 20, 12)
    assert relative_day(datetime(2026, 3, 3, 9), now) == "on 3 March"
    assert relative_day(datetime(2026, 3, 3, 9), now, leading=True) == "On 3 March"
    assert relative_day(datetime(2025, 12, 24, 9), now) == "on 24 December 2025"


def test_recent_timeline_for_a_ticket(store, tracker) -> None:
    alex_everywhere(store, tracker)
    tracker.save("web-now", talk(NOW - timedelta(minutes=5), "payment_issue", channel="socketio",
                                 customer_id=1))
    with session_scope(store.engine) as s:
        identities.link_conversation(s, "web-now", 1, NOW)
        text = recent_timeline_text(s, 1, now=NOW, tracker=tracker_engine(tracker.path),
                                    current_sender_id="web-now", limit=20)
        assert recent_timeline_text(s, None, now=NOW) == ""
    lines = text.splitlines()
    assert lines[0] == "Recent history (newest first):" and all(line.startswith("- ") for line in lines[1:])
    assert "payment issue" not in text  # the conversation being handed over is not its own history
    assert "get refund (order 10002)" in text and "check invoice" in text and "track order" in text
    assert "delivery period" not in text  # 200 days ago


def test_recent_timeline_stays_within_its_window(store, tracker) -> None:
    tracker.save(ALEX_SLACK, talk(days_ago(12), "track_order", channel="slack", order_id=10001))
    with session_scope(store.engine) as s:
        week = recent_timeline_text(s, 1, now=NOW, tracker=tracker_engine(tracker.path),
                                    window=timedelta(days=7))
        month = recent_timeline_text(s, 1, now=NOW, tracker=tracker_engine(tracker.path))
    assert "track order" not in week and "track order (order 10001)" in month


def test_an_unreachable_tracker_store_leaves_the_store_entries(store) -> None:
    with session_scope(store.engine) as s:
        result = timeline(s, tracker_engine(UNREACHABLE), 1, now=NOW)
        text = recent_timeline_text(s, 1, now=NOW, tracker=tracker_engine(UNREACHABLE))
    assert not result.conversations_complete and result.entries
    assert {e.kind for e in result.entries} == {"order"}
    assert text.endswith("- (earlier conversations could not be read from the tracker store)")
    assert last_contact_text(result, NOW) is None


def test_an_empty_store_and_tracker_give_an_empty_history(engine, tmp_path) -> None:
    with session_scope(engine) as s:
        result = timeline(s, tracker_engine(tmp_path / "none.db"), 1, now=NOW)
        assert recent_timeline_text(s, 1, now=NOW, tracker=tracker_engine(tmp_path / "none.db")) == ""
    assert result == history.Timeline((), True) and last_contact_text(result, NOW) is None
