"""Read the values customers type: order numbers, email addresses, phone numbers and postal addresses."""

from __future__ import annotations

import re
import unicodedata

ORDER_ID_PATTERN = re.compile(r"(?<!\d)([1-9]\d{4})(?!\d)")
EMAIL_PATTERN = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
PHONE_PATTERN = re.compile(r"(?<![\w+])(\+|00)?(\d[\d ()./-]{5,20}\d)(?!\w)")
PHONE_DIGITS = (7, 15)  # E.164 allows at most 15 digits
MAX_ADDRESS_LENGTH = 200


def parse_order_id(text: object) -> int | None:
    """The single five-digit order number in the text ('#10234', 'order 10234'), else None."""
    if not isinstance(text, (str, int)):
        return None
    found = ORDER_ID_PATTERN.findall(str(text))
    return int(found[0]) if len(found) == 1 else None


def parse_email(text: object) -> str | None:
    """The single email address in the text, lower-cased, else None."""
    if not isinstance(text, str):
        return None
    found = EMAIL_PATTERN.findall(text)
    return found[0].lower() if len(found) == 1 else None


def parse_phone(text: object) -> str | None:
    """The single phone number in the text: '+' and its digits when international, else the digits."""
    if not isinstance(text, str):
        return None
    found = PHONE_PATTERN.findall(text)
    if len(found) != 1:
        return None
    prefix, number = found[0]
    digits = "".join(ch for ch in number if ch.isdigit())
    if not PHONE_DIGITS[0] <= len(digits) <= PHONE_DIGITS[1]:
        return None
    return f"+{digits}" if prefix else digits


def clean_address(text: object) -> str | None:
    """A one-line postal address with a house number and a place, control characters removed, else None."""
    if not isinstance(text, str):
        return None
    printable = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)
    line = " ".join(printable.split())
    has_number = any(ch.isdigit() for ch in line)
    has_words = sum(1 for word in line.split() if any(ch.isalpha() for ch in word)) >= 2
    if not (has_number and has_words and 8 <= len(line) <= MAX_ADDRESS_LENGTH):
        return None
    return line
