"""Tracker events into sessions and their summaries: splitting, outcomes, emotions, malformed events."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from bot.conversations import describe, ordered, sessions, split_sessions, summarize

T0 = datetime(2026, 3, 2, 9, 0).replace(tzinfo=timezone.utc).timestamp()  # Monday 09:00 UTC
LATER = datetime(2026, 3, 3, 12, 0)  # a day after every session below: none of them is open
Events = list[dict[str, Any]]


def user(t: float, intent: str | None, *, channel: str = "telegram", entities: Events = (),
         emotion: dict | None = None) -> dict[str, Any]:
    parse_data: dict[str, Any] = {"intent": {"name": intent}, "entities": list(entities)}
    if emotion is not None:
        parse_data["emotion"] = emotion
    return {"event": "user", "timestamp": T0 + t, "text": "...", "parse_data": parse_data,
            "input_channel": channel}


def bot(t: float, text: str) -> dict[str, Any]:
    return {"event": "bot", "timestamp": T0 + t, "text": text}


def act(t: float, name: str) -> dict[str, Any]:
    return {"event": "action", "timestamp": T0 + t, "name": name}


def slot(t: float, name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "timestamp": T0 + t, "name": name, "value": value}


def loop(t: float, name: str | None) -> dict[str, Any]:
    return {"event": "active_loop", "timestamp": T0 + t, "name": name}


def start(t: float) -> Events:
    """What Rasa writes when a session starts."""
    return [act(t, "action_session_start"), {"event": "session_started", "timestamp": T0 + t},
            act(t, "action_listen")]


def order_entity(value: str) -> dict[str, Any]:
    return {"entity": "order_id", "value": value}


def asked(t: float, intent: str, answer: str, **kwargs: Any) -> Events:
    """A user message and the bot's answer."""
    return [user(t, intent, **kwargs), act(t + 1, f"utter_{intent}"), bot(t + 1, answer),
            act(t + 2, "action_listen")]


# --- splitting ------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "events", "sizes"), [
    ("one session", [*start(0), *asked(5, "greet", "Hi!")], [7]),
    ("two sessions", [*start(0), *asked(5, "greet", "Hi!"), *start(5000), *asked(5005, "thank", "Welcome")],
     [7, 7]),
    ("a restart opens a session", [*start(0), *asked(5, "greet", "Hi!"), act(9, "action_restart"),
                                   {"event": "restart", "timestamp": T0 + 9}, *start(10),
                                   *asked(11, "greet", "Hi!")], [8, 8]),
    ("no session_started at all", [*asked(5, "greet", "Hi!")], [4]),
    ("a session with no user message", [*start(0), bot(1, "Welcome back!"), *start(5000)], [4, 3]),
])
def test_split_sessions(name: str, events: Events, sizes: list[int]) -> None:
    assert [len(part) for part in split_sessions(events)] == sizes, name


def test_events_out_of_order_are_sorted_and_untimed_ones_keep_their_place() -> None:
    events = [user(10, "thank"), None, "junk", user(0, "greet"), {"event": "bot", "text": "Hi"},
              {"event": "slot", "timestamp": "yesterday", "name": "x"}]
    result = ordered(events)
    assert [e["event"] for e in result] == ["user", "bot", "slot", "user"]  # the bot took greet's time
    assert [e["parse_data"]["intent"]["name"] for e in (result[0], result[3])] == ["greet", "thank"]
    assert [e["timestamp"] for e in result] == [T0, T0, T0, T0 + 10]
    assert split_sessions([]) == [] and sessions([], sender_id="x", now=LATER) == []


# --- outcomes -------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "events", "outcome"), [
    ("answered", [*start(0), *asked(5, "track_order", "Order 10001 was delivered on Monday.")], "resolved"),
    ("a closing question needs no answer",
     [*start(0), *asked(5, "thank", "You're welcome! Anything else I can help with?")], "resolved"),
    ("handed over", [*start(0), user(5, "contact_human_agent"), act(6, "action_handoff_to_human"),
                     bot(6, "I've passed this on."), slot(6, "handoff_ticket", 12.0)], "escalated"),
    ("paused for an agent", [*start(0), user(5, "complaint"), {"event": "pause", "timestamp": T0 + 6}],
     "escalated"),
    ("left inside a form", [*start(0), user(5, "track_order"), act(6, "track_order_form"),
                            loop(6, "track_order_form"), slot(6, "requested_slot", "order_id"),
                            bot(6, "What's the order number?"), act(7, "action_listen")], "abandoned"),
    ("left after a fallback", [*start(0), user(5, "nlu_fallback"), act(6, "action_two_stage_fallback"),
                               bot(6, "Did you want to cancel an order?")], "abandoned"),
    ("a fallback action answered last", [*start(0), user(5, "cancel_order"),
                                         act(6, "action_default_fallback"),
                                         bot(6, "Sorry, I still didn't get that.")], "abandoned"),
    ("the bot's question unanswered", [*start(0), *asked(5, "greet", "Hi! What can I do for you?")],
     "abandoned"),
    ("the customer's message unanswered", [*start(0), user(5, "track_order")], "abandoned"),
    ("no user message", [*start(0), bot(1, "Welcome back!")], "abandoned"),
    ("a finished form", [*start(0), user(5, "track_order"), loop(6, "track_order_form"),
                         slot(6, "requested_slot", "order_id"),
                         user(20, "inform", entities=[order_entity("10001")]),
                         loop(21, None), slot(21, "requested_slot", None), act(21, "action_track_order"),
                         bot(21, "Order 10001 left our warehouse.")], "resolved"),
])
def test_outcome(name: str, events: Events, outcome: str) -> None:
    assert summarize(events, sender_id="s", now=LATER).outcome == outcome, name


