"""What the Rasa actions ask of the store; plain frozen views in, never ORM objects out."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql import Subquery

from bot.store.catalog import CHANNELS
from bot.store.models import (
    Customer,
    Identity,
    Invoice,
    Order,
    OrderItem,
    OrderStatusEvent,
    Product,
    Refund,
)

CANCELLABLE_STATUSES = ("pending", "processing")
ADDRESS_CHANGEABLE_STATUSES = ("pending", "processing")
REFUNDABLE_STATUSES = ("delivered",)
ACTIVE_REFUND_STATUSES = ("requested", "approved", "refunded")  # only a rejected refund may be asked again
WHOLE_ORDER_WORDS = ("all", "everything")
# Words that name no item: "just the kettle" means the kettle.
FILLER_WORDS = frozenset({"the", "a", "an", "my", "just", "only", "one", "item", "please", "i", "want", "to",
                          "return", "it", "that", "this", "of"})
ADDRESS_LENGTH = (5, 200)
MAX_TEXT_LENGTH = 2000
MAX_ORDER_ID = 2**31 - 1  # PostgreSQL INTEGER
MAX_SEARCH_WORDS = 8
MAX_LIMIT = 50
POPULARITY_WINDOW = timedelta(days=90)

Reason = Literal[
    "ok", "not_found", "not_owner", "wrong_status", "already_requested", "unknown_item", "invalid_address",
]


@dataclass(frozen=True)
class OrderItemView:
    name: str
    product_type: str
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True)
class OrderView:
    id: int
    status: str
    created_at: datetime
    expected_delivery: date
    delivered_at: datetime | None
    carrier: str
    tracking_number: str | None
    total_cents: int
    items: tuple[OrderItemView, ...]
    history: tuple[tuple[str, datetime], ...]


@dataclass(frozen=True)
class ActionResult:
    """Outcome of a change the customer asked for; `order` is withheld from non-owners."""

    ok: bool
    reason: Reason
    order: OrderView | None


@dataclass(frozen=True)
class RefundView:
    id: int
    order_id: int
    item_name: str | None
    amount_cents: int
    reason: str
    status: str
    requested_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class InvoiceView:
    number: str
    issued_at: datetime
    amount_cents: int
    order_id: int
    items: tuple[OrderItemView, ...]


@dataclass(frozen=True)
class ProductView:
    id: int
    sku: str
    name: str
    product_type: str
    category: str
    price_cents: int
    stock: int
    restock_date: date | None


@dataclass(frozen=True)
class CustomerView:
    id: int
    first_name: str
    email: str


# --- input validation -----------------------------------------------------------------------


def parse_order_id(value: object) -> int | None:
    """An order id from an int or a string of digits ('10001', '#10001'); None for anything else."""
    if isinstance(value, str) and re.fullmatch(r"#?[0-9]{1,10}", value.strip()):
        value = int(value.strip().lstrip("#"))
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ORDER_ID:
        return value
    return None


def _email(value: object) -> str | None:
    """An email address as stored (trimmed, lower-case), or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().lower()


def _one_line(value: object) -> str:
    """`value` with whitespace runs collapsed to single spaces; '' for a non-string or control characters."""
    if not isinstance(value, str) or any(unicodedata.category(c) == "Cc" and not c.isspace() for c in value):
        return ""
    return " ".join(value.split())


def _stems(text: str) -> list[str]:
    """Lower-case words without a plural 's': 'Wireless Headphones' -> ['wireless', 'headphone']."""
    words = re.findall(r"\w+(?:['-]\w+)*", text.lower())
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words]


def _limit(limit: int) -> int:
    return max(1, min(int(limit), MAX_LIMIT))


# --- orders ---------------------------------------------------------------------------------


def _item_view(item: OrderItem) -> OrderItemView:
    return OrderItemView(item.product.name, item.product.product_type, item.quantity, item.unit_price_cents)


def order_view(order: Order) -> OrderView:
    return OrderView(
        order.id, order.status, order.created_at, order.expected_delivery, order.delivered_at, order.carrier,
        order.tracking_number, order.total_cents, tuple(_item_view(item) for item in order.items),
        tuple((event.status, event.at) for event in order.events),
    )


def _load_order(s: Session, order_id: object, *, lock: bool = False) -> Order | None:
    """The order with its items and history; `lock` takes a row lock (PostgreSQL) for a change."""
    oid = parse_order_id(order_id)
    if oid is None:
        return None
    stmt = select(Order).where(Order.id == oid).options(
        selectinload(Order.items).joinedload(OrderItem.product), selectinload(Order.events))
    if lock:
        stmt = stmt.with_for_update(of=Order).execution_options(populate_existing=True)
    return s.execute(stmt).scalar_one_or_none()


