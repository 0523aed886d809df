"""The socket.io channel in a real Sanic server on loopback, talked to by a real python-socketio client."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import socketio
from rasa.core.channels.channel import UserMessage
from rasa.shared.core.trackers import DialogueStateTracker
from redis import asyncio as aioredis
from sanic import Sanic

from actions.products import suggestion_buttons
from bot.channels.socketio import REDIS_CHANNEL, TandemSocketIOInput, product_cards
from bot.channels.validation import MAX_MESSAGE_CHARS
from bot.messages import render
from tests.e2e.conftest import free_port

REDIS_URL = "redis://127.0.0.1:6379/0"
WAIT_S = 20  # a guard against a hung test, not a speed requirement
CREDENTIALS = {"user_message_evt": "user_uttered", "bot_message_evt": "bot_uttered",  # as in credentials.yml
               "session_persistence": True}
SUGGESTED = {"Wireless headphones": {"price": "€89.99", "reason": "often bought with Phone case"},
             "Desk lamp": {"price": "€24.50", "reason": "similar to Blender"}}

Handler = Callable[[UserMessage], Awaitable[None]]


async def echo(message: UserMessage) -> None:
    """What the Rasa agent would do, reduced to answering through the message's output channel."""
    await message.output_channel.send_text_message(message.sender_id, f"echo: {message.text}")


async def recommend(message: UserMessage) -> None:
    """Answer as the recommender does: its message's text and one button per product (actions/products.py)."""
    reply = render("recommendations_for_you", "socketio", scope="", products="(listed as cards)")
    reply["buttons"] = suggestion_buttons(list(SUGGESTED), list(SUGGESTED.values()))
    await message.output_channel.send_response(message.sender_id, reply)


@dataclass
class Served:
    """One running channel: its URL, the channel object, and every message it handed to Rasa."""

    url: str
    channel: TandemSocketIOInput
    handled: list[UserMessage] = field(default_factory=list)


@pytest.fixture(autouse=True)
def sanic_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sanic rewrites its own methods when an app starts; in test mode several apps in one process may."""
    monkeypatch.setattr(Sanic, "test_mode", True)


@asynccontextmanager
async def serving(handler: Handler = echo, **credentials: Any) -> AsyncIterator[Served]:
    """The channel's blueprint in its own Sanic app on a free loopback port, as Rasa registers it."""
    channel = TandemSocketIOInput.from_credentials({**CREDENTIALS, **credentials})
    served = Served("", channel)

    async def on_new_message(message: UserMessage) -> None:
        served.handled.append(message)
        await handler(message)

    app = Sanic(f"socketio_test_{uuid.uuid4().hex}")
    app.blueprint(channel.blueprint(on_new_message), url_prefix=f"/webhooks/{channel.name()}")
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True,
                                     access_log=False)
    await server.startup()
    await server.start_serving()
    served.url = f"http://127.0.0.1:{port}"
    try:
        yield served
    finally:
        server.close()
        await server.wait_closed()


class Customer:
    """A socket.io client that queues every event it receives."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.received: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        for event in ("session_confirm", "bot_uttered", "error"):
            self.client.on(event, self._recorder(event))

    def _recorder(self, event: str) -> Callable[[Any], None]:
        return lambda data: self.received.put_nowait((event, data))

    async def connect(self, url: str) -> Customer:
        # polling: the installed aiohttp predates the websocket API python-engineio's client calls
        await self.client.connect(url, transports=["polling"], wait_timeout=WAIT_S)
        return self

    async def next(self) -> tuple[str, Any]:
        return await asyncio.wait_for(self.received.get(), WAIT_S)

    async def session(self, session_id: str | None) -> str:
        await self.client.emit("session_request", {"session_id": session_id})
        event, data = await self.next()
        assert event == "session_confirm", (event, data)
        return data

    async def say(self, data: Any) -> None:
        """Send one user_uttered event and wait until the server has handled it (its acknowledgement)."""
        await self.client.call("user_uttered", data, timeout=WAIT_S)

    async def drop(self) -> None:
        """Lose the connection without waiting for the server's goodbye, as a dropped network does."""
        await self.client.eio.disconnect(abort=True)


