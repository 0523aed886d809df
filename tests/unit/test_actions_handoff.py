"""Handing over: the ticket, the honest wait, pausing the bot, the follow-up when nobody is online."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from rasa_sdk.events import ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.asks import AskForFollowUp, AskForFollowUpEmail, AskForFollowUpPhone, AskForOrderId
from actions.follow_up import ActionSubmitFollowUp, ValidateFollowUpForm, follow_up_kind
from actions.handoff import ActionHandoffToHuman, wait_text
from bot.store.tickets import Wait

ANGRY = {"decision": "escalate", "frustration": 0.81, "score": 0.96, "priority": 1, "emotion": "anger",
         "reasons": [{"name": "frustration", "value": 0.96},
                     {"name": "sensitive_topic", "value": ["payment_issue"]}]}


def ticket_rows(store) -> list[dict]:
    rows = store.rows("SELECT id, sender_id, channel, reason, reasons, priority, frustration, customer_id, "
                      "summary, status, follow_up, contact FROM handoff_tickets ORDER BY id")
    keys = ("id", "sender_id", "channel", "reason", "reasons", "priority", "frustration", "customer_id",
            "summary", "status", "follow_up", "contact")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def agent_online(store, name: str = "ana") -> None:
    with store.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO agents (username, display_name, role, presence, last_seen_at) "
                             "VALUES (?, ?, 'agent', 'online', ?)", (name, name.title(), datetime.utcnow()))


def test_with_an_agent_online_the_bot_opens_a_ticket_quotes_the_wait_and_pauses(store, tracker, run_action,
                                                                                said) -> None:
    agent_online(store)
    messages, events = run_action(ActionHandoffToHuman(), tracker(
        {"escalation": ANGRY, "customer_id": 1.0, "order_id": "10001"}, intent="payment_issue",
        earlier_intents=["track_order"], sender_id="web-7f3a",
        after=[{"event": "slot", "timestamp": None, "name": "order_id", "value": "10001"}]))
    (ticket,) = ticket_rows(store)
    assert (ticket["sender_id"], ticket["channel"], ticket["priority"], ticket["customer_id"]) == (
        "web-7f3a", "rest", 1, 1)
    assert ticket["reason"] == "frustration, sensitive_topic"
    assert json.loads(ticket["reasons"]) == ANGRY["reasons"]
    assert ticket["frustration"] == pytest.approx(0.81)
    assert "track order, payment issue" in ticket["summary"] and "order 10001" in ticket["summary"]
    assert said(messages) == (
        f"I've passed this conversation to our customer-service team (ticket {ticket['id']}) with everything "
        "you've told me, so you won't need to repeat it. A person will reply right here in a moment.")
    assert events == [SlotSet("handoff_ticket", float(ticket["id"])), ConversationPaused()]


def test_asking_again_keeps_the_one_ticket(store, tracker, run_action) -> None:
    agent_online(store)
    for _ in range(2):
        run_action(ActionHandoffToHuman(), tracker({}, intent="contact_human_agent", sender_id="web-1"))
    assert len(ticket_rows(store)) == 1


def test_an_explicit_request_without_a_policy_decision_is_recorded_as_such(store, tracker,
                                                                            run_action) -> None:
    run_action(ActionHandoffToHuman(), tracker({}, intent="contact_human_agent"))
    (ticket,) = ticket_rows(store)
    assert json.loads(ticket["reasons"]) == [{"name": "explicit_request", "value": "contact_human_agent"}]
    assert (ticket["priority"], ticket["customer_id"]) == (3, None)


@pytest.mark.parametrize(("channel", "buttons"), [("rest", ["Email me", "Call me back"]), ("voice", [])])
def test_with_nobody_online_the_customer_is_offered_an_email_or_a_call(store, tracker, run_action, channel,
                                                                      buttons) -> None:
    messages, events = run_action(ActionHandoffToHuman(), tracker({"escalation": ANGRY}, channel=channel))
    (ticket,) = ticket_rows(store)
    (message,) = messages
    assert message["text"].startswith("Nobody from our team is")
    assert f"ticket {ticket['id']}" in message["text"] and "email you, or call you back" in message["text"]
    assert [b["title"] for b in message.get("buttons", [])] == buttons
    assert events == [SlotSet("handoff_ticket", float(ticket["id"]))]  # not paused: nobody would answer


def test_handing_over_with_the_store_down_gives_the_phone_number(store_down, tracker, run_action,
                                                                 said) -> None:
    messages, events = run_action(ActionHandoffToHuman(), tracker({}, intent="contact_human_agent"))
    assert "call us on 0800 123 4567" in said(messages) and events == []


@pytest.mark.parametrize(("wait", "text"), [
    (Wait(0, 2, 0), "in a moment"),
    (Wait(1, 1, 6), "in about 6 minutes (1 customer ahead of you)"),
    (Wait(5, 2, 12), "in about 12 minutes (5 customers ahead of you)"),
])
def test_wait_text(wait, text) -> None:
    assert wait_text(wait) == text


# --- follow-up ------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "kind"), [("email", "email"), ("E-mail me please", "email"),
                                             ("callback", "callback"), ("ring me", "callback"),
                                             ("either", None), ("call or email", None), (None, None)])
def test_follow_up_kind(value, kind) -> None:
    assert follow_up_kind(value) == kind


@pytest.mark.asyncio
@pytest.mark.parametrize(("choice", "slots"), [("email", ["follow_up", "email"]),
                                               ("callback", ["follow_up", "phone"]),
                                               (None, ["follow_up", "email"])])
async def test_the_form_asks_for_the_contact_the_choice_needs(tracker, domain, choice, slots) -> None:
    required = await ValidateFollowUpForm().required_slots(
        ["follow_up", "email", "phone"], CollectingDispatcher(), tracker({"follow_up": choice}), domain)
    assert required == slots


@pytest.mark.parametrize(("slot", "value", "expected", "complaint"), [
    ("follow_up", "please call me", "callback", None),
    ("follow_up", "pigeon", None, "Sorry, was that an email or a call back?"),
    ("phone", "07700 900 123", "07700900123", None),
    ("phone", "12", None, "That doesn't look like a phone number."),
    ("email", "Sam@Example.org", "sam@example.org", None),
    ("email", "sam at example", None, "'sam at example' doesn't look like an email address."),
])
def test_follow_up_values_are_validated(tracker, run_action, slot, value, expected, complaint) -> None:
    after = [{"event": "slot", "timestamp": None, "name": slot, "value": value}]
    slots = {slot: value} if slot != "phone" else {"follow_up": "callback", "phone": value}
    messages, events = run_action(ValidateFollowUpForm(),
                                  tracker(slots, after=after, active_loop="follow_up_form"))
    assert SlotSet(slot, expected) in events
    assert [m["text"] for m in messages if complaint and m["text"].startswith(complaint)] == (
        [m["text"] for m in messages] if complaint else [])


@pytest.mark.parametrize(("slots", "kind", "contact", "confirmation"), [
    ({"follow_up": "email", "email": "alex.morgan@example.com"}, "email", "alex.morgan@example.com",
     "we'll email you at a***n@example.com"),
    ({"follow_up": "callback", "phone": "+447700900001"}, "callback", "+447700900001",
     "we'll call you on the number ending 0001"),
])
def test_the_follow_up_is_recorded_on_the_conversations_ticket(store, tracker, run_action, said, slots, kind,
                                                                contact, confirmation) -> None:
    run_action(ActionHandoffToHuman(), tracker({"escalation": ANGRY}, sender_id="tg-1"))
    messages, events = run_action(ActionSubmitFollowUp(), tracker(slots, intent="inform", sender_id="tg-1"))
    (ticket,) = ticket_rows(store)
    assert (ticket["follow_up"], ticket["contact"]) == (kind, contact)
    assert confirmation in said(messages) and f"Ticket {ticket['id']}" in said(messages)
    assert events == [SlotSet("handoff_ticket", float(ticket["id"])), SlotSet("follow_up", None)]


def test_asking_for_a_follow_up_directly_opens_a_ticket(store, tracker, run_action) -> None:
    run_action(ActionSubmitFollowUp(), tracker({"follow_up": "email", "email": "x@example.com"}))
    (ticket,) = ticket_rows(store)
    assert (ticket["follow_up"], ticket["status"]) == ("email", "open")


@pytest.mark.parametrize(("action", "name", "start"), [
    (AskForFollowUp, "action_ask_follow_up", "Should we email you, or call you back?"),
    (AskForFollowUpEmail, "action_ask_follow_up_form_email", "Which email address"),
    (AskForFollowUpPhone, "action_ask_follow_up_form_phone", "Which number should we call?"),
])
def test_follow_up_questions(tracker, run_action, said, domain, action, name, start) -> None:
    assert action().name() == name and name in domain["actions"]
    messages, _ = run_action(action(), tracker())
    assert said(messages).startswith(start)


# --- de-escalation --------------------------------------------------------------------------


def test_a_deescalated_turn_opens_with_an_acknowledgement_once(tracker, run_action, said) -> None:
    calm_down = {"decision": "deescalate", "emotion": "sadness", "reasons": []}
    messages, _ = run_action(AskForOrderId(), tracker({"escalation": calm_down}))
    assert said(messages).startswith(
        "I'm really sorry this happened. Let's see what I can do. What's the order")
    already_answered = [{"event": "bot", "timestamp": None, "text": "first reply"}]
    messages, _ = run_action(AskForOrderId(), tracker({"escalation": calm_down}, after=already_answered))
    assert said(messages).startswith("What's the order number?")
    messages, _ = run_action(AskForOrderId(), tracker({"escalation": {**calm_down, "decision": "none"}}))
    assert said(messages).startswith("What's the order number?")
