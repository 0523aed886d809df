"""The questions forms ask for each slot (action_ask_<slot>), in the variant for the customer's channel."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import EventList, say


class AskForSlot(Action, ABC):
    """Asks for `slot` with the message `ask_<slot>`."""

    @property
    @abstractmethod
    def slot(self) -> str:
        """The slot this action asks for."""

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> EventList:
        say(dispatcher, tracker, f"ask_{self.slot}")
        return []


class AskForOrderId(AskForSlot):
    slot = "order_id"


class AskForEmail(AskForSlot):
    slot = "email"


class AskForRefundReason(AskForSlot):
    slot = "refund_reason"


class AskForShippingAddress(AskForSlot):
    slot = "shipping_address"
