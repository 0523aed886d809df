"""Hand-built Rasa tracker events for the analytics tests, and a tracker store table to put them in."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import create_engine, insert
from sqlalchemy.engine import Engine

from bot.tracker_events import EVENTS

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc).timestamp()
DAY = 86400.0
LATER = datetime(2026, 3, 10, tzinfo=timezone.utc).timestamp()  # every sample conversation but one is over


class Script:
    """One sender's events as Rasa writes them, one second apart unless told otherwise."""

    def __init__(self, sender: str, at: float = T0, channel: str = "rest") -> None:
        self.sender, self.at, self.channel = sender, at, channel
        self.events: list[dict[str, Any]] = []

    def add(self, event: dict[str, Any], after: float = 1.0) -> Script:
        self.at += after
        self.events.append({**event, "timestamp": self.at})
        return self

    def start(self, after: float = 1.0) -> Script:
        self.add({"event": "action", "name": "action_session_start"}, after)
        return self.add({"event": "session_started"}).action("action_listen")

    def user(self, text: str, intent: str, emotion: str = "neutral", sentiment: float = 0.0,
             after: float = 1.0) -> Script:
        parse = {"intent": {"name": intent, "confidence": 0.9}, "entities": [], "text": text,
                 "emotion": {"label": emotion, "confidence": 0.8, "sentiment": sentiment,
                             "ranking": [{"name": emotion, "confidence": 0.8}]}}
        return self.add({"event": "user", "text": text, "parse_data": parse, "input_channel": self.channel},
                        after)

    def action(self, name: str) -> Script:
        return self.add({"event": "action", "name": name})

    def bot(self, text: str) -> Script:
        return self.add({"event": "bot", "text": text})

    def slot(self, name: str, value: Any) -> Script:
        return self.add({"event": "slot", "name": name, "value": value})

    def decision(self, decision: str, *reasons: str, frustration: float = 0.0) -> Script:
        return self.slot("escalation", {"decision": decision, "frustration": frustration,
                                        "score": frustration, "priority": 3, "emotion": None,
                                        "reasons": [{"name": r, "value": 1} for r in reasons]})

    def answer(self, action: str, text: str) -> Script:
        """The bot's reply to a turn: an action that says `text`, then listening."""
        return self.action(action).bot(text).action("action_listen")

    def handoff(self, *reasons: str, pause: bool = False) -> Script:
        self.decision("escalate", *reasons, frustration=0.8).action("action_handoff_to_human")
        self.bot("A person will reply right here in a moment.").slot("handoff_ticket", 7)
        return self.add({"event": "pause"}) if pause else self.action("action_listen")

    def contained(self) -> Script:
        """A whole resolved conversation: order tracked, customer thanks and leaves."""
        self.start().user("where is my order 10001", "track_order").decision("none")
        self.answer("action_check_order", "Order 10001 is on its way. Anything else I can help with?")
        self.user("thanks, that's great", "thank", emotion="joy", sentiment=0.9).decision("none")
        return self.answer("utter_you_are_welcome", "You're welcome!")


def sample() -> list[Script]:
    """Monday: 2 contained (REST), 1 angry escalation, 1 explicit request (socket.io), 1 abandoned with two
    fallbacks and a loop. Tuesday: 1 contained with CSAT 2, 1 escalated loop. Plus one still open."""
    angry = Script("angry", at=T0 + 10).start().user("where is my order", "track_order")
    angry.decision("none").answer("action_check_order", "It is on its way. Anything else I can help with?")
    angry.user("this is a disgrace", "complaint", "anger", -0.9).handoff("frustration", "sensitive_topic")
    angry.slot("csat", 1)
    human = Script("human", at=T0 + 20, channel="socketio").start()
    human.user("a person please", "contact_human_agent").handoff("explicit_request", pause=True)
    human.add({"event": "resume"})
    lost = Script("lost", at=T0 + 30).start()
    for _ in range(2):
        lost.user("blorf", "nlu_fallback", "surprise", 0.2).decision("none")
        lost.answer("action_default_fallback", "Sorry, I didn't get that. Can you rephrase?")
    loop = Script("loop", at=T0 + DAY + 40).start()
    for _ in range(3):
        loop.user("how long does delivery take", "delivery_period").decision("none")
        loop.answer("utter_delivery_period", "3-5 working days.")
    loop.handoff("loop")
    still = Script("still", at=LATER - 60).start().user("hi", "greet")
    return [Script("happy-1").contained().slot("csat", 5), Script("happy-2", at=T0 + 5).contained(),
            angry, human, lost, Script("tue", at=T0 + DAY).contained().slot("csat", 2), loop, still]


def tracker_store(path: str) -> Engine:
    """An empty SQLite tracker store with Rasa's events table."""
    engine = create_engine(f"sqlite:///{path}", future=True)
    EVENTS.metadata.create_all(engine)
    return engine


def write(engine: Engine, *scripts: Script, raw: list[dict[str, Any]] | None = None) -> None:
    """Append the scripts' events (interleaved by time, as a live store has them) and raw rows."""
    rows = [{"sender_id": s.sender, "type_name": e["event"], "timestamp": e["timestamp"],
             "intent_name": (e.get("parse_data") or {}).get("intent", {}).get("name"),
             "action_name": e.get("name") if e["event"] == "action" else None, "data": json.dumps(e)}
            for s in scripts for e in s.events]
    rows.sort(key=lambda r: r["timestamp"])
    with engine.begin() as conn:
        if rows:
            conn.execute(insert(EVENTS), rows)
        if raw:
            conn.execute(insert(EVENTS), raw)
