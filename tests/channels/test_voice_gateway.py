"""The generic voice gateway channel over HTTP: its JSON wire format, the secret, confidence checks, keypad
digits, silences, transfers, safe SSML, and call state that survives a move to another replica."""

from __future__ import annotations

import json
import urllib.request
import xml.etree.ElementTree as ElementTree
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.channels.voice import BREAK, SECRET_HEADER, VoiceGatewayInput
from bot.store.models import VoiceCall
from tests.channels.voice_app import TEAM_LINE, ScriptedBot, serving
from tests.e2e.conftest import VOICE_SECRET, Bot

SECRET = "gateway-test-secret"
CALLER = "+447700900001"


@pytest.fixture
def store(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """An empty store that the channels find the way the Rasa process does (TANDEM_DB_URL)."""
    monkeypatch.setenv("TANDEM_DB_URL", engine.url.render_as_string(hide_password=False))
    yield engine


class Gateway:
    """A voice gateway's side of the wire: posts caller events for one call to one or more replicas."""

    def __init__(self, http: aiohttp.ClientSession, urls: list[str], call_id: str = "call-1") -> None:
        self.http, self.urls, self.call_id = http, urls, call_id

    async def post(self, body: Any, secret: str | None = SECRET, replica: int = 0) -> tuple[int, dict]:
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with self.http.post(self.urls[replica], data=data, headers=headers) as answer:
            return answer.status, await answer.json()

    async def event(self, event: str, replica: int = 0, **fields: Any) -> dict:
        """Send one caller event of this call; the reply must be 200 with valid SSML."""
        status, reply = await self.post({"call_id": self.call_id, "caller": CALLER, "event": event, **fields},
                                        replica=replica)
        assert status == 200, reply
        assert ElementTree.fromstring(reply["ssml"]).tag == "speak"
        return reply


def said(reply: dict) -> str:
    """The words of a reply's SSML, markup removed, a space where it pauses between two prompts."""
    return "".join(ElementTree.fromstring(reply["ssml"].replace(BREAK, " ")).itertext())


@pytest_asyncio.fixture
async def gateway(store: Engine) -> AsyncIterator[tuple[Gateway, ScriptedBot]]:
    bot = ScriptedBot()
    async with serving(VoiceGatewayInput(SECRET), bot) as url, aiohttp.ClientSession() as http:
        yield Gateway(http, [url]), bot


@pytest.mark.asyncio
async def test_a_call_starts_with_the_greeting_and_speech_goes_to_the_bot(gateway) -> None:
    call, bot = gateway
    reply = await call.event("start")
    assert "What can I do for you?" in said(reply)
    assert reply == {**reply, "barge_in": True, "expect": "speech_or_dtmf", "no_input_timeout_ms": 5000,
                     "hangup": False, "transfer": None}
    reply = await call.event("speech", text="where is my order", confidence=0.91, barge_in=True)
    assert said(reply) == "What's the order number?"
    assert bot.texts == ["/greet", "where is my order"]
    message = bot.received[-1]
    assert (message.sender_id, message.input_channel) == (f"voice:{CALLER}", "voice")
    voice = message.metadata["voice"]
    assert (voice["call_id"], voice["confidence"], voice["barge_in"]) == ("call-1", 0.91, True)


@pytest.mark.asyncio
async def test_the_secret_is_required(gateway, store: Engine) -> None:
    call, bot = gateway
    start = {"call_id": "call-1", "caller": CALLER, "event": "start"}
    assert (await call.post(start, secret="wrong"))[0] == 401
    assert (await call.post(start, secret=None))[0] == 401
    assert bot.received == []
    async with serving(VoiceGatewayInput(""), bot) as off, aiohttp.ClientSession() as http:
        status, answer = await Gateway(http, [off]).post(start)
        assert status == 503 and "TANDEM_VOICE_SECRET" in answer["error"]
    assert bot.received == []


@pytest.mark.asyncio
@pytest.mark.parametrize(("body", "error"), [
    (b"{not json", "must be JSON"),
    (b"[1]", "JSON object"),
    ({"caller": CALLER, "event": "start"}, "'call_id'"),
    ({"call_id": "a b", "caller": CALLER, "event": "start"}, "'call_id'"),
    ({"call_id": "c", "caller": "07700 900001x", "event": "start"}, "E.164"),
    ({"call_id": "c", "caller": CALLER, "event": "ring"}, "'event'"),
    ({"call_id": "c", "caller": CALLER, "event": "speech", "text": "hi", "confidence": 1.5}, "'confidence'"),
    ({"call_id": "c", "caller": CALLER, "event": "speech", "text": "hi", "confidence": True}, "'confidence'"),
    ({"call_id": "c", "caller": CALLER, "event": "dtmf", "digits": "12a"}, "'digits'"),
    ({"call_id": "c", "caller": CALLER, "event": "speech", "text": ["hi"]}, "'text'"),
    ({"call_id": "c", "caller": CALLER, "event": "start", "barge_in": "yes"}, "'barge_in'"),
])
async def test_malformed_requests_get_400(gateway, body: Any, error: str) -> None:
    call, bot = gateway
    status, answer = await call.post(body)
    assert status == 400 and error in answer["error"]
    assert bot.received == []


@pytest.mark.asyncio
async def test_half_sure_speech_waits_for_a_yes(gateway) -> None:
    call, bot = gateway
    await call.event("start")
    reply = await call.event("speech", text="where is my order", confidence=0.55)
    assert said(reply) == ("I heard: 'where is my order'. Is that right? Say yes or press 1, "
                           "or say no or press 2.")
    assert bot.texts == ["/greet"]
    reply = await call.event("speech", text="Yes.", confidence=0.8)
    assert said(reply) == "What's the order number?"
    assert bot.texts == ["/greet", "where is my order"]
    assert bot.received[-1].metadata["voice"]["confirmed"] is True


@pytest.mark.asyncio
async def test_a_no_or_unsure_speech_asks_again_and_sends_nothing(gateway) -> None:
    call, bot = gateway
    await call.event("start")
    await call.event("speech", text="where is my border", confidence=0.5)
    reply = await call.event("dtmf", digits="2")
    assert said(reply) == "Sorry about that. Could you say it again?"
    reply = await call.event("speech", text="mumble", confidence=0.2)
    assert said(reply) == "Sorry, I didn't catch that. Could you say it again?"
    assert bot.texts == ["/greet"]
    reply = await call.event("speech", text="where is my order", confidence=0.95)
    assert said(reply) == "What's the order number?"


@pytest.mark.asyncio
async def test_keypad_digits_go_to_the_bot_as_text(gateway) -> None:
    call, bot = gateway
    await call.event("start")
    reply = await call.event("dtmf", digits="10234#")
    assert bot.texts[-1] == "10234"
    assert '<say-as interpret-as="digits">10234</say-as>' in reply["ssml"]
    assert said(reply) == "Order 10234 is on its way."


@pytest.mark.asyncio
async def test_silence_repeats_the_question_and_the_third_ends_the_call(gateway, store: Engine) -> None:
    call, bot = gateway
    await call.event("start")
    await call.event("speech", text="where is my order", confidence=0.9)
    for _ in range(2):
        reply = await call.event("no_input")
        assert said(reply) == "Sorry, I didn't hear anything. What's the order number?"
        assert not reply["hangup"]
    reply = await call.event("no_input")
    assert reply["hangup"] and "Goodbye" in said(reply) and not reply["barge_in"]
    assert bot.texts == ["/greet", "where is my order"]
    with store.connect() as db:
        assert db.execute(select(VoiceCall.ended_at)).scalar_one() is not None


@pytest.mark.asyncio
async def test_speaking_resets_the_silence_count(gateway) -> None:
    call, _ = gateway
    await call.event("start")
    await call.event("no_input")
    await call.event("no_input")
    await call.event("speech", text="where is my order", confidence=0.9)
    assert not (await call.event("no_input"))["hangup"]


@pytest.mark.asyncio
async def test_hangup_ends_the_call(gateway, store: Engine) -> None:
    call, bot = gateway
    await call.event("start")
    reply = await call.event("hangup")
    assert reply["hangup"] and reply["ssml"] == "<speak></speak>"
    assert bot.texts == ["/greet"]
    with store.connect() as db:
        assert db.execute(select(VoiceCall.ended_at)).scalar_one() is not None


@pytest.mark.asyncio
async def test_a_transfer_reply_puts_the_call_through(gateway) -> None:
    call, _ = gateway
    await call.event("start")
    reply = await call.event("speech", text="I want a person", confidence=0.93)
    assert reply["transfer"] == TEAM_LINE and not reply["hangup"] and not reply["barge_in"]
    assert said(reply) == "I'm putting you through to our team now."


@pytest.mark.asyncio
async def test_ssml_escapes_what_it_says(gateway) -> None:
    call, _ = gateway
    reply = await call.event("speech", text="<script>alert(1)</script> & 'quotes'", confidence=0.99)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &apos;quotes&apos;" in reply["ssml"]
    root = ElementTree.fromstring(reply["ssml"])
    assert [element.tag for element in root.iter()] == ["speak"]
    assert said(reply) == "You said: <script>alert(1)</script> & 'quotes'"


@pytest.mark.asyncio
async def test_a_failing_bot_gets_the_caller_an_apology(gateway) -> None:
    call, _ = gateway
    reply = await call.event("speech", text="crash please", confidence=0.99)
    assert said(reply) == "Sorry, something went wrong on our side. Could you say it again?"
    assert not reply["hangup"]


@pytest.mark.asyncio
async def test_call_state_survives_a_move_to_another_replica(store: Engine) -> None:
    bot = ScriptedBot()
    first, second = VoiceGatewayInput(SECRET), VoiceGatewayInput(SECRET)  # two Rasa replicas
    async with serving(first, bot) as one, serving(second, bot) as two, aiohttp.ClientSession() as http:
        call = Gateway(http, [one, two])
        await call.event("start", replica=0)
        await call.event("speech", text="where is my order", confidence=0.6, replica=0)
        reply = await call.event("dtmf", digits="1", replica=1)
        assert said(reply) == "What's the order number?"
        assert bot.texts == ["/greet", "where is my order"]
        assert said(await call.event("no_input", replica=0)).endswith("What's the order number?")
        await call.event("no_input", replica=1)
        assert (await call.event("no_input", replica=0))["hangup"]
    assert first.relay_output(None) is None  # agents cannot type into a call


@pytest.mark.e2e
def test_e2e_a_caller_asks_for_an_order_and_hears_the_voice_variant(bot: Bot) -> None:
    url = f"http://127.0.0.1:{bot.settings.rasa_port}/webhooks/voice/webhook"

    def post(event: dict[str, Any]) -> dict:
        headers = {SECRET_HEADER: VOICE_SECRET, "Content-Type": "application/json"}
        request = urllib.request.Request(url, json.dumps(event).encode(), headers, method="POST")
        with urllib.request.urlopen(request, timeout=120) as answer:
            assert answer.status == 200
            return json.loads(answer.read())

    call = {"call_id": "e2e-call-1", "caller": "+447700900123"}
    assert said(post({**call, "event": "start"}))
    reply = post({**call, "event": "speech", "text": "where is my order", "confidence": 0.9})
    spoken = said(reply)
    assert "order number" in spoken and "http" not in spoken and not reply["hangup"]
    assert ElementTree.fromstring(reply["ssml"]).tag == "speak"
    events = bot.events("voice:+447700900123")
    user = [e for e in events if e["event"] == "user"]
    assert [e["text"] for e in user] == ["/greet", "where is my order"]
    assert user[-1]["input_channel"] == "voice"
    assert not any(e.get("data", {}).get("buttons") for e in events if e["event"] == "bot")
