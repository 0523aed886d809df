"""The recommendation actions on a real seeded store: suggestions as buttons or voice text, personal ones
from a trained model, best sellers without one, and the customer's answer recorded as feedback."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet

from actions.products import (
    ActionAcceptRecommendation,
    ActionDeclineRecommendation,
    ActionRecommendProducts,
    either,
)
from bot.formatting import money
from bot.messages import render
from bot.settings import PROJECT_ROOT
from bot.store import queries
from tests.unit.conftest import listen, user_event
from tests.unit.test_recommend_train import train_without_encoder

ALEX = 1.0  # the customer_id slot is a float slot
SENDER = "conversation-42"


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The action server's models folder, empty until a test trains into it."""
    monkeypatch.setenv("TANDEM_MODELS_DIR", str(tmp_path / "models"))
    return tmp_path / "models"


@pytest.fixture
def trained(store, models, monkeypatch) -> Path:
    train_without_encoder(store.engine, models, monkeypatch)
    return models


def feedback_rows(store) -> list[tuple]:
    return store.rows("SELECT sender_id, customer_id, product_id, accepted FROM recommendation_feedback "
                      "ORDER BY id")


def product_id(store, name: str) -> int:
    return store.value("SELECT id FROM products WHERE name = :n", n=name)


def listed(text: str) -> list[str]:
    """The product names of a suggestion message ('Prefix: A (€1.00), reason; B (€2.00).')."""
    return [entry.split(" (€")[0] for entry in text.split(": ", 1)[1].rstrip(".").split("; ")]


def after_suggestion(messages: list[dict[str, Any]], intent: str, slots: dict[str, Any] | None = None,
                     channel: str = "rest", text: str = "") -> Tracker:
    """A conversation in which the bot just sent `messages` from the suggestion action; now `intent`."""
    events = [listen(), user_event("ask_recommendation", channel=channel),
              {"event": "action", "timestamp": None, "name": "action_recommend_products"},
              *({"event": "bot", "timestamp": None, "text": m["text"],
                 "data": {"buttons": m.get("buttons", [])}} for m in messages),
              listen()]
    latest = user_event(intent, text, channel)
    return Tracker(SENDER, {"customer_id": None, **(slots or {})}, latest["parse_data"], [*events, latest],
                   False, None, {}, "action_listen")


# --- suggestions ----------------------------------------------------------------------------


def without_cards(buttons: list[dict]) -> list[dict]:
    """Buttons as every channel shows them: the web widget's product `card` left out."""
    return [{key: value for key, value in button.items() if key != "card"} for button in buttons]


