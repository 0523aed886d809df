"""What a customer is worth to the shop, for deciding how urgently a person should take over."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.store.models import Customer, Order

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
