"""What an agent reads first on a handoff ticket: this conversation in a few lines and the recent timeline."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.conversations import split_sessions, summarize
from bot.history import recent_timeline_text


def ticket_summary(store: Session, sender_id: str, events: Sequence[dict[str, Any]], customer_id: int | None,
                   now: datetime) -> str:
    """Topics, order ids, entities and the emotion trend of the current session, then earlier contacts."""
    sessions = split_sessions(events)
    if not sessions:
        return "No conversation yet."
    current = summarize(sessions[-1], sender_id=sender_id, now=now)
    topics = ", ".join(topic.replace("_", " ") for topic in current.topics) or "no clear topic"
    orders = f" (order {', '.join(map(str, current.order_ids))})" if current.order_ids else ""
    lines = [f"Asked about {topics}{orders} over {current.turns} message(s); "
             f"{current.fallbacks} not understood."]
    said = "; ".join(f"{name}: {', '.join(values)}" for name, values in current.entities.items())
    if said:
        lines.append(f"Gave {said}.")
    if current.emotion_start:
        lines.append(f"Mood {current.emotion_start} → {current.emotion_end}; most negative sentiment "
                     f"{current.peak_negative_sentiment:+.2f}.")
    if customer_id is not None:
        lines.append(recent_timeline_text(store, customer_id, now=now, current_sender_id=sender_id))
    return "\n".join(line for line in lines if line)
