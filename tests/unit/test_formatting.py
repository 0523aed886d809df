"""How amounts, dates and items read in the bot's messages."""

from __future__ import annotations

from datetime import date, datetime

from bot.formatting import day, items_summary, mask_email, money
from bot.store.queries import OrderItemView


def item(name: str, quantity: int = 1) -> OrderItemView:
    return OrderItemView(name=name, product_type="kettle", quantity=quantity, unit_price_cents=100)


def test_money() -> None:
    assert money(5498) == "€54.98"
    assert money(123456789) == "€1,234,567.89"
    assert money(0) == "€0.00"


def test_day_names_the_weekday_and_adds_the_year_only_when_needed() -> None:
    this_year = date.today().year
    assert day(date(this_year, 3, 5)).endswith(" 5 March")
    assert day(datetime(2019, 12, 10, 8, 30)) == "Tuesday 10 December 2019"


def test_items_summary() -> None:
    assert items_summary([item("Kettle", 2)]) == "2 × Kettle"
    assert items_summary([item("A"), item("B")]) == "1 × A and 1 × B"
    assert items_summary([item(n) for n in "ABCDE"]) == "1 × A, 1 × B, 1 × C and 2 more items"


def test_mask_email() -> None:
    assert mask_email("alex.morgan@example.com") == "a***n@example.com"
    assert mask_email("ab@example.com") == "***@example.com"
