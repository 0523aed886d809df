"""Product questions: availability of a named product, suggestions, and what the customer made of them."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import EventList, StoreAction, say
from bot.formatting import day, money
from bot.recommend import advisor
from bot.recommend.train import current
from bot.settings import Settings
from bot.store import queries
from bot.store import recommendations as suggestions_store
from bot.store.catalog import CATEGORIES

RECOMMEND_ACTION = "action_recommend_products"
SUGGESTIONS = 3


class ActionProductAvailability(StoreAction):
    def name(self) -> str:
        return "action_product_availability"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, session: Session) -> EventList:
        wanted = tracker.get_slot("product")
        if not wanted:
            say(dispatcher, tracker, "which_product")
            return []
        products = queries.find_products(session, wanted, limit=1)
        if not products:
            say(dispatcher, tracker, "product_not_found", value=wanted)
        elif products[0].stock > 0:
            product = products[0]
            say(dispatcher, tracker, "product_in_stock", name=product.name,
                                     stock=product.stock, price=money(product.price_cents))
        else:
            product = products[0]
            restock = f"; we expect it back on {day(product.restock_date)}" if product.restock_date else ""
            say(dispatcher, tracker, "product_out_of_stock", name=product.name,
                                     restock=restock)
        return [SlotSet("product", None)]


ACCEPT = "/accept_recommendation"


def suggestion_buttons(names: list[str], cards: list[dict[str, str]] | None = None) -> list[dict[str, Any]]:
    """One button per product to take it, and one to turn them all down.

    With `cards` (one per name: price, reason), each product's button carries it as `card`, from which
    channels that show product cards (the web chat widget) build them; other channels ignore it.
    """
    take: list[dict[str, Any]] = [{"title": name, "payload": ACCEPT + json.dumps({"product": name})}
                                  for name in names]
    for button, card in zip(take, cards or [], strict=False):
        button["card"] = card
    return take + [{"title": "None of these", "payload": "/decline_recommendation"}]


def either(names: list[str]) -> str:
    """'A', 'A or B', 'A, B or C'."""
    return " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def last_suggestions(tracker: Tracker) -> str:
    """What the bot said when it last made suggestions in this conversation, with its buttons' titles
    (the web chat's text names no products: its cards do); '' if it never made any."""
    said: list[str] = []
    listening = False  # to the messages of the latest suggestion action
    for event in tracker.events:
        if event.get("event") == "action":
            listening = event.get("name") == RECOMMEND_ACTION
            said = [] if listening else said
        elif event.get("event") == "bot" and listening:
            buttons = (event.get("data") or {}).get("buttons") or []
            said += [event.get("text") or "", *(str(b.get("title")) for b in buttons if isinstance(b, dict))]
    return " ".join(said)


class ActionRecommendProducts(StoreAction):
    """Suggests products for the identified customer, or around the product or category named."""

    def name(self) -> str:
        return RECOMMEND_ACTION

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, session: Session) -> EventList:
        category = str(tracker.get_slot("product_category") or "").strip().lower()
        category = category if category in CATEGORIES else None
        product = tracker.get_slot("product")
        product = product.strip() if isinstance(product, str) and product.strip() else None
        suggestions = advisor.suggest(
            session, current(Settings.from_env().models_dir), sender_id=tracker.sender_id,
            customer=suggestions_store.customer_id(tracker.get_slot("customer_id")), category=category,
            product=product, limit=SUGGESTIONS)
        scope = f" in {category}" if category else ""
        cards = [{"price": money(s.price_cents), "reason": s.reason.text()} for s in suggestions]
        buttons = suggestion_buttons([s.name for s in suggestions], cards)
        if not suggestions:
            say(dispatcher, tracker, "no_recommendations", scope=scope)
        elif all(s.reason.kind == "popular_in" for s in suggestions):
            listed = "; ".join(f"{s.name} ({money(s.price_cents)})" for s in suggestions)
            say(dispatcher, tracker, "recommendations", buttons=buttons, scope=scope, products=listed)
        else:
            listed = "; ".join(f"{s.name} ({money(s.price_cents)}), {s.reason.text()}" for s in suggestions)
            say(dispatcher, tracker, "recommendations_for_you", buttons=buttons, scope=scope, products=listed)
        return [SlotSet("product_category", None)] + ([SlotSet("product", None)] if product else [])


class _SuggestionFeedback(StoreAction, ABC):
    """Records what the customer thought of the products last suggested: the one they name, else all."""

    @property
    @abstractmethod
    def accepted(self) -> bool:
        """Whether this action records a yes (else a no)."""

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, session: Session) -> EventList:
        shown = suggestions_store.products_named_in(session, last_suggestions(tracker))
        picked = advisor.chosen(shown, tracker.get_slot("product"))
        if not shown:
            say(dispatcher, tracker, "no_suggestions_yet")
            return [SlotSet("product", None)]
        if not picked or (self.accepted and len(picked) > 1):
            names = [p.name for p in shown]
            say(dispatcher, tracker, "which_recommendation", buttons=suggestion_buttons(names))
            return [SlotSet("product", None)]
        customer = suggestions_store.customer_id(tracker.get_slot("customer_id"))
        suggestions_store.record_feedback(session, sender_id=tracker.sender_id, customer=customer,
                                          product_ids=[p.id for p in picked], accepted=self.accepted,
                                          now=datetime.utcnow())
        if self.accepted:
            say(dispatcher, tracker, "recommendation_accepted", name=picked[0].name,
                price=money(picked[0].price_cents), sku=picked[0].sku)
        else:
            say(dispatcher, tracker, "recommendation_declined", products=either([p.name for p in picked]))
        return [SlotSet("product", None)]


class ActionAcceptRecommendation(_SuggestionFeedback):
    accepted = True

    def name(self) -> str:
        return "action_accept_recommendation"


class ActionDeclineRecommendation(_SuggestionFeedback):
    accepted = False

    def name(self) -> str:
        return "action_decline_recommendation"
