"""The handoff console's API through a real aiohttp server: auth, CSRF, the queue, claiming, the live socket.

The bot server is not running here: replies must fail loudly (502), never look delivered. Replies and
hand backs through a running Rasa are covered by tests/e2e/test_handoff.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from bot.console.app import create_app
from bot.settings import Settings
from bot.store import agents, tickets
from bot.store.db import create_schema, make_engine, session_scope
from bot.store.models import Agent, AgentSession
from tests.unit.analytics_events import Script, tracker_store, write

PASSWORD = "correct horse battery"
PASSWORD_HASH = agents.hash_password(PASSWORD)  # hashed once: scrypt is slow on purpose
TICKETS = (("web-1", "socketio", 2), ("twilio_voice:+447700900001", "twilio_voice", 1))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A store with two agents and a lead, two tickets, and a tracker store with the web chat's messages."""
    settings = Settings.from_env({"TANDEM_VAR_DIR": str(tmp_path), "TANDEM_RASA_PORT": "9",
                                  "TANDEM_HANDOFF_SECRET": "s3cret"})
    engine = make_engine(settings.db_url)
    create_schema(engine)
    now = datetime.utcnow()
    with session_scope(engine) as s:
        s.add_all(Agent(username=name, display_name=name.title(), role=role, password_hash=PASSWORD_HASH)
                  for name, role in (("sam", "agent"), ("kim", "agent"), ("lee", "lead")))
        for sender, channel, priority in TICKETS:
            tickets.create_ticket(s, sender_id=sender, channel=channel, summary="Wants a refund for 10002",
                                  reasons=[{"name": "frustration", "value": 0.8}], priority=priority,
                                  now=now - timedelta(minutes=5))
    engine.dispose()
    chat = Script("web-1", at=now.timestamp() - 300, channel="socketio").start()
    chat.user("<script>alert(1)</script> I want my money", "get_refund", "anger", -0.8)
    write(tracker_store(str(settings.tracker_db)), chat.handoff("frustration", pause=True))
    return settings


@pytest_asyncio.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    yield client
    await client.close()


async def log_in(client: TestClient, username: str) -> dict[str, str]:
    """Log in (the client keeps the cookie); the headers a POST then needs."""
    answer = await client.post("/api/login", json={"username": username, "password": PASSWORD})
    assert answer.status == 200, await answer.text()
    return {"X-CSRF-Token": (await answer.json())["csrf_token"]}


async def second_client(settings: Settings) -> TestClient:
    other = TestClient(TestServer(create_app(settings)))
    await other.start_server()
    return other


@pytest.mark.asyncio
async def test_everything_but_login_needs_a_session(client) -> None:
    for method, path in (("GET", "/api/queue"), ("GET", "/api/me"), ("POST", "/api/tickets/1/claim"),
                         ("GET", "/api/live"), ("GET", "/api/tickets/1")):
        answer = await client.request(method, path)
        assert answer.status == 401 and (await answer.json())["error"] == "log in first"
    assert (await client.get("/login")).status == 200


@pytest.mark.asyncio
async def test_login_sets_an_httponly_strict_cookie_and_a_wrong_password_is_refused(client) -> None:
    wrong = await client.post("/api/login", json={"username": "sam", "password": "not the password"})
    assert wrong.status == 401 and "wrong username or password" in (await wrong.json())["error"]
    answer = await client.post("/api/login", json={"username": "Sam", "password": PASSWORD})
    cookie = answer.headers["Set-Cookie"]
    assert answer.status == 200 and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    me = await (await client.get("/api/me")).json()
    assert me["agent"]["display_name"] == "Sam" and me["agent"]["presence"] == "online" and me["csrf_token"]


@pytest.mark.asyncio
@pytest.mark.parametrize("body", [b"not json", b"[1]", b'{"username": "sam"}',
                                  b'{"username": 5, "password": "x"}'])
