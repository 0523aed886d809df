"""Mask personal data in free text: email addresses, card numbers, phone numbers and postal addresses.

Everything analytics stores or shows goes through `mask`; it hides more rather than less (a long tracking
number may read as a phone number), and keeps enough to recognise a value: 'a***n@example.com', '****1234'.
"""

from __future__ import annotations

import re

from bot.formatting import mask_email
from bot.parsing import EMAIL_PATTERN, PHONE_DIGITS, PHONE_PATTERN

CARD_PATTERN = re.compile(r"(?<![\w+])\d(?:[ -]?\d){12,18}(?!\w)")
# Street types; those that are also everyday words ('on its way', 'close') count only when capitalised.
STREET_TYPES = (r"(?i:street|st|road|rd|avenue|ave|lane|ln|boulevard|blvd|terrace|gardens|parkway|highway|hwy"
                r"|mews|crescent|rue|via|calle|allee|chemin)|Way|Close|Place|Pl|Drive|Dr|Row|Court|Ct|Square|Sq")
# A house number, up to four words and a street type ('5 Rue', '221B Baker Street'), or a German-style street
# and number ('Hauptstraße 5'); the mask runs on to the end of the clause, which hides the town too.
ADDRESS_PATTERN = re.compile(
    rf"\b\d{{1,4}}[a-zA-Z]?,?\s+(?:[^\W\d][\w'’.-]*\s+){{0,4}}?(?:{STREET_TYPES})\b[^.!?\n]*"
    r"|\b[^\W\d][\w'’-]*(?i:straße|strasse|weg|gasse|platz)\s+\d{1,4}[a-z]?\b[^.!?\n]*",
    re.UNICODE)
POSTCODE_PATTERN = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b")  # UK postcodes
ADDRESS_MASK = "[address]"
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MAY_HOLD = re.compile(r"[\d@]")  # every pattern needs a digit or an @


def mask(text: str) -> str:
    """The text with every email, card number, phone number and postal address masked."""
    if not MAY_HOLD.search(text):
        return text
    text = EMAIL_PATTERN.sub(lambda m: mask_email(m.group()), text)
    text = CARD_PATTERN.sub(_card, text)
    text = PHONE_PATTERN.sub(_phone, text)
    text = ADDRESS_PATTERN.sub(ADDRESS_MASK, text)
    return POSTCODE_PATTERN.sub(ADDRESS_MASK, text)


def _card(match: re.Match[str]) -> str:
    """A Luhn-valid card number shows its last four digits; other digit runs are left to the phone mask."""
    digits = [int(ch) for ch in match.group() if ch.isdigit()]
    doubled = (d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(reversed(digits)))
    checksum = sum(doubled)
    return f"****{''.join(map(str, digits[-4:]))}" if checksum % 10 == 0 else match.group()


def _phone(match: re.Match[str]) -> str:
    """A phone number shows its last two digits: '***23'."""
    digits = [ch for ch in match.group() if ch.isdigit()]
    # 16-19 digits: runs that failed the card check, still too personal to show.
    if ISO_DATE.fullmatch(match.group()) or not PHONE_DIGITS[0] <= len(digits) <= 19:
        return match.group()
    return "***" + "".join(digits[-2:])