def get_order(s: Session, order_id: int) -> OrderView | None:
    """The order, or None when there is no such order."""
    order = _load_order(s, order_id)
    return None if order is None else order_view(order)


def order_owned_by(s: Session, order_id: int, email: str) -> bool:
    """Whether the order exists and belongs to the customer with this email (any case, trimmed)."""
    oid, mail = parse_order_id(order_id), _email(email)
    if oid is None or mail is None:
        return False
    stmt = select(Order.id).join(Order.customer).where(Order.id == oid, Customer.email == mail)
    return s.execute(stmt).first() is not None


def _order_for_change(s: Session, order_id: object, email: object,
                      allowed: tuple[str, ...]) -> Order | ActionResult:
    """The locked order if it exists, is the caller's and is in an `allowed` status; else the refusal."""
    order = _load_order(s, order_id, lock=True)
    if order is None:
        return ActionResult(False, "not_found", None)
    if order.customer.email != _email(email):
        return ActionResult(False, "not_owner", None)
    if order.status not in allowed:
        return ActionResult(False, "wrong_status", order_view(order))
    return order


def cancel_order(s: Session, order_id: int, email: str, now: datetime) -> ActionResult:
    """Cancel a pending or processing order; its full total gets an approved refund."""
    order = _order_for_change(s, order_id, email, CANCELLABLE_STATUSES)
    if isinstance(order, ActionResult):
        return order
    order.status = "cancelled"
    order.events.append(OrderStatusEvent(status="cancelled", at=now))
    order.customer.lifetime_spend_cents = Customer.lifetime_spend_cents - order.total_cents
    s.add(Refund(order_id=order.id, amount_cents=order.total_cents, reason="order cancelled",
                 status="approved", requested_at=now, updated_at=now))
    s.flush()
    return ActionResult(True, "ok", order_view(order))


def change_shipping_address(s: Session, order_id: int, email: str, address: str,
                            now: datetime) -> ActionResult:
    """Ship a pending or processing order to a new one-line address of 5-200 characters.

    `now` keeps the signature of the other changes; the order stores no time for an address change."""
    order = _order_for_change(s, order_id, email, ADDRESS_CHANGEABLE_STATUSES)
    if isinstance(order, ActionResult):
        return order
    clean = _one_line(address)
    low, high = ADDRESS_LENGTH
    if not low <= len(clean) <= high:
        return ActionResult(False, "invalid_address", order_view(order))
    order.shipping_address = clean
    s.flush()
    return ActionResult(True, "ok", order_view(order))


# --- refunds and invoices -------------------------------------------------------------------


def _refund_view(refund: Refund) -> RefundView:
    return RefundView(
        refund.id, refund.order_id, None if refund.item is None else refund.item.product.name,
        refund.amount_cents, refund.reason, refund.status, refund.requested_at, refund.updated_at,
    )


def match_item(items: Sequence[OrderItemView], wanted: str) -> int | None:
    """Index of the item named or typed `wanted`, else of the first whose words hold all its content words."""
    wanted = _one_line(wanted).lower()
    labels = [(item.name.lower(), item.product_type.lower()) for item in items]
    for index, (name, ptype) in enumerate(labels):
        if wanted in (name, ptype):
            return index
    stems = {stem for stem in _stems(wanted) if stem not in FILLER_WORDS}
    for index, (name, ptype) in enumerate(labels):
        if stems and stems <= set(_stems(f"{name} {ptype}")):
            return index
    return None


def _refund_blocked(s: Session, order_id: int, item: OrderItem | None) -> bool:
    """An active refund covers this item already (or any item, when asking for the whole order)."""
    stmt = select(Refund.id).where(Refund.order_id == order_id, Refund.status.in_(ACTIVE_REFUND_STATUSES))
    if item is not None:
        stmt = stmt.where(or_(Refund.order_item_id == item.id, Refund.order_item_id.is_(None)))
    return s.execute(stmt.limit(1)).first() is not None


def request_refund(s: Session, order_id: int, email: str, item_name: str | None, reason: str,
                   now: datetime) -> tuple[ActionResult, RefundView | None]:
    """Ask for a refund of one item of a delivered order, or of all of it (None, 'all', 'everything')."""
    order = _order_for_change(s, order_id, email, REFUNDABLE_STATUSES)
    if isinstance(order, ActionResult):
        return order, None
    wanted = "all" if item_name is None else _one_line(item_name).lower()
    item = None
    if wanted not in WHOLE_ORDER_WORDS:
        index = match_item([_item_view(i) for i in order.items], wanted)
        if index is None:
            return ActionResult(False, "unknown_item", order_view(order)), None
        item = order.items[index]
    if _refund_blocked(s, order.id, item):
        return ActionResult(False, "already_requested", order_view(order)), None
    refund = Refund(
        order_id=order.id, item=item, reason=_one_line(reason)[:MAX_TEXT_LENGTH] or "no reason given",
        amount_cents=order.total_cents if item is None else item.quantity * item.unit_price_cents,
        status="requested", requested_at=now, updated_at=now,
    )
    s.add(refund)
    s.flush()
    return ActionResult(True, "ok", order_view(order)), _refund_view(refund)


