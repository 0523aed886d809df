"""Tracker events as agents read them: who said what and when, and how the customer felt, turn by turn.

Pure functions over the event dicts Rasa stores; texts stay plain (the page inserts them as text).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from bot.escalation import ESCALATION_SLOT

Event = Mapping[str, Any]
MARKERS = {"pause": "handed to the team", "resume": "back with the bot", "session_started": "new session"}


def messages(events: Sequence[Event]) -> list[dict[str, Any]]:
    """Customer, bot and agent messages, and the hand-over markers, oldest first."""
    found: list[dict[str, Any]] = []
    for event in events:
        kind, at = event.get("event"), _iso(event.get("timestamp"))
        if kind == "user" and isinstance(event.get("text"), str):
            parse = event.get("parse_data") if isinstance(event.get("parse_data"), Mapping) else {}
            found.append({"at": at, "role": "customer", "text": event["text"],
                          "intent": _get(parse, "intent", "name"),
                          "emotion": _get(parse, "emotion", "label")})
        elif kind == "bot" and isinstance(event.get("text"), str):
            found.append(_bot_message(event, at))
        elif kind in MARKERS:
            found.append({"at": at, "role": "event", "text": MARKERS[kind]})
    return found


def _bot_message(event: Event, at: str | None) -> dict[str, Any]:
    metadata = event.get("metadata") if isinstance(event.get("metadata"), Mapping) else {}
    agent = metadata.get("agent")
    if isinstance(agent, str) and agent:
        return {"at": at, "role": "agent", "text": event["text"], "agent": agent}
    data = event.get("data") if isinstance(event.get("data"), Mapping) else {}
    buttons = [b.get("title") for b in data.get("buttons") or [] if isinstance(b, Mapping)]
    return {"at": at, "role": "bot", "text": event["text"], **({"buttons": buttons} if buttons else {})}


def emotions(events: Sequence[Event]) -> list[dict[str, Any]]:
    """Per customer message: its strongest emotion, its sentiment, and the frustration the bot assessed."""
    points: list[dict[str, Any]] = []
    for event in events:
        if event.get("event") == "user" and isinstance(event.get("parse_data"), Mapping):
            emotion = event["parse_data"].get("emotion")
            emotion = emotion if isinstance(emotion, Mapping) else {}
            points.append({"at": _iso(event.get("timestamp")), "emotion": emotion.get("label"),
                           "sentiment": _number(emotion.get("sentiment")), "frustration": None})
        elif (event.get("event") == "slot" and event.get("name") == ESCALATION_SLOT and points
              and isinstance(event.get("value"), Mapping)):
            points[-1]["frustration"] = _number(event["value"].get("frustration"))
    return points


def last_message(events: Sequence[Event]) -> dict[str, Any] | None:
    """The latest customer, bot or agent message."""
    said = [m for m in messages(events) if m["role"] != "event"]
    return {key: said[-1][key] for key in ("role", "text", "at")} if said else None


def _get(data: Mapping[str, Any], key: str, field: str) -> Any:
    value = data.get(key)
    return value.get(field) if isinstance(value, Mapping) else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _iso(timestamp: Any) -> str | None:
    if _number(timestamp) is None:
        return None
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat().replace("+00:00", "Z")
