"""A real Rasa SQL tracker store in a temporary SQLite file, and conversations written to it as Rasa would."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

from bot.settings import PROJECT_ROOT

Events = list[dict[str, Any]]


@lru_cache(maxsize=1)
def domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


class RasaTrackerStore:
    """Rasa's own SQLTrackerStore on `path`: the events table exactly as `rasa run` writes it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.store = SQLTrackerStore(domain(), dialect="sqlite", db=str(path))

    def save(self, sender_id: str, events: Events) -> None:
        """Store a sender's whole conversation (call once per sender)."""
        tracker = DialogueStateTracker.from_dict(sender_id, events, domain().slots)
        asyncio.run(self.store.save(tracker))

    def close(self) -> None:
        self.store.engine.dispose()


def ts(at: datetime) -> float:
    return at.replace(tzinfo=timezone.utc).timestamp()


def talk(at: datetime, intent: str, *, channel: str, order_id: int | None = None,
         customer_id: int | None = None, answer: str = "Done.", extra: Events = ()) -> Events:
    """One session as Rasa writes it: session start, a customer's message with `intent`, the bot's answer."""
    t = ts(at)
    entities = [{"entity": "order_id", "value": str(order_id), "start": 0, "end": 5}] if order_id else []
    events: Events = [
        {"event": "action", "timestamp": t, "name": "action_session_start"},
        {"event": "session_started", "timestamp": t},
        {"event": "action", "timestamp": t, "name": "action_listen"},
    ]
    if customer_id is not None:
        events.append({"event": "slot", "timestamp": t, "name": "customer_id", "value": float(customer_id)})
    events += [
        {"event": "user", "timestamp": t + 1, "text": "...", "input_channel": channel,
         "parse_data": {"intent": {"name": intent, "confidence": 0.9}, "entities": entities,
                        "emotion": {"label": "neutral", "sentiment": 0.0}}},
        {"event": "action", "timestamp": t + 2, "name": f"utter_{intent}"},
        {"event": "bot", "timestamp": t + 2, "text": answer},
        *[{**event, "timestamp": t + 3} for event in extra],
        {"event": "action", "timestamp": t + 3, "name": "action_listen"},
    ]
    return events

