"""A generic JSON voice gateway: speech recognition's text and confidence in, SSML out (docs/voice.md).

POST /webhooks/voice/webhook with header X-Tandem-Voice-Secret, one request per caller event:
    {call_id, caller, event: start|speech|dtmf|no_input|hangup, text, confidence, digits, barge_in}
answered with what to play and how to listen:
    {ssml, barge_in, expect, no_input_timeout_ms, hangup, transfer}
"""

from __future__ import annotations

import hmac
import logging
import math
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from xml.sax.saxutils import escape

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.twilio_voice import TwilioVoiceCollectingOutputChannel
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Blueprint, response
from sanic.request import Request

from bot.channels.call_flow import (
    EVENTS,
    NO_INPUT_TIMEOUT_S,
    CallerEvent,
    CallFlow,
    CallReply,
    bot_asker,
    digit_runs,
)
from bot.channels.validation import InvalidInput, clean_text, json_object
from bot.channels.webhooks import add_standard_routes
from bot.store.identities import channel_sender, normalized_id

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Tandem-Voice-Secret"
CALL_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
DIGITS = re.compile(r"[0-9*#]{0,33}")
LISTEN = "speech_or_dtmf"  # what a prompt listens for; the wire format also knows "speech" and "dtmf"
BREAK = '<break time="400ms"/>'  # between two prompts


class VoiceCollectingOutputChannel(TwilioVoiceCollectingOutputChannel):
    """Collects replies to speak, as Rasa's Twilio one does; named "voice" to get the voice variants."""

    @classmethod
    def name(cls) -> str:
        return "voice"


class VoiceGatewayInput(InputChannel):
    """Calls from a voice gateway that does the telephony, speech recognition and synthesis itself."""

    @classmethod
    def name(cls) -> str:
        return "voice"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls((credentials or {}).get("secret") or "")

    def __init__(self, secret: str) -> None:
        self.secret = secret  # "": the channel is off
        self.calls = CallFlow(self.name())

    def relay_output(self, tracker: DialogueStateTracker) -> OutputChannel | None:
        """None: agents cannot type into a call (the console offers a call back)."""
        return None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        gateway = Blueprint("voice_gateway_webhook", __name__)

        add_standard_routes(gateway, "voice gateway")

        @gateway.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> response.HTTPResponse:
            self._authenticate(request)
            call_id, caller, event = parse_request(request.body)
            sender_id = channel_sender(self.name(), caller or call_id)
            logger.debug("voice call %s: %s", call_id, event.kind)
            ask = bot_asker(on_new_message, VoiceCollectingOutputChannel, sender_id, self.name())
            return response.json(wire_reply(await self.calls.answer(call_id, sender_id, event, ask)))

        return gateway

    def _authenticate(self, request: Request) -> None:
        if not self.secret:
            raise InvalidInput("the voice gateway is off: set TANDEM_VOICE_SECRET", status=503)
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            raise InvalidInput(f"wrong or missing {SECRET_HEADER}", status=401)


def parse_request(body: bytes) -> tuple[str, str | None, CallerEvent]:
    """The call id, the caller's E.164 number (None: withheld) and the event of a gateway request."""
    data = json_object(body)
    call_id, caller, kind = data.get("call_id"), data.get("caller"), data.get("event")
    if not isinstance(call_id, str) or not CALL_ID.fullmatch(call_id):
        raise InvalidInput("'call_id' must be 1-128 letters, digits and . _ : -")
    number = None if caller is None else normalized_id("phone", caller)
    if caller is not None and number is None:
        raise InvalidInput("'caller' must be an E.164 number such as +447700900001, or null when withheld")
    if kind not in EVENTS:
        raise InvalidInput(f"'event' must be one of {', '.join(EVENTS)}")
    text = data.get("text") or ""
    if not isinstance(text, str):
        raise InvalidInput("'text' must be a string")
    confidence = data.get("confidence")
    if confidence is not None and (isinstance(confidence, bool) or not isinstance(confidence, (int, float))
                                   or not math.isfinite(confidence) or not 0 <= confidence <= 1):
        raise InvalidInput("'confidence' must be a number from 0 to 1, or null")
    digits = data.get("digits") or ""
    if not isinstance(digits, str) or not DIGITS.fullmatch(digits):
        raise InvalidInput("'digits' must be keypad presses: 0-9, * and # (at most 33)")
    barge_in = data.get("barge_in", False)
    if not isinstance(barge_in, bool):
        raise InvalidInput("'barge_in' must be true or false")
    event = CallerEvent(kind, clean_text(text) if text.strip() else "",
                        None if confidence is None else float(confidence), digits, barge_in)
    return call_id, number, event


def wire_reply(reply: CallReply) -> dict[str, Any]:
    """The gateway's answer: SSML to play and how to listen after it."""
    ends = reply.hangup or reply.transfer is not None
    return {"ssml": ssml(reply.speech), "barge_in": not ends, "expect": LISTEN,
            "no_input_timeout_ms": NO_INPUT_TIMEOUT_S * 1000, "hangup": reply.hangup,
            "transfer": reply.transfer}


def ssml(prompts: Sequence[str]) -> str:
    """<speak> with the prompts escaped, a short break between two, long numbers read digit by digit."""
    return f"<speak>{BREAK.join(_spoken(prompt) for prompt in prompts)}</speak>"


def _spoken(text: str) -> str:
    return "".join(f'<say-as interpret-as="digits">{piece}</say-as>' if digits
                   else escape(piece, {'"': "&quot;", "'": "&apos;"}) for piece, digits in digit_runs(text))
