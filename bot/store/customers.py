"""Who a customer is to the shop: their value (for escalation), their profile and orders (for agents)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from bot.store.models import Customer, Order, OrderItem
from bot.store.queries import OrderView, order_view

OPEN_ORDER_STATUSES = ("pending", "processing", "shipped", "out_for_delivery")  # paid, not yet delivered


@dataclass(frozen=True)
class CustomerValue:
    lifetime_spend_cents: int = 0
    open_orders: int = 0
    open_order_value_cents: int = 0  # the total of the open orders


def customer_value(s: Session, customer_id: int | None) -> CustomerValue:
    """Lifetime spend and the customer's open orders; zeros for an unknown or missing customer."""
    if isinstance(customer_id, bool) or not isinstance(customer_id, int):
        return CustomerValue()
    spend = s.execute(select(Customer.lifetime_spend_cents).where(Customer.id == customer_id)).scalar()
    count, total = s.execute(select(func.count(), func.coalesce(func.sum(Order.total_cents), 0)).where(
        Order.customer_id == customer_id, Order.status.in_(OPEN_ORDER_STATUSES))).one()
    return CustomerValue(spend or 0, count, total) if spend is not None else CustomerValue()


@dataclass(frozen=True)
class Profile:
    """What an agent sees of the customer they are helping."""

    id: int
    name: str
    email: str
    phone: str
    since: datetime
    value: CustomerValue


def profile(s: Session, customer_id: int) -> Profile | None:
    """The customer's contact details, customer-since date and value; None when there is no such customer."""
    customer = s.get(Customer, customer_id)
    if customer is None:
        return None
    return Profile(customer.id, f"{customer.first_name} {customer.last_name}", customer.email, customer.phone,
                   customer.created_at, customer_value(s, customer_id))


def recent_orders(s: Session, customer_id: int, limit: int = 10) -> list[OrderView]:
    """The customer's latest orders, newest first."""
    stmt = (select(Order).where(Order.customer_id == customer_id)
            .options(selectinload(Order.items).selectinload(OrderItem.product), selectinload(Order.events))
            .order_by(Order.created_at.desc(), Order.id.desc()).limit(limit))
    return [order_view(order) for order in s.execute(stmt).scalars()]


def customer_names(s: Session, customer_ids: set[int]) -> dict[int, str]:
    """Full names by customer id."""
    if not customer_ids:
        return {}
    rows = s.execute(select(Customer.id, Customer.first_name, Customer.last_name)
                     .where(Customer.id.in_(customer_ids)))
    return {cid: f"{first} {last}" for cid, first, last in rows}
