"""Escalation end to end: the real NLU's emotion drives the policy; tickets in the store; the bot pauses."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime

import pytest

from bot.messages import catalog, render
from tests.e2e.conftest import Bot, store_path, texts

pytestmark = pytest.mark.e2e


def tickets(bot: Bot, sender: str) -> list[dict]:
    with sqlite3.connect(store_path(bot)) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT * FROM handoff_tickets WHERE sender_id = ?", (sender,))
        return [dict(row) for row in rows]


def decisions(bot: Bot, sender: str) -> list[str]:
    return [e["value"]["decision"] for e in bot.events(sender)
            if e["event"] == "slot" and e["name"] == "escalation" and isinstance(e["value"], dict)]


@pytest.fixture
def agent_online(bot: Bot) -> Iterator[None]:
    """One agent whose console is online, for the length of a test."""
    with sqlite3.connect(store_path(bot)) as db:
        db.execute("INSERT INTO agents (username, display_name, role, presence, last_seen_at) "
                   "VALUES ('e2e-ana', 'Ana', 'agent', 'online', ?)", (datetime.utcnow().isoformat(" "),))
    yield
    with sqlite3.connect(store_path(bot)) as db:
        db.execute("DELETE FROM agents WHERE username = 'e2e-ana'")


def acknowledged(reply: str) -> bool:
    """Whether the reply opens with one of the acknowledgements of a feeling (bot/messages.yml)."""
    openings = [render(name)["text"] for name in catalog() if name.startswith("acknowledge_")]
    return any(reply.startswith(opening) for opening in openings)


def test_a_customer_who_gets_angrier_is_handed_over_and_the_bot_pauses(bot: Bot, agent_online) -> None:
    sender = "e2e-angry"
    bot.say(sender, "Hi, where is my order 10001?")
    first = texts(bot.say(sender, "This is ridiculous, I have been waiting for two weeks and nobody tells me "
                                  "anything!"))
    assert acknowledged(first)  # the feeling is acknowledged before the answer
    last = texts(bot.say(sender, "I am absolutely furious, your service is a disgrace!"))
    assert "A person will reply right here" in last
    assert any(e["event"] == "pause" for e in bot.events(sender))
    (ticket,) = tickets(bot, sender)
    reasons = {r["name"] for r in json.loads(ticket["reasons"])}
    assert "frustration" in reasons and ticket["priority"] <= 2 and ticket["channel"] == "rest"
    assert "10001" in ticket["summary"] and "anger" in ticket["summary"]
    assert decisions(bot, sender)[-3:] == ["none", "deescalate", "escalate"]


def test_an_explicit_request_pauses_the_bot_while_an_agent_has_it(bot: Bot, agent_online) -> None:
    sender = "e2e-human"
    reply = texts(bot.say(sender, "I want to talk to a real person please"))
    assert "A person will reply right here" in reply  # "in a moment", or the wait behind earlier tickets
    (ticket,) = tickets(bot, sender)
    assert json.loads(ticket["reasons"])[0]["name"] == "explicit_request"
    assert bot.say(sender, "hello? where is my order 10001") == []  # paused: the agent answers, not the bot
    assert any(e["event"] == "pause" for e in bot.events(sender))


def test_with_nobody_online_the_customer_chooses_a_call_back(bot: Bot) -> None:
    sender = "e2e-callback"
    bot.say(sender, "can I speak to an agent")
    asked = bot.say(sender, '/request_follow_up{"follow_up":"callback"}')
    assert "Which number should we call?" in texts(asked)
    done = texts(bot.say(sender, "07700 900123"))
    assert "we'll call you on the number ending 0123" in done
    (ticket,) = tickets(bot, sender)
    assert (ticket["follow_up"], ticket["contact"]) == ("callback", "07700900123")


def test_a_mild_complaint_is_acknowledged_and_answered_not_handed_over(bot: Bot) -> None:
    sender = "e2e-mild"
    reply = texts(bot.say(sender, "I'm a bit annoyed that my parcel still hasn't arrived, how long does "
                                  "delivery normally take?"))
    assert acknowledged(reply)
    assert tickets(bot, sender) == []
    assert decisions(bot, sender) == ["deescalate"]


def test_when_the_action_server_is_down_the_customer_still_gets_an_answer(bot: Bot) -> None:
    bot.servers.halt("actions")
    try:
        reply = texts(bot.say("e2e-outage", "where is my order 10001?"))
    finally:
        bot.servers.restart("actions")
    assert "I can't reach our systems right now" in reply and "0800 123 4567" in reply
    reply = texts(bot.say("e2e-outage", "where is my order 10001?"))
    assert "10001" in reply and "can't reach" not in reply
