"""The demo seed: size, determinism, idempotence and the consistency of what it generates."""

from __future__ import annotations

import re
import sqlite3
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.store.db import make_engine
from bot.store.models import Customer, Identity, Invoice, Order, OrderItem, OrderStatusEvent, Product, Refund
from bot.store.seed import seed_demo

TODAY = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 12, 0)  # the seed's clock: noon on TODAY
SMALL = {"customers": 60, "products": 40, "orders": 400}
FLOW = ("pending", "processing", "shipped", "out_for_delivery", "delivered", "returned")
CANCELLED_FLOWS = (("pending", "cancelled"), ("pending", "processing", "cancelled"))
IN_FLIGHT = ("pending", "processing", "shipped", "out_for_delivery", "delivered")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A default-size demo store, seeded once for the module."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}")
    summary = seed_demo(engine, today=TODAY)
    yield engine, summary
    engine.dispose()


@pytest.fixture
def s(demo):
    with Session(demo[0], future=True) as session:
        yield session


def _rows(s: Session, *columns):
    return s.execute(select(*columns)).all()


def _dump(path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return list(conn.iterdump())


def test_default_size(demo):
    _, summary = demo
    assert summary.seeded
    rows = summary.rows
    assert (rows["customers"], rows["products"], rows["orders"]) == (1000, 300, 10000)
    assert rows["order_items"] >= rows["orders"] and rows["order_status_events"] >= rows["orders"]
    assert rows["identities"] >= 2 * rows["customers"]
    assert rows["handoff_tickets"] == rows["agents"] == 0


def test_same_seed_and_day_give_identical_databases(tmp_path):
    paths = [tmp_path / f"{name}.db" for name in ("a", "b", "c")]
    for path, seed in zip(paths, (11, 11, 12), strict=True):
        engine = make_engine(f"sqlite:///{path}")
        seed_demo(engine, seed=seed, today=TODAY, **SMALL)
        engine.dispose()
    first, again, other = (_dump(path) for path in paths)
    assert first == again
    assert first != other


def test_second_call_seeds_nothing_and_force_reseeds(engine, session):
    first = seed_demo(engine, today=TODAY, **SMALL)
    session.add(Customer(first_name="Extra", last_name="Person", email="extra@example.com",
                         phone="+15550100", created_at=NOW, default_address="1 Test Road, Testville, 12345",
                         lifetime_spend_cents=0))
    session.commit()
    again = seed_demo(engine, today=TODAY, **SMALL)
    assert not again.seeded
    assert again.rows["customers"] == first.rows["customers"] + 1
    assert again.rows["orders"] == first.rows["orders"]
    forced = seed_demo(engine, today=TODAY, force=True, **SMALL)
    assert forced == first


def test_today_defaults_to_the_current_date(engine, session):
    before = date.today()
    seed_demo(engine, **SMALL)
    after = date.today()
    created = session.get(Order, 10001).created_at.date()
    assert created + timedelta(days=2) in (before, after)


def test_status_spread_by_age(s):
    statuses = _rows(s, Order.status, Order.created_at)
    old = Counter(status for status, created in statuses if created < NOW - timedelta(days=21))
    recent = Counter(status for status, created in statuses if created >= NOW - timedelta(days=7))
    shares = {status: count / sum(old.values()) for status, count in old.items()}
    assert set(shares) == {"delivered", "cancelled", "returned"}
    assert 0.80 <= shares["delivered"] <= 0.90
    assert 0.05 <= shares["cancelled"] <= 0.11
    assert 0.04 <= shares["returned"] <= 0.10
    assert all(recent[status] > 0 for status in IN_FLIGHT)
    assert max(created for _, created in statuses) <= NOW
    assert min(created for _, created in statuses) >= NOW - timedelta(days=540)


def test_status_history_is_consistent(s):
    history = defaultdict(list)
    for order_id, status, at in s.execute(
            select(OrderStatusEvent.order_id, OrderStatusEvent.status, OrderStatusEvent.at)
            .order_by(OrderStatusEvent.order_id, OrderStatusEvent.id)):
        history[order_id].append((status, at))
    orders = s.execute(select(Order)).scalars().all()
    assert len(history) == len(orders)
    for order in orders:
        events = history[order.id]
        path = tuple(status for status, _ in events)
        times = [at for _, at in events]
        assert path in CANCELLED_FLOWS or path == FLOW[:len(path)], order.id
        assert path[-1] == order.status
        assert times[0] == order.created_at and times == sorted(times) and times[-1] <= NOW
        assert order.delivered_at == dict(events).get("delivered")
        assert (order.tracking_number is not None) == ("shipped" in path)
        assert 2 <= (order.expected_delivery - order.created_at.date()).days <= 6


def test_totals_match_items(s):
    line_total = OrderItem.quantity * OrderItem.unit_price_cents
    line_totals = (select(OrderItem.order_id, func.sum(line_total).label("sum"), func.count().label("n"))
                   .group_by(OrderItem.order_id).subquery())
    rows = s.execute(select(Order.total_cents, line_totals.c.sum, line_totals.c.n)
                     .join(line_totals, line_totals.c.order_id == Order.id)).all()
    assert len(rows) == 10000
    assert all(total == items_sum and 1 <= n <= 4 for total, items_sum, n in rows)
    priced = s.execute(select(func.count()).select_from(OrderItem).join(Product)
                       .where(OrderItem.unit_price_cents != Product.price_cents)).scalar_one()
    assert priced == 0


def test_invoices_for_every_order_not_cancelled(s):
    invoices = {order_id: (number, amount) for order_id, number, amount in
                _rows(s, Invoice.order_id, Invoice.number, Invoice.amount_cents)}
    orders = _rows(s, Order.id, Order.status, Order.total_cents, Order.created_at)
    assert set(invoices) == {oid for oid, status, _, _ in orders if status != "cancelled"}
    for oid, status, total, created in orders:
        if status != "cancelled":
            assert invoices[oid] == (f"INV-{created.year}-{oid:06d}", total)


def test_lifetime_spend_is_the_non_cancelled_total(s):
    spend = Counter()
    for customer_id, status, total in _rows(s, Order.customer_id, Order.status, Order.total_cents):
        spend[customer_id] += total if status != "cancelled" else 0
    first_order = dict(s.execute(select(Order.customer_id, func.min(Order.created_at))
                                 .group_by(Order.customer_id)).all())
    for customer in s.execute(select(Customer)).scalars():
        assert customer.lifetime_spend_cents == spend[customer.id]
        assert customer.created_at < first_order.get(customer.id, NOW)


def test_refunds(s):
    orders = {oid: (status, total)
              for oid, status, total in _rows(s, Order.id, Order.status, Order.total_cents)}
    refunds = s.execute(select(Refund)).scalars().all()
    by_status = defaultdict(Counter)
    for refund in refunds:
        status, total = orders[refund.order_id]
        by_status[status][refund.status] += 1
        assert refund.requested_at <= refund.updated_at <= NOW
        if refund.order_item_id is None:
            assert refund.amount_cents == total
        else:
            assert refund.item.order_id == refund.order_id
            assert refund.amount_cents == refund.item.quantity * refund.item.unit_price_cents
    returned = sum(1 for status, _ in orders.values() if status == "returned")
    delivered = sum(1 for status, _ in orders.values() if status == "delivered")
    assert sum(by_status["returned"].values()) == returned
    assert by_status["returned"]["refunded"] > 0.7 * returned
    assert set(by_status["delivered"]) <= {"rejected", "approved", "requested"}
    assert 0.01 * delivered <= sum(by_status["delivered"].values()) <= 0.05 * delivered


def test_identities(s):
    customers = dict(_rows(s, Customer.id, Customer.email))
    phones = dict(_rows(s, Customer.id, Customer.phone))
    identities = _rows(s, Identity.customer_id, Identity.channel, Identity.external_id, Identity.verified)
    email = {cid: (ext, verified) for cid, channel, ext, verified in identities if channel == "email"}
    phone = {cid: ext for cid, channel, ext, _ in identities if channel == "phone"}
    assert email == {cid: (mail, True) for cid, mail in customers.items()}
    assert phone == phones
    channels = Counter(channel for _, channel, _, _ in identities)
    assert 0.25 <= channels["slack"] / len(customers) <= 0.35
    assert 0.35 <= channels["telegram"] / len(customers) <= 0.45
    others = [verified for _, channel, _, verified in identities if channel != "email"]
    assert 0.06 <= others.count(False) / len(others) <= 0.14
    assert all(re.fullmatch(r"\+447700\d{6}", number) for number in phones.values())
    assert all(re.fullmatch(r"[a-z.]+\d*@example\.com", mail) for mail in customers.values())
    slack_and_telegram = [(channel, ext) for _, channel, ext, _ in identities
                          if channel in ("slack", "telegram")]
    assert all(re.fullmatch(r"U0[A-Z0-9]{8}" if channel == "slack" else r"\d{9}", ext)
               for channel, ext in slack_and_telegram)


def test_products_and_popularity(s):
    products = s.execute(select(Product)).scalars().all()
    out = [p for p in products if p.stock == 0]
    assert len(out) == 15
    assert all(p.restock_date is not None and p.restock_date > TODAY for p in out)
    assert all(p.restock_date is None for p in products if p.stock > 0)
    assert all(re.fullmatch(r"SKU-\d{6}", p.sku) and p.price_cents > 0 for p in products)
    assert all(p.description.count(". ") == 1 and p.description.endswith(".") for p in products)
    per_product = select(OrderItem.product_id, func.count()).group_by(OrderItem.product_id)
    sold = sorted((n for _, n in s.execute(per_product)), reverse=True)
    assert sum(sold[:30]) > 0.35 * sum(sold)  # uniform picks would give the top tenth about 10%


def test_reserved_demo_fixtures(s):
    alex = s.get(Customer, 1)
    assert (alex.first_name, alex.last_name, alex.email, alex.phone) == (
        "Alex", "Morgan", "alex.morgan@example.com", "+447700900001")
    assert sorted(s.execute(select(Identity.channel, Identity.external_id, Identity.verified)
                            .where(Identity.customer_id == 1)).all()) == [
        ("email", "alex.morgan@example.com", True), ("phone", "+447700900001", True),
        ("slack", "U0ALEXMORG", True), ("telegram", "100000001", True)]
    shipped, delivered, processing = (s.get(Order, oid) for oid in (10001, 10002, 10003))
    assert {o.customer_id for o in (shipped, delivered, processing)} == {1}
    assert shipped.status == "shipped" and shipped.expected_delivery > TODAY and shipped.tracking_number
    assert delivered.status == "delivered" and len(delivered.items) >= 2
    assert s.execute(select(Refund).where(Refund.order_id == 10002)).first() is None
    assert processing.status == "processing"
    assert s.execute(select(func.min(Order.id))).scalar_one() == 10001
