"""What a phone call does with each caller event, for every voice channel (Twilio Voice, the voice gateway).

Speech goes to the bot when recognition is sure of it, is read back for a yes or no when it is half sure,
and is asked for again when it is unsure; keypad digits go to the bot as text; a silence repeats the last
question, and the third in a row ends the call. Between requests a call's state lives in the retail store's
database, never in process memory, so that any Rasa replica can take a call's next request (docs/voice.md).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from sqlalchemy.engine import Engine

from bot.messages import VOICE, render
from bot.settings import Settings
from bot.store.calls import CallState, open_call, save_call
from bot.store.db import make_engine, session_scope
from bot.store.identities import normalized_id

logger = logging.getLogger(__name__)

EVENTS = ("start", "speech", "dtmf", "no_input", "hangup")
LOW_CONFIDENCE = 0.4  # below: ask again
SURE_CONFIDENCE = 0.7  # from LOW_CONFIDENCE up to here: read it back and ask for a yes or no
MAX_NO_INPUT = 3  # silences in a row that end the call
NO_INPUT_TIMEOUT_S = 5  # how long a prompt waits for the caller
YES_KEY, NO_KEY = "1", "2"
GREETING = "/greet"  # what a new call sends the bot: the greet intent, whatever the NLU model


def _said(name: str) -> str:
    """A call prompt from bot/messages.yml."""
    return render(name, VOICE)["text"]


NOT_HEARD, NOT_CAUGHT, SAY_AGAIN = _said("call_not_heard"), _said("call_not_caught"), _said("call_say_again")
REJECTED, DEFAULT_PROMPT = _said("call_rejected"), _said("call_prompt")
GOODBYE, TROUBLE = _said("call_goodbye"), _said("call_trouble")

YES_WORDS = frozenset({"yes", "yeah", "yep", "yup", "correct", "right", "sure", "exactly", "ok", "okay"})
NO_WORDS = frozenset({"no", "nope", "nah", "wrong", "incorrect"})
WORD = re.compile(r"[a-z']+")
DIGIT_RUN = re.compile(r"\d{5,}")  # order, ticket and phone numbers: read one digit at a time
KEYPAD = re.compile(r"[0-9*]{1,32}")

AskBot = Callable[[str, dict[str, Any]], Awaitable[list[dict[str, Any]]]]


@dataclass(frozen=True)
class CallerEvent:
    """One thing the caller did: `kind` is one of EVENTS; speech has text and the recogniser's confidence."""

    kind: str
    text: str = ""
    confidence: float | None = None  # None: the recogniser gave none, so the text is taken as heard
    digits: str = ""  # keypad presses; a trailing '#' ends the entry
    barge_in: bool = False  # the caller interrupted the prompt


@dataclass(frozen=True)
class CallReply:
    """What the call does next: say `speech` (one prompt per item), then listen, hang up or transfer."""

    speech: tuple[str, ...] = ()
    hangup: bool = False
    transfer: str | None = None  # E.164 number to put the caller through to
    confirming: bool = False  # waiting for a yes (1) or no (2)


@dataclass(frozen=True)
class Step:
    """Where one caller event leads: a message for the bot or words of the call's own, and the new state."""

    state: CallState
    to_bot: str | None = None
    speech: tuple[str, ...] = ()
    hangup: bool = False
    confirmed: bool = False  # `to_bot` is a phrase the caller confirmed


def next_step(state: CallState, event: CallerEvent, greeting: str, *, can_confirm: bool = True) -> Step:
    """The call's next step; `can_confirm` False (no state store) sends half-sure speech straight on."""
    digits = keypad_digits(event.digits)
    kind = event.kind
    if (kind == "speech" and not event.text.strip()) or (kind == "dtmf" and not digits):
        kind = "no_input"
    if kind == "hangup":
        return Step(replace(state, pending_text=None, ended=True), hangup=True)
    if kind == "no_input":
        return _silence(state)
    state = replace(state, no_input_count=0)
    if kind == "start":
        return Step(replace(state, pending_text=None), to_bot=greeting)
    if kind == "dtmf":
        if state.pending_text is not None and digits in (YES_KEY, NO_KEY):
            return _answer(state, digits == YES_KEY)
        return Step(replace(state, pending_text=None), to_bot=digits)
    return _speech(state, event.text.strip(), 1.0 if event.confidence is None else event.confidence,
                   can_confirm)


def _silence(state: CallState) -> Step:
    count = state.no_input_count + 1
    if count >= MAX_NO_INPUT:
        return Step(replace(state, no_input_count=count, pending_text=None, ended=True), speech=(GOODBYE,),
                    hangup=True)
    return Step(replace(state, no_input_count=count), speech=(NOT_HEARD, prompt_of(state)))


def _speech(state: CallState, text: str, confidence: float, can_confirm: bool) -> Step:
    if state.pending_text is not None and confidence >= LOW_CONFIDENCE:
        answer = yes_or_no(text)
        if answer is not None:
            return _answer(state, answer)
    if confidence < LOW_CONFIDENCE:
        return Step(state, speech=(NOT_CAUGHT, confirm_question(state.pending_text)
                                   if state.pending_text is not None else SAY_AGAIN))
    if confidence < SURE_CONFIDENCE and can_confirm:
        return Step(replace(state, pending_text=text), speech=(confirm_question(text),))
    return Step(replace(state, pending_text=None), to_bot=text)