async def test_malformed_logins_get_a_400(client, body: bytes) -> None:
    answer = await client.post("/api/login", data=body, headers={"Content-Type": "application/json"})
    assert answer.status == 400 and "error" in await answer.json()


@pytest.mark.asyncio
async def test_repeated_failures_lock_the_login_with_retry_after(client) -> None:
    for _ in range(5):
        await client.post("/api/login", json={"username": "kim", "password": "guess guess guess"})
    locked = await client.post("/api/login", json={"username": "kim", "password": PASSWORD})
    assert locked.status == 429 and int(locked.headers["Retry-After"]) > 0


@pytest.mark.asyncio
async def test_a_state_change_without_the_csrf_token_is_refused(client) -> None:
    headers = await log_in(client, "sam")
    for wrong in ({}, {"X-CSRF-Token": "forged"}):
        answer = await client.post("/api/tickets/1/claim", headers=wrong)
        assert answer.status == 403 and "X-CSRF-Token" in (await answer.json())["error"]
    assert (await client.post("/api/tickets/1/claim", headers=headers)).status == 200


@pytest.mark.asyncio
async def test_an_expired_session_is_refused(client, settings) -> None:
    await log_in(client, "sam")
    engine = make_engine(settings.db_url)
    with session_scope(engine) as s:
        s.execute(update(AgentSession).values(last_used_at=datetime.utcnow() - timedelta(hours=13)))
    engine.dispose()
    assert (await client.get("/api/me")).status == 401


@pytest.mark.asyncio
async def test_logout_ends_the_session(client) -> None:
    headers = await log_in(client, "sam")
    assert (await client.post("/api/logout", headers=headers)).status == 200
    assert (await client.get("/api/me")).status == 401


@pytest.mark.asyncio
async def test_the_queue_and_a_tickets_transcript(client) -> None:
    await log_in(client, "sam")
    queue = (await (await client.get("/api/queue")).json())["tickets"]
    assert [(t["sender_id"], t["priority"]) for t in queue] == [(sender, priority)
                                                                for sender, _, priority in reversed(TICKETS)]
    assert queue[1]["last_message"]["role"] == "bot" and queue[1]["waiting_seconds"] >= 300
    detail = await (await client.get(f"/api/tickets/{queue[1]['id']}")).json()
    customer = [m for m in detail["transcript"] if m["role"] == "customer"]
    assert customer[0]["text"] == "<script>alert(1)</script> I want my money"  # plain text: the page escapes
    assert detail["emotions"][0]["emotion"] == "anger" and detail["ticket"]["summary"].startswith("Wants")
    assert (await client.get("/api/tickets/999")).status == 404
    assert (await client.get("/api/tickets/abc")).status == 400


@pytest.mark.asyncio
async def test_one_ticket_one_holder_and_only_the_holder_or_a_lead_works_it(client, settings) -> None:
    sam = await log_in(client, "sam")
    kim_client = await second_client(settings)
    lee_client = await second_client(settings)
    try:
        kim, lee = await log_in(kim_client, "kim"), await log_in(lee_client, "lee")
        assert (await client.post("/api/tickets/1/claim", headers=sam)).status == 200
        taken = await kim_client.post("/api/tickets/1/claim", headers=kim)
        assert taken.status == 409 and "claimed by Sam" in (await taken.json())["error"]
        for path, body in (("reply", {"text": "hi"}), ("release", None), ("hand-back", None)):
            answer = await kim_client.post(f"/api/tickets/1/{path}", json=body, headers=kim)
            assert answer.status == 403, path
        note = await kim_client.post("/api/tickets/1/notes", json={"text": "Sam has this one"}, headers=kim)
        assert (await note.json())["note"]["agent"] == "Kim"  # anyone may leave a note
        released = await lee_client.post("/api/tickets/1/release", headers=lee)
        assert released.status == 200 and (await released.json())["ticket"]["status"] == "open"
    finally:
        await kim_client.close()
        await lee_client.close()


