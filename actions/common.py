"""What every store-backed action shares: a session on the retail store and a clear answer when it is down."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.escalation import ESCALATION_SLOT, acknowledgement, bot_spoke_this_turn
from bot.messages import VOICE_CHANNELS, render
from bot.store.db import make_engine, session_scope

logger = logging.getLogger(__name__)

EventList = list[dict[str, Any]]


@lru_cache(maxsize=1)
def store_engine() -> Engine:
    """The action server's one engine on the retail store (TANDEM_DB_URL)."""
    return make_engine()


@contextmanager
def store_session() -> Iterator[Session]:
    """A transaction on the retail store: committed on success, rolled back on any error."""
    with session_scope(store_engine()) as session:
        yield session


class StoreAction(Action, ABC):
    """An action that reads or writes the retail store and tells the customer when the store is down."""

    unavailable_message = "store_unavailable"  # what the customer hears when the store cannot be reached

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> EventList:
        try:
            with store_session() as session:
                return self.act(dispatcher, tracker, session)
        except SQLAlchemyError:
            logger.exception("%s: retail store failed for conversation %s", self.name(),
                             tracker.sender_id)
            say(dispatcher, tracker, self.unavailable_message)
        except Exception:
            logger.exception("%s failed for conversation %s", self.name(), tracker.sender_id)
            say(dispatcher, tracker, "action_failed")
        return []

    @abstractmethod
    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            session: Session) -> EventList:
        """Do the action's work inside one store transaction."""


def last_intent(tracker: Tracker, among: tuple[str, ...]) -> str | None:
    """The most recent user intent in this conversation that is one of `among`."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            name = (event.get("parse_data") or {}).get("intent", {}).get("name")
            if name in among:
                return name
    return None


def say(dispatcher: CollectingDispatcher, tracker: Tracker, message_name: str, /,
        buttons: list[dict[str, str]] | None = None, **values: Any) -> None:
    """Send message `message_name` from bot/messages.yml in the variant for the customer's channel.

    The turn's first message opens with an acknowledgement when the escalation policy de-escalated it.
    """
    channel = tracker.get_latest_input_channel()
    message = render(message_name, channel, **values)
    spoke = bool(dispatcher.messages) or bot_spoke_this_turn([e.get("event") for e in tracker.events])
    opening = acknowledgement(tracker.get_slot(ESCALATION_SLOT), spoke)
    if opening:
        message["text"] = f"{render(opening, channel)['text']} {message['text']}"
    if buttons and channel not in VOICE_CHANNELS:
        message["buttons"] = buttons
    dispatcher.utter_message(**message)

