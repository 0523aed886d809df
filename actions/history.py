"""Who the customer is, and what they asked before: the session start, previous_contact and its follow-up."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import EventList, StoreAction, say, store_session
from bot import history
from bot.settings import Settings
from bot.store import identities, queries
from bot.store.customers import customer_value
from bot.store.identities import ChannelId
from bot.store.queries import CustomerView
from bot.tracker_events import default_engine

logger = logging.getLogger(__name__)

CUSTOMER_SLOT = "customer_id"
VALUE_SLOT = "customer_value"  # read by the escalation policy (bot/policies/escalation.py)
REIDENTIFIED_SLOTS = (CUSTOMER_SLOT, VALUE_SLOT)  # never carried over: every session identifies anew
LINK_BUTTON = {"title": "Link my account", "payload": "/link_account"}
YES_NO = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]


def conversation_customer(tracker: Tracker) -> int | None:
    """The customer this session's actions identified (slot `customer_id`; only actions set it)."""
    value = tracker.get_slot(CUSTOMER_SLOT)
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return int(value) if number and value >= 1 else None


def conversation_channel_id(tracker: Tracker) -> ChannelId | None:
    """The channel id of the conversation: from its latest input channel, sender id and metadata."""
    latest_user = next((e for e in reversed(tracker.events) if e.get("event") == "user"), {})
    metadata = {**_mapping(tracker.get_slot("session_started_metadata")),
                **_mapping(latest_user.get("metadata"))}
    return identities.channel_id(tracker.get_latest_input_channel(), tracker.sender_id, metadata,
                                 secret=Settings.from_env().webchat_secret, now=datetime.utcnow())


def identify(session: Session, tracker: Tracker,
             known: int | None) -> tuple[ChannelId | None, CustomerView | None]:
    """The conversation's channel id and its verified customer (a web chat's: `known`, if identified)."""
    cid = conversation_channel_id(tracker)
    return cid, identities.resolve(session, cid, known)


def identified(session: Session, tracker: Tracker, cid: ChannelId | None,
               customer: CustomerView | None) -> EventList:
    """Slots for who the customer is: their id and their value to the shop (both None when unknown).

    A conversation identified by a web login is linked to the customer, so that it joins their history."""
    if customer is None or cid is None:
        return [SlotSet(CUSTOMER_SLOT, None), SlotSet(VALUE_SLOT, None)]
    if cid.kind == "email":
        identities.link_conversation(session, tracker.sender_id, customer.id, datetime.utcnow())
    return [SlotSet(CUSTOMER_SLOT, float(customer.id)),
            SlotSet(VALUE_SLOT, asdict(customer_value(session, customer.id)))]


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _carried_over(tracker: Tracker, domain: dict[str, Any]) -> EventList:
    """The latest value of every slot, as Rasa's default session start carries them (unless switched off)."""
    if not (domain.get("session_config") or {}).get("carry_over_slots_to_new_session", True):
        return []
    values = {e["name"]: e.get("value") for e in tracker.applied_events()
              if e.get("event") == "slot" and e.get("name") and e["name"] not in REIDENTIFIED_SLOTS}
    return [SlotSet(name, value) for name, value in values.items()]


class ActionSessionStart(Action):
    """Rasa's session start, then who the customer is and, for a returning one, what they asked last."""

    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> EventList:
        return [SessionStarted(), *_carried_over(tracker, domain), *self._welcome(dispatcher, tracker),
                ActionExecuted("action_listen")]

    def _welcome(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> EventList:
        """Identify the customer (a web login is noted on the conversation); greet with their last contact."""
        try:
            with store_session() as session:
                cid, customer = identify(session, tracker, None)
                now = datetime.utcnow()
                slots = identified(session, tracker, cid, customer)
                text = None if customer is None else history.last_contact_text(
                    history.timeline(session, default_engine(), customer.id, now=now,
                                     window=history.GREETING_WINDOW), now, history.GREETING_WINDOW)
        except Exception:
            logger.exception("session start: customer not identified for conversation %s", tracker.sender_id)
            return [SlotSet(CUSTOMER_SLOT, None), SlotSet(VALUE_SLOT, None)]
        if text:
            say(dispatcher, tracker, "welcome_back", first_name=customer.first_name, history=text)
        return slots


class ActionPreviousContact(StoreAction):
    """'Last Tuesday on Telegram you asked about ...; is this about that?', or an honest 'I can't see it'."""

    def name(self) -> str:
        return "action_previous_contact"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, session: Session) -> EventList:
        cid, customer = identify(session, tracker, conversation_customer(tracker))
        if customer is None:
            say(dispatcher, tracker, "previous_contact_unknown", buttons=[LINK_BUTTON])
            return []
        now = datetime.utcnow()
        timeline = history.timeline(session, default_engine(), customer.id, now=now,
                                    exclude_open_of=tracker.sender_id)
        text = history.last_contact_text(timeline, now)
        if text:
            say(dispatcher, tracker, "previous_contact", buttons=YES_NO, history=text)
        elif not timeline.conversations_complete:
            say(dispatcher, tracker, "history_unavailable")
        else:
            say(dispatcher, tracker, "previous_contact_none", days=history.HISTORY_WINDOW.days)
        return identified(session, tracker, cid, customer)


class ActionResumePreviousContact(StoreAction):
    """'Yes, that's it': pick up the earlier conversation's order, if it is the customer's."""

    def name(self) -> str:
        return "action_resume_previous_contact"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, session: Session) -> EventList:
        _, customer = identify(session, tracker, conversation_customer(tracker))
        talk = None
        if customer is not None:
            now = datetime.utcnow()
            talk = history.last_conversation(history.timeline(
                session, default_engine(), customer.id, now=now, exclude_open_of=tracker.sender_id), now)
        order_id = next((o for o in (talk.order_ids if talk else ())
                         if queries.order_owned_by(session, o, customer.email)), None)
        if order_id is None:
            say(dispatcher, tracker, "resume_previous")
            return []
        say(dispatcher, tracker, "resume_previous_order", order_id=order_id)
        return [SlotSet("order_id", str(order_id))]
