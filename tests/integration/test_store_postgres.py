"""The store on a real PostgreSQL: the rows and query answers of SQLite, id sequences, row locks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from time import monotonic, sleep

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from bot.store import queries as q
from bot.store import tickets
from bot.store.db import session_scope
from bot.store.models import Base, Refund
from bot.store.seed import seed_demo
from tests.conftest import SMALL_SIZES, SMALL_TODAY

pytestmark = pytest.mark.integration

TODAY = SMALL_TODAY
NOW = datetime(2026, 3, 2, 12, 30)
SMALL = SMALL_SIZES
ALEX = "alex.morgan@example.com"




@pytest.fixture
def pg(pg_engine):
    """The PostgreSQL store, freshly reseeded for each test."""
    assert seed_demo(pg_engine, today=TODAY, force=True, **SMALL).seeded
    return pg_engine


def _rows(engine, table):
    with engine.connect() as conn:
        return conn.execute(select(table).order_by(table.c.id)).all()


def test_postgres_and_sqlite_hold_identical_rows(pg, small_store):
    for table in Base.metadata.sorted_tables:
        assert _rows(pg, table) == _rows(small_store, table), table.name
    assert len(_rows(pg, Base.metadata.tables["orders"])) == 300


def _every_query(s: Session) -> dict[str, object]:
    """Each query once, changes and refusals included, by name; the caller rolls the session back."""
    item = q.get_order(s, 10002).items[0].name
    return {
        "order": q.get_order(s, 10001),
        "injected order id": q.get_order(s, "10001; DROP TABLE orders"),
        "owner": q.order_owned_by(s, 10001, " ALEX.Morgan@example.com "),
        "injected owner": q.order_owned_by(s, 10001, "' OR '1'='1"),
        "cancel shipped": q.cancel_order(s, 10001, ALEX, NOW),
        "new address": q.change_shipping_address(s, 10003, ALEX, "Flat 3 🏠, 5 Rue de l'Église, Zürich", NOW),
        "bad address": q.change_shipping_address(s, 10003, ALEX, "abc", NOW),
        "cancel": q.cancel_order(s, 10003, ALEX, NOW),
        "cancel not owner": q.cancel_order(s, 10003, "x@example.com", NOW),
        "refund item": q.request_refund(s, 10002, ALEX, item, "arrived damaged", NOW),
        "refund item again": q.request_refund(s, 10002, ALEX, item.upper(), "again", NOW),
        "refund everything": q.request_refund(s, 10002, ALEX, "everything", "all of it", NOW),
        "refund unknown item": q.request_refund(s, 10002, ALEX, "spaceship", "x", NOW),
        "refunds": q.get_refunds(s, 10002) + q.get_refunds(s, 10003),
        "invoice": q.get_invoice(s, 10002),
        "find": q.find_products(s, "headphones") + q.find_products(s, "home and kitchen", limit=50),
        "find by brand": q.find_products(s, item.split()[0].upper(), limit=50),
        "find injected": q.find_products(s, "_") + q.find_products(s, "'; DROP TABLE products; --"),
        "top": q.top_products(s, limit=50) + q.top_products(s, category="Electronics", in_stock_only=False),
        "customer": q.customer_by_identity(s, "phone", "+44 7700 900001"),
        "injected customer": q.customer_by_identity(s, "email", "' OR 1=1 --"),
        "ticket": tickets.create_ticket(s, sender_id="web-1", channel="socketio", summary="wants a human 😡",
                                        reasons=[{"name": "frustration", "value": 0.8}], now=NOW),
        "open tickets": tickets.open_ticket_count(s),
    }


def test_every_query_answers_as_on_sqlite(pg, small_store):
    answers = []
    for engine in (pg, small_store):
        with Session(engine, future=True) as s:
            answers.append(_every_query(s))
            s.rollback()
    on_pg, on_sqlite = answers
    for name, answer in on_pg.items():
        assert answer == on_sqlite[name], name
    reasons = {name: (a if isinstance(a, q.ActionResult) else a[0]).reason
               for name, a in on_pg.items() if name.startswith(("cancel", "refund ", "new", "bad"))}
    assert reasons == {
        "cancel shipped": "wrong_status", "new address": "ok", "bad address": "invalid_address",
        "cancel": "ok", "cancel not owner": "not_owner", "refund item": "ok",
        "refund item again": "already_requested", "refund everything": "already_requested",
        "refund unknown item": "unknown_item",
    }
    assert on_pg["owner"] and on_pg["customer"].id == 1
    assert (on_pg["ticket"].id, on_pg["open tickets"]) == (1, 1)
    assert len(on_pg["refunds"]) == 2 and on_pg["invoice"].items and on_pg["find"] and on_pg["top"]
    assert on_pg["injected order id"] is None and not on_pg["injected owner"] and not on_pg["find injected"]
    assert on_pg["injected customer"] is None and on_pg["find by brand"]


def test_seeding_again_does_nothing(pg):
    again = seed_demo(pg, today=TODAY, seed=99, **SMALL)
    assert not again.seeded and again.rows["orders"] == 300


def _refund_and_ticket(pg) -> tuple[int, int]:
    with session_scope(pg) as s:
        _, refund = q.request_refund(s, 10002, ALEX, None, "changed my mind", NOW)
        ticket = tickets.create_ticket(s, sender_id="telegram:100000001", channel="telegram", reasons=[],
                                       summary="refund taking too long", now=NOW)
    return refund.id, ticket.id


def test_id_sequences_continue_after_the_seed_and_restart_on_reseed(pg):
    seeded_max = len(_rows(pg, Refund.__table__))
    assert _refund_and_ticket(pg) == (seeded_max + 1, 1)
    with Session(pg, future=True) as s:
        assert q.get_refunds(s, 10002)[0].id == seeded_max + 1 and tickets.open_ticket_count(s) == 1
    seed_demo(pg, today=TODAY, force=True, **SMALL)
    assert _refund_and_ticket(pg) == (seeded_max + 1, 1)


def _lock_waiters(pg) -> int:
    """Backends of this database waiting on a lock (a new transaction each call: stats are snapshots)."""
    with pg.connect() as conn:
        query = text("SELECT count(*) FROM pg_stat_activity "
                     "WHERE datname = current_database() AND wait_event_type = 'Lock'")
        return conn.execute(query).scalar_one()


def _wait_for_a_lock_waiter(pg, timeout_s: float = 30.0) -> None:
    deadline = monotonic() + timeout_s
    while _lock_waiters(pg) == 0:
        assert monotonic() < deadline, "the second cancellation never waited for the first"
        sleep(0.05)


def test_concurrent_cancellations_refund_once(pg):
    # The sessions close (releasing the lock) before the pool waits for its thread, even on failure.
    with ThreadPoolExecutor(1) as pool, Session(pg, future=True) as first, Session(pg, future=True) as second:
        assert q.cancel_order(first, 10003, ALEX, NOW).ok
        later = pool.submit(q.cancel_order, second, 10003, ALEX, NOW)
        _wait_for_a_lock_waiter(pg)
        first.commit()
        result = later.result(timeout=30)
        second.commit()
    assert (result.ok, result.reason) == (False, "wrong_status")
    with Session(pg, future=True) as s:
        assert len(q.get_refunds(s, 10003)) == 1
        assert [status for status, _ in q.get_order(s, 10003).history].count("cancelled") == 1
