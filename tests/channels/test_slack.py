"""Tandem's Slack channel: its real blueprint in a real Sanic app, talking to a local Slack Web API; and the
running bot answering a Slack customer (e2e)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import InvalidConfigException

from bot.channels.slack import TandemSlackInput
from tests.channels.conftest import E2E_SLACK, ChannelApp, PlatformsBot, serving
from tests.channels.fake_platforms import (
    SLACK_POST_MESSAGE,
    WAIT_S,
    Call,
    RecordingServer,
    as_body,
    deliver,
    slack_button_click,
    slack_event,
    slack_headers,
)

SECRET = "test-signing-secret"
TOKEN = "xoxb-test-token"
UNREACHABLE_DB_URL = "postgresql://postgres@127.0.0.1:1/nothing"  # nothing listens on port 1


def slack_channel(api: RecordingServer, token: str = TOKEN, secret: str = SECRET) -> TandemSlackInput:
    """The channel as credentials.yml builds it."""
    return TandemSlackInput.from_credentials({"slack_token": token, "slack_signing_secret": secret,
                                              "api_url": f"{api.url}/api/"})


async def send(app: ChannelApp, payload: dict, **header_options: object) -> tuple[int, str]:
    """Deliver `payload` signed as Slack signs it (header_options: timestamp, retry, retry_reason)."""
    body = as_body(payload)
    return await app.post(body, slack_headers(SECRET, body, **header_options))


async def replies(api: RecordingServer, count: int) -> list[Call]:
    """The first `count` messages the bot posted (Slack's handler answers in the background)."""
    return await asyncio.to_thread(api.wait_for, SLACK_POST_MESSAGE, count)


@pytest.mark.asyncio
@pytest.mark.usefixtures("deliveries_store")
async def test_a_signed_direct_message_is_answered_in_its_conversation(fake_slack: RecordingServer) -> None:
    async with serving(slack_channel(fake_slack)) as app:
        event = slack_event("where is my order?", user="U0CASEY", channel="D0CASEY")
        assert (await send(app, event))[0] == 200
        [reply] = await replies(fake_slack, 1)
    assert reply.params == {"channel": "D0CASEY", "text": "echo: where is my order?", "type": "mrkdwn"}
    assert reply.headers["Authorization"] == f"Bearer {TOKEN}"  # and no `as_user`, which Slack refuses
    [message] = app.agent.messages
    assert (message.sender_id, message.input_channel) == ("slack:U0CASEY", "slack")
    assert message.metadata["out_channel"] == "D0CASEY" and message.metadata["thread_id"] is None


@pytest.mark.asyncio
@pytest.mark.usefixtures("deliveries_store")
async def test_replies_go_to_the_thread_the_message_came_from(fake_slack: RecordingServer) -> None:
    in_thread = slack_event("and the refund?", channel="D0CASEY", thread_ts="1699999999.000001")
    mention = slack_event("<@U0TANDEMBOT> help please", channel="C0SUPPORT", channel_type=None,
                          event_type="app_mention")
    async with serving(slack_channel(fake_slack)) as app:
        assert (await send(app, in_thread))[0] == 200
        assert (await send(app, mention))[0] == 200
        posted = {call.params["text"]: call.params for call in await replies(fake_slack, 2)}
    assert posted["echo: and the refund?"]["thread_ts"] == "1699999999.000001"
    assert posted["echo: and the refund?"]["channel"] == "D0CASEY"
    # a mention in a channel is answered in a thread under it, without the mention itself
    assert posted["echo: help please"]["thread_ts"] == mention["event"]["ts"]
    assert posted["echo: help please"]["channel"] == "C0SUPPORT"


@pytest.mark.asyncio
@pytest.mark.usefixtures("deliveries_store")
async def test_a_button_click_is_answered_where_the_buttons_are(fake_slack: RecordingServer) -> None:
    body = slack_button_click("/affirm", user="U0CASEY", channel="D0CASEY", thread_ts="1699999999.000001")
    async with serving(slack_channel(fake_slack)) as app:
        headers = slack_headers(SECRET, body, content_type="application/x-www-form-urlencoded")
        assert (await app.post(body, headers))[0] == 200
        [reply] = await replies(fake_slack, 1)
    assert (reply.params["channel"], reply.params["thread_ts"]) == ("D0CASEY", "1699999999.000001")
    [message] = app.agent.messages
    assert (message.text, message.sender_id) == ("/affirm", "slack:U0CASEY")


@pytest.mark.asyncio
@pytest.mark.usefixtures("deliveries_store")
async def test_requests_not_signed_by_slack_are_refused_unprocessed(fake_slack: RecordingServer) -> None:
    body = as_body(slack_event("I am not Slack", event_id="EvFORGED"))
    now = int(time.time())
    forged = slack_headers("someone-elses-secret", body)
    stale = slack_headers(SECRET, body, timestamp=now - 6 * 60)
    tampered = slack_headers(SECRET, as_body(slack_event("what Slack signed", event_id="EvFORGED")))
    unsigned = {"Content-Type": "application/json"}
    async with serving(slack_channel(fake_slack)) as app:
        for headers in (forged, stale, tampered, unsigned):
            status, answer = await app.post(body, headers)
            assert status == 401 and "X-Slack-Signature" in json.loads(answer)["error"]
        assert (await send(app, slack_event("signed by Slack")))[0] == 200
        await replies(fake_slack, 1)
    assert app.agent.texts() == ["signed by Slack"]
    assert len(fake_slack.calls()) == 1


@pytest.mark.asyncio
@pytest.mark.usefixtures("deliveries_store")
async def test_an_event_slack_retries_is_answered_once(fake_slack: RecordingServer) -> None:
    event = slack_event("hello", event_id="EvRETRIED")
    async with serving(slack_channel(fake_slack)) as app:
        assert (await send(app, event))[0] == 200
        await replies(fake_slack, 1)
        status, answer = await send(app, event, retry=1, retry_reason="http_timeout")
        assert status == 200 and "taken already" in answer
        assert (await send(app, event, retry=2, retry_reason="http_error"))[0] == 200
        # the retries' turns would have started before this later message's (background tasks run in order)
        assert (await send(app, slack_event("next one")))[0] == 200
        await replies(fake_slack, 2)
    assert app.agent.texts() == ["hello", "next one"]
    assert [call.params["text"] for call in fake_slack.calls(SLACK_POST_MESSAGE)] == ["echo: hello",
                                                                                       "echo: next one"]


@pytest.mark.asyncio
@pytest.mark.usefixtures("deliveries_store")
async def test_a_retry_of_an_event_never_taken_is_answered(fake_slack: RecordingServer) -> None:
    """Slack retries what it could not deliver while we were down; Rasa alone drops http_timeout retries."""
    async with serving(slack_channel(fake_slack)) as app:
        event = slack_event("are you there?", event_id="EvMISSED")
        assert (await send(app, event, retry=1, retry_reason="http_timeout"))[0] == 200
        [reply] = await replies(fake_slack, 1)
    assert reply.params["text"] == "echo: are you there?"


@pytest.mark.asyncio
@pytest.mark.usefixtures("deliveries_store")
async def test_replicas_sharing_a_store_answer_an_event_once(fake_slack: RecordingServer) -> None:
    event = slack_event("hello", event_id="EvSHARED")
    async with serving(slack_channel(fake_slack)) as first, serving(slack_channel(fake_slack)) as second:
        assert (await send(first, event))[0] == 200
        await replies(fake_slack, 1)
        assert (await send(second, event, retry=1))[0] == 200  # Slack's retry reaches the other replica
        assert (await send(second, slack_event("next one")))[0] == 200
        await replies(fake_slack, 2)
    assert (first.agent.texts(), second.agent.texts()) == (["hello"], ["next one"])


@pytest.mark.asyncio
async def test_events_are_answered_when_the_store_is_down(fake_slack: RecordingServer,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_DB_URL", UNREACHABLE_DB_URL)
    async with serving(slack_channel(fake_slack)) as app:
        assert (await send(app, slack_event("still there?")))[0] == 200
        [reply] = await replies(fake_slack, 1)
    assert reply.params["text"] == "echo: still there?"


@pytest.mark.asyncio
async def test_url_verification_is_answered_only_when_signed(fake_slack: RecordingServer) -> None:
    challenge = {"token": "unused", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmd",
                 "type": "url_verification"}
    async with serving(slack_channel(fake_slack)) as app:
        status, answer = await send(app, challenge)
        assert status == 200 and json.loads(answer) == {"challenge": challenge["challenge"]}
        assert (await app.post(as_body(challenge), {"Content-Type": "application/json"}))[0] == 401
    assert app.agent.messages == [] and fake_slack.calls() == []


@pytest.mark.asyncio
async def test_without_a_token_the_channel_is_off(fake_slack: RecordingServer) -> None:
    async with serving(slack_channel(fake_slack, token="", secret="")) as app:
        status, answer = await send(app, slack_event("anyone?"))
    assert status == 503 and "TANDEM_SLACK_TOKEN" in json.loads(answer)["error"]
    assert app.agent.messages == [] and fake_slack.calls() == []


def test_a_token_without_a_signing_secret_is_refused(fake_slack: RecordingServer) -> None:
    with pytest.raises(InvalidConfigException, match="signing secret"):
        slack_channel(fake_slack, secret="")


def conversation(metadata: dict | None) -> DialogueStateTracker:
    """A Slack conversation whose latest customer message carried `metadata`."""
    return DialogueStateTracker.from_events("slack:U0CASEY", [
        UserUttered("I want my money back", input_channel="slack", metadata=metadata)])


@pytest.mark.asyncio
async def test_relay_output_reaches_the_customers_channel_and_thread(fake_slack: RecordingServer) -> None:
    metadata = {"out_channel": "C0SUPPORT", "thread_id": "1700000000.000042", "users": ["U0TANDEMBOT"]}
    output = slack_channel(fake_slack).relay_output(conversation(metadata))
    await output.send_agent_message("slack:U0CASEY", "Your refund is on its way <!channel>.", "Sam Patel")
    await output.send_text_with_buttons("slack:U0CASEY", "Anything else?", [
        {"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}])
    agent, buttons = fake_slack.calls(SLACK_POST_MESSAGE)
    assert agent.params == {
        "channel": "C0SUPPORT", "thread_ts": "1700000000.000042",
        "text": "*Sam Patel* (customer service): Your refund is on its way &lt;!channel&gt;."}
    assert (buttons.params["channel"], buttons.params["thread_ts"]) == ("C0SUPPORT", "1700000000.000042")
    assert [element["value"] for element in buttons.params["blocks"][1]["elements"]] == ["/affirm", "/deny"]


@pytest.mark.asyncio
async def test_relay_output_without_metadata_writes_to_the_customer(fake_slack: RecordingServer) -> None:
    output = slack_channel(fake_slack).relay_output(conversation(None))
    await output.send_text_message("slack:U0CASEY", "Welcome back!")
    [call] = fake_slack.calls(SLACK_POST_MESSAGE)
    assert call.params["channel"] == "U0CASEY" and "thread_ts" not in call.params
    assert slack_channel(fake_slack, token="", secret="").relay_output(conversation(None)) is None


@pytest.mark.e2e
def test_a_slack_customer_asking_about_an_order_is_asked_for_its_number(platforms_bot: PlatformsBot) -> None:
    secret = E2E_SLACK["TANDEM_SLACK_SIGNING_SECRET"]
    body = as_body(slack_event("where is my order?", user="U0E2ESLACK", channel="D0E2ESLACK"))
    assert deliver(platforms_bot.url("slack"), body, {"Content-Type": "application/json"})[0] == 401
    assert deliver(platforms_bot.url("slack"), body, slack_headers(secret, body))[0] == 200
    [reply] = platforms_bot.slack.wait_for(
        SLACK_POST_MESSAGE, where=lambda call: "What's the order number?" in call.params.get("text", ""))
    assert reply.params["channel"] == "D0E2ESLACK" and "thread_ts" not in reply.params
    user = saved_user_events(platforms_bot, "slack:U0E2ESLACK")
    assert [(e["input_channel"], e["parse_data"]["intent"]["name"]) for e in user] == [
        ("slack", "track_order")]


def saved_user_events(platforms_bot: PlatformsBot, sender: str) -> list[dict]:
    """The conversation's user events once Rasa saved its turn (it answers Slack before it saves)."""
    deadline = time.monotonic() + WAIT_S
    while not (user := [e for e in platforms_bot.bot.events(sender) if e["event"] == "user"]):
        assert time.monotonic() < deadline, f"no turn of {sender} saved within {WAIT_S:.0f} s"
        time.sleep(0.2)
    return user
