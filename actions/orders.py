"""Order tracking, cancellation and delivery-address changes, answered from the retail store."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import EventList, StoreAction, say
from bot.formatting import day, items_summary, money
from bot.parsing import parse_email, parse_order_id
from bot.store import queries


def order_facts(order: queries.OrderView) -> dict[str, str]:
    """The template variables that the order responses use."""
    since = order.history[-1][1] if order.history else order.created_at
    return {
        "order_id": str(order.id),
        "status": order.status.replace("_", " "),
        "created_on": day(order.created_at),
        "status_since": day(since),
        "expected_delivery": day(order.expected_delivery),
        "carrier": order.carrier,
        "tracking_number": order.tracking_number or "not assigned yet",
        "items": items_summary(order.items),
        "amount": money(order.total_cents),
    }


def known_order(dispatcher: CollectingDispatcher, tracker: Tracker,
                session: Session) -> queries.OrderView | None:
    """The order in the `order_id` slot; when there is none, the customer is told why."""
    order_id = parse_order_id(tracker.get_slot("order_id"))
    order = queries.get_order(session, order_id) if order_id is not None else None
    if order_id is None:
        say(dispatcher, tracker, "invalid_order_id", value=str(tracker.get_slot("order_id") or "")[:40])
    elif order is None:
        say(dispatcher, tracker, "unknown_order", order_id=order_id)
    return order


class OrderLookupAction(StoreAction, ABC):
    """An action about the order in the `order_id` slot; an unknown order is answered here, once."""

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, session: Session) -> EventList:
        order = known_order(dispatcher, tracker, session)
        if order is None:
            return [SlotSet("order_id", None)]
        return self.answer(dispatcher, tracker, session, order)

    @abstractmethod
    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, session: Session,
               order: queries.OrderView) -> EventList:
        """Tell the customer about `order`, which exists."""


class ActionTrackOrder(OrderLookupAction):
    def name(self) -> str:
        return "action_track_order"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, session: Session,
               order: queries.OrderView) -> EventList:
        say(dispatcher, tracker, f"order_status_{order.status}", **order_facts(order))
        return []


class ActionAskCancelConfirmed(StoreAction):
    def name(self) -> str:
        return "action_ask_cancel_confirmed"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, session: Session) -> EventList:
        order = queries.get_order(session, parse_order_id(tracker.get_slot("order_id")) or 0)
        if order is not None:
            say(dispatcher, tracker, "ask_cancel_confirmed", **order_facts(order))
        return []


class ActionCancelOrder(StoreAction):
    def name(self) -> str:
        return "action_cancel_order"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, session: Session) -> EventList:
        order_id = parse_order_id(tracker.get_slot("order_id")) or 0
        order = queries.get_order(session, order_id)
        if order is not None and order.status not in queries.CANCELLABLE_STATUSES:
            say(dispatcher, tracker, "cannot_cancel", **order_facts(order))
        elif tracker.get_slot("cancel_confirmed") is not True:
            say(dispatcher, tracker, "order_kept", order_id=order_id)
        else:
            email = parse_email(tracker.get_slot("email")) or ""
            result = queries.cancel_order(session, order_id, email, datetime.utcnow())
            _tell_result(dispatcher, tracker, result, "order_cancelled", "cannot_cancel")
        return [SlotSet("cancel_confirmed", None)]


class ActionChangeShippingAddress(StoreAction):
    def name(self) -> str:
        return "action_change_shipping_address"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, session: Session) -> EventList:
        order_id = parse_order_id(tracker.get_slot("order_id")) or 0
        order = queries.get_order(session, order_id)
        if order is not None and order.status not in queries.ADDRESS_CHANGEABLE_STATUSES:
            say(dispatcher, tracker, "cannot_change_address", **order_facts(order))
        else:
            address = tracker.get_slot("shipping_address") or ""
            email = parse_email(tracker.get_slot("email")) or ""
            result = queries.change_shipping_address(session, order_id, email, address,
                                                     datetime.utcnow())
            _tell_result(dispatcher, tracker, result, "address_changed", "cannot_change_address",
                         address=address)
        return [SlotSet("shipping_address", None)]


def _tell_result(dispatcher: CollectingDispatcher, tracker: Tracker, result: queries.ActionResult,
                 done: str, wrong_status: str, **extra: str) -> None:
    """Say how a change to an order went, in the response that fits the result."""
    facts = {"order_id": tracker.get_slot("order_id"), **(order_facts(result.order) if result.order else {}),
             **extra}
    response = {
        "ok": done,
        "wrong_status": wrong_status,
        "not_owner": "email_mismatch",
        "invalid_address": "invalid_address",
    }.get(result.reason, "unknown_order")
    say(dispatcher, tracker, response, **facts)