def test_a_recent_session_is_open_unless_escalated_or_followed_by_another() -> None:
    events = [*start(0), *asked(5, "greet", "Hi! What can I do for you?")]
    just_after = datetime.fromtimestamp(T0 + 600, timezone.utc).replace(tzinfo=None)
    assert summarize(events, sender_id="s", now=just_after).outcome == "open"
    shorter = summarize(events, sender_id="s", now=just_after, idle_timeout=timedelta(minutes=5))
    assert shorter.outcome == "abandoned"
    handed = [*events, user(9, "contact_human_agent"), act(10, "action_handoff_to_human")]
    assert summarize(handed, sender_id="s", now=just_after).outcome == "escalated"
    two = sessions([*events, *start(60), *asked(65, "thank", "You're welcome!")], sender_id="s",
                   now=just_after)
    assert [s.outcome for s in two] == ["abandoned", "open"]


# --- what a summary holds -------------------------------------------------------------------


def conversation() -> Events:
    return [
        *start(0), slot(0, "customer_id", 1.0),
        *asked(60, "greet", "Hi!", emotion={"label": "neutral", "sentiment": 0.1}),
        user(120, "get_refund", channel="telegram", entities=[order_entity("#10231"), order_entity("10231")],
             emotion={"label": "sadness", "sentiment": -0.55}),
        act(121, "refund_form"), slot(121, "order_id", "10231"), slot(121, "email", "alex@example.com"),
        user(180, "nlu_fallback", emotion={"label": "anger", "sentiment": -0.9}),
        act(181, "action_two_stage_fallback"),
        user(240, "complaint", entities=[{"entity": "product", "value": "kettle"}, order_entity("10400")],
             emotion={"label": "anger", "sentiment": -0.7}),
        act(241, "action_handoff_to_human"), slot(241, "handoff_ticket", 7.0), bot(241, "Passed on."),
    ]


def test_summary_of_a_conversation() -> None:
    s = summarize(conversation(), sender_id="telegram:100000001", now=LATER)
    assert (s.sender_id, s.channel, s.turns, s.fallbacks) == ("telegram:100000001", "telegram", 4, 1)
    assert s.outcome == "escalated"
    assert s.started == datetime(2026, 3, 2, 9, 0) and s.ended == datetime(2026, 3, 2, 9, 4, 1)
    assert s.intents == ("greet", "get_refund", "nlu_fallback", "complaint")
    assert s.topics == ("get_refund", "complaint")
    assert s.entities == {"order_id": ("#10231", "10231", "10400"), "product": ("kettle",)}
    assert s.order_ids == (10231, 10400)
    assert (s.emotion_start, s.emotion_end, s.peak_negative_sentiment) == ("neutral", "anger", -0.9)
    assert (s.customer_id, s.handoff_ticket) == (1, 7)


def test_describe_is_one_line_for_agents() -> None:
    line = describe(summarize(conversation(), sender_id="telegram:100000001", now=LATER))
    assert line == ("2026-03-02 09:00 UTC, Telegram: get refund, complaint (order 10231, 10400); "
                    "escalated after 4 turns, mood neutral → anger")
    bare = describe(summarize([*start(0)], sender_id="x", now=LATER))
    assert bare == "2026-03-02 09:00 UTC, unknown channel: no topic; abandoned after 0 turns"


@pytest.mark.parametrize(("name", "event"), [
    ("parse_data is text", {"event": "user", "timestamp": T0 + 5, "parse_data": "get_refund"}),
    ("intent is a list", {"event": "user", "timestamp": T0 + 5, "parse_data": {"intent": ["x"]}}),
    ("entities are a dict", {"event": "user", "timestamp": T0 + 5,
                             "parse_data": {"entities": {"entity": "order_id", "value": "10001"}}}),
    ("entity items are junk", {"event": "user", "timestamp": T0 + 5,
                               "parse_data": {"entities": [None, 3, {"entity": "order_id",
                                                                     "value": ["10001"]}]}}),
    ("emotion is junk", {"event": "user", "timestamp": T0 + 5,
                         "parse_data": {"emotion": {"label": 3, "sentiment": "very bad"}}}),
    ("sentiment out of range", {"event": "user", "timestamp": T0 + 5,
                                "parse_data": {"emotion": {"label": "anger", "sentiment": float("nan")}}}),
    ("no event type", {"timestamp": T0 + 5, "text": "?"}),
    ("unknown event type", {"event": "something_new", "timestamp": T0 + 5}),
    ("timestamp is text", {"event": "user", "timestamp": "5", "input_channel": 42}),
    ("a slot without a name", {"event": "slot", "timestamp": T0 + 5, "value": "x"}),
    ("customer_id is text", {"event": "slot", "timestamp": T0 + 5, "name": "customer_id",
                             "value": "1; DROP"}),
])
def test_malformed_events_are_read_without_crashing(name: str, event: dict) -> None:
    s = summarize([*start(0), event, bot(9, "Hi")], sender_id="x", now=LATER)
    assert s.order_ids == () and s.customer_id is None and s.peak_negative_sentiment is None, name
    assert s.channel is None and s.turns == (event.get("event") == "user")
