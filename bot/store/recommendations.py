"""What the recommender asks of the store: purchases, the catalog, stock, and feedback on suggestions."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from bot.store.models import Order, OrderItem, Product, RecommendationFeedback
from bot.store.queries import ProductView, product_view

NOT_OWNED_STATUSES = ("cancelled",)  # a cancelled order never reached the customer
MAX_ID = 2**31 - 1  # PostgreSQL INTEGER


@dataclass(frozen=True)
class CatalogEntry:
    """A product as the recommender trains on it: its id, name and the text that describes it."""

    id: int
    name: str
    text: str


def customer_id(value: object) -> int | None:
    """A customer id from a slot value (Rasa float slots hold 7.0); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    return int(value) if 1 <= value <= MAX_ID else None


# --- training data --------------------------------------------------------------------------


def catalog(s: Session) -> list[CatalogEntry]:
    """Every product, by id, with name, type, category and description as one text."""
    stmt = select(Product).order_by(Product.id)
    return [CatalogEntry(p.id, p.name, f"{p.name}. {p.product_type}, {p.category}. {p.description}")
            for p in s.execute(stmt).scalars()]


def interactions(s: Session) -> list[tuple[int, int]]:
    """(customer, product) pairs: every product of an order that was not cancelled, and every accepted
    suggestion of an identified customer."""
    bought = (select(Order.customer_id, OrderItem.product_id).join(Order, Order.id == OrderItem.order_id)
              .where(Order.status.not_in(NOT_OWNED_STATUSES)))
    accepted = (select(RecommendationFeedback.customer_id, RecommendationFeedback.product_id)
                .where(RecommendationFeedback.accepted.is_(True),
                       RecommendationFeedback.customer_id.is_not(None)))
    return [(c, p) for c, p in s.execute(bought.union_all(accepted))]


def signature(s: Session) -> str:
    """A cheap digest of what training reads (counts and newest ids of four tables): it changes when
    orders, their items or statuses, products or accepted feedback change."""
    cancelled = func.count(case((Order.status.in_(NOT_OWNED_STATUSES), 1)))
    parts = [
        s.execute(select(func.count(), func.max(Order.id), cancelled)).one(),
        s.execute(select(func.count(), func.max(OrderItem.id))).one(),
        s.execute(select(func.count(), func.max(Product.id))).one(),
        s.execute(select(func.count(), func.max(RecommendationFeedback.id))
                  .where(RecommendationFeedback.accepted.is_(True))).one(),
    ]
    return hashlib.sha256(repr([tuple(row) for row in parts]).encode()).hexdigest()[:16]


# --- serving --------------------------------------------------------------------------------


def purchased(s: Session, customer: int) -> list[int]:
    """The products of the customer's orders that were not cancelled, oldest purchase first."""
    first = func.min(Order.created_at)
    stmt = (select(OrderItem.product_id).join(Order, Order.id == OrderItem.order_id)
            .where(Order.customer_id == customer, Order.status.not_in(NOT_OWNED_STATUSES))
            .group_by(OrderItem.product_id).order_by(first, OrderItem.product_id))
    return list(s.execute(stmt).scalars())


def feedback(s: Session, *, accepted: bool, customer: int | None, sender_id: str) -> set[int]:
    """Products this customer (on any channel) or this conversation accepted, or declined."""
    who = RecommendationFeedback.sender_id == sender_id
    if customer is not None:
        who = who | (RecommendationFeedback.customer_id == customer)
    stmt = select(RecommendationFeedback.product_id).where(who, RecommendationFeedback.accepted.is_(accepted))
    return set(s.execute(stmt).scalars())


def available(s: Session, category: str | None = None) -> set[int]:
    """Products in stock (within `category` when given)."""
    stmt = select(Product.id).where(Product.stock > 0)
    if category is not None:
        stmt = stmt.where(Product.category == category)
    return set(s.execute(stmt).scalars())


def products(s: Session, ids: Iterable[int]) -> list[ProductView]:
    """The products with these ids, in the order given (unknown ids are left out)."""
    wanted = list(ids)
    rows = s.execute(select(Product).where(Product.id.in_(wanted))).scalars()
    found = {p.id: product_view(p) for p in rows}
    return [found[i] for i in wanted if i in found]


def products_named_in(s: Session, text: str) -> list[ProductView]:
    """Products whose full name occurs in `text` (what a suggestion listed), in the order they occur."""
    if not isinstance(text, str) or not text:
        return []
    stmt = select(Product).where(literal(text).contains(Product.name))
    # LIKE's % and _ match too much: keep the names the text really holds
    found = [product_view(p) for p in s.execute(stmt).scalars() if p.name in text]
    longest = [p for p in found if not any(p.name != q.name and p.name in q.name for q in found)]
    return sorted(longest, key=lambda p: text.index(p.name))


def record_feedback(s: Session, *, sender_id: str, customer: int | None, product_ids: Iterable[int],
                    accepted: bool, now: datetime) -> int:
    """Write one feedback row per product; returns how many were written."""
    if not isinstance(sender_id, str) or not sender_id.strip():
        raise ValueError("sender_id must be a non-empty string")
    rows = [RecommendationFeedback(sender_id=sender_id, customer_id=customer, product_id=pid,
                                   accepted=accepted, created_at=now) for pid in dict.fromkeys(product_ids)]
    s.add_all(rows)
    s.flush()
    return len(rows)
