"""Refund actions on a real seeded store: refund status, the item question, and submitting a return."""

from __future__ import annotations

from datetime import datetime

import pytest
from rasa_sdk.events import SlotSet

from actions.refunds import ActionAskRefundItem, ActionSubmitRefund, ActionTrackRefund
from bot.formatting import day, money

ALEX_EMAIL = "alex.morgan@example.com"
STATE_WORDS = {"requested": "requested on", "approved": "approved on", "refunded": "paid back on",
               "rejected": "declined on"}


def _when(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def items_of(store, order_id: int) -> list[tuple[str, int, int]]:
    """(name, quantity, unit price) of each line of the order, in order."""
    return store.rows("SELECT p.name, i.quantity, i.unit_price_cents FROM order_items i "
                      "JOIN products p ON p.id = i.product_id WHERE i.order_id = :oid ORDER BY i.id",
                      oid=order_id)


def refund_rows(store, order_id: int) -> list[tuple]:
    """(item name or None, amount, status, reason) of the order's refunds, oldest first."""
    return store.rows("SELECT p.name, r.amount_cents, r.status, r.reason FROM refunds r "
                      "LEFT JOIN order_items i ON i.id = r.order_item_id "
                      "LEFT JOIN products p ON p.id = i.product_id "
                      "WHERE r.order_id = :oid ORDER BY r.id", oid=order_id)


def submit(run_action, tracker, order_id, item, *, email=ALEX_EMAIL, reason="arrived damaged"):
    return run_action(ActionSubmitRefund(), tracker(
        {"order_id": str(order_id), "email": email, "refund_item": item, "refund_reason": reason}))


CLEARED = [SlotSet("refund_item", None), SlotSet("refund_reason", None)]


# --- refund status --------------------------------------------------------------------------


def test_track_refund_without_any_says_there_is_none(store, tracker, run_action, said) -> None:
    assert store.refunds(10002) == []
    messages, events = run_action(ActionTrackRefund(), tracker({"order_id": "10002"}))
    assert said(messages) == ("There's no refund request for order 10002 yet. "
                              "Would you like to start a return?")
    assert events == []


def test_track_refund_for_an_unknown_order_clears_the_order(store, tracker, run_action, said) -> None:
    messages, events = run_action(ActionTrackRefund(), tracker({"order_id": "29999"}))
    assert said(messages).startswith("I can't find an order 29999.")
    assert events == [SlotSet("order_id", None)]


@pytest.mark.parametrize("status", list(STATE_WORDS))
def test_track_refund_describes_a_seeded_refund_in_each_state(store, tracker, run_action, said,
                                                              status) -> None:
    order_id, name, amount, requested, updated = store.rows(
        "SELECT r.order_id, p.name, r.amount_cents, r.requested_at, r.updated_at FROM refunds r "
        "LEFT JOIN order_items i ON i.id = r.order_item_id LEFT JOIN products p ON p.id = i.product_id "
        "WHERE r.status = :status AND (SELECT count(*) FROM refunds x WHERE x.order_id = r.order_id) = 1 "
        "ORDER BY r.order_id LIMIT 1", status=status)[0]
    when = _when(requested if status == "requested" else updated)
    text = said(run_action(ActionTrackRefund(), tracker({"order_id": str(order_id)}))[0])
    assert text.startswith(f"Refunds for order {order_id}: {money(amount)} for {name or 'the whole order'}: "
                           f"{STATE_WORDS[status]} {day(when)}")
    assert text.endswith(".")


def test_track_refund_lists_every_refund_newest_first(store, tracker, run_action, said) -> None:
    (first, _, _), (second, _, _) = items_of(store, 10002)[:2]
    for item in (first, second):
        submit(run_action, tracker, 10002, item)
    text = said(run_action(ActionTrackRefund(), tracker({"order_id": "10002"}))[0])
    assert text.startswith("Refunds for order 10002: ")
    assert text.index(second) < text.index(first)
    assert text.count(f"requested on {day(datetime.utcnow())}") == 2


# --- which item -----------------------------------------------------------------------------


def test_ask_refund_item_offers_each_item_and_everything(store, tracker, run_action, said) -> None:
    names = [name for name, _, _ in items_of(store, 10002)]
    assert len(names) >= 2
    messages, events = run_action(ActionAskRefundItem(), tracker({"order_id": "10002"}))
    assert said(messages) == "Which item would you like to return?"
    assert messages[0]["buttons"] == [{"title": n, "payload": n} for n in names] + [
        {"title": "Everything", "payload": "everything"}]
    assert events == []


def test_ask_refund_item_for_a_single_item_order_offers_just_that_item(store, tracker, run_action) -> None:
    order_id = store.value("SELECT min(o.id) FROM orders o WHERE o.status = 'delivered' AND "
                           "(SELECT count(*) FROM order_items i WHERE i.order_id = o.id) = 1")
    (name, _, _), = items_of(store, order_id)
    messages, _ = run_action(ActionAskRefundItem(), tracker({"order_id": str(order_id)}))
    assert messages[0]["buttons"] == [{"title": name, "payload": name}]


def test_ask_refund_item_on_voice_has_no_buttons(store, tracker, run_action, said) -> None:
    messages, _ = run_action(ActionAskRefundItem(), tracker({"order_id": "10002"}, channel="voice"))
    assert said(messages) == "Which item would you like to return?"
    assert messages[0]["buttons"] == []


# --- submitting -----------------------------------------------------------------------------


def test_submit_refund_for_one_item_registers_a_requested_refund(store, tracker, run_action, said) -> None:
    name, quantity, unit = items_of(store, 10002)[1]
    messages, events = submit(run_action, tracker, 10002, name, reason="  arrived   damaged ")
    amount = quantity * unit
    assert said(messages) == (
        f"Your return for {name} from order 10002 is registered (refund of {money(amount)}). "
        "You'll get a return label by email; the refund is paid within 5 working days after we receive "
        "the parcel.")
    assert events == CLEARED
    assert refund_rows(store, 10002) == [(name, amount, "requested", "arrived damaged")]


def test_a_second_request_for_the_same_item_is_already_requested(store, tracker, run_action, said) -> None:
    name = items_of(store, 10002)[0][0]
    submit(run_action, tracker, 10002, name)
    before = store.snapshot()
    messages, events = submit(run_action, tracker, 10002, name, reason="still broken")
    assert said(messages).startswith("There's already an open return for that item on order 10002.")
    assert events == CLEARED
    assert store.snapshot() == before


@pytest.mark.parametrize("item", ["all", "everything", None])
def test_refund_of_everything_covers_the_whole_order(store, tracker, run_action, said, item) -> None:
    total = store.value("SELECT total_cents FROM orders WHERE id = 10002")
    messages, events = submit(run_action, tracker, 10002, item)
    assert said(messages).startswith(
        f"Your return for the whole order from order 10002 is registered (refund of {money(total)}).")
    assert events == CLEARED
    assert refund_rows(store, 10002) == [(None, total, "requested", "arrived damaged")]


def test_after_a_whole_order_refund_no_item_can_be_asked_for(store, tracker, run_action, said) -> None:
    submit(run_action, tracker, 10002, "all")
    messages, _ = submit(run_action, tracker, 10002, items_of(store, 10002)[0][0])
    assert said(messages).startswith("There's already an open return for that item on order 10002.")
    assert len(refund_rows(store, 10002)) == 1


def test_a_rejected_refund_may_be_asked_for_again(store, tracker, run_action, said) -> None:
    order_id, name = store.rows(
        "SELECT r.order_id, p.name FROM refunds r JOIN order_items i ON i.id = r.order_item_id "
        "JOIN products p ON p.id = i.product_id WHERE r.status = 'rejected' ORDER BY r.order_id LIMIT 1")[0]
    messages, _ = submit(run_action, tracker, order_id, name, email=store.email_of(order_id))
    assert said(messages).startswith(f"Your return for {name} from order {order_id} is registered")
    assert [row[2] for row in refund_rows(store, order_id)] == ["rejected", "requested"]


@pytest.mark.parametrize(("order_id", "status"), [(10001, "shipped"), (10003, "processing")])
def test_an_order_not_delivered_cannot_be_refunded(store, tracker, run_action, said, order_id,
                                                   status) -> None:
    before = store.snapshot()
    messages, events = submit(run_action, tracker, order_id, "all")
    assert said(messages) == (f"Order {order_id} is {status}, so it can't be returned yet. "
                              "Returns open once an order has been delivered.")
    assert events == CLEARED
    assert store.snapshot() == before


def test_refund_with_the_wrong_email_is_refused(store, tracker, run_action, said) -> None:
    before = store.snapshot()
    messages, _ = submit(run_action, tracker, 10002, "all", email=store.email_of(10005))
    assert said(messages).startswith("That email doesn't match order 10002")
    assert store.snapshot() == before


def test_refund_of_an_item_not_on_the_order_names_what_is(store, tracker, run_action, said) -> None:
    before = store.snapshot()
    messages, _ = submit(run_action, tracker, 10002, "lawn mower")
    text = said(messages)
    assert text.startswith("I couldn't find 'lawn mower' on order 10002. It contains ")
    for name, quantity, _ in items_of(store, 10002):
        assert f"{quantity} × {name}" in text
    assert store.snapshot() == before


def test_refund_for_an_unknown_order_is_not_found(store, tracker, run_action, said) -> None:
    before = store.snapshot()
    messages, _ = submit(run_action, tracker, 29999, "all")
    assert said(messages).startswith("I can't find an order 29999.")
    assert store.snapshot() == before

