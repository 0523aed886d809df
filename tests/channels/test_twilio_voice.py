"""Twilio Voice over HTTP as Twilio calls it: signed form posts in, TwiML out; keypad digits, confidence
checks, silences, transfers, and the channel switched off without credentials."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import xml.etree.ElementTree as ElementTree
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
import pytest_asyncio
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.engine import Engine

from actions.common import say
from bot.channels.twilio import TandemTwilioVoiceInput
from bot.messages import catalog, render
from bot.nlg import TandemNaturalLanguageGenerator
from bot.settings import PROJECT_ROOT
from bot.store.models import VoiceCall
from tests.channels.voice_app import TEAM_LINE, ScriptedBot, serving

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-test-auth-token"
OUR_NUMBER = "+441632960000"
CALLER = "+447700900001"
CALL_SID = "CA" + "fedcba9876543210" * 2
PUBLIC_URL = "https://voice.shop.example.com/tandem/webhooks/twilio_voice/webhook"


def twilio_signature(token: str, url: str, params: dict[str, str]) -> str:
    """X-Twilio-Signature as Twilio documents it: the URL, then each name and value sorted by name,
    HMAC-SHA1 with the auth token, base64."""
    payload = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


def channel(**credentials: str) -> TandemTwilioVoiceInput:
    return TandemTwilioVoiceInput.from_credentials({
        "account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "number": OUR_NUMBER, "webhook_url": "",
        "assistant_voice": "Polly.Amy", **credentials})


class Twilio:
    """Twilio's side of a call: form posts signed with the account's auth token, as its webhooks send them."""

    def __init__(self, http: aiohttp.ClientSession, url: str, signed_url: str | None = None) -> None:
        self.http, self.url, self.signed_url = http, url, signed_url or url

    def form(self, **fields: str) -> dict[str, str]:
        """A webhook's parameters: the call's, blanks included as Twilio sends them, and `fields`."""
        return {"AccountSid": ACCOUNT_SID, "CallSid": CALL_SID, "From": CALLER, "To": OUR_NUMBER,
                "Direction": "inbound", "CallStatus": "in-progress", "CallerCity": "",
                "ApiVersion": "2010-04-01", **fields}

    async def post(self, form: dict[str, str], signature: str | None = None) -> tuple[int, str]:
        signature = twilio_signature(AUTH_TOKEN, self.signed_url, form) if signature is None else signature
        async with self.http.post(self.url, data=form, headers={"X-Twilio-Signature": signature}) as answer:
            return answer.status, await answer.text()

    async def event(self, **fields: str) -> ElementTree.Element:
        """One signed webhook of this call; the answer must be 200 TwiML."""
        status, body = await self.post(self.form(**fields))
        assert status == 200, body
        return ElementTree.fromstring(body)


def says(twiml: ElementTree.Element) -> list[str]:
    return [say.text for say in twiml.iter("Say")]


@pytest.fixture
def store(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """An empty store that the channel finds the way the Rasa process does (TANDEM_DB_URL)."""
    monkeypatch.setenv("TANDEM_DB_URL", engine.url.render_as_string(hide_password=False))
    yield engine


@pytest_asyncio.fixture
async def twilio(store: Engine) -> AsyncIterator[tuple[Twilio, ScriptedBot]]:
    bot = ScriptedBot()
    async with serving(channel(), bot) as url, aiohttp.ClientSession() as http:
        yield Twilio(http, url), bot


@pytest.mark.asyncio
async def test_a_call_is_greeted_with_a_gather_for_speech_and_keys(twilio) -> None:
    call, bot = twilio
    twiml = await call.event(CallStatus="ringing")
    gather = twiml.find("Gather")
    assert gather is not None and gather.attrib | {
        "input": "speech dtmf", "bargeIn": "true", "actionOnEmptyResult": "true", "finishOnKey": "#",
        "action": "/webhooks/twilio_voice/webhook", "method": "POST"} == gather.attrib
    assert "numDigits" not in gather.attrib
    assert gather.find("Say").text == "Hi, I'm Tandem, the shop's assistant. What can I do for you?"
    assert gather.find("Say").attrib["voice"] == "Polly.Amy"
    message = bot.received[0]
    assert (message.text, message.sender_id, message.input_channel) == (
        "/greet", f"twilio_voice:{CALLER}", "twilio_voice")
    twiml = await call.event(SpeechResult="Where is my order?", Confidence="0.93")
    assert says(twiml) == ["What's the order number?"]
    assert bot.texts[-1] == "Where is my order?"


@pytest.mark.asyncio
async def test_forged_or_missing_signatures_get_403(twilio) -> None:
    call, bot = twilio
    form = call.form(CallStatus="ringing")
    forged = twilio_signature("not-the-auth-token", call.url, form)
    assert (await call.post(form, signature=forged))[0] == 403
    assert (await call.post(form, signature=""))[0] == 403
    signed = twilio_signature(AUTH_TOKEN, call.url, form)
    assert (await call.post({**form, "From": "+447700900999"}, signature=signed))[0] == 403  # tampered
    without_blank = {k: v for k, v in form.items() if k != "CallerCity"}
    assert (await call.post(without_blank, signature=signed))[0] == 403
    assert bot.received == []


@pytest.mark.asyncio
async def test_behind_a_proxy_the_public_url_is_signed(store: Engine) -> None:
    bot = ScriptedBot()
    async with serving(channel(webhook_url=PUBLIC_URL), bot) as url, aiohttp.ClientSession() as http:
        twiml = await Twilio(http, url, signed_url=PUBLIC_URL).event(CallStatus="ringing")
        assert twiml.find("Gather").attrib["action"] == PUBLIC_URL
        assert (await Twilio(http, url).post(Twilio(http, url).form(CallStatus="ringing")))[0] == 403
    assert bot.texts == ["/greet"]


@pytest.mark.asyncio
async def test_off_without_credentials(store: Engine) -> None:
    bot = ScriptedBot()
    for off in (channel(auth_token=""), channel(account_sid="")):
        async with serving(off, bot) as url, aiohttp.ClientSession() as http:
            status, body = await Twilio(http, url).post(Twilio(http, url).form(CallStatus="ringing"))
            assert status == 503 and "TANDEM_TWILIO_AUTH_TOKEN" in body
            async with http.get(url.removesuffix("webhook")) as health:
                assert health.status == 200
    assert bot.received == []
    assert channel().relay_output(None) is None  # agents cannot type into a call


@pytest.mark.asyncio
async def test_calls_to_another_number_are_refused(twilio) -> None:
    call, bot = twilio
    status, _ = await call.post(call.form(CallStatus="ringing", To="+441632960999"))
    assert status == 404 and bot.received == []


@pytest.mark.asyncio
async def test_half_sure_speech_is_confirmed_before_the_bot_hears_it(twilio) -> None:
    call, bot = twilio
    await call.event(CallStatus="ringing")
    twiml = await call.event(SpeechResult="where is my order", Confidence="0.52")
    assert says(twiml) == ["I heard: 'where is my order'. Is that right? Say yes or press 1, "
                           "or say no or press 2."]
    assert twiml.find("Gather").attrib["numDigits"] == "1"
    assert bot.texts == ["/greet"]
    twiml = await call.event(Digits="1")
    assert says(twiml) == ["What's the order number?"]
    assert bot.texts == ["/greet", "where is my order"]


@pytest.mark.asyncio
async def test_unsure_speech_and_a_no_are_asked_again(twilio) -> None:
    call, bot = twilio
    await call.event(CallStatus="ringing")
    assert says(await call.event(SpeechResult="wear is my odour", Confidence="0.21")) == [
        "Sorry, I didn't catch that.", "Could you say it again?"]
    await call.event(SpeechResult="where is my border", Confidence="0.6")
    assert says(await call.event(SpeechResult="No.", Confidence="0.9")) == [
        "Sorry about that.", "Could you say it again?"]
    assert bot.texts == ["/greet"]


@pytest.mark.asyncio
async def test_keypad_digits_reach_the_bot_as_text(twilio) -> None:
    call, bot = twilio
    await call.event(CallStatus="ringing")
    twiml = await call.event(Digits="10234#")
    assert bot.texts[-1] == "10234"
    assert says(twiml) == ["Order 1 0 2 3 4 is on its way."]  # read digit by digit


@pytest.mark.asyncio
async def test_silence_reprompts_and_the_third_hangs_up(twilio, store: Engine) -> None:
    call, bot = twilio
    await call.event(CallStatus="ringing")
    await call.event(SpeechResult="where is my order", Confidence="0.9")
    for _ in range(2):
        twiml = await call.event()  # Gather's actionOnEmptyResult: no SpeechResult, no Digits
        assert says(twiml) == ["Sorry, I didn't hear anything.", "What's the order number?"]
        assert twiml.find("Gather") is not None
    twiml = await call.event()
    assert twiml.find("Hangup") is not None and twiml.find("Gather") is None
    assert "Goodbye" in says(twiml)[0]
    assert bot.texts == ["/greet", "where is my order"]
    with store.connect() as db:
        assert db.execute(select(VoiceCall.no_input_count, VoiceCall.ended_at.isnot(None))).one() == (3, True)


@pytest.mark.asyncio
async def test_a_transfer_reply_dials_the_number(twilio) -> None:
    call, _ = twilio
    await call.event(CallStatus="ringing")
    twiml = await call.event(SpeechResult="I'd like to talk to a person", Confidence="0.88")
    assert says(twiml) == ["I'm putting you through to our team now."]
    assert twiml.find("Dial").text == TEAM_LINE and twiml.find("Gather") is None


@pytest.mark.asyncio
async def test_a_status_callback_ends_the_call(twilio, store: Engine) -> None:
    call, bot = twilio
    await call.event(CallStatus="ringing")
    twiml = await call.event(CallStatus="completed", CallDuration="42")
    assert says(twiml) == [] and twiml.find("Gather") is None
    assert bot.texts == ["/greet"]
    with store.connect() as db:
        assert db.execute(select(VoiceCall.ended_at)).scalar_one() is not None


@pytest.mark.asyncio
async def test_a_withheld_number_talks_under_the_call_sid(twilio) -> None:
    call, bot = twilio
    await call.event(CallStatus="ringing", From="anonymous")
    assert bot.received[0].sender_id == f"twilio_voice:{CALL_SID}"


@pytest.mark.parametrize("channel", ["twilio_voice", "voice"])
def test_every_voice_channel_gets_the_voice_variants(channel: str) -> None:
    domain = Domain.load(str(PROJECT_ROOT / "domain.yml"))
    nlg = TandemNaturalLanguageGenerator(domain=domain)
    tracker = DialogueStateTracker("c", domain.slots)
    response = asyncio.run(nlg.generate("utter_refund_policy", tracker, channel))
    assert response["text"] == next(v["text"] for v in domain.responses["utter_refund_policy"]
                                    if v.get("channel") == "voice")
    assert render("default", channel) == {"text": next(v["text"] for v in catalog()["default"]
                                                       if v.get("channel") == "voice")}
    dispatcher = CollectingDispatcher()
    user = {"event": "user", "text": "hi", "input_channel": channel}
    action_tracker = Tracker("c", {}, {}, [user], False, None, {}, "action_listen")
    say(dispatcher, action_tracker, "ask_order_id", buttons=[{"title": "Orders", "payload": "/track_order"}])
    assert dispatcher.messages[0]["buttons"] == []
