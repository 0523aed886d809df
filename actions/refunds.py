"""Returns and refunds: start a return through the refund form, report the state of existing refunds."""

from __future__ import annotations

from datetime import datetime

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import EventList, StoreAction, say
from actions.orders import OrderLookupAction, order_facts
from bot.formatting import day, money
from bot.parsing import parse_email, parse_order_id
from bot.store import queries

REFUND_STATE_WORDS = {
    "requested": "requested on {requested}, waiting for the parcel to reach us",
    "approved": "approved on {updated}; the money is on its way (3 to 5 working days)",
    "refunded": "paid back on {updated}",
    "rejected": "declined on {updated}",
}
RESULT_RESPONSES = {
    "wrong_status": "refund_not_possible",
    "already_requested": "refund_already_requested",
    "not_owner": "email_mismatch",
    "unknown_item": "unknown_refund_item",
}


def describe_refund(refund: queries.RefundView) -> str:
    """One refund in words: '€25.00 for Nordwind Kettle: paid back on Monday 2 November'."""
    what = refund.item_name or "the whole order"
    state = REFUND_STATE_WORDS[refund.status].format(requested=day(refund.requested_at),
                                                      updated=day(refund.updated_at))
    return f"{money(refund.amount_cents)} for {what}: {state}"


class ActionTrackRefund(OrderLookupAction):
    def name(self) -> str:
        return "action_track_refund"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, session: Session,
               order: queries.OrderView) -> EventList:
        order_id = order.id
        refunds = queries.get_refunds(session, order_id)
        if not refunds:
            say(dispatcher, tracker, "no_refund", order_id=order_id)
        else:
            say(dispatcher, tracker, "refund_status", order_id=order_id,
                                     refunds="; ".join(describe_refund(r) for r in refunds))
        return []


class ActionAskRefundItem(StoreAction):
    def name(self) -> str:
        return "action_ask_refund_item"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, session: Session) -> EventList:
        order = queries.get_order(session, parse_order_id(tracker.get_slot("order_id")) or 0)
        buttons = [{"title": item.name, "payload": item.name} for item in order.items] if order else []
        if len(buttons) > 1:
            buttons.append({"title": "Everything", "payload": "everything"})
        say(dispatcher, tracker, "ask_refund_item", buttons=buttons)
        return []


class ActionSubmitRefund(StoreAction):
    def name(self) -> str:
        return "action_submit_refund"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, session: Session) -> EventList:
        order_id = parse_order_id(tracker.get_slot("order_id")) or 0
        item = tracker.get_slot("refund_item")
        result, refund = queries.request_refund(
            session, order_id, parse_email(tracker.get_slot("email")) or "",
            None if item in (None, "all") else item, tracker.get_slot("refund_reason") or "",
            datetime.utcnow())
        facts = order_facts(result.order) if result.order else {"order_id": str(order_id)}
        if result.ok and refund is not None:
            say(dispatcher, tracker, "refund_requested", **{
                **facts, "item": refund.item_name or "the whole order",
                "amount": money(refund.amount_cents)})
        else:
            say(dispatcher, tracker, RESULT_RESPONSES.get(result.reason, "unknown_order"),
                                     value=item or "", **facts)
        return [SlotSet("refund_item", None), SlotSet("refund_reason", None)]