@pytest.mark.asyncio
async def test_a_reply_the_bot_server_cannot_take_is_an_error_not_a_silent_loss(client) -> None:
    sam = await log_in(client, "sam")
    await client.post("/api/tickets/1/claim", headers=sam)
    answer = await client.post("/api/tickets/1/reply", json={"text": "I'm on it"}, headers=sam)
    assert answer.status == 502 and "did not get this" in (await answer.json())["error"]
    assert (await client.post("/api/tickets/1/reply", json={"text": " "}, headers=sam)).status == 400
    long = await client.post("/api/tickets/1/reply", json={"text": "x" * 4001}, headers=sam)
    assert long.status == 413


@pytest.mark.asyncio
async def test_a_phone_call_gets_a_call_back_not_a_typed_reply(client) -> None:
    sam = await log_in(client, "sam")
    await client.post("/api/tickets/2/claim", headers=sam)
    typed = await client.post("/api/tickets/2/reply", json={"text": "hello"}, headers=sam)
    assert typed.status == 409 and "call back" in (await typed.json())["error"]
    bad = await client.post("/api/tickets/2/callback", json={"phone": "call me"}, headers=sam)
    assert bad.status == 400
    answer = await client.post("/api/tickets/2/callback", json={"phone": "+44 7700 900001"}, headers=sam)
    ticket = (await answer.json())["ticket"]
    assert (ticket["follow_up"], ticket["contact"]) == ("callback", "+447700900001")


@pytest.mark.asyncio
async def test_canned_replies_are_read_by_all_and_written_by_leads(client, settings) -> None:
    sam = await log_in(client, "sam")
    replies = (await (await client.get("/api/canned-replies")).json())["replies"]
    assert replies and all(r["title"] and r["text"] for r in replies)
    refused = await client.post("/api/canned-replies", json={"title": "X", "text": "Y"}, headers=sam)
    assert refused.status == 403
    lee_client = await second_client(settings)
    try:
        lee = await log_in(lee_client, "lee")
        added = await lee_client.post("/api/canned-replies", json={"title": "Voucher", "text": "SORRY10"},
                                      headers=lee)
        assert (await added.json())["reply"]["title"] == "Voucher"
    finally:
        await lee_client.close()


@pytest.mark.asyncio
async def test_the_live_socket_pushes_the_queue_and_a_watched_ticket_as_they_change(client, settings) -> None:
    sam = await log_in(client, "sam")
    socket = await client.ws_connect("/api/live")
    try:
        first = await socket.receive_json(timeout=10)
        assert first["type"] == "queue" and len(first["tickets"]) == 2
        engine = make_engine(settings.db_url)
        with session_scope(engine) as s:
            tickets.create_ticket(s, sender_id="web-9", channel="socketio", summary="new", priority=1,
                                  reasons=[{"name": "explicit_request", "value": "contact_human_agent"}],
                                  now=datetime.utcnow())
        engine.dispose()
        pushed = await socket.receive_json(timeout=10)
        assert pushed["type"] == "queue" and "web-9" in [t["sender_id"] for t in pushed["tickets"]]
        await socket.send_json({"type": "watch", "ticket_id": 1})
        watched = await socket.receive_json(timeout=10)
        assert watched["type"] == "ticket" and watched["detail"]["ticket"]["sender_id"] == "web-1"
        await client.post("/api/tickets/1/notes", json={"text": "calling the courier"}, headers=sam)
        while (push := await socket.receive_json(timeout=10))["type"] != "ticket":
            pass
        assert push["detail"]["notes"][-1]["text"] == "calling the courier"
    finally:
        await socket.close()


@pytest.mark.asyncio
async def test_the_live_socket_refuses_other_sites(client) -> None:
    await log_in(client, "sam")
    answer = await client.get("/api/live", headers={"Origin": "https://evil.example", "Upgrade": "websocket",
                                                    "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                                                    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert answer.status == 403
    await asyncio.sleep(0)
