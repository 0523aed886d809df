"""Suggestions for a conversation on a seeded store: personal when the customer is known, around a named
product, best sellers otherwise; never out of stock, owned or declined."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.recommend import advisor, content, train
from bot.recommend.model import Reason
from bot.store import queries
from bot.store import recommendations as r
from bot.store.db import session_scope
from tests.unit.test_recommend_train import fake_embed, train_without_encoder

NOW = datetime(2026, 3, 2, 12, 30)
ALEX = 1


@pytest.fixture
def model(store, tmp_path, monkeypatch):
    train_without_encoder(store.engine, tmp_path / "models", monkeypatch)
    return train.current(tmp_path / "models")


def suggest(store, model, **kwargs) -> list[advisor.Suggestion]:
    kwargs = {"customer": None, "sender_id": "web-1", **kwargs}
    with session_scope(store.engine) as s:
        return advisor.suggest(s, model, **kwargs)


def decline(store, names: list[str], sender_id: str = "web-1", customer: int | None = None) -> None:
    with session_scope(store.engine) as s:
        ids = [store.value("SELECT id FROM products WHERE name = :n", n=name) for name in names]
        r.record_feedback(s, sender_id=sender_id, customer=customer, product_ids=ids, accepted=False, now=NOW)


def owned_names(store, customer: int) -> set[str]:
    return {name for (name,) in store.rows(
        "SELECT p.name FROM products p JOIN order_items i ON i.product_id = p.id JOIN orders o "
        "ON o.id = i.order_id WHERE o.customer_id = :c AND o.status != 'cancelled'", c=customer)}


def in_stock(store, name: str) -> bool:
    return store.value("SELECT stock FROM products WHERE name = :n", n=name) > 0


@pytest.mark.parametrize("with_model", [True, False])
def test_an_unknown_customer_gets_the_best_sellers_each_popular_in_its_category(store, model,
                                                                                with_model) -> None:
    got = suggest(store, model if with_model else None)
    best = store.read(queries.top_products, limit=3)
    assert [(s.name, s.sku, s.price_cents) for s in got] == [(p.name, p.sku, p.price_cents) for p in best]
    assert [s.reason for s in got] == [Reason("popular_in", p.category) for p in best]


def test_declined_products_are_not_suggested_again_in_the_conversation_or_to_the_customer(store,
                                                                                          model) -> None:
    first = suggest(store, model)
    decline(store, [first[0].name])
    again = suggest(store, model)
    assert first[0].name not in [s.name for s in again] and again[0].name == first[1].name
    assert suggest(store, model, sender_id="web-2")[0].name == first[0].name
    decline(store, [first[1].name], sender_id="slack-1", customer=7)
    assert first[1].name not in [s.name for s in suggest(store, model, customer=7, sender_id="web-3")]


def test_a_known_customer_gets_products_they_do_not_own_with_the_reason(store, model) -> None:
    got = suggest(store, model, customer=ALEX)
    owned = owned_names(store, ALEX)
    assert len(got) == 3 and not owned & {s.name for s in got}
    assert all(in_stock(store, s.name) for s in got)
    assert {s.reason.kind for s in got} <= {"bought_with", "similar_to"}
    assert all(s.reason.about in owned for s in got)


def test_out_of_stock_products_are_skipped(store, model) -> None:
    first = suggest(store, model, customer=ALEX)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE products SET stock = 0 WHERE name = ?", (first[0].name,))
    assert first[0].name not in [s.name for s in suggest(store, model, customer=ALEX)]


def test_a_category_keeps_suggestions_within_it(store, model) -> None:
    got = suggest(store, model, customer=ALEX, category="electronics")
    assert got and all(store.value("SELECT category FROM products WHERE name = :n", n=s.name) == "electronics"
                       for s in got)


def test_accepted_products_are_not_suggested_again(store, model) -> None:
    first = suggest(store, model, customer=ALEX)
    with session_scope(store.engine) as s:
        pid = store.value("SELECT id FROM products WHERE name = :n", n=first[0].name)
        r.record_feedback(s, sender_id="web-1", customer=ALEX, product_ids=[pid], accepted=True, now=NOW)
    assert first[0].name not in [s.name for s in suggest(store, model, customer=ALEX, sender_id="web-9")]


def test_a_named_product_leads_the_suggestions(store, model) -> None:
    named = store.read(queries.find_products, "kettle", limit=1)[0]
    got = suggest(store, model, product="kettle")
    assert len(got) == 3 and named.name not in [s.name for s in got]
    assert {s.reason.about for s in got} == {named.name}
    assert {s.reason.kind for s in got} <= {"bought_with", "similar_to"}


def test_a_product_the_catalog_lacks_is_matched_by_its_text(store, model, monkeypatch) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(content, "embed", fake_embed(calls))
    got = suggest(store, model, product="camping stove")
    assert calls == [["camping stove"]]
    assert len(got) == 3 and {s.reason for s in got} == {Reason("similar_to", "camping stove")}


def test_without_a_model_a_known_customer_gets_best_sellers_they_do_not_own(store) -> None:
    got = suggest(store, None, customer=ALEX, product="kettle")
    assert len(got) == 3 and {s.reason.kind for s in got} == {"popular_in"}
    assert not owned_names(store, ALEX) & {s.name for s in got}


def test_nothing_in_stock_means_no_suggestions(store, model) -> None:
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE products SET stock = 0")
    assert suggest(store, model, customer=ALEX) == suggest(store, model) == []


def test_chosen_is_the_product_named_else_all_that_were_shown(store) -> None:
    shown = store.read(r.products, [2, 5, 9])
    assert advisor.chosen(shown, None) == advisor.chosen(shown, "") == shown
    assert advisor.chosen(shown, shown[1].name) == [shown[1]]
    assert advisor.chosen(shown, shown[2].product_type) == [shown[2]]
    assert advisor.chosen(shown, f"the {shown[0].name.split()[-2]}") == [shown[0]]
    assert advisor.chosen(shown, "a unicorn") == []