@asynccontextmanager
async def customer(url: str) -> AsyncIterator[Customer]:
    connected = await Customer().connect(url)
    try:
        yield connected
    finally:
        await connected.drop()


@pytest.mark.asyncio
async def test_a_message_comes_back_to_the_session_room() -> None:
    async with serving() as served, customer(served.url) as alex:
        assert await alex.session("web-alex") == "web-alex"
        await alex.say({"message": "hello <b>there</b>", "session_id": "web-alex",
                        "metadata": {"login_token": "TOKEN"}})
        assert await alex.next() == ("bot_uttered", {"text": "echo: hello <b>there</b>"})
        [message] = served.handled
        assert (message.sender_id, message.input_channel, message.metadata) == (
            "web-alex", "socketio", {"login_token": "TOKEN"})

        fresh = await alex.session(None)
        assert len(fresh) == 32 and fresh != "web-alex"  # a new session when the widget names none


@pytest.mark.asyncio
async def test_a_reconnected_session_still_receives() -> None:
    async with serving() as served:
        first = await Customer().connect(served.url)
        await first.session("web-back")
        await first.say({"message": "before", "session_id": "web-back"})
        assert (await first.next())[1] == {"text": "echo: before"}
        await first.drop()

        async with customer(served.url) as again:
            assert await again.session("web-back") == "web-back"
            await again.say({"message": "after", "session_id": "web-back"})
            assert await again.next() == ("bot_uttered", {"text": "echo: after"})
            # what Rasa sends later on its own (a reminder, the handoff relay) reaches the new socket too
            await served.channel.get_output_channel().send_text_message("web-back", "still here")
            assert await again.next() == ("bot_uttered", {"text": "still here"})
        assert [m.sender_id for m in served.handled] == ["web-back", "web-back"]


@pytest.mark.asyncio
async def test_a_message_buffered_across_a_reconnect_joins_its_session() -> None:
    async with serving() as served, customer(served.url) as alex:
        await alex.say({"message": "sent before session_request", "session_id": "web-early"})
        assert await alex.next() == ("bot_uttered", {"text": "echo: sent before session_request"})


@pytest.mark.asyncio
async def test_a_session_of_another_channel_is_refused() -> None:
    async with serving() as served, customer(served.url) as mallory:
        await mallory.client.emit("session_request", {"session_id": "telegram:1"})
        event, error = await mallory.next()
        assert (event, error["event"], error["status"]) == ("error", "session_request", 403)
        assert "'session_id'" in error["error"]

        await mallory.say({"message": "my orders please", "session_id": "telegram:1"})
        event, error = await mallory.next()
        assert (event, error["event"], error["status"]) == ("error", "user_uttered", 403)
        assert served.handled == []


@pytest.mark.asyncio
@pytest.mark.parametrize(("data", "status", "says"), [
    ({"message": "   \u0000 ", "session_id": "web-bad"}, 400, "empty"),
    ({"message": "x" * (MAX_MESSAGE_CHARS + 1), "session_id": "web-bad"}, 413, "longer"),
    ({"message": 42, "session_id": "web-bad"}, 400, "string"),
    ({"message": "hi", "session_id": "web-bad", "metadata": "{\"login_token\": 1}"}, 400, "object"),
    ({"message": "hi"}, 400, "session_request"),
    ("just a string", 400, "JSON object"),
])
async def test_bad_input_gets_an_error_and_the_connection_goes_on(data: Any, status: int, says: str) -> None:
    async with serving() as served, customer(served.url) as alex:
        await alex.session("web-bad")
        await alex.say(data)
        event, error = await alex.next()
        assert (event, error["status"]) == ("error", status)
        assert says in error["error"]
        assert served.handled == []

        await alex.say({"message": "and now a real question", "session_id": "web-bad"})
        assert await alex.next() == ("bot_uttered", {"text": "echo: and now a real question"})


