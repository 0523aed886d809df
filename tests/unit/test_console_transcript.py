"""Tracker events as the console shows them: roles, agents, buttons, markers and the emotion trail."""

from __future__ import annotations

from bot.console import transcript

T = 1_764_926_400.0  # 2025-12-05 09:20:00 UTC


def user(text: str, intent: str, emotion: str | None = None, sentiment: float | None = None, at: float = T):
    parse = {"intent": {"name": intent}}
    if emotion:
        parse["emotion"] = {"label": emotion, "sentiment": sentiment}
    return {"event": "user", "timestamp": at, "text": text, "parse_data": parse}


EVENTS = [
    {"event": "session_started", "timestamp": T},
    user("<script>alert(1)</script> where is my parcel", "track_order", "anger", -0.7),
    {"event": "slot", "timestamp": T + 1, "name": "escalation", "value": {"frustration": 0.62}},
    {"event": "bot", "timestamp": T + 2, "text": "Pick one",
     "data": {"buttons": [{"title": "Email me"}, "junk"]}},
    {"event": "pause", "timestamp": T + 3},
    {"event": "bot", "timestamp": T + 4, "text": "Hi, I'm on it", "metadata": {"agent": "Sam Patel"}},
    user("thanks!", "thank", "joy", 0.8, at=T + 5),
    {"event": "resume", "timestamp": T + 6},
    {"event": "action", "timestamp": T + 6, "name": "action_listen"},
    {"event": "user", "timestamp": T + 7, "text": None},  # malformed: skipped
    {"event": "bot", "timestamp": "soon", "text": "odd time"},
]


def test_messages_name_who_said_what_and_keep_text_as_text() -> None:
    found = transcript.messages(EVENTS)
    assert [(m["role"], m["text"]) for m in found] == [
        ("event", "new session"), ("customer", "<script>alert(1)</script> where is my parcel"),
        ("bot", "Pick one"), ("event", "handed to the team"), ("agent", "Hi, I'm on it"),
        ("customer", "thanks!"), ("event", "back with the bot"), ("bot", "odd time")]
    assert found[1]["at"] == "2025-12-05T09:20:00Z" and found[1]["intent"] == "track_order"
    assert found[1]["emotion"] == "anger" and found[2]["buttons"] == ["Email me"]
    assert found[4]["agent"] == "Sam Patel" and found[-1]["at"] is None


def test_emotions_follow_each_customer_message_with_the_assessed_frustration() -> None:
    assert transcript.emotions(EVENTS) == [
        {"at": "2025-12-05T09:20:00Z", "emotion": "anger", "sentiment": -0.7, "frustration": 0.62},
        {"at": "2025-12-05T09:20:05Z", "emotion": "joy", "sentiment": 0.8, "frustration": None}]


def test_the_last_message_skips_markers() -> None:
    assert transcript.last_message(EVENTS[:6]) == {"role": "agent", "text": "Hi, I'm on it",
                                                   "at": "2025-12-05T09:20:04Z"}
    assert transcript.last_message(EVENTS[:1]) is None
