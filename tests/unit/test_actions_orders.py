"""Order actions on a real seeded store: tracking, cancelling and changing the delivery address."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from rasa_sdk.events import SlotSet

from actions.orders import (
    ActionAskCancelConfirmed,
    ActionCancelOrder,
    ActionChangeShippingAddress,
    ActionTrackOrder,
)
from bot.formatting import day, items_summary, money
from bot.messages import render
from bot.store.catalog import ORDER_STATUSES
from tests.unit.conftest import sql_time

ALEX_EMAIL = "alex.morgan@example.com"
NEW_ADDRESS = "7 Harbour View, Lakeside, 40213"


def facts_from_sql(store, order_id: int) -> dict[str, str]:
    """The values an order message should carry, read with plain SQL rather than through the actions."""
    (status, created, expected, carrier, tracking, total), = store.rows(
        "SELECT status, created_at, expected_delivery, carrier, tracking_number, total_cents FROM orders "
        "WHERE id = :oid", oid=order_id)
    since = store.value("SELECT at FROM order_status_events WHERE order_id = :oid ORDER BY at DESC, id DESC",
                        oid=order_id)
    items = [SimpleNamespace(name=name, quantity=quantity) for name, quantity in store.rows(
        "SELECT p.name, i.quantity FROM order_items i JOIN products p ON p.id = i.product_id "
        "WHERE i.order_id = :oid ORDER BY i.id", oid=order_id)]
    return {
        "order_id": str(order_id), "status": status.replace("_", " "), "created_on": day(sql_time(created)),
        "status_since": day(sql_time(since or created)), "expected_delivery": day(sql_time(expected)),
        "carrier": carrier, "tracking_number": tracking or "not assigned yet", "items": items_summary(items),
        "amount": money(total),
    }


def order_in_status(store, status: str) -> int:
    """An order (not Alex's) in `status`; a status the small seed lacks is given to a processing order."""
    order_id = store.order_with_status(status)
    if order_id is None:
        order_id = store.order_with_status("processing")
        with store.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE orders SET status = ? WHERE id = ?", (status, order_id))
            conn.exec_driver_sql("DELETE FROM order_status_events WHERE order_id = ? AND status != 'pending'",
                                 (order_id,))
        assert store.order(order_id).status == status
    return order_id


# --- tracking -------------------------------------------------------------------------------


def test_the_seed_has_most_statuses(store) -> None:
    present = {status for (status,) in store.rows("SELECT DISTINCT status FROM orders")}
    assert present >= {"processing", "shipped", "out_for_delivery", "delivered", "cancelled", "returned"}


@pytest.mark.parametrize("status", ORDER_STATUSES)
def test_track_order_answers_each_status_with_its_own_message(store, tracker, run_action, said,
                                                              status) -> None:
    order_id = order_in_status(store, status)
    messages, events = run_action(ActionTrackOrder(), tracker({"order_id": str(order_id)}))
    expected = render(f"order_status_{status}", "rest", **facts_from_sql(store, order_id))["text"]
    assert said(messages) == expected
    assert str(order_id) in expected
    assert events == []


def test_tracking_values_come_from_the_store(store, tracker, run_action, said) -> None:
    carrier, tracking, expected = store.rows(
        "SELECT carrier, tracking_number, expected_delivery FROM orders WHERE id = 10001")[0]
    shipped_at = store.value(
        "SELECT at FROM order_status_events WHERE order_id = 10001 AND status = 'shipped'")
    assert tracking
    text = said(run_action(ActionTrackOrder(), tracker({"order_id": "10001"}))[0])
    assert "10001" in text and "left our warehouse" in text
    assert carrier in text and tracking in text
    assert f"Expected delivery: {day(sql_time(expected))}" in text
    assert f"on {day(sql_time(shipped_at))}" in text


def test_tracking_accepts_the_order_number_as_the_customer_typed_it(store, tracker, run_action,
                                                                   said) -> None:
    text = said(run_action(ActionTrackOrder(), tracker({"order_id": "#10002"}))[0])
    assert text == render("order_status_delivered", "rest", **facts_from_sql(store, 10002))["text"]


@pytest.mark.parametrize("order_id", ["29999", "10000", "#29999"])
def test_unknown_order_is_not_found_and_the_slot_cleared(store, tracker, run_action, said,
                                                         order_id) -> None:
    messages, events = run_action(ActionTrackOrder(), tracker({"order_id": order_id}))
    assert said(messages) == (f"I can't find an order {order_id.lstrip('#')}. Could you check the number "
                              "in your confirmation email?")
    assert events == [SlotSet("order_id", None)]


def test_a_slot_that_is_no_order_number_is_named_as_such(store, tracker, run_action, said) -> None:
    messages, events = run_action(ActionTrackOrder(), tracker({"order_id": "abc"}))
    assert said(messages) == ("'abc' doesn't look like one of our order numbers: they have five digits, "
                              "like 10234.")
    assert events == [SlotSet("order_id", None)]


def test_voice_tracking_leaves_out_the_tracking_number(store, tracker, run_action, said) -> None:
    carrier, tracking, expected = store.rows(
        "SELECT carrier, tracking_number, expected_delivery FROM orders WHERE id = 10001")[0]
    messages, _ = run_action(ActionTrackOrder(), tracker({"order_id": "10001"}, channel="voice"))
    text = said(messages)
    assert tracking not in text and "tracking number" not in text
    assert carrier in text and day(sql_time(expected)) in text
    assert not messages[0]["buttons"]


def test_voice_out_for_delivery_leaves_out_the_tracking_number(store, tracker, run_action, said) -> None:
    order_id = order_in_status(store, "out_for_delivery")
    tracking = store.value("SELECT tracking_number FROM orders WHERE id = :oid", oid=order_id)
    voice = said(run_action(ActionTrackOrder(), tracker({"order_id": str(order_id)}, channel="voice"))[0])
    web = said(run_action(ActionTrackOrder(), tracker({"order_id": str(order_id)}))[0])
    assert tracking in web and tracking not in voice
    assert "out for delivery" in voice


# --- cancelling -----------------------------------------------------------------------------


def test_ask_cancel_confirmed_shows_the_order_with_yes_and_no_buttons(store, tracker, run_action,
                                                                      said) -> None:
    facts = facts_from_sql(store, 10003)
    messages, events = run_action(ActionAskCancelConfirmed(), tracker({"order_id": "10003"}))
    assert said(messages) == f"Shall I cancel order 10003 ({facts['items']}, {facts['amount']})?"
    assert [(b["title"], b["payload"]) for b in messages[0]["buttons"]] == [
        ("Yes, cancel it", "/affirm"), ("No, keep it", "/deny")]
    assert events == []


def test_ask_cancel_confirmed_on_voice_asks_without_buttons(store, tracker, run_action, said) -> None:
    messages, _ = run_action(ActionAskCancelConfirmed(), tracker({"order_id": "10003"}, channel="voice"))
    assert "yes or no" in said(messages) and "10003" in said(messages)
    assert messages[0]["buttons"] == []


def test_ask_cancel_confirmed_says_nothing_for_an_unknown_order(store, tracker, run_action) -> None:
    assert run_action(ActionAskCancelConfirmed(), tracker({"order_id": "29999"})) == ([], [])


@pytest.mark.parametrize("email", [ALEX_EMAIL, "  Alex.Morgan@Example.COM "])
def test_confirmed_cancel_by_the_owner_cancels_and_refunds(store, tracker, run_action, said,
                                                           email) -> None:
    total = store.value("SELECT total_cents FROM orders WHERE id = 10003")
    spend = store.value("SELECT lifetime_spend_cents FROM customers WHERE id = 1")
    assert store.order(10003).status == "processing" and store.refunds(10003) == []

    messages, events = run_action(ActionCancelOrder(), tracker(
        {"order_id": "10003", "email": email, "cancel_confirmed": True}, intent="affirm"))

    assert said(messages) == (f"Done: order 10003 is cancelled. The {money(total)} will be refunded to your "
                              "original payment method within 3 to 5 working days.")
    assert events == [SlotSet("cancel_confirmed", None)]
    order = store.order(10003)
    assert order.status == "cancelled" and order.history[-1][0] == "cancelled"
    (refund,) = store.refunds(10003)
    assert (refund.amount_cents, refund.status, refund.item_name) == (total, "approved", None)
    assert store.value("SELECT lifetime_spend_cents FROM customers WHERE id = 1") == spend - total


def test_another_customers_processing_order_is_cancelled_for_its_owner(store, tracker, run_action,
                                                                       said) -> None:
    order_id = store.order_with_status("processing")
    messages, _ = run_action(ActionCancelOrder(), tracker(
        {"order_id": str(order_id), "email": store.email_of(order_id), "cancel_confirmed": True}))
    assert f"order {order_id} is cancelled" in said(messages)
    assert store.order(order_id).status == "cancelled"


@pytest.mark.parametrize("answer", [False, None])
def test_cancel_not_confirmed_keeps_the_order(store, tracker, run_action, said, answer) -> None:
    before = store.snapshot()
    messages, events = run_action(ActionCancelOrder(), tracker(
        {"order_id": "10003", "email": ALEX_EMAIL, "cancel_confirmed": answer}, intent="deny"))
    assert said(messages) == "OK, order 10003 stays as it is."
    assert events == [SlotSet("cancel_confirmed", None)]
    assert store.snapshot() == before


@pytest.mark.parametrize("status", ["shipped", "out_for_delivery", "delivered", "cancelled", "returned"])
def test_an_order_past_processing_cannot_be_cancelled(store, tracker, run_action, said, status) -> None:
    order_id = 10001 if status == "shipped" else order_in_status(store, status)
    before = store.snapshot()
    messages, events = run_action(ActionCancelOrder(), tracker(
        {"order_id": str(order_id), "email": store.email_of(order_id), "cancel_confirmed": True}))
    status_words = status.replace("_", " ")
    assert said(messages).startswith(f"Order {order_id} is already {status_words}, so it can't be cancelled")
    assert events == [SlotSet("cancel_confirmed", None)]
    assert store.snapshot() == before


@pytest.mark.parametrize("order_id", ["10003", "other"])
def test_cancel_with_the_wrong_email_is_refused(store, tracker, run_action, said, order_id) -> None:
    """The email was not the owner's: say so (naming the order) and change nothing."""
    if order_id == "other":
        order_id = str(store.order_with_status("processing"))
    wrong = store.email_of(10005) if order_id == "10003" else ALEX_EMAIL
    assert wrong != store.email_of(int(order_id))
    before = store.snapshot()
    messages, events = run_action(ActionCancelOrder(), tracker(
        {"order_id": order_id, "email": wrong, "cancel_confirmed": True}))
    assert said(messages) == (f"That email doesn't match order {order_id}, so I can't make changes to it. "
                              "Please use the email address the order was placed with.")
    assert events == [SlotSet("cancel_confirmed", None)]
    assert store.snapshot() == before


# --- delivery address -----------------------------------------------------------------------


def test_owner_changes_the_address_of_a_processing_order(store, tracker, run_action, said) -> None:
    before = store.snapshot()
    messages, events = run_action(ActionChangeShippingAddress(), tracker(
        {"order_id": "10003", "email": ALEX_EMAIL, "shipping_address": NEW_ADDRESS}))
    assert said(messages) == f"Done: order 10003 will now go to {NEW_ADDRESS}."
    assert events == [SlotSet("shipping_address", None)]
    assert store.value("SELECT shipping_address FROM orders WHERE id = 10003") == NEW_ADDRESS
    after = store.snapshot()
    assert {t for t in before if before[t] != after[t]} == {"orders"}
    changed = set(after["orders"]) - set(before["orders"])
    assert [row[0] for row in changed] == [10003]


def test_the_address_of_a_shipped_order_cannot_be_changed(store, tracker, run_action, said) -> None:
    before = store.snapshot()
    messages, events = run_action(ActionChangeShippingAddress(), tracker(
        {"order_id": "10001", "email": ALEX_EMAIL, "shipping_address": NEW_ADDRESS}))
    assert said(messages).startswith("Order 10001 is already shipped, so its address can't be changed here.")
    assert events == [SlotSet("shipping_address", None)]
    assert store.snapshot() == before


def test_address_change_with_the_wrong_email_is_refused(store, tracker, run_action, said) -> None:
    before = store.snapshot()
    messages, events = run_action(ActionChangeShippingAddress(), tracker(
        {"order_id": "10003", "email": store.email_of(10005), "shipping_address": NEW_ADDRESS}))
    assert said(messages) == ("That email doesn't match order 10003, so I can't make changes to it. "
                              "Please use the email address the order was placed with.")
    assert events == [SlotSet("shipping_address", None)]
    assert store.snapshot() == before


@pytest.mark.parametrize("address", ["", None, "1 a"])
def test_an_empty_address_is_refused_by_the_store_too(store, tracker, run_action, said, address) -> None:
    before = store.snapshot()
    messages, _ = run_action(ActionChangeShippingAddress(), tracker(
        {"order_id": "10003", "email": ALEX_EMAIL, "shipping_address": address}))
    assert said(messages) == ("That address looks incomplete. "
                              "Please give street and number, town and postcode.")
    assert store.snapshot() == before
