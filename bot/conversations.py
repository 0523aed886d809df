"""Rasa tracker events (as dicts) cut into conversation sessions, and what happened in each; no I/O.

Used by the customer's timeline (bot/history.py) and the analytics ETL. Every function takes events as
the tracker store keeps them and survives malformed ones: missing keys, unknown types, bad timestamps.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from bot.parsing import parse_order_id

Event = Mapping[str, Any]
Outcome = Literal["escalated", "resolved", "abandoned", "open"]

# A session with no event for this long is over (domain.yml `session_expiration_time`, in minutes).
IDLE_TIMEOUT = timedelta(minutes=60)
HANDOFF_ACTION = "action_handoff_to_human"
FALLBACK_INTENT = "nlu_fallback"
FALLBACK_ACTIONS = frozenset({"action_default_fallback", "action_two_stage_fallback",
                              "action_default_ask_affirmation", "action_default_ask_rephrase"})
SESSION_START_ACTION = "action_session_start"
BOOKKEEPING_ACTIONS = frozenset({"action_listen", SESSION_START_ACTION})
# Intents that carry no topic of their own.
SMALL_TALK = frozenset({"greet", "goodbye", "affirm", "deny", "thank", "bot_challenge", "stop", "inform",
                        "out_of_scope", FALLBACK_INTENT})
# A bot question that does not wait for anything: "Anything else I can help with?"
CLOSING_QUESTION = re.compile(r"\b(anything|something|what) else\b", re.IGNORECASE)
CHANNEL_NAMES = {"socketio": "web chat", "rest": "web chat", "slack": "Slack", "telegram": "Telegram",
                 "voice": "phone", "twilio_voice": "phone"}
MAX_VALUE_CHARS = 100


@dataclass(frozen=True)
class Session:
    """One conversation session of one sender: who, where, when, about what, and how it ended."""

    sender_id: str
    channel: str | None  # the Rasa input channel of its first user message
    started: datetime  # naive UTC, like the retail store's times
    ended: datetime
    turns: int  # user messages
    intents: tuple[str, ...]  # of every user message, in order
    entities: Mapping[str, tuple[str, ...]]  # distinct values by entity name
    order_ids: tuple[int, ...]
    emotion_start: str | None
    emotion_end: str | None
    peak_negative_sentiment: float | None  # the lowest sentiment in [-1, 1] of any user message
    fallbacks: int  # user messages the bot did not understand
    outcome: Outcome
    customer_id: int | None  # the `customer_id` slot at the end of the session
    handoff_ticket: int | None

    @property
    def topics(self) -> tuple[str, ...]:
        """The distinct intents that name a request, in the order first asked."""
        return tuple(dict.fromkeys(i for i in self.intents if i not in SMALL_TALK))


def ordered(events: Iterable[Any]) -> list[dict[str, Any]]:
    """The dict events sorted by timestamp (stable); one without a usable timestamp keeps its neighbour's."""
    kept = [dict(event) for event in events if isinstance(event, Mapping)]
    times = [_timestamp(event) for event in kept]
    known = next((t for t in times if t is not None), 0.0)
    for index, value in enumerate(times):
        known = value if value is not None else known
        kept[index]["timestamp"] = known
    return sorted(kept, key=lambda event: event["timestamp"])


def split_sessions(events: Iterable[Any]) -> list[list[dict[str, Any]]]:
    """The events in sessions: each `session_started`, `restart` or `action_session_start` opens one."""
    sessions: list[list[dict[str, Any]]] = []
    for event in ordered(events):
        if not sessions or (_is_boundary(event) and any(_is_content(e) for e in sessions[-1])):
            sessions.append([])
        sessions[-1].append(event)
    return sessions


def summarize(events: Sequence[Event], *, sender_id: str, now: datetime,
              idle_timeout: timedelta = IDLE_TIMEOUT, closed: bool = False) -> Session:
    """What happened in one session's events (see `split_sessions`).

    It is open when its last event is less than `idle_timeout` before `now`, unless `closed` (a later
    session of the sender followed it)."""
    events = ordered(events)
    if not events:
        raise ValueError("a session has at least one event")
    users = [e for e in events if e.get("event") == "user"]
    parsed = [_dict(e.get("parse_data")) for e in users]
    moods = [m for m in (_emotion(p) for p in parsed) if m != (None, None)]
    sentiments = [s for _, s in moods if s is not None]
    labels = [label for label, _ in moods if label]
    ended = _utc(events[-1]["timestamp"])
    return Session(
        sender_id=sender_id,
        channel=next((c for c in (_text(e.get("input_channel")) for e in users) if c), None),
        started=_utc(events[0]["timestamp"]),
        ended=ended,
        turns=len(users),
        intents=tuple(i for i in (_intent(p) for p in parsed) if i),
        entities=_entities(parsed),
        order_ids=_order_ids(events, parsed),
        emotion_start=labels[0] if labels else None,
        emotion_end=labels[-1] if labels else None,
        peak_negative_sentiment=min(sentiments) if sentiments else None,
        fallbacks=_fallbacks(events),
        outcome=_outcome(events, not closed and now - ended < idle_timeout),
        customer_id=_positive_int(_last_slot(events, "customer_id")),
        handoff_ticket=_positive_int(_last_slot(events, "handoff_ticket")),
    )


def sessions(events: Iterable[Any], *, sender_id: str, now: datetime,
             idle_timeout: timedelta = IDLE_TIMEOUT) -> list[Session]:
    """Every session of one sender's events, oldest first; only the last one can be open."""
    parts = split_sessions(events)
    return [summarize(part, sender_id=sender_id, now=now, idle_timeout=idle_timeout,
                      closed=index < len(parts) - 1) for index, part in enumerate(parts)]


