"""The REST channel's sender ids: the conversation ids of identity-bearing channels are refused."""

from __future__ import annotations

import pytest

from bot.channels.validation import InvalidInput, clean_sender


@pytest.mark.parametrize("sender", ["telegram:1", "slack:U1", "voice:+447700900001",
                                    "twilio_voice:+447700900001", " telegram:100000001 "])
def test_another_channels_conversation_id_is_forbidden(sender) -> None:
    with pytest.raises(InvalidInput, match="names a conversation of another channel") as refused:
        clean_sender(sender)
    assert refused.value.status == 403


@pytest.mark.parametrize("sender", ["web-77", "alex@example.com", "a:b", "telegram", "web:telegram:1"])
def test_web_sender_ids_are_accepted(sender) -> None:
    assert clean_sender(sender) == sender
