"""The session start, previous_contact and account linking, on a real store and a real Rasa tracker store."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.history import ActionPreviousContact, ActionResumePreviousContact, ActionSessionStart
from actions.linking import (
    ActionLinkAccount,
    ActionStartLinkAccount,
    AskForLinkEmail,
    AskForVerificationCode,
    ValidateLinkAccountForm,
)
from bot.store.identities import issue_login_token
from bot.store.verification import Confirmation
from tests.unit.conftest import listen, user_event
from tests.unit.tracker_store import RasaTrackerStore, talk

NOW = datetime.combine(date.today(), time(12, 0))
THREE_DAYS_AGO = datetime.combine(date.today() - timedelta(days=3), time(10, 0))
SECRET = "shop-secret"
ALEX = "alex.morgan@example.com"
ALEX_TELEGRAM, ALEX_SLACK = "telegram:100000001", "slack:U0ALEXMORG"
UNKNOWN = ("I can't see earlier conversations here because this chat isn't linked to a customer account yet. "
           "Tell me the order number or what it was about, or say \"link my account\" and I'll email you a "
           "code to link it.")
STORE_UNAVAILABLE = ("I can't reach our order system right now. Please try again in a few minutes, "
                     "or ask for a person from our team.")
ACTIONS = (ActionSessionStart, ActionPreviousContact, ActionResumePreviousContact, ActionStartLinkAccount,
           ActionLinkAccount, AskForLinkEmail, AskForVerificationCode, ValidateLinkAccountForm)


@pytest.fixture
def rasa_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RasaTrackerStore]:
    """The tracker store the actions read (TANDEM_TRACKER_DB), with Alex's refund talk on Telegram."""
    tracker_store = RasaTrackerStore(tmp_path / "tracker.db")
    tracker_store.save(ALEX_TELEGRAM, talk(THREE_DAYS_AGO, "get_refund", channel="telegram", order_id=10002,
                                           customer_id=1))
    monkeypatch.setenv("TANDEM_TRACKER_DB", str(tracker_store.path))
    monkeypatch.setenv("TANDEM_WEBCHAT_SECRET", SECRET)
    yield tracker_store
    tracker_store.close()


def chat(channel: str = "telegram", sender: str = ALEX_TELEGRAM, *, intent: str = "previous_contact",
         slots: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None,
         earlier: list[dict[str, Any]] | None = None) -> Tracker:
    """A conversation whose latest message came on `channel` from `sender`, with `metadata`."""
    latest = {**user_event(intent, channel=channel), "metadata": metadata or {}}
    events = [*(earlier or []), listen(), latest]
    return Tracker(sender, dict(slots or {}), latest["parse_data"], events, False, None, {}, "action_listen")


def session_start(sender: str, *, earlier: list[dict[str, Any]],
                  slots: dict[str, Any] | None = None) -> Tracker:
    """The tracker Rasa sends to action_session_start: the previous session's events, no new message yet."""
    return Tracker(sender, dict(slots or {}), {}, earlier, False, None, {}, "action_listen")


def slot_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def validate(slot: str, value: Any, tracker: Tracker, domain: dict) -> tuple[dict, list[str]]:
    dispatcher = CollectingDispatcher()
    slots = getattr(ValidateLinkAccountForm(), f"validate_{slot}")(value, dispatcher, tracker, domain)
    return slots, [m["text"] for m in dispatcher.messages]


def required(tracker: Tracker, domain: dict) -> list[str]:
    form = ValidateLinkAccountForm()
    slots = form.domain_slots(domain)
    return asyncio.run(form.required_slots(slots, CollectingDispatcher(), tracker, domain))


# --- wiring ---------------------------------------------------------------------------------


def test_every_action_is_in_the_domain(domain) -> None:
    assert {action().name() for action in ACTIONS} <= set(domain["actions"])
    assert domain["forms"]["link_account_form"]["required_slots"] == ["link_email", "verification_code"]
    assert domain["slots"]["customer_id"]["type"] == "float"
    assert domain["slots"]["customer_id"]["mappings"] == [{"type": "custom"}]
    assert "utter_previous_contact" not in domain["responses"]


# --- session start --------------------------------------------------------------------------


