"""The questions forms ask for each slot (action_ask_<slot>), in the variant for the customer's channel."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import EventList, say


class AskForSlot(Action, ABC):
    """Asks for `slot` with message `ask_<slot>`; with `form` set, only in that form (`ask_<form>_<slot>`)."""

    form: str | None = None

    @property
    @abstractmethod
    def slot(self) -> str:
        """The slot this action asks for."""

    @property
    def question(self) -> str:
        return f"ask_{self.form}_{self.slot}" if self.form else f"ask_{self.slot}"

    def name(self) -> str:
        return f"action_{self.question}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> EventList:
        say(dispatcher, tracker, self.question)
        return []


class AskForOrderId(AskForSlot):
    slot = "order_id"


class AskForEmail(AskForSlot):
    slot = "email"


class AskForRefundReason(AskForSlot):
    slot = "refund_reason"


class AskForShippingAddress(AskForSlot):
    slot = "shipping_address"


class AskForFollowUp(AskForSlot):
    slot = "follow_up"


class AskForFollowUpEmail(AskForSlot):
    form, slot = "follow_up_form", "email"


class AskForFollowUpPhone(AskForSlot):
    form, slot = "follow_up_form", "phone"
