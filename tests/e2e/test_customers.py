"""The customer across channels and over time: history greetings, recommendations, other people's orders."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, time, timedelta

import pytest

from bot.store.identities import issue_login_token
from tests.e2e.conftest import WEBCHAT_SECRET, Bot, store_path, texts
from tests.unit.tracker_store import RasaTrackerStore, talk

pytestmark = pytest.mark.e2e

ALEX = "alex.morgan@example.com"


def logged_in(email: str) -> dict:
    """The metadata the shop's web chat sends for a signed-in customer."""
    return {"metadata": {"login_token": issue_login_token(email, WEBCHAT_SECRET, now=datetime.utcnow())}}


def test_a_returning_customer_on_a_second_channel_is_greeted_with_their_history(bot: Bot) -> None:
    two_days_ago = datetime.combine(date.today() - timedelta(days=2), time(9, 30))
    earlier = RasaTrackerStore(bot.settings.tracker_db)  # Alex's Telegram chat, as Rasa stored it
    earlier.save("telegram:100000001", talk(two_days_ago, "get_refund", channel="telegram", order_id=10002))
    earlier.close()
    reply = texts(bot.say("e2e-web-alex", "hello", **logged_in(ALEX)))
    assert "Welcome back, Alex!" in reply
    assert "on Telegram you asked about a refund for order 10002" in reply
    assert "Alex" not in texts(bot.say("e2e-web-stranger", "hello"))  # no login, no history


def cancellable_order_of_someone_else(bot: Bot) -> int:
    """An order that can still be cancelled and is not Alex's (earlier tests may cancel 10003)."""
    with sqlite3.connect(store_path(bot)) as db:
        return db.execute("SELECT min(id) FROM orders WHERE status IN ('pending', 'processing') "
                          "AND customer_id != 1").fetchone()[0]


def test_a_stranger_learns_nothing_about_someone_elses_order(bot: Bot) -> None:
    sender, order_id = "e2e-stranger", cancellable_order_of_someone_else(bot)
    with sqlite3.connect(store_path(bot)) as db:
        owner = db.execute("SELECT c.first_name, c.email FROM orders o JOIN customers c ON c.id = "
                           "o.customer_id WHERE o.id = ?", (order_id,)).fetchone()
    bot.say(sender, f"I want to cancel order {order_id}")
    reply = texts(bot.say(sender, "stranger@example.net"))
    assert f"doesn't match order {order_id}" in reply
    assert not any(private in reply for private in owner)
    earlier = texts(bot.say(sender, "have I contacted you before?"))
    assert not any(private in earlier for private in (*owner, str(order_id)))
    with sqlite3.connect(store_path(bot)) as db:
        assert db.execute("SELECT status FROM orders WHERE id = ?", (order_id,)).fetchone()[0] != "cancelled"


def test_a_recommendation_accepted_is_recorded_as_feedback(bot: Bot) -> None:
    sender = "e2e-suggest"
    replies = bot.say(sender, "can you recommend something from electronics?", **logged_in(ALEX))
    buttons = [b for reply in replies for b in reply.get("buttons", [])]
    take = next(b for b in buttons if b["payload"].startswith("/accept_recommendation"))
    chosen = json.loads(take["payload"].removeprefix("/accept_recommendation"))["product"]
    reply = texts(bot.say(sender, take["payload"]))
    assert chosen in reply
    with sqlite3.connect(store_path(bot)) as db:
        rows = db.execute("SELECT p.name, f.accepted, f.customer_id FROM recommendation_feedback f JOIN "
                          "products p ON p.id = f.product_id WHERE f.sender_id = ?", (sender,)).fetchall()
    assert rows == [(chosen, 1, 1)]
