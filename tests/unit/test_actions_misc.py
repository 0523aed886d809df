"""Invoices, products, handoff, fallback and slot questions on a real seeded store; a store that is down."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from types import SimpleNamespace

import pytest
from rasa_sdk.events import SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import text
from sqlalchemy.orm import Session

from actions.asks import AskForEmail, AskForOrderId, AskForRefundReason, AskForShippingAddress
from actions.common import StoreAction
from actions.fallback import (
    INTENT_QUESTIONS,
    ActionDefaultAskAffirmation,
    ActionDefaultAskRephrase,
    ActionDefaultFallback,
)
from actions.invoices import ActionInvoice
from actions.orders import (
    ActionAskCancelConfirmed,
    ActionCancelOrder,
    ActionChangeShippingAddress,
    ActionTrackOrder,
)
from actions.products import ActionProductAvailability, ActionRecommendProducts
from actions.refunds import ActionAskRefundItem, ActionSubmitRefund, ActionTrackRefund
from bot.formatting import day, items_summary, money
from bot.settings import PROJECT_ROOT
from bot.store import queries, tickets
from tests.unit.conftest import sql_time

ALEX_EMAIL = "alex.morgan@example.com"
STORE_UNAVAILABLE = ("I can't reach our order system right now. Please try again in a few minutes, "
                     "or ask for a person from our team.")
ACTION_FAILED = "Sorry, something went wrong on my side. Please try again, or ask for a person from our team."
ASK_REPHRASE = "Sorry, I'm not sure I understood. Could you say that in other words?"


def invoice_facts(store, order_id: int) -> dict[str, str]:
    (number, issued, amount), = store.rows(
        "SELECT number, issued_at, amount_cents FROM invoices WHERE order_id = :oid", oid=order_id)
    items = [SimpleNamespace(name=n, quantity=q) for n, q in store.rows(
        "SELECT p.name, i.quantity FROM order_items i JOIN products p ON p.id = i.product_id "
        "WHERE i.order_id = :oid ORDER BY i.id", oid=order_id)]
    return {"number": number, "issued_on": day(sql_time(issued)), "amount": money(amount),
            "items": items_summary(items)}


# --- invoices -------------------------------------------------------------------------------


def test_check_invoice_gives_the_invoice_details(store, tracker, run_action, said) -> None:
    f = invoice_facts(store, 10002)
    messages, events = run_action(ActionInvoice(), tracker(
        {"order_id": "10002", "email": ALEX_EMAIL}, intent="inform", earlier_intents=["check_invoice"]))
    assert said(messages) == (
        f"Invoice {f['number']} for order 10002 was issued on {f['issued_on']}: {f['items']}. "
        f"Total {f['amount']}, VAT included. "
        "You can download it at https://shop.example.com/account/orders/10002/invoice")
    assert events == []


def test_get_invoice_gives_a_copy_with_its_link(store, tracker, run_action, said) -> None:
    f = invoice_facts(store, 10001)
    messages, _ = run_action(ActionInvoice(), tracker(
        {"order_id": "10001", "email": ALEX_EMAIL}, intent="inform",
        earlier_intents=["check_invoice", "get_invoice"]))
    assert said(messages) == (
        f"Here's invoice {f['number']} for order 10001 (total {f['amount']}) as a PDF: "
        "https://shop.example.com/account/orders/10001/invoice. It's also under Orders in your account.")


def test_the_latest_invoice_intent_decides(store, tracker, run_action, said) -> None:
    text = said(run_action(ActionInvoice(), tracker(
        {"order_id": "10001"}, intent="check_invoice", earlier_intents=["get_invoice"]))[0])
    assert text.startswith("Invoice ") and "as a PDF" not in text


def test_an_unknown_order_is_named_as_unknown_not_as_uninvoiced(store, tracker, run_action, said) -> None:
    messages, events = run_action(ActionInvoice(), tracker({"order_id": "29999"}, intent="check_invoice"))
    assert said(messages).startswith("I can't find an order 29999.")
    assert events == [SlotSet("order_id", None)]


def test_a_cancelled_order_has_no_invoice(store, tracker, run_action, said) -> None:
    order_id = store.order_with_status("cancelled")
    messages, events = run_action(ActionInvoice(), tracker({"order_id": str(order_id)}, intent="get_invoice"))
    assert said(messages) == f"Order {order_id} has no invoice: cancelled orders aren't invoiced."
    assert events == []


@pytest.mark.parametrize("intent", ["check_invoice", "get_invoice"])
def test_voice_invoices_have_no_link(store, tracker, run_action, said, intent) -> None:
    f = invoice_facts(store, 10002)
    messages, _ = run_action(ActionInvoice(), tracker({"order_id": "10002"}, intent=intent, channel="voice"))
    text = said(messages)
    assert "http" not in text and f["number"] in text and "10002" in text


# --- products -------------------------------------------------------------------------------


def test_a_product_in_stock_gives_stock_and_price(store, tracker, run_action, said) -> None:
    name, stock, price = store.rows(
        "SELECT name, stock, price_cents FROM products WHERE stock > 0 ORDER BY id")[0]
    messages, events = run_action(ActionProductAvailability(), tracker({"product": name},
                                                                       intent="product_availability"))
    assert said(messages) == f"{name} is in stock ({stock} left) at {money(price)}."
    assert events == [SlotSet("product", None)]


def test_a_product_out_of_stock_gives_its_restock_date(store, tracker, run_action, said) -> None:
    name, restock = store.rows("SELECT name, restock_date FROM products "
                               "WHERE stock = 0 AND restock_date IS NOT NULL ORDER BY id")[0]
    messages, events = run_action(ActionProductAvailability(), tracker({"product": name}))
    back = day(sql_time(restock))
    assert said(messages) == f"{name} is out of stock at the moment; we expect it back on {back}."
    assert events == [SlotSet("product", None)]


def test_a_product_out_of_stock_without_a_restock_date(store, tracker, run_action, said) -> None:
    name = store.value("SELECT name FROM products WHERE stock = 0 ORDER BY id")
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE products SET restock_date = NULL WHERE name = ?", (name,))
    assert said(run_action(ActionProductAvailability(), tracker({"product": name}))[0]) == (
        f"{name} is out of stock at the moment.")


def test_a_product_we_do_not_sell_is_not_found(store, tracker, run_action, said) -> None:
    messages, events = run_action(ActionProductAvailability(), tracker({"product": "flux capacitor"}))
    assert said(messages) == ("I couldn't find 'flux capacitor' in our catalogue. "
                              "Could you describe it differently?")
    assert events == [SlotSet("product", None)]


@pytest.mark.parametrize("product", [None, ""])
def test_no_product_named_asks_which(store, tracker, run_action, said, product) -> None:
    messages, events = run_action(ActionProductAvailability(), tracker({"product": product}))
    assert said(messages) == "Which product are you looking for?"
    assert events == []


def _listed(text: str, prefix: str) -> list[str]:
    assert text.startswith(prefix) and text.endswith(".")
    return [entry.rsplit(" (", 1)[0] for entry in text[len(prefix):-1].split("; ")]


def test_recommendations_in_a_category_are_its_best_sellers(store, tracker, run_action, said) -> None:
    messages, events = run_action(ActionRecommendProducts(), tracker({"product_category": "electronics"},
                                                                     intent="ask_recommendation"))
    names = _listed(said(messages), "Popular right now in electronics: ")
    best = store.read(queries.top_products, category="electronics", limit=3)
    assert names == [p.name for p in best] and 1 <= len(names) <= 3
    for name in names:
        assert store.rows("SELECT category FROM products WHERE name = :n AND stock > 0", n=name) == [
            ("electronics",)]
    assert events == [SlotSet("product_category", None)]


@pytest.mark.parametrize("category", [None, "", "gadgets and gizmos", "'; DROP TABLE products; --"])
def test_recommendations_without_a_known_category_are_overall_best_sellers(store, tracker, run_action, said,
                                                                           category) -> None:
    messages, events = run_action(ActionRecommendProducts(), tracker({"product_category": category}))
    names = _listed(said(messages), "Popular right now: ")
    assert names == [p.name for p in store.read(queries.top_products, limit=3)] and len(names) == 3
    assert events == [SlotSet("product_category", None)]
    assert "products" in store.tables()


def test_a_category_as_the_customer_capitalised_it_still_counts(store, tracker, run_action, said) -> None:
    text = said(run_action(ActionRecommendProducts(), tracker({"product_category": "Electronics"}))[0])
    assert text.startswith("Popular right now in electronics: ")


def test_no_recommendations_when_nothing_in_the_category_is_in_stock(store, tracker, run_action,
                                                                     said) -> None:
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE products SET stock = 0 WHERE category = 'garden'")
    messages, events = run_action(ActionRecommendProducts(), tracker({"product_category": "garden"}))
    assert said(messages) == "I don't have suggestions in garden at the moment."
    assert events == [SlotSet("product_category", None)]


# --- fallback -------------------------------------------------------------------------------


def test_every_intent_the_fallback_can_ask_about_is_in_the_domain(domain) -> None:
    assert set(INTENT_QUESTIONS) <= set(domain["intents"])


@pytest.mark.parametrize(("ranking", "guess"), [
    ([("nlu_fallback", 0.5), ("cancel_order", 0.3), ("track_order", 0.2)], "cancel_order"),
    ([("nlu_fallback", 0.5), ("greet", 0.3), ("affirm", 0.1), ("track_refund", 0.05)], "track_refund"),
])
def test_ask_affirmation_phrases_the_best_known_guess(tracker, run_action, said, ranking, guess) -> None:
    messages, events = run_action(ActionDefaultAskAffirmation(),
                                  tracker(intent="nlu_fallback", ranking=ranking))
    assert said(messages) == f"Sorry, I'm not sure I understood. Did you want to {INTENT_QUESTIONS[guess]}?"
    assert messages[0]["buttons"] == [{"title": "Yes", "payload": f"/{guess}"},
                                      {"title": "No", "payload": "/out_of_scope"}]
    assert events == []


def test_ask_affirmation_in_words(tracker, run_action, said) -> None:
    messages, _ = run_action(ActionDefaultAskAffirmation(), tracker(
        intent="nlu_fallback", ranking=[("nlu_fallback", 0.6), ("cancel_order", 0.4)]))
    assert said(messages) == "Sorry, I'm not sure I understood. Did you want to cancel an order?"


def test_ask_affirmation_on_voice_has_no_buttons(tracker, run_action, said) -> None:
    messages, _ = run_action(ActionDefaultAskAffirmation(), tracker(
        intent="nlu_fallback", ranking=[("nlu_fallback", 0.6), ("get_refund", 0.4)], channel="voice"))
    assert said(messages).endswith(f"Did you want to {INTENT_QUESTIONS['get_refund']}?")
    assert messages[0]["buttons"] == []


@pytest.mark.parametrize("ranking", [[("nlu_fallback", 0.7), ("greet", 0.2), ("affirm", 0.1)], []])
def test_ask_affirmation_without_a_known_guess_asks_to_rephrase(tracker, run_action, said, ranking) -> None:
    messages, events = run_action(ActionDefaultAskAffirmation(),
                                  tracker(intent="nlu_fallback", ranking=ranking))
    assert said(messages) == ASK_REPHRASE and messages[0]["buttons"] == []
    assert events == []


def test_ask_rephrase(tracker, run_action, said) -> None:
    messages, events = run_action(ActionDefaultAskRephrase(), tracker(intent="nlu_fallback"))
    assert said(messages) == ASK_REPHRASE and events == []


def test_default_fallback_forgets_the_message_and_offers_topics(tracker, run_action, said) -> None:
    messages, events = run_action(ActionDefaultFallback(), tracker(intent="nlu_fallback"))
    assert said(messages).startswith("Sorry, I still didn't get that.")
    assert [b["payload"] for b in messages[0]["buttons"]] == [
        "/track_order", "/get_refund", "/contact_human_agent"]
    assert events == [UserUtteranceReverted()]


def test_default_fallback_on_voice_names_the_topics(tracker, run_action, said) -> None:
    messages, events = run_action(ActionDefaultFallback(), tracker(intent="nlu_fallback", channel="voice"))
    assert "talk to a person" in said(messages) and messages[0]["buttons"] == []
    assert events == [UserUtteranceReverted()]


# --- slot questions -------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "slot", "start"), [
    (AskForOrderId, "order_id", "What's the order number?"),
    (AskForEmail, "email", "To protect your account, what's the email address"),
    (AskForRefundReason, "refund_reason", "What's the reason for the return?"),
    (AskForShippingAddress, "shipping_address", "What's the new delivery address?"),
], ids=lambda v: getattr(v, "__name__", v))
def test_each_slot_question(tracker, run_action, said, domain, action, slot, start) -> None:
    assert action().name() == f"action_ask_{slot}" and action().name() in domain["actions"]
    assert any(slot in form["required_slots"] for form in domain["forms"].values())
    messages, events = run_action(action(), tracker())
    assert said(messages).startswith(start) and events == []


# --- when the store or the action fails -----------------------------------------------------

FULL_SLOTS = {"order_id": "10003", "email": ALEX_EMAIL, "cancel_confirmed": True, "refund_item": "all",
              "refund_reason": "broken", "shipping_address": "7 Harbour View, Lakeside, 40213",
              "product": "kettle", "product_category": "electronics"}
STORE_ACTIONS = (ActionTrackOrder, ActionAskCancelConfirmed, ActionCancelOrder, ActionChangeShippingAddress,
                 ActionTrackRefund, ActionAskRefundItem, ActionSubmitRefund, ActionInvoice,
                 ActionProductAvailability, ActionRecommendProducts)


@pytest.mark.parametrize("action", STORE_ACTIONS, ids=lambda a: a.__name__)
@pytest.mark.parametrize("channel", ["rest", "voice"])
def test_every_store_action_says_when_the_store_is_down(store_down, tracker, run_action, action,
                                                        channel) -> None:
    messages, events = run_action(action(), tracker(dict(FULL_SLOTS), intent="contact_human_agent",
                                                    channel=channel))
    assert [m["text"] for m in messages] == [STORE_UNAVAILABLE]
    assert events == []


class _WritesThenFails(StoreAction):
    """Opens a ticket, then fails: the ticket must not survive, and the customer must hear something."""

    def __init__(self, failure: str) -> None:
        self.failure = failure

    def name(self) -> str:
        return "action_writes_then_fails"

    def act(self, dispatcher: CollectingDispatcher, tracker, session: Session) -> list:
        tickets.create_ticket(session, sender_id=tracker.sender_id, channel="rest", reasons=[],
                              summary="half done", now=datetime.utcnow())
        if self.failure == "bug":
            raise RuntimeError("a bug in an action")
        session.execute(text("SELECT no_such_column FROM handoff_tickets"))  # the database refuses
        return [SlotSet("handoff_ticket", 1.0)]


@pytest.mark.parametrize(("failure", "told"), [("bug", ACTION_FAILED), ("database", STORE_UNAVAILABLE)])
def test_a_failing_action_is_answered_and_rolled_back(store, tracker, run_action, failure, told) -> None:
    messages, events = run_action(_WritesThenFails(failure), tracker())
    assert [m["text"] for m in messages] == [told]
    assert events == []
    assert store.rows("SELECT id FROM handoff_tickets") == []


def test_the_action_server_registers_every_action_and_each_is_in_the_domain(domain) -> None:
    """What `python -m rasa_sdk --actions actions` does at start; an abstract helper must not break it."""
    script = ("import json; from rasa_sdk.executor import ActionExecutor; e = ActionExecutor(); "
              "e.register_package('actions'); print(json.dumps(sorted(e.actions)))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    registered = set(json.loads(done.stdout.splitlines()[-1]))
    assert registered <= set(domain["actions"]) | {"action_session_start"}
    assert {"action_handoff_to_human", "action_accept_recommendation",
            "validate_follow_up_form"} <= registered
