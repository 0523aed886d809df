"""When no agent is online: the customer chooses an email or a call back, and the ticket records where."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from sqlalchemy.orm import Session

from actions.common import EventList, StoreAction, say
from actions.handoff import ticket_for
from bot.formatting import mask_email
from bot.parsing import parse_email, parse_phone
from bot.store import tickets

SlotDict = dict[str, Any]
FOLLOW_UP_WORDS = {
    "email": ("email", "e-mail", "mail", "write", "message"),
    "callback": ("call", "phone", "ring", "callback", "call back"),
}


def follow_up_kind(value: object) -> str | None:
    """'email' or 'callback' from what the customer said or clicked, else None."""
    text = str(value or "").lower()
    kinds = [kind for kind, words in FOLLOW_UP_WORDS.items() if any(word in text for word in words)]
    return kinds[0] if len(kinds) == 1 else None


class ValidateFollowUpForm(FormValidationAction):
    def name(self) -> str:
        return "validate_follow_up_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: dict[str, Any]) -> list[str]:
        """An email needs an address; a call back needs a phone number instead."""
        contact = "phone" if tracker.get_slot("follow_up") == "callback" else "email"
        return ["follow_up", contact]

    def validate_follow_up(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                           domain: dict[str, Any]) -> SlotDict:
        kind = follow_up_kind(value)
        if kind is None:
            say(dispatcher, tracker, "invalid_follow_up")
        return {"follow_up": kind}

    def validate_email(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                       domain: dict[str, Any]) -> SlotDict:
        email = parse_email(value)
        if email is None:
            say(dispatcher, tracker, "invalid_email", value=str(value)[:40])
        return {"email": email}

    def validate_phone(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                       domain: dict[str, Any]) -> SlotDict:
        phone = parse_phone(value)
        if phone is None:
            say(dispatcher, tracker, "invalid_phone")
        return {"phone": phone}


class ActionSubmitFollowUp(StoreAction):
    """Record the follow-up on the conversation's ticket, opening one if none is open yet."""

    unavailable_message = "handoff_unavailable"

    def name(self) -> str:
        return "action_submit_follow_up"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, session: Session) -> EventList:
        kind = tracker.get_slot("follow_up")
        contact = tracker.get_slot("phone") if kind == "callback" else tracker.get_slot("email")
        ticket = ticket_for(session, tracker, datetime.utcnow())
        tickets.request_follow_up(session, ticket.id, kind, contact)
        shown = mask_email(contact) if kind == "email" else contact[-4:]
        say(dispatcher, tracker, f"follow_up_{kind}", ticket_id=ticket.id, contact=shown)
        return [SlotSet("handoff_ticket", float(ticket.id)), SlotSet("follow_up", None)]