def test_without_a_model_best_sellers_come_as_buttons_and_the_gap_is_logged(
        store, models, tracker, run_action, said, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        messages, events = run_action(ActionRecommendProducts(), tracker({"customer_id": ALEX},
                                                                          intent="ask_recommendation"))
    assert "No usable recommender model" in caplog.text
    best = [p for p in store.read(queries.top_products, limit=10) if p.name not in owned(store)][:3]
    entries = [f"{p.name} ({money(p.price_cents)})" for p in best]
    assert said(messages) == f"Popular right now: {'; '.join(entries)}."
    take = [{"title": p.name, "payload": "/accept_recommendation" + json.dumps({"product": p.name})}
            for p in best]
    buttons = messages[0]["buttons"]
    assert without_cards(buttons) == [*take, {"title": "None of these", "payload": "/decline_recommendation"}]
    assert [b["card"]["price"] for b in buttons[:3]] == [money(p.price_cents) for p in best]  # widget cards
    assert all(b["card"]["reason"].startswith("popular") for b in buttons[:3])
    assert events == [SlotSet("product_category", None)]


def owned(store, customer: int = 1) -> set[str]:
    return {name for (name,) in store.rows(
        "SELECT p.name FROM products p JOIN order_items i ON i.product_id = p.id JOIN orders o "
        "ON o.id = i.order_id WHERE o.customer_id = :c AND o.status != 'cancelled'", c=customer)}


def test_a_known_customer_gets_personal_picks_with_reasons(store, trained, tracker, run_action, said) -> None:
    messages, events = run_action(ActionRecommendProducts(), tracker({"customer_id": ALEX},
                                                                     intent="ask_recommendation"))
    text = said(messages)
    assert text.startswith("Picked for you: ")
    names = listed(text)
    assert len(names) == 3 and not set(names) & owned(store)
    for entry in text.split(": ", 1)[1].rstrip(".").split("; "):
        _, about = re.fullmatch(r".+ \(€[\d.,]+\), (often bought with|similar to) (.+)", entry).groups()
        assert about in owned(store)
    assert [b["title"] for b in messages[0]["buttons"]] == [*names, "None of these"]
    assert events == [SlotSet("product_category", None)]


def test_on_voice_the_picks_are_spoken_without_buttons(store, trained, tracker, run_action, said) -> None:
    messages, _ = run_action(ActionRecommendProducts(), tracker({"customer_id": ALEX}, channel="voice"))
    assert said(messages).startswith("Here's what I'd pick for you: ")
    assert said(messages).endswith("If one of them sounds good, just tell me which.")
    assert not messages[0]["buttons"]


def test_a_category_and_a_named_product_shape_the_picks_and_are_then_forgotten(store, trained, tracker,
                                                                               run_action, said) -> None:
    messages, events = run_action(ActionRecommendProducts(), tracker(
        {"customer_id": ALEX, "product_category": "Electronics"}))
    assert said(messages).startswith("Picked for you in electronics: ")
    categories = {store.value("SELECT category FROM products WHERE name = :n", n=name)
                  for name in listed(said(messages))}
    assert categories == {"electronics"}
    kettle = store.read(queries.find_products, "kettle", limit=1)[0].name
    messages, events = run_action(ActionRecommendProducts(), tracker({"product": "kettle"}))
    assert said(messages).count(f"with {kettle}") + said(messages).count(f"to {kettle}") == 3
    assert events == [SlotSet("product_category", None), SlotSet("product", None)]


def test_no_suggestions_when_nothing_is_in_stock(store, trained, tracker, run_action, said) -> None:
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE products SET stock = 0")
    messages, _ = run_action(ActionRecommendProducts(), tracker({"customer_id": ALEX}))
    assert said(messages) == "I don't have suggestions at the moment."
    assert not messages[0]["buttons"]


# --- feedback -------------------------------------------------------------------------------


def test_taking_a_suggestion_records_it_and_links_the_product(store, trained, tracker, run_action,
                                                              said) -> None:
    shown, _ = run_action(ActionRecommendProducts(), tracker({"customer_id": ALEX}))
    choice = listed(said(shown))[1]
    messages, events = run_action(ActionAcceptRecommendation(), after_suggestion(
        shown, "accept_recommendation", {"customer_id": ALEX, "product": choice}))
    sku, price = store.rows("SELECT sku, price_cents FROM products WHERE name = :n", n=choice)[0]
    assert said(messages) == f"Great choice! {choice} is {money(price)}: https://shop.example.com/products/{sku}"
    assert feedback_rows(store) == [(SENDER, 1, product_id(store, choice), 1)]
    assert events == [SlotSet("product", None)]
    again, _ = run_action(ActionRecommendProducts(), tracker({"customer_id": ALEX}))
    assert choice not in listed(said(again))


def test_on_voice_taking_a_suggestion_by_its_type_is_spoken_without_a_link(store, models, tracker, run_action,
                                                                           said) -> None:
    shown, _ = run_action(ActionRecommendProducts(), tracker({}, channel="voice"))
    first = store.read(queries.top_products, limit=1)[0]
    messages, _ = run_action(ActionAcceptRecommendation(), after_suggestion(
        shown, "accept_recommendation", {"product": first.product_type}, channel="voice"))
    assert said(messages) == render("recommendation_accepted", "voice", name=first.name,
                                    price=money(first.price_cents), sku=first.sku)["text"]
    assert "http" not in said(messages)
    assert feedback_rows(store) == [(SENDER, None, product_id(store, first.name), 1)]


def test_turning_all_suggestions_down_means_none_of_them_comes_back(store, models, tracker, run_action,
                                                                    said) -> None:
    shown, _ = run_action(ActionRecommendProducts(), tracker({}))
    names = listed(said(shown))
    messages, events = run_action(ActionDeclineRecommendation(),
                                  after_suggestion(shown, "decline_recommendation"))
    assert said(messages) == f"Noted: I won't suggest {names[0]}, {names[1]} or {names[2]} again."
    assert feedback_rows(store) == [(SENDER, None, product_id(store, name), 0) for name in names]
    assert events == [SlotSet("product", None)]
    again, _ = run_action(ActionRecommendProducts(), tracker({}))
    assert not set(listed(said(again))) & set(names)


def test_on_the_web_chat_the_cards_name_what_was_suggested(store, models, tracker, run_action, said) -> None:
    """The widget's text is only the intro; the buttons (its cards) name the products turned down."""
    shown, _ = run_action(ActionRecommendProducts(), tracker({}, channel="socketio"))
    assert said(shown) == "Popular right now:"
    names = [b["title"] for b in shown[0]["buttons"][:-1]]
    messages, _ = run_action(ActionDeclineRecommendation(),
                             after_suggestion(shown, "decline_recommendation", channel="socketio"))
    assert said(messages) == f"Noted: I won't suggest {names[0]}, {names[1]} or {names[2]} again."


def test_turning_one_suggestion_down_by_name(store, trained, tracker, run_action, said) -> None:
    shown, _ = run_action(ActionRecommendProducts(), tracker({"customer_id": ALEX}))
    names = listed(said(shown))
    messages, _ = run_action(ActionDeclineRecommendation(), after_suggestion(
        shown, "decline_recommendation", {"customer_id": ALEX, "product": names[2]}))
    assert said(messages) == f"Noted: I won't suggest {names[2]} again."
    assert feedback_rows(store) == [(SENDER, 1, product_id(store, names[2]), 0)]
    again, _ = run_action(ActionRecommendProducts(), tracker({"customer_id": ALEX}, sender_id="slack-7"))
    assert names[2] not in listed(said(again))


def test_taking_one_without_saying_which_asks_which_and_writes_nothing(store, models, tracker, run_action,
                                                                       said) -> None:
    shown, _ = run_action(ActionRecommendProducts(), tracker({}))
    for product in (None, "a unicorn"):
        messages, events = run_action(ActionAcceptRecommendation(), after_suggestion(
            shown, "accept_recommendation", {"product": product}))
        assert said(messages) == "Which of my suggestions do you mean?"
        assert messages[0]["buttons"] == without_cards(shown[0]["buttons"])
        assert events == [SlotSet("product", None)]
    assert feedback_rows(store) == []


@pytest.mark.parametrize("action", [ActionAcceptRecommendation, ActionDeclineRecommendation])
def test_feedback_before_any_suggestion_writes_nothing(store, models, tracker, run_action, said,
                                                       action) -> None:
    messages, _ = run_action(action(), tracker({"product": "kettle"}, intent="accept_recommendation"))
    assert said(messages).startswith("I haven't suggested anything yet.")
    assert feedback_rows(store) == []


@pytest.mark.parametrize("action", [ActionRecommendProducts, ActionAcceptRecommendation,
                                    ActionDeclineRecommendation])
def test_the_store_being_down_is_said(store_down, models, run_action, said, action) -> None:
    shown = [{"text": "Popular right now: Altura Kettle Pro (€19.99)."}]
    conversation = after_suggestion(shown, "accept_recommendation", {"customer_id": ALEX, "product": "tent"})
    assert said(run_action(action(), conversation)[0]).startswith("I can't reach our order system right now.")


def test_either_joins_names_as_people_do() -> None:
    assert [either(n) for n in (["A"], ["A", "B"], ["A", "B", "C"])] == ["A", "A or B", "A, B or C"]


# --- dialogue -------------------------------------------------------------------------------


def test_the_domain_rules_and_examples_wire_the_feedback_intents(domain) -> None:
    rules = yaml.safe_load((PROJECT_ROOT / "data" / "recommendation_rules.yml").read_text())["rules"]
    nlu = yaml.safe_load((PROJECT_ROOT / "data" / "nlu" / "recommendations.yml").read_text())["nlu"]
    for action, intent in ((ActionAcceptRecommendation, "accept_recommendation"),
                           (ActionDeclineRecommendation, "decline_recommendation")):
        assert intent in domain["intents"] and action().name() in domain["actions"]
        assert any(r["steps"] == [{"intent": intent}, {"action": action().name()}] for r in rules)
        (examples,) = [block["examples"] for block in nlu if block["intent"] == intent]
        assert examples.count("\n- ") + 1 >= 40 and "](product)" in examples
    assert ActionRecommendProducts().name() in domain["actions"]
