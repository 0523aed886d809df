"""Phone calls' dialogue state between webhook requests (bot/channels/call_flow.py): read, write, end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import VoiceCall


@dataclass(frozen=True)
class CallState:
    """Where a call stands: the bot's last question, a phrase awaiting a yes or no, silences in a row."""

    channel: str
    call_id: str
    sender_id: str
    last_prompt: str = ""
    pending_text: str | None = None
    no_input_count: int = 0
    ended: bool = False


def open_call(s: Session, *, channel: str, call_id: str, sender_id: str, now: datetime) -> CallState:
    """The call's state; a new call starts with a blank one."""
    call = _find(s, channel, call_id)
    if call is None:
        call = VoiceCall(channel=channel, call_id=call_id, sender_id=sender_id, last_prompt="",
                         no_input_count=0, started_at=now, updated_at=now)
        s.add(call)
        s.flush()
    return CallState(call.channel, call.call_id, call.sender_id, call.last_prompt, call.pending_text,
                     call.no_input_count, call.ended_at is not None)


def save_call(s: Session, state: CallState, now: datetime) -> None:
    """Store what the call's next request needs; ending a call sets its end time once."""
    call = _find(s, state.channel, state.call_id)
    if call is None:
        raise LookupError(f"no {state.channel} call {state.call_id!r}: open_call it first")
    call.last_prompt, call.pending_text = state.last_prompt, state.pending_text
    call.no_input_count, call.updated_at = state.no_input_count, now
    if state.ended and call.ended_at is None:
        call.ended_at = now
    s.flush()


def _find(s: Session, channel: str, call_id: str) -> VoiceCall | None:
    stmt = select(VoiceCall).where(VoiceCall.channel == channel, VoiceCall.call_id == call_id)
    return s.execute(stmt).scalar_one_or_none()
