"""Form validation on a real seeded store: order numbers, emails, items, addresses, and when a form stops."""

from __future__ import annotations

import asyncio

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.forms import (
    ValidateCancelOrderForm,
    ValidateInvoiceForm,
    ValidateRefundForm,
    ValidateShippingAddressForm,
    ValidateTrackOrderForm,
    ValidateTrackRefundForm,
)

ALEX_EMAIL = "alex.morgan@example.com"
ALL_VALIDATORS = (ValidateTrackOrderForm, ValidateTrackRefundForm, ValidateInvoiceForm,
                  ValidateCancelOrderForm, ValidateRefundForm, ValidateShippingAddressForm)
STORE_UNAVAILABLE = ("I can't reach our order system right now. Please try again in a few minutes, "
                     "or ask for a person from our team.")
EMAIL_MISMATCH = ("That email doesn't match order 10003, so I can't make changes to it. Please use the email "
                  "address the order was placed with.")
ORDER_10001 = ({"order_id": "10001"}, [])


def validate(validator, slot: str, value, tracker, domain) -> tuple[dict, list[str]]:
    """Call `validate_<slot>` as rasa_sdk does: the slots it returns, and the texts it sent."""
    dispatcher = CollectingDispatcher()
    slots = getattr(validator, f"validate_{slot}")(value, dispatcher, tracker, domain)
    return slots, [message["text"] for message in dispatcher.messages]


def required(validator, tracker, domain) -> list[str]:
    slots = validator.domain_slots(domain)
    return asyncio.run(validator.required_slots(slots, CollectingDispatcher(), tracker, domain))


def order_items(store, order_id: int) -> list[tuple[str, str]]:
    return store.rows("SELECT p.name, p.product_type FROM order_items i "
                      "JOIN products p ON p.id = i.product_id WHERE i.order_id = :oid ORDER BY i.id",
                      oid=order_id)


# --- wiring ---------------------------------------------------------------------------------


@pytest.mark.parametrize("validator", ALL_VALIDATORS, ids=lambda v: v.__name__)
def test_each_validator_is_named_for_a_form_of_the_domain(validator, domain) -> None:
    action = validator()
    assert action.name() == f"validate_{action.form}"
    assert action.form in domain["forms"] and action.name() in domain["actions"]
    assert action.domain_slots(domain)[0] == "order_id"


@pytest.mark.parametrize("validator", ALL_VALIDATORS, ids=lambda v: v.__name__)
def test_each_validator_accepts_a_real_order_number(store, tracker, domain, validator) -> None:
    assert validate(validator(), "order_id", "#10002", tracker(), domain) == ({"order_id": "10002"}, [])


# --- order numbers --------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["#10001", "order 10001", "10001", " 10001 ", 10001,
                                   "it's order #10001, thanks"])
def test_order_number_is_read_from_what_the_customer_typed(store, tracker, domain, value) -> None:
    assert validate(ValidateCancelOrderForm(), "order_id", value, tracker(), domain) == ORDER_10001


@pytest.mark.parametrize("value", ["abc", "1234", "123456", "10001 and 10002", "", None, ["10001"], True])
def test_something_that_is_not_one_order_number_is_refused(store, tracker, domain, value) -> None:
    slots, said = validate(ValidateCancelOrderForm(), "order_id", value, tracker(), domain)
    assert slots == {"order_id": None}
    echoed = " ".join(str(value).split())
    assert said == [f"'{echoed}' doesn't look like one of our order numbers: they have five digits, "
                    "like 10234."]


def test_an_order_number_that_does_not_exist_is_not_found(store, tracker, domain) -> None:
    slots, said = validate(ValidateCancelOrderForm(), "order_id", "29999", tracker(), domain)
    assert slots == {"order_id": None}
    assert said == ["I can't find an order 29999. Could you check the number in your confirmation email?"]


def test_sql_in_an_order_number_is_only_text(store, tracker, domain) -> None:
    before_tables, before = store.tables(), store.snapshot()
    injected = "10001; DROP TABLE orders"
    assert validate(ValidateCancelOrderForm(), "order_id", injected, tracker(), domain) == ORDER_10001
    assert store.tables() == before_tables and "orders" in before_tables
    assert store.snapshot() == before


def test_a_huge_value_is_refused_and_echoed_short(store, tracker, domain) -> None:
    slots, said = validate(ValidateCancelOrderForm(), "order_id", "9" * 200_000, tracker(), domain)
    assert slots == {"order_id": None}
    assert said == ["'" + "9" * 39 + "…' doesn't look like one of our order numbers: they have five digits, "
                    "like 10234."]


def test_a_huge_text_with_one_order_number_is_read(store, tracker, domain) -> None:
    value = "please help " * 20_000 + "with order 10003"
    assert validate(ValidateCancelOrderForm(), "order_id", value, tracker(), domain) == (
        {"order_id": "10003"}, [])


