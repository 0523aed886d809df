"""Reading order numbers, emails and addresses out of what customers type."""

from __future__ import annotations

import pytest

from bot.parsing import clean_address, parse_email, parse_order_id


@pytest.mark.parametrize(("text", "expected"), [
    ("10234", 10234), ("#10234", 10234), ("order no. 22019", 22019), ("it's 15002!", 15002),
    (10234, 10234), ("10001'; DROP TABLE orders; --", 10001),
    ("", None), ("1234", None), ("123456", None), ("10234 or 10235", None), (None, None),
    (["10234"], None), ("٠١٢٣٤", None),
])
def test_parse_order_id(text: object, expected: int | None) -> None:
    assert parse_order_id(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Alex.Morgan@Example.com", "alex.morgan@example.com"),
    ("my email is sam+shop@mail.co.uk thanks", "sam+shop@mail.co.uk"),
    ("no email here", None), ("a@b", None), ("x@y.com and z@w.com", None), (42, None),
])
def test_parse_email(text: object, expected: str | None) -> None:
    assert parse_email(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("12 Elm Street, Springfield, 90210", "12 Elm Street, Springfield, 90210"),
    ("  4 Rue de la Paix\n75002 Paris\t", "4 Rue de la Paix 75002 Paris"),
    ("Flat 2 😀 Straße 5, München", "Flat 2 😀 Straße 5, München"),
    ("no number here at all", None), ("12", None), ("x" * 300 + " 1 Road", None), (None, None),
])
def test_clean_address(text: object, expected: str | None) -> None:
    assert clean_address(text) == expected
