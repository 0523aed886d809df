"""The queries the actions call, on a small seeded SQLite store (tests/integration compares PostgreSQL)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.store import queries as q
from bot.store.models import (
    Base,
    Customer,
    Identity,
    Invoice,
    Order,
    OrderItem,
    Product,
    Refund,
)
from tests.conftest import SMALL_SIZES, SMALL_TODAY

TODAY = SMALL_TODAY
NOW = datetime(2026, 3, 2, 12, 30)
SMALL = SMALL_SIZES
ALEX = "alex.morgan@example.com"
BAD_ORDER_IDS = ("10001; DROP TABLE orders", "10001 OR 1=1", -10001, 0, 2**64, "99999999999", 10001.0, "1e4",
                 None, True, "", "abc", "١٠٠٠١")
INJECTIONS = ("'; DROP TABLE orders; --", "' OR '1'='1", "%", "_", '" OR 1=1 --', "1; DELETE FROM customers")




@pytest.fixture
def s(small_store):
    """A session on the small store; the queries only flush, so rolling back undoes each test."""
    with Session(small_store, future=True) as session:
        yield session
        session.rollback()


def _counts(s: Session) -> dict[str, int]:
    return {table.name: s.execute(select(func.count()).select_from(table)).scalar_one()
            for table in Base.metadata.sorted_tables}


def _other_customer_email(s: Session) -> str:
    return s.execute(select(Customer.email).where(Customer.id == 2)).scalar_one()


def _order_with_status(s: Session, status: str) -> Order:
    return s.execute(select(Order).where(Order.status == status, Order.customer_id != 1)
                     .order_by(Order.id).limit(1)).scalar_one()


# --- orders ---------------------------------------------------------------------------------


def test_get_order_returns_a_frozen_view(s):
    order = q.get_order(s, 10001)
    assert order.id == 10001 and order.status == "shipped" and order.carrier == "DPD"
    assert [status for status, _ in order.history] == ["pending", "processing", "shipped"]
    assert order.expected_delivery > TODAY and order.delivered_at is None and order.tracking_number
    assert order.total_cents == sum(i.quantity * i.unit_price_cents for i in order.items) > 0
    assert all(isinstance(item, q.OrderItemView) for item in order.items)
    with pytest.raises(AttributeError):
        order.status = "delivered"
    assert q.get_order(s, "10001") == q.get_order(s, " #10001 ") == order


@pytest.mark.parametrize("order_id", BAD_ORDER_IDS + (99999,))
def test_get_order_not_found(s, order_id):
    assert q.get_order(s, order_id) is None


def test_order_owned_by(s):
    assert q.order_owned_by(s, 10001, "  Alex.MORGAN@Example.com ")
    assert not q.order_owned_by(s, 10001, _other_customer_email(s))
    assert not q.order_owned_by(s, 99999, ALEX)
    assert not q.order_owned_by(s, "10001; DROP TABLE orders", ALEX)
    assert not any(q.order_owned_by(s, 10001, text) for text in INJECTIONS + ("", None))


def test_cancel_order(s):
    spend = s.get(Customer, 1).lifetime_spend_cents
    result = q.cancel_order(s, 10003, ALEX, NOW)
    assert (result.ok, result.reason) == (True, "ok")
    assert result.order.status == "cancelled" and result.order.history[-1] == ("cancelled", NOW)
    assert [status for status, _ in result.order.history] == ["pending", "processing", "cancelled"]
    refund = s.execute(select(Refund).where(Refund.order_id == 10003)).scalar_one()
    assert (refund.status, refund.order_item_id) == ("approved", None)
    assert refund.amount_cents == result.order.total_cents
    assert s.execute(select(Invoice).where(Invoice.order_id == 10003)).scalar_one_or_none() is not None
    s.expire_all()
    assert s.get(Customer, 1).lifetime_spend_cents == spend - result.order.total_cents
    again = q.cancel_order(s, 10003, ALEX, NOW)
    assert (again.ok, again.reason, again.order.status) == (False, "wrong_status", "cancelled")


def test_cancel_order_refusals_change_nothing(s):
    before = _counts(s)
    assert q.cancel_order(s, 10003, _other_customer_email(s), NOW) == q.ActionResult(False, "not_owner", None)
    assert q.cancel_order(s, 99999, ALEX, NOW) == q.ActionResult(False, "not_found", None)
    shipped = q.cancel_order(s, 10001, ALEX, NOW)
    assert (shipped.ok, shipped.reason, shipped.order.status) == (False, "wrong_status", "shipped")
    delivered = _order_with_status(s, "delivered")
    assert q.cancel_order(s, delivered.id, delivered.customer.email, NOW).reason == "wrong_status"
    assert _counts(s) == before
    assert q.get_order(s, 10003).status == "processing"


def test_change_shipping_address_keeps_unicode(s):
    address = "Flat 3 🏠, 5 Rue de l'Église, Zürich 8001 — 東京"
    result = q.change_shipping_address(s, 10003, ALEX, f"  {address}\n ", NOW)
    assert (result.ok, result.reason) == (True, "ok")
    s.expire_all()
    assert s.get(Order, 10003).shipping_address == address
    spaced = q.change_shipping_address(s, 10003, ALEX, "1   Long\tRoad,\n Leeds", NOW)
    assert spaced.ok and s.get(Order, 10003).shipping_address == "1 Long Road, Leeds"


@pytest.mark.parametrize("address", ["abc", "  ab  ", "x" * 201, "", None, "12 Elm\x00 Street, Leeds"])
def test_change_shipping_address_rejects_invalid(s, address):
    result = q.change_shipping_address(s, 10003, ALEX, address, NOW)
    assert (result.ok, result.reason, result.order.id) == (False, "invalid_address", 10003)
    assert s.get(Order, 10003).shipping_address == "12 Elm Street, Springfield, 90210"


def test_change_shipping_address_refusals(s):
    new = "1 New Road, Leeds"
    assert q.change_shipping_address(s, 10003, "someone@example.com", new, NOW).reason == "not_owner"
    assert q.change_shipping_address(s, 10001, ALEX, new, NOW).reason == "wrong_status"
    assert q.change_shipping_address(s, "x", ALEX, new, NOW).reason == "not_found"
    assert s.get(Order, 10001).shipping_address == "12 Elm Street, Springfield, 90210"


# --- refunds and invoices -------------------------------------------------------------------


def test_refund_item_by_some_of_its_words(s):
    item = q.get_order(s, 10002).items[1]
    plural = item.product_type if item.product_type.endswith("s") else f"{item.product_type}s"
    brand_and_plural_type = f"{item.name.split()[0]} {plural}"
    result, refund = q.request_refund(s, 10002, ALEX, brand_and_plural_type.upper(), "too big", NOW)
    assert result.ok and refund.item_name == item.name


def test_refund_one_item_then_duplicates_are_refused(s):
    first, second = q.get_order(s, 10002).items[:2]
    result, refund = q.request_refund(s, 10002, ALEX, first.product_type.upper(), "arrived damaged", NOW)
    assert (result.ok, result.reason) == (True, "ok")
    assert (refund.order_id, refund.item_name, refund.status) == (10002, first.name, "requested")
    assert refund.amount_cents == first.quantity * first.unit_price_cents
    assert refund.reason == "arrived damaged" and refund.requested_at == refund.updated_at == NOW
    again, none = q.request_refund(s, 10002, ALEX, f"  {first.name.lower()} ", "still broken", NOW)
    assert (again.ok, again.reason, none) == (False, "already_requested", None)
    later = NOW + timedelta(hours=1)
    other, other_refund = q.request_refund(s, 10002, ALEX, second.name, "wrong colour", later)
    assert other.ok and other_refund.item_name == second.name
    whole, _ = q.request_refund(s, 10002, ALEX, "everything", "all bad", NOW)
    assert whole.reason == "already_requested"
    assert [r.id for r in q.get_refunds(s, 10002)] == [other_refund.id, refund.id]


@pytest.mark.parametrize("whole", [None, "all", " Everything "])
def test_refund_whole_order_blocks_every_item(s, whole):
    order = q.get_order(s, 10002)
    result, refund = q.request_refund(s, 10002, ALEX, whole, "changed my mind", NOW)
    assert result.ok and refund.item_name is None and refund.amount_cents == order.total_cents
    assert q.request_refund(s, 10002, ALEX, order.items[0].name, "x", NOW)[0].reason == "already_requested"
    assert q.request_refund(s, 10002, ALEX, None, "x", NOW)[0].reason == "already_requested"


def test_rejected_refund_can_be_asked_again(s):
    item = q.get_order(s, 10002).items[0]
    _, refund = q.request_refund(s, 10002, ALEX, item.name, "broken", NOW)
    s.get(Refund, refund.id).status = "rejected"
    result, again = q.request_refund(s, 10002, ALEX, item.name, "broken, photos attached", NOW)
    assert result.ok and again.id != refund.id


def test_refund_refusals(s):
    before = _counts(s)
    assert q.request_refund(s, 10002, ALEX, "spaceship", "x", NOW)[0].reason == "unknown_item"
    assert q.request_refund(s, 10002, ALEX, "", "x", NOW)[0].reason == "unknown_item"
    name = q.get_order(s, 10002).items[0].name.lower()
    for fragment in ("a", name[1:3], name[:-2]):
        assert q.request_refund(s, 10002, ALEX, fragment, "x", NOW)[0].reason == "unknown_item", fragment
    assert q.request_refund(s, 10002, _other_customer_email(s), None, "x", NOW) == (
        q.ActionResult(False, "not_owner", None), None)
    assert q.request_refund(s, 10001, ALEX, None, "x", NOW)[0].reason == "wrong_status"
    assert q.request_refund(s, 10003, ALEX, None, "x", NOW)[0].reason == "wrong_status"
    assert q.request_refund(s, "10002; DROP TABLE refunds", ALEX, None, "x", NOW)[0].reason == "not_found"
    assert _counts(s) == before


def test_get_refunds(s):
    returned = _order_with_status(s, "returned")
    refunds = q.get_refunds(s, returned.id)
    assert refunds and all(r.order_id == returned.id for r in refunds)
    assert q.get_refunds(s, 10002) == [] and q.get_refunds(s, "nope") == []


def test_get_invoice(s):
    invoice = q.get_invoice(s, 10002)
    order = q.get_order(s, 10002)
    assert invoice.number == f"INV-{order.created_at.year}-010002"
    assert (invoice.order_id, invoice.amount_cents, invoice.items) == (10002, order.total_cents, order.items)
    assert q.get_invoice(s, _order_with_status(s, "cancelled").id) is None
    assert q.get_invoice(s, 99999) is None and q.get_invoice(s, "10002 OR 1=1") is None


# --- products -------------------------------------------------------------------------------


def _sales(s: Session, since: datetime | None = None) -> Counter:
    """Non-cancelled order items per product id, counted in Python as an oracle."""
    rows = s.execute(select(OrderItem.product_id, Order.status, Order.created_at).join(Order)).all()
    return Counter(pid for pid, status, created in rows
                   if status != "cancelled" and (since is None or created >= since))


def test_find_products_matches_every_word_in_any_case_and_number(s):
    target = next(p for p in s.execute(select(Product).order_by(Product.id)).scalars()
                  if not p.product_type.endswith("s"))
    word = target.product_type.split()[-1]
    found = q.find_products(s, f"{word.upper()}S", limit=50)
    assert target.sku in [p.sku for p in found]
    assert all(word in f"{p.name.lower()} {p.product_type} {p.category}" for p in found)
    assert found == q.find_products(s, word, limit=50)
    assert q.find_products(s, f"{target.name} zzzz") == []
    assert q.find_products(s, f"{target.category} {target.name.lower()}")[0].sku == target.sku


def test_find_products_puts_in_stock_then_popular_first(s):
    out = s.execute(select(Product).where(Product.stock == 0)).scalars().first()
    found = q.find_products(s, out.category, limit=50)
    sales = _sales(s)
    ids = dict(s.execute(select(Product.sku, Product.id)).all())
    keys = [(p.stock == 0, -sales[ids[p.sku]], p.sku) for p in found]
    assert out.sku in [p.sku for p in found] and keys == sorted(keys)
    assert all(p.category == out.category for p in found)
    assert len(q.find_products(s, out.category, limit=2)) == 2


@pytest.mark.parametrize("text", INJECTIONS + ("", "   ", "!!!", "🎧"))
def test_find_products_treats_input_as_text(s, text):
    before = _counts(s)
    assert q.find_products(s, text) == []
    assert _counts(s) == before


def test_top_products(s):
    newest = s.execute(select(func.max(Order.created_at))).scalar_one()
    sales = _sales(s, since=newest - timedelta(days=90))
    stock = dict(s.execute(select(Product.sku, Product.stock)).all())
    ids = dict(s.execute(select(Product.sku, Product.id)).all())
    top = q.top_products(s, limit=50)
    expected = sorted((sku for sku, pid in ids.items() if sales[pid] and stock[sku] > 0),
                      key=lambda sku: (-sales[ids[sku]], sku))[:50]
    assert [p.sku for p in top] == expected
    every = q.top_products(s, limit=50, in_stock_only=False)
    assert len(every) >= len(top) and all(sales[ids[p.sku]] for p in every)
    category, category_of = top[0].category, dict(s.execute(select(Product.sku, Product.category)).all())
    in_category = q.top_products(s, category=f" {category.upper()} ", limit=3)
    assert in_category
    assert [p.sku for p in in_category] == [sku for sku in expected if category_of[sku] == category][:3]
    assert q.top_products(s, category="spaceships") == []


# --- customers and tickets ------------------------------------------------------------------


@pytest.mark.parametrize(("channel", "external_id"), [
    ("email", " ALEX.Morgan@example.com"), ("phone", "+44 7700-900001"), ("phone", "+447700900001"),
    ("slack", "U0ALEXMORG"), ("telegram", "100000001"),
])
def test_customer_by_identity(s, channel, external_id):
    assert q.customer_by_identity(s, channel, external_id) == q.CustomerView(1, "Alex", ALEX)


def test_customer_by_identity_needs_verification_unless_asked(s):
    unverified = s.execute(select(Identity).where(Identity.verified.is_(False)).limit(1)).scalar_one()
    assert q.customer_by_identity(s, unverified.channel, unverified.external_id) is None
    found = q.customer_by_identity(s, unverified.channel, unverified.external_id, verified_only=False)
    assert found.id == unverified.customer_id


@pytest.mark.parametrize(("channel", "external_id"), [
    ("fax", ALEX), ("email", "nobody@example.com"), ("slack", None),
    *(("email", text) for text in INJECTIONS),
])
def test_customer_by_identity_not_found(s, channel, external_id):
    assert q.customer_by_identity(s, channel, external_id) is None


def test_injection_strings_leave_every_table_unchanged(s):
    before = _counts(s)
    for text in INJECTIONS:
        assert q.get_order(s, text) is None and q.get_invoice(s, text) is None
        assert q.get_refunds(s, text) == []
        assert q.cancel_order(s, 10003, text, NOW).reason == "not_owner"
        assert q.request_refund(s, 10002, ALEX, text, "x", NOW)[0].reason == "unknown_item"
        assert q.top_products(s, category=text) == []
    stored = q.change_shipping_address(s, 10003, ALEX, "1 Road'); DROP TABLE orders; --", NOW)
    assert stored.ok and s.get(Order, 10003).shipping_address == "1 Road'); DROP TABLE orders; --"
    assert _counts(s) == before