def test_an_email_verified_for_another_customers_order_is_asked_again(store, tracker, domain) -> None:
    other = store.order_with_status("delivered")
    assert store.email_of(other) != ALEX_EMAIL
    verified = tracker({"order_id": "10003", "email": ALEX_EMAIL})
    for validator in (ValidateCancelOrderForm, ValidateRefundForm, ValidateShippingAddressForm,
                      ValidateInvoiceForm):
        slots, said = validate(validator(), "order_id", str(other), verified, domain)
        assert slots == {"order_id": str(other), "email": None}, validator.__name__
        assert said == []


def test_an_email_that_owns_the_new_order_is_kept(store, tracker, domain) -> None:
    verified = tracker({"order_id": "10003", "email": ALEX_EMAIL})
    assert validate(ValidateCancelOrderForm(), "order_id", "10001", verified, domain) == ORDER_10001


# --- emails ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [ALEX_EMAIL, "Alex.Morgan@Example.COM",
                                   "it's alex.morgan@example.com thanks"])
def test_the_owners_email_is_accepted_lower_case(store, tracker, domain, value) -> None:
    slots, said = validate(ValidateCancelOrderForm(), "email", value, tracker({"order_id": "10003"}), domain)
    assert slots == {"email": ALEX_EMAIL} and said == []


@pytest.mark.parametrize("value", ["alex at example dot com", "alex@", "a@b.com and c@d.com", "", None])
def test_something_that_is_not_an_email_is_refused(store, tracker, domain, value) -> None:
    slots, said = validate(ValidateCancelOrderForm(), "email", value, tracker({"order_id": "10003"}), domain)
    assert slots == {"email": None}
    assert said == [f"'{' '.join(str(value).split())}' doesn't look like an email address."]


def test_an_email_that_does_not_own_the_order_is_refused(store, tracker, domain) -> None:
    other_email = store.email_of(store.order_with_status("delivered"))
    slots, said = validate(ValidateCancelOrderForm(), "email", other_email, tracker({"order_id": "10003"}),
                           domain)
    assert slots == {"email": None}
    assert said == [EMAIL_MISMATCH]


def test_an_email_before_any_order_number_is_kept_for_later(store, tracker, domain) -> None:
    assert validate(ValidateCancelOrderForm(), "email", "someone@example.org", tracker(), domain) == (
        {"email": "someone@example.org"}, [])


# --- when a form stops early ----------------------------------------------------------------


@pytest.mark.parametrize(("validator", "order_id", "expected"), [
    (ValidateCancelOrderForm, "10001", ["order_id"]),
    (ValidateCancelOrderForm, "10002", ["order_id"]),
    (ValidateCancelOrderForm, "10003", ["order_id", "email", "cancel_confirmed"]),
    (ValidateShippingAddressForm, "#10001", ["order_id"]),
    (ValidateShippingAddressForm, "10003", ["order_id", "email", "shipping_address"]),
    (ValidateRefundForm, "10003", ["order_id"]),
    (ValidateRefundForm, "10001", ["order_id"]),
    (ValidateRefundForm, "10002", ["order_id", "email", "refund_item", "refund_reason"]),
    (ValidateRefundForm, "29999", ["order_id", "email", "refund_item", "refund_reason"]),
    (ValidateRefundForm, None, ["order_id", "email", "refund_item", "refund_reason"]),
    (ValidateInvoiceForm, "10001", ["order_id", "email"]),
    (ValidateTrackOrderForm, "10002", ["order_id"]),
], ids=str)
def test_required_slots_stop_after_the_order_when_its_status_rules_the_rest_out(
        store, tracker, domain, validator, order_id, expected) -> None:
    assert required(validator(), tracker({"order_id": order_id}), domain) == expected


def test_a_cancelled_order_cannot_be_returned_or_changed(store, tracker, domain) -> None:
    cancelled = str(store.order_with_status("cancelled"))
    for validator in (ValidateCancelOrderForm, ValidateShippingAddressForm, ValidateRefundForm):
        assert required(validator(), tracker({"order_id": cancelled}), domain) == ["order_id"]


def test_full_run_ends_the_cancel_form_for_a_shipped_order(store, tracker, domain) -> None:
    """rasa_sdk wiring: the slot the form just extracted is validated, then the form is told to stop."""
    dispatcher = CollectingDispatcher()
    form = tracker({"order_id": "#10001", "requested_slot": "order_id"}, text="#10001",
                   active_loop="cancel_order_form", after=[SlotSet("order_id", "#10001")])
    events = asyncio.run(ValidateCancelOrderForm().run(dispatcher, form, domain))
    assert events == [SlotSet("order_id", "10001"), SlotSet("requested_slot", None)]
    assert dispatcher.messages == []


def test_full_run_lets_the_form_go_on_for_a_processing_order(store, tracker, domain) -> None:
    dispatcher = CollectingDispatcher()
    form = tracker({"order_id": "order 10003", "requested_slot": "order_id"}, text="order 10003",
                   active_loop="cancel_order_form", after=[SlotSet("order_id", "order 10003")])
    events = asyncio.run(ValidateCancelOrderForm().run(dispatcher, form, domain))
    assert events == [SlotSet("order_id", "10003")]


