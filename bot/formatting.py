"""How money, dates, order items and personal data read in the bot's messages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol


class Item(Protocol):
    """What an order line needs to be described."""

    name: str
    quantity: int


def money(cents: int) -> str:
    """Euro amount for people: 5498 -> '€54.98'."""
    return f"€{cents / 100:,.2f}"


def day(value: date | datetime) -> str:
    """A date as people say it: 'Thursday 10 December' (with the year when it is not this year's)."""
    value = value.date() if isinstance(value, datetime) else value
    text = f"{value:%A} {value.day} {value:%B}"
    return text if value.year == date.today().year else f"{text} {value.year}"


def items_summary(items: Sequence[Item]) -> str:
    """'2 × Nordwind Kettle and 1 × Altura Mouse'; counts more than three lines as 'and N more items'."""
    parts = [f"{item.quantity} × {item.name}" for item in items[:3]]
    if len(items) > 3:
        parts.append(f"{len(items) - 3} more items")
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def mask_email(email: str) -> str:
    """Show enough of an email to recognise it: 'alex.morgan@example.com' -> 'a***n@example.com'."""
    local, _, domain = email.partition("@")
    hidden = local[0] + "***" + local[-1] if len(local) > 2 else "***"
    return f"{hidden}@{domain}"
