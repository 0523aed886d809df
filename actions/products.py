"""Product questions: availability of a named product, and popular products as suggestions."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import EventList, StoreAction, say
from bot.formatting import day, money
from bot.store import queries
from bot.store.catalog import CATEGORIES


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


class ActionRecommendProducts(StoreAction):
    """Suggests the best sellers of a category; the personalised recommender replaces this ranking."""

    def name(self) -> str:
        return "action_recommend_products"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, session: Session) -> EventList:
        category = str(tracker.get_slot("product_category") or "").strip().lower()
        category = category if category in CATEGORIES else None
        products = queries.top_products(session, category=category, limit=3)
        scope = f" in {category}" if category else ""
        if not products:
            say(dispatcher, tracker, "no_recommendations", scope=scope)
        else:
            listed = "; ".join(f"{p.name} ({money(p.price_cents)})" for p in products)
            say(dispatcher, tracker, "recommendations", scope=scope, products=listed)
        return [SlotSet("product_category", None)]
