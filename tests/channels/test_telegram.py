"""Tandem's Telegram channel: its real blueprint in a real Sanic app, talking to a local Telegram Bot API;
and the running bot answering a Telegram customer (e2e)."""

from __future__ import annotations

import json

import pytest
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import InvalidConfigException

from bot.channels.telegram import SECRET_HEADER, TandemTelegramInput
from tests.channels.conftest import E2E_TELEGRAM, ChannelApp, PlatformsBot, serving
from tests.channels.fake_platforms import (
    TELEGRAM_GET_ME,
    TELEGRAM_SEND_MESSAGE,
    TELEGRAM_SET_WEBHOOK,
    RecordingServer,
    as_body,
    deliver,
    telegram_update,
)

TOKEN = "123456789:AAtesttoken"
SECRET = "test-telegram-secret"
BOT_NAME = "tandem_test_bot"  # the fake_telegram fixture's bot
WEBHOOK_URL = "https://bot.example.com/webhooks/telegram/webhook"
CASEY = 700000001  # a private chat's id


def telegram_channel(api: RecordingServer, token: str = TOKEN, secret: str = SECRET) -> TandemTelegramInput:
    """The channel as credentials.yml builds it."""
    return TandemTelegramInput.from_credentials({"access_token": token, "verify": BOT_NAME,
                                                 "webhook_url": WEBHOOK_URL, "secret_token": secret,
                                                 "api_url": api.url})


async def send(app: ChannelApp, update: dict, secret: str | None = SECRET) -> tuple[int, str]:
    """Post an update as Telegram does, with the secret token header unless `secret` is None."""
    headers = {"Content-Type": "application/json"} | ({SECRET_HEADER: secret} if secret is not None else {})
    return await app.post(as_body(update), headers)


def sent(api: RecordingServer) -> list[tuple[str, str]]:
    """(chat_id, text) of every sendMessage call so far."""
    return [(call.params["chat_id"], call.params["text"]) for call in api.calls(TELEGRAM_SEND_MESSAGE)]


@pytest.mark.asyncio
@pytest.mark.usefixtures("deliveries_store")
async def test_server_start_sets_the_webhook_with_the_secret_token(fake_telegram: RecordingServer) -> None:
    async with serving(telegram_channel(fake_telegram)):
        [hook] = fake_telegram.calls(TELEGRAM_SET_WEBHOOK)
    assert hook.path == f"/bot{TOKEN}/setWebhook"
    assert hook.params == {"url": WEBHOOK_URL, "secret_token": SECRET}


@pytest.mark.asyncio
@pytest.mark.usefixtures("deliveries_store")
async def test_an_update_is_answered_in_its_chat(fake_telegram: RecordingServer) -> None:
    async with serving(telegram_channel(fake_telegram)) as app:
        assert (await send(app, telegram_update(1001, CASEY, "where is my order?")))[0] == 200
        assert (await send(app, telegram_update(1002, CASEY, "it's 10001")))[0] == 200
    assert sent(fake_telegram) == [(str(CASEY), "echo: where is my order?"), (str(CASEY), "echo: it's 10001")]
    assert {(m.sender_id, m.input_channel) for m in app.agent.messages} == {(f"telegram:{CASEY}", "telegram")}
    assert len(fake_telegram.calls(TELEGRAM_GET_ME)) == 1  # Rasa checks the bot's name per update; asked once


@pytest.mark.asyncio
@pytest.mark.usefixtures("deliveries_store")
async def test_updates_without_the_secret_token_are_refused(fake_telegram: RecordingServer) -> None:
    async with serving(telegram_channel(fake_telegram)) as app:
        for secret in ("not-the-secret", "", None):
            status, answer = await send(app, telegram_update(1001, CASEY, "I am not Telegram"), secret)
            assert status == 401 and SECRET_HEADER in json.loads(answer)["error"]
        assert (await send(app, telegram_update(1001, CASEY, "from Telegram")))[0] == 200
    assert app.agent.texts() == ["from Telegram"]
    assert sent(fake_telegram) == [(str(CASEY), "echo: from Telegram")]


@pytest.mark.asyncio
@pytest.mark.usefixtures("deliveries_store")
async def test_a_redelivered_update_is_answered_once(fake_telegram: RecordingServer) -> None:
    update = telegram_update(2001, CASEY, "hello")
    async with serving(telegram_channel(fake_telegram)) as app:
        assert (await send(app, update))[0] == 200
        status, answer = await send(app, update)
    assert status == 200 and "taken already" in answer
    assert app.agent.texts() == ["hello"] and sent(fake_telegram) == [(str(CASEY), "echo: hello")]


