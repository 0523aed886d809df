"""Hand the conversation to the team: a ticket with what the agent needs, and an honest wait."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import EventList, StoreAction, say
from bot.escalation import ESCALATION_SLOT
from bot.handoff import ticket_summary
from bot.messages import VOICE_CHANNELS
from bot.store import tickets

TRANSFER_NUMBER_VARIABLE = "TANDEM_VOICE_TRANSFER_NUMBER"  # voice calls are put through to this line


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
        transfer_to = os.environ.get(TRANSFER_NUMBER_VARIABLE, "")
        if transfer_to and tracker.get_latest_input_channel() in VOICE_CHANNELS:
            say(dispatcher, tracker, "handoff_transfer", ticket_id=ticket.id)
            dispatcher.utter_message(json_message={"voice": {"transfer": transfer_to}})
        else:
            say(dispatcher, tracker, "handoff_waiting", ticket_id=ticket.id, wait=wait_text(wait))
        return events + [ConversationPaused()]


class ActionHandedBack(Action):
    """Run by the handoff relay when an agent hands the conversation back: the bot says it is back."""

    def name(self) -> str:
        return "action_handed_back"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> EventList:
        say(dispatcher, tracker, "handed_back", agent=agent_name(tracker))
        return []


class ActionAskCsat(Action):
    """Run by the handoff relay when an agent closes with a survey: ask for a 1-5 rating (`csat` slot)."""

    def name(self) -> str:
        return "action_ask_csat"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> EventList:
        say(dispatcher, tracker, "ask_csat", agent=agent_name(tracker))
        return []


def agent_name(tracker: Tracker) -> str:
    """Who from the team had the conversation (set by the relay); 'Our team' when unknown."""
    name = tracker.get_slot("agent_name")
    return name if isinstance(name, str) and name.strip() else "Our team"
