"""Hand the conversation to the customer-service team: a ticket in the store with what the agent needs."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import EventList, StoreAction, say
from bot.parsing import parse_order_id
from bot.store import queries

URGENT_TOPICS = ("complaint", "payment_issue")


def conversation_summary(tracker: Tracker) -> tuple[str, str]:
    """The handoff reason and a one-line summary: what the customer asked about, and which order."""
    intents = [
        (event.get("parse_data") or {}).get("intent", {}).get("name")
        for event in tracker.events if event.get("event") == "user"
    ]
    intents = [name for name in intents if name]
    latest = intents[-1] if intents else None
    reason = "customer_request" if latest == "contact_human_agent" else (latest or "unknown")
    topics = ", ".join(f"{name} ×{n}" if n > 1 else name for name, n in Counter(intents).items())
    order_id = parse_order_id(tracker.get_slot("order_id"))
    summary = f"Topics: {topics or 'none'}." + (f" Order: {order_id}." if order_id else "")
    return reason, summary


class ActionHandoffToHuman(StoreAction):
    def name(self) -> str:
        return "action_handoff_to_human"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, session: Session) -> EventList:
        reason, summary = conversation_summary(tracker)
        topics = summary.lower()
        ticket_id = queries.create_handoff_ticket(
            session, sender_id=tracker.sender_id,
            channel=tracker.get_latest_input_channel() or "unknown", reason=reason, summary=summary,
            priority=2 if any(topic in topics for topic in URGENT_TOPICS) else 3,
            now=datetime.utcnow())
        say(dispatcher, tracker, "handoff", ticket_id=ticket_id)
        return [SlotSet("handoff_ticket", float(ticket_id))]
