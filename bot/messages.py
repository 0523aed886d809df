"""Render the messages that actions send (bot/messages.yml) in the variant for the customer's channel."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

MESSAGES_FILE = Path(__file__).with_name("messages.yml")
VOICE = "voice"  # the `channel:` of voice variants, here and in domain.yml
VOICE_CHANNELS = frozenset({VOICE, "twilio_voice"})  # channels that speak, and so get the voice variants


@lru_cache(maxsize=1)
def catalog() -> dict[str, list[dict[str, Any]]]:
    """Every message by name, each a list of variants (the default one has no `channel`)."""
    return yaml.safe_load(MESSAGES_FILE.read_text(encoding="utf-8"))


def variant_channel(channel: str | None) -> str | None:
    """The `channel:` whose variants `channel` gets: "voice" for every voice channel, else itself."""
    return VOICE if channel in VOICE_CHANNELS else channel


def render(message_name: str, channel: str | None = None, /, **values: Any) -> dict[str, Any]:
    """The text (and buttons, where the variant has them) of message `message_name` for `channel`.

    Raises KeyError for an unknown message or a placeholder without a value.
    """
    variants = catalog()[message_name]
    channel = variant_channel(channel)
    chosen = next((v for v in variants if channel and v.get("channel") == channel), None)
    chosen = chosen or next(v for v in variants if "channel" not in v)
    message: dict[str, Any] = {"text": chosen["text"].format_map(values)}
    if "buttons" in chosen:
        message["buttons"] = chosen["buttons"]
    return message