def test_a_returning_customer_is_identified_and_greeted_with_their_last_contact(
        store, rasa_store, run_action, said) -> None:
    earlier = [*talk(THREE_DAYS_AGO, "get_refund", channel="telegram", order_id=10002, customer_id=1),
               {"event": "slot", "timestamp": None, "name": "email", "value": ALEX},
               {"event": "slot", "timestamp": None, "name": "customer_id", "value": 5.0}]
    messages, events = run_action(ActionSessionStart(), session_start(ALEX_TELEGRAM, earlier=earlier))
    assert said(messages) == (f"Welcome back, Alex! Last {THREE_DAYS_AGO:%A} on Telegram you asked about a "
                              "refund for order 10002.")
    assert events[0] == SessionStarted() and events[-1] == ActionExecuted("action_listen")
    slots = slot_events(events)
    assert slots["email"] == ALEX and slots["customer_id"] == 1.0
    assert [e["name"] for e in events if e.get("name") == "customer_id"] == ["customer_id"]  # not carried
    value = slots["customer_value"]
    assert value["lifetime_spend_cents"] > 0 and value["open_orders"] >= 2
    assert value["open_order_value_cents"] > 0


def test_an_unknown_web_chat_starts_without_a_customer(store, rasa_store, run_action) -> None:
    messages, events = run_action(ActionSessionStart(), session_start("3f9c2a1b", earlier=[]))
    assert messages == []
    assert events == [SessionStarted(), SlotSet("customer_id", None), SlotSet("customer_value", None),
                      ActionExecuted("action_listen")]


def test_a_web_login_identifies_the_customer_and_links_the_conversation(store, rasa_store,
                                                                         run_action) -> None:
    token = issue_login_token(ALEX, SECRET, now=datetime.utcnow())
    tracker = session_start("web-77", earlier=[], slots={"session_started_metadata": {"login_token": token}})
    messages, events = run_action(ActionSessionStart(), tracker)
    assert slot_events(events)["customer_id"] == 1.0
    assert store.rows("SELECT sender_id, customer_id FROM conversation_links") == [("web-77", 1)]
    assert messages[0]["text"].startswith("Welcome back, Alex! ")  # Alex's Telegram talk, seen from the web


def test_a_forged_login_identifies_nobody(store, rasa_store, run_action) -> None:
    token = issue_login_token(ALEX, "not-the-shops-secret", now=datetime.utcnow())
    tracker = session_start("web-77", earlier=[], slots={"session_started_metadata": {"login_token": token}})
    messages, events = run_action(ActionSessionStart(), tracker)
    assert messages == [] and slot_events(events)["customer_id"] is None
    assert store.rows("SELECT * FROM conversation_links") == []


def test_the_session_starts_even_when_the_store_is_down(store_down, rasa_store, run_action) -> None:
    earlier = talk(THREE_DAYS_AGO, "greet", channel="telegram")
    messages, events = run_action(ActionSessionStart(), session_start(ALEX_TELEGRAM, earlier=earlier))
    assert messages == []
    assert events[0] == SessionStarted() and events[-1] == ActionExecuted("action_listen")
    assert slot_events(events)["customer_id"] is None


# --- previous_contact -----------------------------------------------------------------------


def test_previous_contact_of_a_known_customer(store, rasa_store, run_action) -> None:
    messages, events = run_action(ActionPreviousContact(), chat())
    (message,) = messages
    assert message["text"] == (f"Last {THREE_DAYS_AGO:%A} on Telegram you asked about a refund for order "
                               "10002. Is this about that?")
    assert [b["payload"] for b in message["buttons"]] == ["/affirm", "/deny"]
    assert slot_events(events)["customer_id"] == 1.0


def test_a_login_in_the_middle_of_a_web_chat_links_it(store, rasa_store, run_action, said) -> None:
    token = issue_login_token(ALEX, SECRET, now=datetime.utcnow())
    tracker = chat("socketio", "web-9", metadata={"login_token": token})
    messages, events = run_action(ActionPreviousContact(), tracker)
    assert said(messages).startswith(f"Last {THREE_DAYS_AGO:%A} on Telegram")
    assert slot_events(events)["customer_id"] == 1.0
    assert store.rows("SELECT sender_id, customer_id FROM conversation_links") == [("web-9", 1)]


@pytest.mark.parametrize(("channel", "sender"), [
    ("socketio", "3f9c2a1b"), ("socketio", ALEX_TELEGRAM),  # a web chat that took Alex's Telegram chat id
    ("whatsapp", "+447700900001"), ("telegram", "telegram:-100123"),  # a group chat
])
def test_previous_contact_of_an_unknown_customer_offers_to_link(store, rasa_store, run_action, channel,
                                                                sender) -> None:
    messages, events = run_action(ActionPreviousContact(), chat(channel, sender))
    assert [m["text"] for m in messages] == [UNKNOWN] and events == []
    assert messages[0]["buttons"] == [{"title": "Link my account", "payload": "/link_account"}]