def describe(session: Session) -> str:
    """One line for people, e.g. '2026-03-03 14:05 UTC, Telegram: get refund (order 10231); escalated after 4
    turns, mood neutral → anger'."""
    channel = CHANNEL_NAMES.get(session.channel or "", session.channel or "unknown channel")
    topics = ", ".join(t.replace("_", " ") for t in session.topics) or "no topic"
    orders = f" (order {', '.join(map(str, session.order_ids))})" if session.order_ids else ""
    turns = f"{session.turns} turn{'s' if session.turns != 1 else ''}"
    mood = (f", mood {session.emotion_start} → {session.emotion_end}"
            if session.emotion_start and session.emotion_end else "")
    when = f"{session.started:%Y-%m-%d %H:%M} UTC"
    return f"{when}, {channel}: {topics}{orders}; {session.outcome} after {turns}{mood}"


# --- reading events -------------------------------------------------------------------------


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    """A non-empty string, trimmed and cut to MAX_VALUE_CHARS, else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:MAX_VALUE_CHARS]


def _number(value: Any) -> float | None:
    """A finite int or float (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _timestamp(event: Event) -> float | None:
    value = _number(event.get("timestamp"))
    return value if value is not None and 0 <= value < 32503680000 else None  # before the year 3000


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, timezone.utc).replace(tzinfo=None)


def _action(event: Event) -> str | None:
    return _text(event.get("name")) if event.get("event") == "action" else None


def _is_boundary(event: Event) -> bool:
    return event.get("event") in ("session_started", "restart") or _action(event) == SESSION_START_ACTION


def _is_content(event: Event) -> bool:
    """A user or bot message, or an action other than listening and starting a session."""
    kind = event.get("event")
    return kind in ("user", "bot") or (kind == "action" and _action(event) not in BOOKKEEPING_ACTIONS)


def _intent(parse_data: Mapping[str, Any]) -> str | None:
    return _text(_dict(parse_data.get("intent")).get("name"))


def _entities(parsed: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
    found: dict[str, dict[str, None]] = {}
    for parse_data in parsed:
        entities = parse_data.get("entities")
        for entity in entities if isinstance(entities, list) else []:
            entity = _dict(entity)
            name, value = _text(entity.get("entity")), entity.get("value")
            value = _text(str(value)) if isinstance(value, (str, int, float)) else None
            if name and value:
                found.setdefault(name, {})[value] = None
    return {name: tuple(values) for name, values in found.items()}


def _order_ids(events: Sequence[Event], parsed: Sequence[Mapping[str, Any]]) -> tuple[int, ...]:
    """Order numbers the customer named (order_id entities) or a form took (order_id slot), in order."""
    candidates = []
    for event in events:
        if event.get("event") == "slot" and event.get("name") == "order_id":
            candidates.append(event.get("value"))
        elif event.get("event") == "user":
            entities = _dict(event.get("parse_data")).get("entities")
            candidates += [_dict(e).get("value") for e in (entities if isinstance(entities, list) else [])
                           if _dict(e).get("entity") == "order_id"]
    return tuple(dict.fromkeys(o for o in map(parse_order_id, candidates) if o is not None))


def _emotion(parse_data: Mapping[str, Any]) -> tuple[str | None, float | None]:
    emotion = _dict(parse_data.get("emotion"))
    sentiment = _number(emotion.get("sentiment"))
    return _text(emotion.get("label")), None if sentiment is None else max(-1.0, min(1.0, sentiment))


def _last_slot(events: Sequence[Event], name: str) -> Any:
    slots = (e for e in reversed(events) if e.get("event") == "slot" and e.get("name") == name)
    return next((e.get("value") for e in slots), None)


def _positive_int(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number >= 1 and number == int(number) else None


def _fallbacks(events: Sequence[Event]) -> int:
    """User messages classified as nlu_fallback or answered first by a fallback action."""
    return sum(1 for index, event in enumerate(events) if event.get("event") == "user" and (
        _intent(_dict(event.get("parse_data"))) == FALLBACK_INTENT
        or _first_action_after(events, index) in FALLBACK_ACTIONS))


def _first_action_after(events: Sequence[Event], index: int) -> str | None:
    """The first action that answered the user message at `index` (listening and session starts aside)."""
    for event in events[index + 1:]:
        if event.get("event") == "user":
            return None
        name = _action(event)
        if name and name not in BOOKKEEPING_ACTIONS:
            return name
    return None


# --- outcome --------------------------------------------------------------------------------


def _outcome(events: Sequence[Event], recent: bool) -> Outcome:
    """escalated > open (recent) > abandoned (the bot was left waiting) > resolved."""
    if any(_action(e) == HANDOFF_ACTION or e.get("event") == "pause" for e in events) \
            or _positive_int(_last_slot(events, "handoff_ticket")):
        return "escalated"
    if recent:
        return "open"
    return "abandoned" if _left_waiting(events) else "resolved"


def _left_waiting(events: Sequence[Event]) -> bool:
    """No user message; or it ended inside a form, after a fallback, on an open question, or unanswered."""
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=None)
    if last_user is None:
        return True
    after = events[last_user + 1:]
    loops = [e for e in events if e.get("event") == "active_loop"]
    bot_texts = [e["text"].strip() if isinstance(e.get("text"), str) else "" for e in after
                 if e.get("event") == "bot"]
    return (
        bool(loops and _dict(loops[-1]).get("name"))
        or _last_slot(events, "requested_slot") is not None
        or _intent(_dict(events[last_user].get("parse_data"))) == FALLBACK_INTENT
        or any(_action(e) in FALLBACK_ACTIONS for e in after)
        or not bot_texts
        or (bot_texts[-1].endswith("?") and not CLOSING_QUESTION.search(bot_texts[-1]))
    )
