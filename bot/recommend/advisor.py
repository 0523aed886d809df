"""Suggestions for one conversation: the model on what the customer bought or named, filtered by stock and
by what they own or declined; the store's best sellers when there is no model or nothing to go on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.recommend import content
from bot.recommend.model import Reason, Recommendation, Recommender
from bot.store import queries
from bot.store import recommendations as store


@dataclass(frozen=True)
class Suggestion:
    name: str
    sku: str
    price_cents: int
    reason: Reason


def suggest(s: Session, model: Recommender | None, *, customer: int | None, sender_id: str,
            category: str | None = None, product: str | None = None, limit: int = 3) -> list[Suggestion]:
    """Up to `limit` in-stock products (of `category`, when given) for this customer or conversation."""
    owned = store.purchased(s, customer) if customer is not None else []
    accepted = store.feedback(s, accepted=True, customer=customer, sender_id=sender_id)
    declined = store.feedback(s, accepted=False, customer=customer, sender_id=sender_id)
    named = queries.find_products(s, product, limit=1) if product else []
    seeds = [pid for pid in (model.product_id(p.name) for p in named) if pid is not None] if model else []
    history = seeds or [*owned, *accepted]  # a product named says more than everything bought before
    exclude = {*owned, *accepted, *declined, *seeds}
    allowed = store.available(s, category)
    picks: list[Recommendation] = []
    if model is not None and history:
        picks = model.recommend(history, exclude=exclude, allowed=allowed, limit=limit)
    elif model is not None and product and not named:
        vector = content.embed([product], model.config.encoder)[0]
        picks = model.similar_to_text(vector, product, exclude=exclude, allowed=allowed, limit=limit)
    found = {p.id: p for p in store.products(s, [pick.product_id for pick in picks])}
    personal = [Suggestion(ref.name, ref.sku, ref.price_cents, pick.reason)
                for pick in picks if (ref := found.get(pick.product_id))]
    return personal + _best_sellers(s, category, limit - len(personal), exclude | set(found))


def _best_sellers(s: Session, category: str | None, limit: int, exclude: set[int]) -> list[Suggestion]:
    """The store's recent best sellers in stock, none of `exclude`, each 'popular in' its category."""
    if limit <= 0:
        return []
    skus = {p.sku for p in store.products(s, exclude)} if exclude else set()
    popular = queries.top_products(s, category=category, limit=limit + len(skus))
    return [Suggestion(p.name, p.sku, p.price_cents, Reason("popular_in", p.category))
            for p in popular if p.sku not in skus][:limit]


def chosen(shown: Sequence[store.ProductView], wanted: str | None) -> list[store.ProductView]:
    """Which of the suggestions shown the customer means: the one they named, else all of them."""
    if not wanted:
        return list(shown)
    index = queries.match_item(shown, wanted)
    return [] if index is None else [shown[index]]