def get_refunds(s: Session, order_id: int) -> list[RefundView]:
    """The order's refunds, newest first (empty when there is no such order)."""
    oid = parse_order_id(order_id)
    if oid is None:
        return []
    stmt = (select(Refund).where(Refund.order_id == oid)
            .order_by(Refund.requested_at.desc(), Refund.id.desc())
            .options(selectinload(Refund.item).joinedload(OrderItem.product)))
    return [_refund_view(refund) for refund in s.execute(stmt).scalars()]


def get_invoice(s: Session, order_id: int) -> InvoiceView | None:
    """The order's invoice with its items, or None."""
    oid = parse_order_id(order_id)
    if oid is None:
        return None
    stmt = select(Invoice).where(Invoice.order_id == oid).options(
        selectinload(Invoice.order).selectinload(Order.items).joinedload(OrderItem.product))
    invoice = s.execute(stmt).scalar_one_or_none()
    if invoice is None:
        return None
    items = tuple(_item_view(item) for item in invoice.order.items)
    return InvoiceView(invoice.number, invoice.issued_at, invoice.amount_cents, invoice.order_id, items)


# --- products -------------------------------------------------------------------------------


def product_view(p: Product) -> ProductView:
    return ProductView(p.id, p.sku, p.name, p.product_type, p.category, p.price_cents, p.stock,
                       p.restock_date)


def _sales(since: datetime | None = None) -> Subquery:
    """Non-cancelled order items per product (ordered since `since`): columns product_id, sold."""
    stmt = (select(OrderItem.product_id, func.count().label("sold"))
            .join(Order, Order.id == OrderItem.order_id).where(Order.status != "cancelled"))
    if since is not None:
        stmt = stmt.where(Order.created_at >= since)
    return stmt.group_by(OrderItem.product_id).subquery()


def find_products(s: Session, text: str, limit: int = 5) -> list[ProductView]:
    """Products whose name, type or category contain every word of `text`; in stock first, then popular."""
    stems = _stems(text)[:MAX_SEARCH_WORDS] if isinstance(text, str) else []
    if not stems:
        return []
    columns = (func.lower(Product.name), func.lower(Product.product_type), func.lower(Product.category))
    matches = [or_(*(column.contains(stem, autoescape=True) for column in columns)) for stem in stems]
    sold = _sales()
    in_stock_first = case((Product.stock > 0, 0), else_=1)
    stmt = (select(Product).outerjoin(sold, sold.c.product_id == Product.id).where(*matches)
            .order_by(in_stock_first, func.coalesce(sold.c.sold, 0).desc(), Product.sku)
            .limit(_limit(limit)))
    return [product_view(p) for p in s.execute(stmt).scalars()]


def top_products(s: Session, category: str | None = None, limit: int = 5,
                 in_stock_only: bool = True) -> list[ProductView]:
    """Best sellers of the 90 days before the newest order, optionally within one category."""
    newest = s.execute(select(func.max(Order.created_at))).scalar_one()
    if newest is None:
        return []
    sold = _sales(since=newest - POPULARITY_WINDOW)
    stmt = select(Product).join(sold, sold.c.product_id == Product.id)
    if category is not None:
        stmt = stmt.where(Product.category == _one_line(category).lower())
    if in_stock_only:
        stmt = stmt.where(Product.stock > 0)
    stmt = stmt.order_by(sold.c.sold.desc(), Product.sku).limit(_limit(limit))
    return [product_view(p) for p in s.execute(stmt).scalars()]


# --- customers and handoff tickets ----------------------------------------------------------


def _external_id(channel: str, external_id: str) -> str:
    """The stored form: emails lower-case, phone numbers without spaces, dashes, dots or brackets."""
    if channel == "email":
        return external_id.strip().lower()
    if channel == "phone":
        return re.sub(r"[\s().-]", "", external_id)
    return external_id.strip()


def customer_by_identity(s: Session, channel: str, external_id: str,
                         verified_only: bool = True) -> CustomerView | None:
    """The customer known by this id on this channel (email, phone, slack, telegram), or None."""
    if channel not in CHANNELS or not isinstance(external_id, str):
        return None
    stmt = (select(Customer).join(Identity, Identity.customer_id == Customer.id)
            .where(Identity.channel == channel, Identity.external_id == _external_id(channel, external_id)))
    if verified_only:
        stmt = stmt.where(Identity.verified.is_(True))
    customer = s.execute(stmt).scalar_one_or_none()
    return None if customer is None else CustomerView(customer.id, customer.first_name, customer.email)
