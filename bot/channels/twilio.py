"""Rasa's Twilio Voice channel made safe and patient: signed requests only, keypad digits, confidence checks,
reprompts after silence and transfers to a person (docs/voice.md). POST /webhooks/twilio_voice/webhook.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlparse

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.twilio_voice import TwilioVoiceCollectingOutputChannel, TwilioVoiceInput
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import InvalidConfigException
from sanic import Blueprint, response
from sanic.request import Request
from twilio.request_validator import add_port, remove_port
from twilio.twiml.voice_response import Gather, VoiceResponse

from bot.channels.call_flow import (
    DEFAULT_PROMPT,
    GREETING,
    NO_INPUT_TIMEOUT_S,
    CallerEvent,
    CallFlow,
    CallReply,
    bot_asker,
    digit_runs,
)
from bot.channels.validation import InvalidInput, clean_text
from bot.channels.webhooks import add_standard_routes
from bot.store.identities import channel_sender, normalized_id

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
CALL_SID = re.compile(r"[A-Za-z0-9]{1,64}")
ENDED_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
Form = Mapping[str, Sequence[str]]


class TandemTwilioVoiceInput(TwilioVoiceInput):
    """Twilio Voice calls: every request's signature checked, each caller event run through the call flow."""

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = credentials or {}
        return cls(
            account_sid=credentials.get("account_sid") or "",
            auth_token=credentials.get("auth_token") or "",
            number=credentials.get("number") or "",
            webhook_url=credentials.get("webhook_url") or "",
            initial_prompt=credentials.get("initial_prompt") or GREETING,
            assistant_voice=credentials.get("assistant_voice") or "woman",
            speech_timeout=str(credentials.get("speech_timeout") or "5"),
            speech_model=credentials.get("speech_model") or "default",
            enhanced=str(credentials.get("enhanced") or "false"),
        )

    def __init__(self, *, account_sid: str, auth_token: str, number: str = "", webhook_url: str = "",
                 initial_prompt: str = GREETING, assistant_voice: str = "woman", speech_timeout: str = "5",
                 speech_model: str = "default", enhanced: str = "false") -> None:
        """`account_sid` or `auth_token` "": off. `number`: the one number answered ("": any).
        `webhook_url`: the public URL Twilio calls, when a proxy makes it differ from the one Sanic sees."""
        super().__init__(initial_prompt, DEFAULT_PROMPT, assistant_voice, speech_timeout, speech_model,
                         enhanced)
        self.account_sid, self.auth_token, self.webhook_url = account_sid, auth_token, webhook_url
        self.number = normalized_id("phone", number) if number else ""
        if self.number is None:
            raise InvalidConfigException(f"TANDEM_TWILIO_NUMBER {number!r} is not an E.164 phone number")
        self.calls = CallFlow(self.name(), greeting=initial_prompt)

    def relay_output(self, tracker: DialogueStateTracker) -> OutputChannel | None:
        """None: agents cannot type into a call (the console offers a call back)."""
        return None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        twilio_voice = Blueprint("tandem_twilio_voice_webhook", __name__)

        add_standard_routes(twilio_voice, "Twilio Voice")

        @twilio_voice.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> response.HTTPResponse:
            form = self._verified_form(request)
            call_id = field(form, "CallSid")
            if not CALL_SID.fullmatch(call_id):
                raise InvalidInput("'CallSid' is missing or malformed")
            if self.number and normalized_id("phone", field(form, "To")) != self.number:
                raise InvalidInput(f"this webhook answers calls to {self.number} only", status=404)
            caller = normalized_id("phone", field(form, "From"))  # None: withheld
            sender_id = channel_sender(self.name(), caller or call_id)
            event = caller_event(form)
            logger.debug("Twilio call %s: %s", call_id, event.kind)
            ask = bot_asker(on_new_message, TwilioVoiceCollectingOutputChannel, sender_id, self.name())
            reply = await self.calls.answer(call_id, sender_id, event, ask)
            return response.text(self.twiml(reply), content_type="text/xml")

        return twilio_voice

    def _verified_form(self, request: Request) -> Form:
        """The POST parameters, blanks kept, once the signature proves Twilio sent them with our token."""
        if not (self.account_sid and self.auth_token):
            raise InvalidInput("Twilio Voice is off: set TANDEM_TWILIO_ACCOUNT_SID and "
                               "TANDEM_TWILIO_AUTH_TOKEN", status=503)
        try:
            form = parse_qs(request.body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            raise InvalidInput("the body must be a UTF-8 form") from None
        url = self.webhook_url or request.url
        given = request.headers.get(SIGNATURE_HEADER, "")
        if not any(hmac.compare_digest(given.encode(), signature(self.auth_token, candidate, form).encode())
                   for candidate in {url, add_port(urlparse(url)), remove_port(urlparse(url))}):
            raise InvalidInput(f"wrong or missing {SIGNATURE_HEADER} for {url}", status=403)
        if field(form, "AccountSid") != self.account_sid:
            raise InvalidInput("the request is for another Twilio account", status=403)
        return form

    def twiml(self, reply: CallReply) -> str:
        """The TwiML for a reply: prompts in a <Gather> the caller may interrupt, or a <Hangup/> or <Dial>."""
        twiml = VoiceResponse()
        if reply.hangup or reply.transfer:
            self._say(twiml, reply.speech)
            if reply.transfer:
                twiml.dial(reply.transfer)
            else:
                twiml.hangup()
            return str(twiml)
        gather = Gather(input="speech dtmf", action=self.webhook_url or f"/webhooks/{self.name()}/webhook",
                        method="POST", actionOnEmptyResult=True, bargeIn=True, finishOnKey="#",
                        timeout=NO_INPUT_TIMEOUT_S, speechTimeout=self.speech_timeout,
                        speechModel=self.speech_model, enhanced=self.enhanced,
                        **({"numDigits": 1} if reply.confirming else {}))
        self._say(gather, reply.speech)
        twiml.append(gather)
        return str(twiml)

    def _say(self, parent: VoiceResponse | Gather, prompts: Sequence[str]) -> None:
        """One <Say> per prompt, a pause between two, long numbers spaced out to be read digit by digit."""
        for index, prompt in enumerate(prompts):
            if index:
                parent.pause(length=1)
            spoken = "".join(" ".join(piece) if digits else piece for piece, digits in digit_runs(prompt))
            parent.say(spoken, voice=self.assistant_voice)


def signature(auth_token: str, url: str, form: Form) -> str:
    """Twilio's signature: HMAC-SHA1 of the URL and each parameter's name and value, sorted, in base64."""
    payload = url + "".join(name + value for name in sorted(form) for value in sorted(set(form[name])))
    return base64.b64encode(hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


def field(form: Form, name: str) -> str:
    """A POST parameter's first value; "" when absent."""
    values = form.get(name)
    return values[0].strip() if values else ""


def caller_event(form: Form) -> CallerEvent:
    """What the caller did, from a Twilio request: hung up, pressed keys, spoke, stayed silent, or called."""
    status = field(form, "CallStatus")
    if status in ENDED_STATUSES:
        return CallerEvent("hangup")
    if field(form, "Digits"):
        return CallerEvent("dtmf", digits=field(form, "Digits"))
    if field(form, "SpeechResult"):
        return CallerEvent("speech", clean_text(field(form, "SpeechResult")), _confidence(form))
    return CallerEvent("start" if status == "ringing" else "no_input")


def _confidence(form: Form) -> float | None:
    try:
        value = float(field(form, "Confidence"))
    except ValueError:
        return None
    return value if 0 <= value <= 1 else None
