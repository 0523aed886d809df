"""Validation of the order forms: order numbers must exist, emails must own the order, values must parse."""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Callable
from functools import wraps
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from actions.common import say, store_session
from bot.formatting import items_summary
from bot.parsing import clean_address, parse_email, parse_order_id
from bot.store import queries

logger = logging.getLogger(__name__)

SlotDict = dict[str, Any]
Validator = Callable[..., SlotDict]
EVERYTHING = ("all", "everything", "all of it", "all of them", "the whole order", "both", "whole order")


def reads_store(slot: str) -> Callable[[Validator], Validator]:
    """Give a slot validator a store session; if the store fails, say so and leave the slot empty."""

    def decorate(validate: Validator) -> Validator:
        @wraps(validate)
        def validate_with_store(self: FormValidationAction, value: Any, dispatcher: CollectingDispatcher,
                                tracker: Tracker, domain: dict[str, Any]) -> SlotDict:
            try:
                with store_session() as session:
                    return validate(self, value, dispatcher, tracker, domain, session)
            except SQLAlchemyError:
                logger.exception("%s: store failed for conversation %s", validate.__name__, tracker.sender_id)
                say(dispatcher, tracker, "store_unavailable")
                return {slot: None}

        return validate_with_store

    return decorate


class OrderFormValidation(FormValidationAction):
    """Shared checks for every form that starts with an order number (and, for changes, its email)."""

    allowed_statuses: tuple[str, ...] | None = None  # statuses in which the rest of the form makes sense

    @property
    @abstractmethod
    def form(self) -> str:
        """The form this action validates."""

    def name(self) -> str:
        return f"validate_{self.form}"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: dict[str, Any]) -> list[str]:
        """Stop after the order number when the order's status rules out the rest of the form."""
        order_id = parse_order_id(tracker.get_slot("order_id"))
        if self.allowed_statuses is None or order_id is None:
            return domain_slots
        status = _order_status(order_id)
        return ["order_id"] if status and status not in self.allowed_statuses else domain_slots

    @reads_store("order_id")
    def validate_order_id(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                          domain: dict[str, Any], session: Session) -> SlotDict:
        order_id = parse_order_id(value)
        if order_id is None:
            say(dispatcher, tracker, "invalid_order_id", value=_quote(value))
            return {"order_id": None}
        if queries.get_order(session, order_id) is None:
            say(dispatcher, tracker, "unknown_order", order_id=order_id)
            return {"order_id": None}
        slots: SlotDict = {"order_id": str(order_id)}
        email = parse_email(tracker.get_slot("email"))
        asks_email = "email" in self.domain_slots(domain)
        if asks_email and email is not None and not queries.order_owned_by(session, order_id, email):
            slots["email"] = None  # verified for another order: ask again for this one
        return slots

    @reads_store("email")
    def validate_email(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                       domain: dict[str, Any], session: Session) -> SlotDict:
        email = parse_email(value)
        if email is None:
            say(dispatcher, tracker, "invalid_email", value=_quote(value))
            return {"email": None}
        order_id = parse_order_id(tracker.get_slot("order_id"))
        if order_id is not None and not queries.order_owned_by(session, order_id, email):
            say(dispatcher, tracker, "email_mismatch", order_id=order_id)
            return {"email": None}
        return {"email": email}


class ValidateTrackOrderForm(OrderFormValidation):
    form = "track_order_form"


class ValidateTrackRefundForm(OrderFormValidation):
    form = "track_refund_form"


class ValidateInvoiceForm(OrderFormValidation):
    form = "invoice_form"


class ValidateCancelOrderForm(OrderFormValidation):
    form = "cancel_order_form"
    allowed_statuses = queries.CANCELLABLE_STATUSES


class ValidateShippingAddressForm(OrderFormValidation):
    form = "shipping_address_form"
    allowed_statuses = queries.ADDRESS_CHANGEABLE_STATUSES

    def validate_shipping_address(self, value: Any, dispatcher: CollectingDispatcher,
                                  tracker: Tracker, domain: dict[str, Any]) -> SlotDict:
        address = clean_address(value)
        if address is None:
            say(dispatcher, tracker, "invalid_address")
        return {"shipping_address": address}


class ValidateRefundForm(OrderFormValidation):
    form = "refund_form"
    allowed_statuses = queries.REFUNDABLE_STATUSES

    @reads_store("refund_item")
    def validate_refund_item(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: dict[str, Any], session: Session) -> SlotDict:
        text = str(value or "").strip()
        if text.lower() in EVERYTHING:
            return {"refund_item": "all"}
        order_id = parse_order_id(tracker.get_slot("order_id"))
        order = queries.get_order(session, order_id) if order_id else None
        index = queries.match_item(order.items, text) if order else None
        if order is None or index is None:
            say(dispatcher, tracker, "unknown_refund_item", value=_quote(text), order_id=order_id,
                items=items_summary(order.items) if order else "")
            return {"refund_item": None}
        return {"refund_item": order.items[index].name}

    def validate_refund_reason(self, value: Any, dispatcher: CollectingDispatcher,
                               tracker: Tracker, domain: dict[str, Any]) -> SlotDict:
        reason = " ".join(str(value or "").split())[:500]
        return {"refund_reason": reason or None}


def _order_status(order_id: int) -> str | None:
    try:
        with store_session() as session:
            order = queries.get_order(session, order_id)
    except SQLAlchemyError:
        logger.exception("order lookup failed")
        return None
    return order.status if order else None


def _quote(value: Any) -> str:
    """A customer's value, shortened for echoing back."""
    text = " ".join(str(value).split())
    return text if len(text) <= 40 else text[:39] + "…"