def test_an_unverified_telegram_id_learns_nothing_of_anyone(store, rasa_store, run_action, said) -> None:
    (b_chat,), = store.rows("SELECT external_id FROM identities WHERE channel = 'telegram' "
                            "AND NOT verified ORDER BY id LIMIT 1")
    b_telegram = f"telegram:{b_chat}"
    rasa_store.save(b_telegram, talk(THREE_DAYS_AGO, "track_order", channel="telegram", order_id=10001))
    messages, events = run_action(ActionPreviousContact(), chat(sender=b_telegram))
    assert said(messages) == UNKNOWN and events == []
    messages, events = run_action(ActionResumePreviousContact(), chat(sender=b_telegram, intent="affirm"))
    assert events == [] and "10001" not in said(messages)


def test_previous_contact_without_earlier_conversations(store, rasa_store, run_action, said) -> None:
    messages, _ = run_action(ActionPreviousContact(), chat("slack", ALEX_SLACK, slots={}))
    assert said(messages).startswith(f"Last {THREE_DAYS_AGO:%A} on Telegram")  # Alex's, seen on Slack
    phone_of_2 = store.value("SELECT external_id FROM identities WHERE customer_id = 2 AND channel = 'phone' "
                             "AND verified")
    messages, events = run_action(ActionPreviousContact(), chat("twilio_voice", f"twilio_voice:{phone_of_2}"))
    assert said(messages) == ("I don't see an earlier conversation with you in the last 90 days. Tell me the "
                              "order number or what it was about and I'll pick it up from there.")
    assert slot_events(events)["customer_id"] == 2.0


def test_previous_contact_when_the_tracker_store_is_unreadable(store, rasa_store, run_action, said) -> None:
    rasa_store.path.write_bytes(b"this is not a database" * 100)
    messages, _ = run_action(ActionPreviousContact(), chat())
    assert said(messages) == ("I can't look up our earlier conversations right now. Tell me the order number "
                              "or what it was about and I'll pick it up from there.")


def test_previous_contact_when_the_store_is_down(store_down, rasa_store, run_action, said) -> None:
    assert said(run_action(ActionPreviousContact(), chat())[0]) == STORE_UNAVAILABLE


def test_yes_picks_up_the_earlier_order(store, rasa_store, run_action, said) -> None:
    messages, events = run_action(ActionResumePreviousContact(), chat(intent="affirm"))
    assert said(messages) == "OK, order 10002. What would you like to know or do about it?"
    assert events == [SlotSet("order_id", "10002")]


def test_yes_without_an_order_of_the_customer(store, rasa_store, run_action, said) -> None:
    yesterday = NOW - timedelta(days=1)
    rasa_store.save(ALEX_SLACK, talk(yesterday, "track_order", channel="slack", order_id=10999))
    messages, events = run_action(ActionResumePreviousContact(), chat("slack", ALEX_SLACK, intent="affirm"))
    assert said(messages) == "OK. Tell me what you need and I'll pick it up from there." and events == []


# --- linking by code ------------------------------------------------------------------------


NEW_TELEGRAM_ID = "555000111"
NEW_TELEGRAM = f"telegram:{NEW_TELEGRAM_ID}"


def code_in_outbox(store) -> str:
    (body,), = store.rows("SELECT body FROM outbox ORDER BY id DESC LIMIT 1")
    return body.split(" is ")[1][:6]


def test_starting_afresh_forgets_the_last_attempt(run_action) -> None:
    _, events = run_action(ActionStartLinkAccount(), chat(intent="link_account"))
    assert events == [SlotSet("link_email", None), SlotSet("verification_code", None)]


@pytest.mark.parametrize(("channel", "sender", "asks"), [
    ("telegram", NEW_TELEGRAM, ["link_email", "verification_code"]),
    ("socketio", "3f9c2a1b", ["link_email", "verification_code"]),
    ("telegram", ALEX_TELEGRAM, []),  # linked already
    ("whatsapp", "+447700900001", []),  # cannot be linked
])
def test_the_form_asks_only_when_there_is_something_to_link(store, rasa_store, domain, channel, sender,
                                                            asks) -> None:
    assert required(chat(channel, sender, intent="link_account"), domain) == asks


@pytest.mark.parametrize(("email", "masked", "mailed"), [(ALEX, "a***n@example.com", 1),
                                                         ("nobody@example.com", "n***y@example.com", 0)])
def test_an_email_gets_the_same_answer_whether_or_not_it_is_known(store, rasa_store, domain, email, masked,
                                                                  mailed) -> None:
    slots, texts = validate("link_email", f"it's {email.upper()}", chat("telegram", NEW_TELEGRAM), domain)
    assert slots == {"link_email": email}
    assert texts == [f"If {masked} belongs to a customer account, a 6-digit code is on its way to it. "
                     "It's valid for 10 minutes."]
    assert store.value("SELECT count(*) FROM outbox") == mailed


