"""Personal data is masked in analytics text: emails, card numbers, phone numbers, postal addresses."""

from __future__ import annotations

import pytest

from bot.masking import mask


@pytest.mark.parametrize(("text", "masked"), [
    ("mail me at alex.morgan@example.com", "mail me at a***n@example.com"),
    ("my card is 4111 1111 1111 1111", "my card is ****1111"),
    ("card 4539-1488-0343-6467 please", "card ****6467 please"),
    ("call me on +44 7700 900001", "call me on ***01"),
    ("or 07700 900123 after six", "or ***23 after six"),
    ("send it to 221B Baker Street, London NW1 6XE please", "send it to [address]"),
    ("Flat 3, 5 Rue de l'Église, Zürich", "Flat 3, [address]"),
    ("Hauptstraße 5, 10115 Berlin", "[address]"),
    ("I live at 12 Main St. Thanks!", "I live at [address]. Thanks!"),
    ("postcode SW1A 1AA", "postcode [address]"),
])
def test_personal_data_is_masked(text: str, masked: str) -> None:
    assert mask(text) == masked


@pytest.mark.parametrize("text", [
    "where is my order 10001?", "it cost €54.98 on 2026-03-02", "I waited 2 weeks for 3 items",
    "How long does delivery take?", "",
])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert mask(text) == text


def test_a_long_digit_run_that_is_no_card_is_still_hidden() -> None:
    assert mask("number 1234567812345678") == "number ***78"
