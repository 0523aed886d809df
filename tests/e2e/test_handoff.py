"""A customer on the web chat (socket.io) and an agent on the console, through the real servers.

The bot hands over, the agent claims the ticket and replies (the customer sees a person), the bot stays
quiet while the agent has the conversation, the agent hands back (the bot answers again) or closes with a
survey (the rating lands in the `csat` slot that analytics reads).
"""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Iterator

import pytest
import requests
import socketio

from bot.store import agents
from bot.store.db import make_engine, session_scope
from tests.e2e.conftest import Bot

PASSWORD = "correct horse battery"
WAIT_S = 90


class Customer:
    """A web chat customer: one socket.io session, every bot message in arrival order."""

    def __init__(self, bot: Bot) -> None:
        self.session_id = f"web-{uuid.uuid4().hex[:12]}"
        self.inbox: queue.Queue[dict] = queue.Queue()
        self.client = socketio.Client(reconnection=False)
        self.client.on("bot_uttered", self.inbox.put)
        self.client.connect(f"http://127.0.0.1:{bot.settings.rasa_port}", socketio_path="socket.io",
                            transports=["polling"], wait_timeout=30)
        self.client.call("session_request", {"session_id": self.session_id}, timeout=30)

    def say(self, text: str) -> None:
        self.client.emit("user_uttered", {"message": text, "session_id": self.session_id})

    def hears(self, fragment: str) -> dict:
        """The next bot message containing `fragment` (skipping others); fails after WAIT_S."""
        deadline, seen = time.monotonic() + WAIT_S, []
        while time.monotonic() < deadline:
            try:
                message = self.inbox.get(timeout=1)
            except queue.Empty:
                continue
            if fragment.lower() in str(message.get("text", "")).lower():
                return message
            seen.append(message.get("text"))
        raise AssertionError(f"never heard {fragment!r}; heard {seen}")

    def silence(self, seconds: float) -> list[dict]:
        """Whatever arrives within `seconds` (expected: nothing)."""
        time.sleep(seconds)
        return [self.inbox.get() for _ in range(self.inbox.qsize())]

    def close(self) -> None:
        self.client.eio.disconnect(abort=True)  # a polite polling disconnect waits out the long poll


class Console:
    """An agent logged in on the handoff console's API."""

    def __init__(self, bot: Bot, username: str) -> None:
        self.base = f"http://127.0.0.1:{bot.settings.console_port}"
        self.http = requests.Session()
        answer = self.http.post(f"{self.base}/api/login", json={"username": username, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        self.http.headers["X-CSRF-Token"] = answer.json()["csrf_token"]

    def ticket_of(self, sender_id: str) -> dict:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            found = [t for t in self.http.get(f"{self.base}/api/queue").json()["tickets"]
                     if t["sender_id"] == sender_id]
            if found:
                return found[0]
            time.sleep(0.5)
        raise AssertionError(f"no ticket for {sender_id}")

    def post(self, path: str, body: dict | None = None) -> dict:
        answer = self.http.post(f"{self.base}{path}", json=body)
        assert answer.status_code == 200, (path, answer.status_code, answer.text)
        return answer.json()


@pytest.fixture(scope="module")
def sam(bot: Bot) -> Iterator[Console]:
    engine = make_engine(bot.settings.db_url)
    with session_scope(engine) as s:
        agents.create_agent(s, "sam", "Sam Patel", PASSWORD)
    engine.dispose()
    console = Console(bot, "sam")  # online: the bot pauses for the team instead of offering an email
    yield console
    console.post("/api/logout")  # offline again: later tests expect nobody from the team online


@pytest.fixture
def customer(bot: Bot) -> Iterator[Customer]:
    person = Customer(bot)
    yield person
    person.close()


def test_the_agent_replies_on_the_widget_and_hands_back_to_the_bot(bot: Bot, sam: Console, customer) -> None:
    customer.say("I want to talk to a human")
    customer.hears("customer-service team")
    ticket = sam.ticket_of(customer.session_id)
    assert ticket["channel"] == "socketio" and ticket["status"] == "open"
    sam.post(f"/api/tickets/{ticket['id']}/claim")
    sam.post(f"/api/tickets/{ticket['id']}/reply", {"text": "Hi, Sam here. I'm checking your order now."})
    reply = customer.hears("Sam here")
    assert reply.get("agent", {}).get("name") == "Sam Patel"  # shown as a person, not the bot

    customer.say("thank you, it's order 10002")
    assert customer.silence(4) == []  # the bot keeps quiet while Sam has the conversation
    detail = sam.http.get(f"{sam.base}/api/tickets/{ticket['id']}").json()
    said = [(m["role"], m["text"]) for m in detail["transcript"]]
    assert ("agent", "Hi, Sam here. I'm checking your order now.") in said
    assert ("customer", "thank you, it's order 10002") in said

    closed = sam.post(f"/api/tickets/{ticket['id']}/hand-back")["ticket"]
    assert closed["status"] == "closed"
    customer.hears("Sam Patel passed our conversation back to me")
    customer.say("where is my order?")
    customer.hears("Order 10002")  # the bot is back, with the order number given while Sam had the chat
    events = bot.events(customer.session_id)
    assert [e["event"] for e in events if e["event"] in ("pause", "resume")] == ["pause", "resume"]


def test_closing_with_a_survey_records_the_customers_rating(bot: Bot, sam: Console, customer) -> None:
    customer.say("I want to talk to a human")
    customer.hears("customer-service team")
    ticket = sam.ticket_of(customer.session_id)
    sam.post(f"/api/tickets/{ticket['id']}/claim")
    sam.post(f"/api/tickets/{ticket['id']}/close", {"survey": True})
    ask = customer.hears("How would you rate")
    choices = ask["quick_replies"]  # Rasa's socket.io channel sends buttons as quick replies
    assert [choice["title"] for choice in choices] == ["1", "2", "3", "4", "5"]
    customer.say(choices[4]["payload"])
    customer.hears("Thank you for rating us")
    events = bot.events(customer.session_id)
    assert [e["value"] for e in events if e["event"] == "slot" and e["name"] == "csat"] == [5]


def test_a_forged_relay_call_is_refused(bot: Bot) -> None:
    answer = requests.post(f"http://127.0.0.1:{bot.settings.rasa_port}/webhooks/handoff/message",
                           json={"sender_id": "web-1", "text": "click here", "agent": "Mallory"},
                           headers={"X-Tandem-Handoff-Secret": "guess"}, timeout=30)
    assert answer.status_code == 401