@pytest.mark.asyncio
async def test_a_failing_bot_tells_the_customer_to_send_again() -> None:
    async def broken(message: UserMessage) -> None:
        raise RuntimeError("the tracker store is down")

    async with serving(broken) as served, customer(served.url) as alex:
        await alex.session("web-down")
        await alex.say({"message": "where is my order", "session_id": "web-down"})
        event, error = await alex.next()
        assert (event, error["event"], error["status"]) == ("error", "user_uttered", 503)
        assert len(served.handled) == 1


@pytest.mark.asyncio
async def test_an_agent_message_names_the_agent() -> None:
    async with serving() as served, customer(served.url) as alex:
        await alex.session("web-agent")
        output = served.channel.relay_output(DialogueStateTracker("web-agent", slots=[]))
        await output.send_agent_message("web-agent", "Hi, I'm Sam. Let me look at that order.", "Sam")
        assert await alex.next() == ("bot_uttered", {"text": "Hi, I'm Sam. Let me look at that order.",
                                                     "agent": {"name": "Sam"}})


@pytest.mark.asyncio
async def test_suggestions_arrive_as_product_cards() -> None:
    async with serving(recommend) as served, customer(served.url) as alex:
        await alex.session("web-shop")
        await alex.say({"message": "recommend something", "session_id": "web-shop"})
        event, message = await alex.next()
    assert event == "bot_uttered"
    assert message["text"] == "Picked for you:"
    payload = message["attachment"]["payload"]
    assert payload["template_type"] == "generic"
    cards = [(e["title"], e["price"], e["subtitle"], e["buttons"][0]["payload"]) for e in payload["elements"]]
    assert cards == [
        ("Wireless headphones", "€89.99", "often bought with Phone case",
         '/accept_recommendation{"product": "Wireless headphones"}'),
        ("Desk lamp", "€24.50", "similar to Blender", '/accept_recommendation{"product": "Desk lamp"}'),
    ]
    assert message["quick_replies"] == [
        {"content_type": "text", "title": "None of these", "payload": "/decline_recommendation"}]


def test_buttons_without_product_cards_stay_quick_replies() -> None:
    assert product_cards("Which of my suggestions do you mean?", suggestion_buttons(list(SUGGESTED))) is None
    assert product_cards("Did you mean an order?", [{"title": "Yes", "payload": "/affirm"}]) is None
    popular = product_cards("Popular right now in office:", suggestion_buttons(
        list(SUGGESTED), [{"price": "€89.99"}, {"price": "€24.50"}]))
    assert popular is not None and popular["text"] == "Popular right now in office:"
    assert [(e["price"], e["subtitle"]) for e in popular["attachment"]["payload"]["elements"]] == [
        ("€89.99", ""), ("€24.50", "")]


@pytest.mark.integration
@pytest.mark.asyncio
async def test_replicas_share_rooms_through_redis() -> None:
    redis = aioredis.Redis.from_url(REDIS_URL)
    try:
        await redis.ping()
    except OSError as error:
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {error}")
    async with serving(redis_url=REDIS_URL) as a, serving(redis_url=REDIS_URL) as b:
        listening = (await redis.pubsub_numsub(REDIS_CHANNEL))[0][1]
        async with customer(b.url) as alex:
            await alex.session("web-replicas")
            while (await redis.pubsub_numsub(REDIS_CHANNEL))[0][1] <= listening:
                await asyncio.sleep(0.05)  # B subscribes in the background once its first socket connects
            await a.channel.relay_output(DialogueStateTracker("web-replicas", slots=[])).send_agent_message(
                "web-replicas", "Sam here, from replica A.", "Sam")
            assert await alex.next() == ("bot_uttered", {"text": "Sam here, from replica A.",
                                                         "agent": {"name": "Sam"}})
            await alex.say({"message": "thanks", "session_id": "web-replicas"})
            assert await alex.next() == ("bot_uttered", {"text": "echo: thanks"})
    await redis.close()