def test_full_run_refuses_a_wrong_email_and_says_why(store, tracker, domain) -> None:
    dispatcher = CollectingDispatcher()
    wrong = store.email_of(10005)
    form = tracker({"order_id": "10003", "email": wrong, "requested_slot": "email"}, text=wrong,
                   active_loop="shipping_address_form", after=[SlotSet("email", wrong)])
    events = asyncio.run(ValidateShippingAddressForm().run(dispatcher, form, domain))
    assert events == [SlotSet("email", None)]
    assert [m["text"] for m in dispatcher.messages] == [EMAIL_MISMATCH]


# --- refund items ---------------------------------------------------------------------------


def test_refund_item_by_its_name_in_any_case(store, tracker, domain) -> None:
    for name, _ in order_items(store, 10002):
        assert validate(ValidateRefundForm(), "refund_item", name.upper(), tracker({"order_id": "10002"}),
                        domain) == ({"refund_item": name}, [])


def test_refund_item_by_its_product_type(store, tracker, domain) -> None:
    for name, product_type in order_items(store, 10002):
        assert validate(ValidateRefundForm(), "refund_item", f"the {product_type}",
                        tracker({"order_id": "10002"}), domain) == ({"refund_item": name}, [])


def test_refund_item_by_one_word_even_in_the_plural(store, tracker, domain) -> None:
    items = order_items(store, 10002)
    checked = 0
    for name, product_type in items:
        word = product_type.split()[-1].rstrip("s")
        others = " ".join(f"{n} {t}" for n, t in items if n != name).lower()
        if len(word) > 3 and word not in others:
            slots, said = validate(ValidateRefundForm(), "refund_item", f"my {word}s please",
                                   tracker({"order_id": "10002"}), domain)
            assert slots == {"refund_item": name} and said == []
            checked += 1
    assert checked


@pytest.mark.parametrize("value", ["everything", "All", " all of it ", "the whole order", "both"])
def test_refund_item_everything_means_the_whole_order(store, tracker, domain, value) -> None:
    assert validate(ValidateRefundForm(), "refund_item", value, tracker({"order_id": "10002"}), domain) == (
        {"refund_item": "all"}, [])


def test_an_item_not_on_the_order_is_refused_with_what_is(store, tracker, domain) -> None:
    slots, said = validate(ValidateRefundForm(), "refund_item", "lawn mower", tracker({"order_id": "10002"}),
                           domain)
    assert slots == {"refund_item": None}
    (text,) = said
    assert text.startswith("I couldn't find 'lawn mower' on order 10002. It contains ")
    for name, _ in order_items(store, 10002):
        assert name in text


def test_a_stray_letter_or_two_is_not_an_item(store, tracker, domain) -> None:
    """'a', or two letters that sit inside an item's name (like 'no' in 'Northway'), name no item."""
    first_name = order_items(store, 10002)[0][0].lower()
    for value in ("a", first_name[1:3]):
        slots, _ = validate(ValidateRefundForm(), "refund_item", value, tracker({"order_id": "10002"}),
                            domain)
        assert slots == {"refund_item": None}, value


# --- addresses and reasons ------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("7 Harbour View, Lakeside, 40213", "7 Harbour View, Lakeside, 40213"),
    ("  7 Harbour View\nLakeside\t40213 ", "7 Harbour View Lakeside 40213"),
])
def test_a_shipping_address_is_kept_on_one_line(store, tracker, domain, value, expected) -> None:
    assert validate(ValidateShippingAddressForm(), "shipping_address", value, tracker(), domain) == (
        {"shipping_address": expected}, [])


@pytest.mark.parametrize("value", ["somewhere nice", "12", "1 Elm Street " * 40, "", None])
def test_an_incomplete_address_is_refused(store, tracker, domain, value) -> None:
    assert validate(ValidateShippingAddressForm(), "shipping_address", value, tracker(), domain) == (
        {"shipping_address": None},
        ["That address looks incomplete. Please give street and number, town and postcode."])


@pytest.mark.parametrize(("value", "expected"), [
    ("  arrived\n  damaged  ", "arrived damaged"),
    ("doesn't fit", "doesn't fit"),
    ("   ", None),
    (None, None),
    ("x" * 5000, "x" * 500),
])
def test_the_refund_reason_is_trimmed(store, tracker, domain, value, expected) -> None:
    assert validate(ValidateRefundForm(), "refund_reason", value, tracker(), domain) == (
        {"refund_reason": expected}, [])


# --- store down -----------------------------------------------------------------------------


def test_validators_say_the_store_is_down_and_keep_nothing(store_down, tracker, domain) -> None:
    order = tracker({"order_id": "10002"})
    assert validate(ValidateCancelOrderForm(), "order_id", "10001", tracker(), domain) == (
        {"order_id": None}, [STORE_UNAVAILABLE])
    assert validate(ValidateCancelOrderForm(), "email", ALEX_EMAIL, order, domain) == (
        {"email": None}, [STORE_UNAVAILABLE])
    assert validate(ValidateRefundForm(), "refund_item", "jacket", order, domain) == (
        {"refund_item": None}, [STORE_UNAVAILABLE])
    assert required(ValidateRefundForm(), order, domain) == [
        "order_id", "email", "refund_item", "refund_reason"]