@pytest.mark.asyncio
@pytest.mark.usefixtures("deliveries_store")
async def test_an_update_we_failed_is_answered_when_telegram_delivers_it_again(
        fake_telegram: RecordingServer) -> None:
    update = telegram_update(3001, CASEY, "hello?")
    async with serving(telegram_channel(fake_telegram)) as app:
        app.agent.failures = 1
        assert (await send(app, update))[0] == 500
        assert (await send(app, update))[0] == 200
    assert app.agent.texts() == ["hello?", "hello?"] and sent(fake_telegram) == [(str(CASEY), "echo: hello?")]


@pytest.mark.asyncio
@pytest.mark.usefixtures("deliveries_store")
async def test_updates_without_a_message_are_acknowledged_unanswered(fake_telegram: RecordingServer) -> None:
    casey = {"id": CASEY, "is_bot": False, "first_name": "Casey"}
    blocked = {"update_id": 4001, "my_chat_member": {  # Casey blocked the bot
        "chat": {"id": CASEY, "type": "private"}, "date": 1700000000, "from": casey,
        "old_chat_member": {"status": "member", "user": casey},
        "new_chat_member": {"status": "kicked", "user": casey}}}
    async with serving(telegram_channel(fake_telegram)) as app:
        assert (await send(app, blocked))[0] == 200
        assert (await send(app, {"message": {"text": "no update id"}}))[0] == 400
    assert app.agent.messages == [] and sent(fake_telegram) == []


@pytest.mark.asyncio
async def test_without_a_token_the_channel_is_off_and_calls_nothing(fake_telegram: RecordingServer) -> None:
    async with serving(telegram_channel(fake_telegram, token="", secret="")) as app:
        status, answer = await send(app, telegram_update(5001, CASEY, "anyone?"))
    assert status == 503 and "TANDEM_TELEGRAM_TOKEN" in json.loads(answer)["error"]
    assert app.agent.messages == [] and fake_telegram.calls() == []


@pytest.mark.parametrize(("token", "secret", "complaint"), [
    (TOKEN, "", "TANDEM_TELEGRAM_SECRET_TOKEN"),
    (TOKEN, "spaces are not allowed", "TANDEM_TELEGRAM_SECRET_TOKEN"),
    ("not-a-bot-token", SECRET, "TANDEM_TELEGRAM_TOKEN"),
])
def test_a_token_needs_the_other_credentials(fake_telegram: RecordingServer, token: str, secret: str,
                                             complaint: str) -> None:
    with pytest.raises(InvalidConfigException, match=complaint):
        telegram_channel(fake_telegram, token=token, secret=secret)


@pytest.mark.asyncio
async def test_relay_output_reaches_the_customers_chat(fake_telegram: RecordingServer) -> None:
    tracker = DialogueStateTracker.from_events(f"telegram:{CASEY}", [
        UserUttered("I want my money back", input_channel="telegram")])
    output = telegram_channel(fake_telegram).relay_output(tracker)
    try:
        await output.send_agent_message(tracker.sender_id, "Your refund is on its way.", "Sam Patel")
        await output.send_text_message(tracker.sender_id, "Anything else I can do?")
    finally:
        await output.session.close()
    assert sent(fake_telegram) == [(str(CASEY), "Sam Patel (customer service): Your refund is on its way."),
                                   (str(CASEY), "Anything else I can do?")]
    assert telegram_channel(fake_telegram, token="", secret="").relay_output(tracker) is None


@pytest.mark.e2e
def test_a_telegram_customer_asking_about_an_order_is_asked_its_number(platforms_bot: PlatformsBot) -> None:
    secret = E2E_TELEGRAM["TANDEM_TELEGRAM_SECRET_TOKEN"]
    [hook] = platforms_bot.telegram.calls(TELEGRAM_SET_WEBHOOK)
    assert hook.params == {"url": E2E_TELEGRAM["TANDEM_TELEGRAM_WEBHOOK_URL"], "secret_token": secret}
    body = as_body(telegram_update(900001, CASEY, "where is my order?"))
    assert deliver(platforms_bot.url("telegram"), body, {"Content-Type": "application/json"})[0] == 401
    assert deliver(platforms_bot.url("telegram"), body,
                   {"Content-Type": "application/json", SECRET_HEADER: secret})[0] == 200
    [reply] = platforms_bot.telegram.wait_for(
        TELEGRAM_SEND_MESSAGE, where=lambda call: "What's the order number?" in call.params.get("text", ""))
    assert reply.params["chat_id"] == str(CASEY)
    user = [e for e in platforms_bot.bot.events(f"telegram:{CASEY}") if e["event"] == "user"]
    assert [(e["input_channel"], e["parse_data"]["intent"]["name"]) for e in user] == [
        ("telegram", "track_order")]
