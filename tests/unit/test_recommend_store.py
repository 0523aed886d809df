"""The recommender's store queries on a small seeded SQLite store: purchases, stock, names, feedback."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from bot.store import recommendations as r
from bot.store.models import Order, OrderItem, Product, RecommendationFeedback

NOW = datetime(2026, 3, 2, 12, 30)
BOUGHT = ("SELECT o.customer_id, i.product_id FROM order_items i JOIN orders o ON o.id = i.order_id "
          "WHERE o.status != 'cancelled'")


@pytest.fixture
def s(small_store):
    """A session on the small store; the queries only flush, so rolling back undoes each test."""
    with Session(small_store, future=True) as session:
        yield session
        session.rollback()


def _sql(s: Session, sql: str, **params) -> list[tuple]:
    return [tuple(row) for row in s.execute(text(sql), params)]


def _bought_by(s: Session, customer: int) -> set[int]:
    return {pid for cid, pid in _sql(s, BOUGHT) if cid == customer}


@pytest.mark.parametrize(("value", "expected"), [
    (7.0, 7), (7, 7), (1, 1), (2**31 - 1, 2**31 - 1), (0, None), (-3.0, None), (1.5, None), (True, None),
    ("7", None), (None, None), (float("nan"), None), (float("inf"), None), (2.0**40, None), (10**400, None),
    ([7], None),
])
def test_customer_id_from_a_slot(value, expected) -> None:
    assert r.customer_id(value) == expected


def test_purchased_is_every_product_of_orders_not_cancelled_oldest_first(s) -> None:
    bought = r.purchased(s, 1)
    assert set(bought) == _bought_by(s, 1) and len(bought) == len(set(bought)) > 0
    firsts = [min(_sql(s, "SELECT o.created_at FROM orders o JOIN order_items i ON i.order_id = o.id "
                          "WHERE o.customer_id = 1 AND i.product_id = :p", p=pid))[0] for pid in bought]
    assert firsts == sorted(firsts)
    order = s.execute(select(Order).where(Order.customer_id == 1).order_by(Order.id)).scalars().first()
    order.status = "cancelled"
    s.flush()
    assert set(r.purchased(s, 1)) == _bought_by(s, 1) != set(bought)
    assert r.purchased(s, 999999) == []


def test_interactions_are_purchases_of_orders_not_cancelled_and_accepted_suggestions(s) -> None:
    pairs = r.interactions(s)
    expected = _sql(s, BOUGHT)
    assert sorted(pairs) == sorted(expected)
    r.record_feedback(s, sender_id="web-1", customer=3, product_ids=[5], accepted=True, now=NOW)
    r.record_feedback(s, sender_id="web-2", customer=None, product_ids=[6], accepted=True, now=NOW)
    r.record_feedback(s, sender_id="web-3", customer=4, product_ids=[7], accepted=False, now=NOW)
    assert sorted(r.interactions(s)) == sorted([*expected, (3, 5)])


def test_catalog_text_holds_name_type_category_and_description(s) -> None:
    entries = r.catalog(s)
    assert [e.id for e in entries] == sorted(e.id for e in entries) and len(entries) == 40
    product = s.get(Product, entries[0].id)
    assert entries[0].name == product.name
    for part in (product.name, product.product_type, product.category, product.description):
        assert part in entries[0].text


def test_feedback_is_kept_per_conversation_and_per_customer_across_channels(s) -> None:
    assert r.record_feedback(s, sender_id="web-1", customer=None, product_ids=[3, 4, 3], accepted=False,
                             now=NOW) == 2
    r.record_feedback(s, sender_id="slack-9", customer=8, product_ids=[5], accepted=False, now=NOW)
    r.record_feedback(s, sender_id="slack-9", customer=8, product_ids=[6], accepted=True, now=NOW)
    assert r.feedback(s, accepted=False, customer=None, sender_id="web-1") == {3, 4}
    assert r.feedback(s, accepted=False, customer=8, sender_id="telegram-2") == {5}
    assert r.feedback(s, accepted=False, customer=8, sender_id="web-1") == {3, 4, 5}
    assert r.feedback(s, accepted=True, customer=8, sender_id="web-1") == {6}
    assert r.feedback(s, accepted=False, customer=None, sender_id="telegram-2") == set()
    row = s.execute(select(RecommendationFeedback).where(RecommendationFeedback.product_id == 6)).scalar_one()
    assert (row.sender_id, row.customer_id, row.accepted, row.created_at) == ("slack-9", 8, True, NOW)


@pytest.mark.parametrize("sender", ["", "  ", None])
def test_feedback_needs_a_conversation(s, sender) -> None:
    with pytest.raises(ValueError):
        r.record_feedback(s, sender_id=sender, customer=None, product_ids=[1], accepted=True, now=NOW)


def test_available_is_in_stock_and_in_the_category(s) -> None:
    in_stock = {pid for (pid,) in _sql(s, "SELECT id FROM products WHERE stock > 0")}
    assert r.available(s) == in_stock and len(in_stock) < 40
    electronics = {pid for (pid,) in _sql(s, "SELECT id FROM products WHERE stock > 0 AND category = :c",
                                          c="electronics")}
    assert r.available(s, "electronics") == electronics and electronics
    assert r.available(s, "no such category") == set()


def test_products_come_in_the_order_asked_without_unknown_ids(s) -> None:
    assert [p.id for p in r.products(s, [7, 999999, 2])] == [7, 2]
    product = s.get(Product, 7)
    assert r.products(s, [7])[0] == r.ProductView(7, product.sku, product.name, product.product_type,
                                                 product.category, product.price_cents, product.stock,
                                                 product.restock_date)
    assert r.products(s, []) == []


def test_products_named_in_a_text_prefer_the_longest_name_in_text_order(s) -> None:
    first, second = s.get(Product, 2), s.get(Product, 9)
    s.add(Product(sku="SKU-X1", name=f"{first.name} Black", product_type=first.product_type,
                  category=first.category, description="-", price_cents=100, stock=1))
    s.flush()
    said = f"Picked for you: {second.name} (€9.99); {first.name} Black (€1.00), popular in garden."
    assert [p.name for p in r.products_named_in(s, said)] == [second.name, f"{first.name} Black"]
    assert [p.name for p in r.products_named_in(s, f"just {first.name}.")] == [first.name]
    assert r.products_named_in(s, "nothing we sell") == r.products_named_in(s, "") == []
    assert r.products_named_in(s, "%") == r.products_named_in(s, "_") == []


def test_signature_follows_what_training_reads(s) -> None:
    before = r.signature(s)
    assert r.signature(s) == before
    r.record_feedback(s, sender_id="web-1", customer=2, product_ids=[3], accepted=False, now=NOW)
    assert r.signature(s) == before  # a declined product changes no training data
    r.record_feedback(s, sender_id="web-1", customer=2, product_ids=[3], accepted=True, now=NOW)
    accepted = r.signature(s)
    assert accepted != before
    order = s.execute(select(Order).where(Order.status == "delivered").limit(1)).scalar_one()
    order.status = "cancelled"
    s.flush()
    cancelled = r.signature(s)
    assert cancelled != accepted
    s.add(OrderItem(order_id=order.id, product_id=1, quantity=1, unit_price_cents=100))
    s.flush()
    assert r.signature(s) != cancelled