def _answer(state: CallState, yes: bool) -> Step:
    """The caller's yes or no to the phrase read back: the phrase goes to the bot, or is asked for again."""
    cleared = replace(state, pending_text=None)
    if yes:
        return Step(cleared, to_bot=state.pending_text, confirmed=True)
    return Step(cleared, speech=(REJECTED, SAY_AGAIN))


def yes_or_no(text: str) -> bool | None:
    """True for 'yes', 'yeah, that's right'; False for 'no', 'nope'; None for anything else."""
    words = WORD.findall(text.lower())
    if not words or len(words) > 4:
        return None
    if words[0] in YES_WORDS or words == ["that's", "right"]:
        return True
    return False if words[0] in NO_WORDS else None


def confirm_question(text: str) -> str:
    return render("call_confirm", VOICE, text=text)["text"]


def prompt_of(state: CallState) -> str:
    """What the call is waiting for an answer to: a read-back, else the bot's last question."""
    if state.pending_text is not None:
        return confirm_question(state.pending_text)
    return state.last_prompt or DEFAULT_PROMPT


def digit_runs(text: str) -> list[tuple[str, bool]]:
    """The text in pieces, each with whether it is a run of digits to read one by one (an order number)."""
    pieces: list[tuple[str, bool]] = []
    position = 0
    for match in DIGIT_RUN.finditer(text):
        if match.start() > position:
            pieces.append((text[position:match.start()], False))
        pieces.append((match.group(), True))
        position = match.end()
    if position < len(text):
        pieces.append((text[position:], False))
    return pieces


def keypad_digits(value: Any) -> str:
    """Keypad presses as the bot gets them: digits and '*', the '#' that ends an entry dropped; '' if none."""
    digits = value.strip().rstrip("#") if isinstance(value, str) else ""
    return digits if KEYPAD.fullmatch(digits) else ""


def transfer_of(messages: list[dict[str, Any]]) -> str | None:
    """The number a bot reply asks to put the call through to: custom JSON {"voice": {"transfer": ...}}."""
    for message in messages:
        custom = message.get("custom")
        voice = custom.get("voice") if isinstance(custom, dict) else None
        if isinstance(voice, dict) and "transfer" in voice:
            number = normalized_id("phone", voice["transfer"])
            if number is None:
                logger.error("a bot reply asked to transfer a call to %r, which is not an E.164 number",
                             voice["transfer"])
            return number
    return None


class CallFlow:
    """Runs one voice channel's calls; the channel turns requests into CallerEvents and renders the reply."""

    def __init__(self, channel: str, greeting: str = GREETING) -> None:
        self.channel = channel
        self.greeting = greeting  # what a new call sends the bot

    @cached_property
    def engine(self) -> Engine:
        """The store this channel keeps call state in, opened on the first call."""
        return make_engine(Settings.from_env().db_url)

    async def answer(self, call_id: str, sender_id: str, event: CallerEvent, ask_bot: AskBot) -> CallReply:
        """Handle one caller event: update the call's state, ask the bot when there is something for it."""
        state = await asyncio.to_thread(self._open, call_id, sender_id)
        blank = CallState(self.channel, call_id, sender_id)
        step = next_step(state or blank, event, self.greeting, can_confirm=state is not None)
        final = step.state
        reply = CallReply(step.speech, step.hangup, confirming=final.pending_text is not None)
        if step.to_bot is not None:
            metadata = {"voice": {"call_id": call_id, "event": event.kind, "confidence": event.confidence,
                                  "barge_in": event.barge_in, "confirmed": step.confirmed}}
            try:
                messages = await ask_bot(step.to_bot, metadata)
            except Exception:
                logger.exception("%s call %s: the bot could not answer; the caller is asked again",
                                 self.channel, call_id)
                reply = CallReply((TROUBLE, SAY_AGAIN))
            else:
                speech = tuple(m["text"] for m in messages if m.get("text"))
                final = replace(final, last_prompt=speech[-1] if speech else final.last_prompt)
                reply = CallReply(speech, transfer=transfer_of(messages))
        if state is not None:
            await asyncio.to_thread(self._save, final)
        return reply

    def _open(self, call_id: str, sender_id: str) -> CallState | None:
        try:
            with session_scope(self.engine) as session:
                return open_call(session, channel=self.channel, call_id=call_id, sender_id=sender_id,
                                 now=datetime.utcnow())
        except Exception:
            logger.exception("%s call %s: call state unavailable; speech goes to the bot unconfirmed",
                             self.channel, call_id)
            return None

    def _save(self, state: CallState) -> None:
        try:
            with session_scope(self.engine) as session:
                save_call(session, state, datetime.utcnow())
        except Exception:
            logger.exception("%s call %s: could not save the call's state", self.channel, state.call_id)


def bot_asker(on_new_message: Callable[[UserMessage], Awaitable[Any]],
              output: Callable[[], CollectingOutputChannel], sender_id: str, input_channel: str) -> AskBot:
    """Send a caller's text to the bot as `sender_id` on `input_channel`; return the replies it collected."""
    async def ask(text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        collector = output()
        await on_new_message(UserMessage(text, collector, sender_id, input_channel=input_channel,
                                         metadata=metadata))
        return collector.messages
    return ask