def test_what_is_not_an_email_is_refused(store, rasa_store, domain) -> None:
    slots, texts = validate("link_email", "<script>alert(1)</script>", chat("telegram", NEW_TELEGRAM), domain)
    assert slots == {"link_email": None}
    assert texts == ["'<script>alert(1)</script>' doesn't look like an email address."]
    assert store.value("SELECT count(*) FROM verification_codes") == 0


def test_linking_a_telegram_chat_by_code(store, rasa_store, domain, run_action, said) -> None:
    tracker = chat("telegram", NEW_TELEGRAM, intent="inform")
    validate("link_email", ALEX, tracker, domain)
    assert validate("verification_code", "12 34 5", tracker, domain) == (
        {"verification_code": None}, ["That doesn't look like the code: it has 6 digits, like 482913."])
    wrong = "000000" if code_in_outbox(store) != "000000" else "111111"
    assert validate("verification_code", wrong, tracker, domain) == (
        {"verification_code": None},
        ["That code isn't right: 4 tries left. Please check the digits in the email."])
    slots, texts = validate("verification_code", code_in_outbox(store), tracker, domain)
    assert slots == {"verification_code": "verified", "customer_id": 1.0} and texts == []
    assert store.rows("SELECT customer_id, verified FROM identities WHERE channel = 'telegram' "
                      "AND external_id = :e", e=NEW_TELEGRAM_ID) == [(1, 1)]
    done = chat("telegram", NEW_TELEGRAM, intent="inform", slots={**slots, "link_email": ALEX})
    messages, events = run_action(ActionLinkAccount(), done)
    assert said(messages) == ("Thanks, Alex: this chat is now linked to your customer account, so I can see "
                              "your orders and our earlier conversations here.")
    assert slot_events(events)["link_email"] is None and slot_events(events)["customer_id"] == 1.0


def test_linking_a_web_chat_by_code(store, rasa_store, domain, run_action, said) -> None:
    tracker = chat("socketio", "3f9c2a1b", intent="inform")
    validate("link_email", ALEX, tracker, domain)
    slots, _ = validate("verification_code", code_in_outbox(store), tracker, domain)
    assert slots["customer_id"] == 1.0
    assert store.rows("SELECT sender_id, customer_id FROM conversation_links") == [("3f9c2a1b", 1)]
    messages, _ = run_action(ActionLinkAccount(), chat("socketio", "3f9c2a1b", slots=slots))
    assert said(messages).startswith("Thanks, Alex: this chat is now linked")
    messages, _ = run_action(ActionPreviousContact(), chat("socketio", "3f9c2a1b", slots=slots))
    assert said(messages).startswith(f"Last {THREE_DAYS_AGO:%A} on Telegram")


@pytest.mark.parametrize(("status", "text"), [
    ("expired", "That code has expired or was already used, so let's start again."),
    ("locked", "That was too many wrong tries, so that code doesn't work any more. Let's start again."),
])
def test_an_expired_or_locked_code_starts_over(store, rasa_store, domain, monkeypatch, status, text) -> None:
    monkeypatch.setattr("bot.store.verification.confirm_code", lambda *a, **k: Confirmation(status))
    slots, texts = validate("verification_code", "123456", chat("telegram", NEW_TELEGRAM), domain)
    assert slots == {"verification_code": None, "link_email": None} and texts == [text]


def test_too_many_codes(store, rasa_store, domain) -> None:
    tracker = chat("telegram", NEW_TELEGRAM)
    for _ in range(3):
        validate("link_email", ALEX, tracker, domain)
    slots, texts = validate("link_email", ALEX, tracker, domain)
    assert slots == {"link_email": ALEX} and texts[0].startswith("I've sent several codes in the last hour")
    assert store.value("SELECT count(*) FROM outbox") == 3


def test_the_form_reports_a_store_that_is_down(store_down, rasa_store, domain) -> None:
    assert validate("link_email", ALEX, chat("telegram", NEW_TELEGRAM), domain) == (
        {"link_email": None}, [STORE_UNAVAILABLE])


def test_after_the_form_already_linked_or_not_linkable(store, rasa_store, run_action, said) -> None:
    messages, events = run_action(ActionLinkAccount(), chat("slack", ALEX_SLACK))
    assert said(messages) == "This chat is already linked to your customer account (a***n@example.com)."
    assert slot_events(events)["customer_id"] == 1.0
    messages, events = run_action(ActionLinkAccount(), chat("whatsapp", "+447700900001"))
    assert said(messages).startswith("I can't link this chat to a customer account.")
    assert events == [SlotSet("link_email", None), SlotSet("verification_code", None)]
