"""Validate what a channel receives before Rasa sees it: sender ids, message text, metadata."""

from __future__ import annotations

import json
import os
import re
import unicodedata
from typing import Any

from bot.store.identities import INPUT_CHANNEL_KINDS, SENDER_SEPARATOR

MAX_MESSAGE_CHARS = int(os.environ.get("TANDEM_MAX_MESSAGE_CHARS", "4000"))
MAX_SENDER_CHARS = 128
SENDER_PATTERN = re.compile(r"^[\w.@:+\-]{1,128}$", re.UNICODE)
CHANNEL_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
KEPT_CONTROLS = {"\n", "\t"}


class InvalidInput(ValueError):
    """A request that Tandem refuses, with the HTTP status and a message for the client."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def json_object(raw: bytes | None) -> dict[str, Any]:
    """A request body that must be a JSON object."""
    try:
        body = json.loads(raw or b"")
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("the body must be JSON") from None
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    return body


def clean_sender(value: Any) -> str:
    """A sender id: a string (or integer) of letters, digits and . @ : + - _, at most 128 characters.

    Ids such as 'telegram:100000001' belong to identity-bearing channels and are refused with 403.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidInput("'sender' is required: a string id of 1-128 characters")
    sender = str(value).strip()
    if not SENDER_PATTERN.fullmatch(sender):
        raise InvalidInput("'sender' may hold only letters, digits and . @ : + - _ (1-128 characters)")
    if sender.partition(SENDER_SEPARATOR)[0] in INPUT_CHANNEL_KINDS and SENDER_SEPARATOR in sender:
        raise InvalidInput(f"'sender' {sender!r} names a conversation of another channel", status=403)
    return sender


def clean_text(value: Any) -> str:
    """Message text in NFC with control characters removed; refuses empty and over-long messages."""
    if not isinstance(value, str):
        raise InvalidInput("'message' is required: a string")
    text = unicodedata.normalize("NFC", value)
    text = "".join(ch for ch in text if ch in KEPT_CONTROLS or unicodedata.category(ch) != "Cc").strip()
    if not text:
        raise InvalidInput("'message' is empty")
    if len(text) > MAX_MESSAGE_CHARS:
        raise InvalidInput(f"'message' is longer than {MAX_MESSAGE_CHARS} characters", status=413)
    return text


def clean_metadata(value: Any) -> dict[str, Any] | None:
    """Metadata must be a JSON object when given."""
    if value is None or isinstance(value, dict):
        return value
    raise InvalidInput("'metadata' must be a JSON object")


def clean_channel(value: Any, default: str) -> str:
    """The input channel a client names, else the channel's own name.

    Channels whose sender ids identify a customer (Slack, Telegram, phone) only come through their own
    connectors: naming one here would let a client pose as that customer.
    """
    if value is None:
        return default
    if not isinstance(value, str) or not CHANNEL_PATTERN.fullmatch(value):
        raise InvalidInput("'input_channel' must be a lower-case name of at most 32 characters")
    if value in INPUT_CHANNEL_KINDS:
        raise InvalidInput(f"'input_channel' {value!r} only comes through its own connector", status=403)
    return value
