"""Whole conversations over REST against the running Rasa and action servers, checked against both stores."""

from __future__ import annotations

import pytest

from bot.formatting import day
from bot.store import queries
from bot.store.db import make_engine, session_scope
from tests.e2e.conftest import Bot, texts

pytestmark = pytest.mark.e2e

ALEX = "alex.morgan@example.com"


def order(bot: Bot, order_id: int) -> queries.OrderView:
    with session_scope(make_engine(bot.settings.db_url)) as session:
        found = queries.get_order(session, order_id)
    assert found is not None
    return found


def user_intents(bot: Bot, sender: str) -> list[str]:
    return [e["parse_data"]["intent"]["name"] for e in bot.events(sender) if e["event"] == "user"]


def actions(bot: Bot, sender: str) -> list[str]:
    return [e["name"] for e in bot.events(sender) if e["event"] == "action"]


def test_tracking_an_existing_order_reads_its_real_status(bot: Bot) -> None:
    shipped = order(bot, 10001)
    reply = texts(bot.say("e2e-track", "Hi, where is my order 10001?"))
    assert "10001" in reply and shipped.carrier in reply
    assert shipped.tracking_number in reply and day(shipped.expected_delivery) in reply

    events = bot.events("e2e-track")
    user = [e for e in events if e["event"] == "user"][0]
    assert user["parse_data"]["intent"]["name"] == "track_order"
    assert {"entity": "order_id", "value": "10001"}.items() <= user["parse_data"]["entities"][0].items()
    assert "action_track_order" in actions(bot, "e2e-track")
    assert any(e["event"] == "bot" and "10001" in e["text"] for e in events)


def test_tracking_an_order_that_does_not_exist(bot: Bot) -> None:
    reply = texts(bot.say("e2e-missing", "where's my parcel, order number 29999"))
    assert "can't find an order 29999" in reply and "What's the order number?" in reply
    assert "action_track_order" not in actions(bot, "e2e-missing")
    assert "left our warehouse" in texts(bot.say("e2e-missing", "sorry, it's 10001"))


def test_cancelling_an_order_asks_email_and_confirmation_then_cancels_it(bot: Bot) -> None:
    assert order(bot, 10003).status in queries.CANCELLABLE_STATUSES
    assert "email" in texts(bot.say("e2e-cancel", "I want to cancel order 10003"))
    confirm = bot.say("e2e-cancel", ALEX)
    assert "Shall I cancel order 10003" in texts(confirm)
    assert [b["payload"] for b in confirm[-1]["buttons"]] == ["/affirm", "/deny"]
    assert "order 10003 is cancelled" in texts(bot.say("e2e-cancel", "yes please"))
    assert order(bot, 10003).status == "cancelled"
    assert actions(bot, "e2e-cancel")[-2:] == ["action_cancel_order", "action_listen"]


def test_refund_form_survives_a_digression(bot: Bot) -> None:
    delivered = order(bot, 10002)
    assert delivered.status == "delivered"
    sender = "e2e-refund"
    assert "email" in texts(bot.say(sender, "I'd like to return something from order 10002"))
    ask_item = bot.say(sender, f"it's {ALEX}")
    assert "Which item" in texts(ask_item)
    assert delivered.items[0].name in [b["title"] for b in ask_item[-1]["buttons"]]

    digression = texts(bot.say(sender, "how long does delivery usually take?"))
    assert "working days" in digression and "Which item" in digression

    assert "reason" in texts(bot.say(sender, delivered.items[0].name))
    done = texts(bot.say(sender, "it arrived broken, the box was crushed"))
    assert "is registered" in done and delivered.items[0].name in done
    assert user_intents(bot, sender)[2] == "delivery_period"
    with session_scope(make_engine(bot.settings.db_url)) as session:
        refunds = queries.get_refunds(session, 10002)
    assert [(r.item_name, r.status) for r in refunds] == [(delivered.items[0].name, "requested")]
    assert "crushed" in refunds[0].reason


VAGUE = ["umm well", "hmm", "the thing", "is it", "whatever", "and the other one?", "what about it",
         "so yeah", "hm ok but", "the one from before"]


def test_a_vague_message_takes_the_two_stage_fallback(bot: Bot) -> None:
    vague = next((text for text in VAGUE if bot.parse(text)["intent"]["name"] == "nlu_fallback"), None)
    assert vague is not None, "the NLU is sure about every vague message: FallbackClassifier never fires"
    sender = "e2e-fallback"
    first = bot.say(sender, vague)
    assert "not sure I understood" in texts(first)
    if first[-1].get("buttons"):  # stage one: "Did you want to ...?" -> the customer says no
        assert [b["title"] for b in first[-1]["buttons"]] == ["Yes", "No"]
        assert "say that in other words" in texts(bot.say(sender, first[-1]["buttons"][1]["payload"]))
    assert "left our warehouse" in texts(bot.say(sender, "where is my order 10001"))
    assert user_intents(bot, sender)[0] == "nlu_fallback"
    assert "action_two_stage_fallback" in actions(bot, sender)
    assert "action_track_order" in actions(bot, sender)


def test_emotion_and_entities_come_back_from_parse_and_reach_the_tracker(bot: Bot) -> None:
    parsed = bot.parse("This is the THIRD time order 10001 is late, I am absolutely furious!")
    assert parsed["emotion"]["label"] == "anger" and parsed["emotion"]["sentiment"] < -0.5
    assert {(e["entity"], e["value"], e["extractor"]) for e in parsed["entities"]} == {
        ("order_id", "10001", "TandemTransformerNLU")}
    bot.say("e2e-emotion", "thank you so much, you've been brilliant!")
    user = [e for e in bot.events("e2e-emotion") if e["event"] == "user"][-1]
    assert user["parse_data"]["intent"]["name"] == "thank"
    feeling = user["parse_data"]["emotion"]
    assert feeling["label"] == "joy" and feeling["sentiment"] > 0.5
