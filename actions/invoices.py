"""Invoices: show an order's invoice details or point to its PDF copy."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import EventList, last_intent, say
from actions.orders import OrderLookupAction
from bot.formatting import day, items_summary, money
from bot.store import queries


class ActionInvoice(OrderLookupAction):
    def name(self) -> str:
        return "action_invoice"

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, session: Session,
               order: queries.OrderView) -> EventList:
        order_id = order.id
        invoice = queries.get_invoice(session, order_id)
        if invoice is None:
            say(dispatcher, tracker, "no_invoice", order_id=order_id)
            return []
        wants_copy = last_intent(tracker, ("check_invoice", "get_invoice")) == "get_invoice"
        say(dispatcher, tracker, "invoice_copy" if wants_copy else "invoice_details",
            order_id=order_id, invoice_number=invoice.number, issued_on=day(invoice.issued_at),
            amount=money(invoice.amount_cents), items=items_summary(invoice.items))
        return []
