"""Malformed and hostile input over REST: a clear 4xx error or a sensible reply, never a 500, no harm done."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import urllib.request

import pytest

from tests.e2e.conftest import Bot, store_path, texts

pytestmark = pytest.mark.e2e


def store_digest(bot: Bot) -> str:
    """A hash of every row of the retail store, to prove a request changed nothing."""
    digest = hashlib.sha256()
    with sqlite3.connect(store_path(bot)) as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}" ORDER BY 1'):
                digest.update(repr(row).encode())
    return digest.hexdigest()


@pytest.mark.parametrize(("body", "status", "error"), [
    (b"{not json", 400, "must be JSON"),
    (b"", 400, "must be JSON"),
    (b'["a list"]', 400, "JSON object"),
    (json.dumps({"sender": "x", "message": ""}).encode(), 400, "empty"),
    (json.dumps({"sender": "x", "message": "  \n\t "}).encode(), 400, "empty"),
    (json.dumps({"sender": "x"}).encode(), 400, "'message' is required"),
    (json.dumps({"sender": "x", "message": 42}).encode(), 400, "'message' is required"),
    (json.dumps({"message": "hi"}).encode(), 400, "'sender' is required"),
    (json.dumps({"sender": {"id": 1}, "message": "hi"}).encode(), 400, "'sender' is required"),
    (json.dumps({"sender": True, "message": "hi"}).encode(), 400, "'sender' is required"),
    (json.dumps({"sender": "a" * 129, "message": "hi"}).encode(), 400, "1-128"),
    (json.dumps({"sender": "../../etc/passwd", "message": "hi"}).encode(), 400, "may hold only"),
    (json.dumps({"sender": "x", "message": "hi", "metadata": [1]}).encode(), 400, "metadata"),
    (json.dumps({"sender": "x", "message": "hi", "input_channel": "<b>"}).encode(), 400, "input_channel"),
    # claiming a connector's input channel over REST: the sender id would name a channel identity
    (json.dumps({"sender": "100000001", "message": "hi", "input_channel": "telegram"}).encode(), 403,
     "only comes through its own connector"),
    (json.dumps({"sender": "x", "message": "a" * 100_000}).encode(), 413, "longer than"),
])
def test_malformed_requests_get_a_clear_error(bot: Bot, body: bytes, status: int, error: str) -> None:
    got_status, answer = bot.post(body)
    assert got_status == status
    assert error in answer["error"]


def test_a_rest_client_cannot_post_into_a_telegram_conversation(bot: Bot) -> None:
    """Alex's Telegram chat is 'telegram:100000001': posting as it would reach his verified identity."""
    before = bot.events("telegram:100000001")
    status, answer = bot.post(json.dumps({"sender": "telegram:100000001", "message": "hi"}).encode())
    assert status == 403
    assert answer["error"] == "'sender' 'telegram:100000001' names a conversation of another channel"
    assert bot.events("telegram:100000001") == before


def test_a_100_kb_message_loses_nothing_and_the_server_keeps_answering(bot: Bot) -> None:
    status, _ = bot.post(json.dumps({"sender": "e2e-huge", "message": "word " * 20_000}).encode())
    assert status == 413
    assert bot.events("e2e-huge") == []
    assert texts(bot.say("e2e-huge", "hello"))


def test_integer_sender_ids_are_accepted(bot: Bot) -> None:
    assert texts(bot.say(123456, "hello"))  # type: ignore[arg-type]
    assert bot.events("123456")


@pytest.mark.parametrize("message", [
    "😡😡😡 where is my order 10001 😡",
    "أين طلبي 10001؟",
    "שלום, איפה ההזמנה שלי",
    "ｗｈｅｒｅ ｉｓ ｍｙ ｏｒｄｅｒ",
    "Zalgo t̶̡e̷x̸t̵ ̶h̴e̷r̵e̷",
    "null\x00byte and \x1b[31mescape codes",
])
def test_odd_unicode_gets_a_sensible_reply(bot: Bot, message: str) -> None:
    replies = bot.say("e2e-unicode", message)
    assert replies and all(reply.get("text") for reply in replies)


@pytest.mark.parametrize("message", [
    "where is my order 10001'; DROP TABLE orders; --",
    "track order 10001 OR 1=1",
    "cancel order 10002\" UNION SELECT email FROM customers --",
    "<script>alert(1)</script> order 10001",
])
def test_injection_attempts_leave_the_store_unchanged(bot: Bot, message: str) -> None:
    # A conversation per attempt: in one shared conversation the fallbacks of earlier attempts add up to an
    # escalation, whose handoff ticket is a legitimate change to the store.
    sender = "e2e-inject-" + hashlib.sha256(message.encode()).hexdigest()[:12]
    before = store_digest(bot)
    replies = bot.say(sender, message)
    assert replies
    assert "alex.morgan" not in texts(replies)
    bot.say(sender, "/stop")
    assert store_digest(bot) == before


def test_health_endpoint_still_answers(bot: Bot) -> None:
    url = f"http://127.0.0.1:{bot.settings.rasa_port}/webhooks/rest/"
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert json.loads(answer.read()) == {"status": "ok"}
