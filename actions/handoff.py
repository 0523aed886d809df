"""Hand the conversation to the team: a ticket with what the agent needs, and an honest wait."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import EventList, StoreAction, say
from bot.escalation import ESCALATION_SLOT
from bot.handoff import ticket_summary
from bot.store import tickets


def escalation_of(tracker: Tracker) -> dict[str, Any]:
    """The escalation policy's latest assessment; an explicit request when the policy left none."""
    assessment = tracker.get_slot(ESCALATION_SLOT)
    if isinstance(assessment, dict) and assessment.get("reasons"):
        return assessment
    intent = (tracker.latest_message or {}).get("intent", {}).get("name")
    return {"reasons": [{"name": "explicit_request", "value": intent}], "priority": 3, "frustration": None}


def customer_id_of(tracker: Tracker) -> int | None:
    value = tracker.get_slot("customer_id")
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def ticket_for(session: Session, tracker: Tracker, now: datetime) -> tickets.TicketView:
    """The conversation's active ticket, or a new one built from the escalation policy's assessment."""
    ticket = tickets.active_ticket(session, tracker.sender_id)
    if ticket is not None:
        return ticket
    assessment, customer_id = escalation_of(tracker), customer_id_of(tracker)
    summary = ticket_summary(session, tracker.sender_id, tracker.events, customer_id, now)
    return tickets.create_ticket(
        session, sender_id=tracker.sender_id, channel=tracker.get_latest_input_channel() or "unknown",
        reasons=assessment["reasons"], summary=summary, priority=int(assessment.get("priority") or 3),
        customer_id=customer_id, frustration=assessment.get("frustration"), now=now)


def wait_text(wait: tickets.Wait) -> str:
    """'in a moment' or 'in about 12 minutes (3 customers ahead of you)'."""
    if not wait.minutes:
        return "in a moment"
    ahead = f" ({wait.ahead} customer{'s' if wait.ahead != 1 else ''} ahead of you)" if wait.ahead else ""
    return f"in about {wait.minutes} minutes{ahead}"


class ActionHandoffToHuman(StoreAction):
    """Open a ticket (one per conversation); pause the bot while agents are online, else offer a follow-up."""

    unavailable_message = "handoff_unavailable"

    def name(self) -> str:
        return "action_handoff_to_human"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, session: Session) -> EventList:
        now = datetime.utcnow()
        ticket = ticket_for(session, tracker, now)
        wait = tickets.wait_for(session, ticket, now)
        events: EventList = [SlotSet("handoff_ticket", float(ticket.id))]
        if wait.minutes is None:
            say(dispatcher, tracker, "handoff_no_agents", ticket_id=ticket.id)
            return events
        say(dispatcher, tracker, "handoff_waiting", ticket_id=ticket.id, wait=wait_text(wait))
        return events + [ConversationPaused()]
