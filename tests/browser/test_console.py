"""The handoff console in a real headless Chromium: login, the live queue, a transcript shown as text,
claiming across two agents, notes and presence, against the real console app over a seeded SQLite store.

Replies and hand back need a running Rasa; tests/e2e covers them.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.console.app import create_app
from bot.settings import Settings
from bot.store import agents, tickets
from bot.store.db import make_engine, session_scope
from bot.store.models import Agent
from bot.store.seed import seed_demo
from tests.browser.chromium import chromium
from tests.e2e.conftest import OUTPUT
from tests.unit.tracker_store import RasaTrackerStore

SCREENSHOTS = OUTPUT / "browser"
PASSWORD = "correct horse battery"
SAM, RILEY, LEE = ("sam", "Sam Patel"), ("riley", "Riley Chen"), ("lee", "Lee Park")  # Lee is a lead
ALEX = 1  # the demo store's reserved customer, Alex Morgan, with orders 10001-10003
SCRIPT = "<script>alert(1)</script>"
IMAGE = '<img src="x" onerror="alert(2)">'  # would fire a dialog if the page ever inserted text as HTML
ASKED = {"name": "explicit_request", "value": "contact_human_agent"}
WAIT_MS = 20_000  # generous: the machine is shared; nothing here measures speed

Events = list[dict[str, Any]]


@dataclass
class Console:
    """The running console: its address, its store, and the tracker store it reads transcripts from."""

    base: str
    settings: Settings
    store: Engine
    tracker: RasaTrackerStore

    def ticket(self, sender_id: str, *, priority: int, minutes_ago: float, channel: str = "rest",
               reasons: tuple[dict[str, Any], ...] = (ASKED,),
               customer_id: int | None = None, events: Events | None = None) -> int:
        """Open a handoff ticket as action_handoff_to_human does, after writing the conversation's events."""
        if events:  # Rasa's store saves with asyncio.run, which cannot nest in Playwright's loop
            with ThreadPoolExecutor(max_workers=1) as worker:
                worker.submit(self.tracker.save, sender_id, events).result()
        with session_scope(self.store) as s:
            return tickets.create_ticket(
                s, sender_id=sender_id, channel=channel, reasons=reasons, priority=priority,
                summary=f"Summary of {sender_id}", customer_id=customer_id, frustration=0.78,
                now=datetime.utcnow() - timedelta(minutes=minutes_ago)).id

    def presence(self, username: str) -> str:
        with session_scope(self.store) as s:
            return s.execute(select(Agent.presence).where(Agent.username == username)).scalar_one()


@contextmanager
def serving(app: web.Application, port: int = 0) -> Iterator[str]:
    """Serve `app` with aiohttp's AppRunner on loopback (a free port unless given) in a thread of its own."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runner = web.AppRunner(app)

    async def start() -> str:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        host, bound = runner.addresses[0][:2]
        return f"http://{host}:{bound}"

    try:
        yield asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=60)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=60)
        loop.close()


def conversation(start: float) -> Events:
    """A customer who asks about an order, then sends markup in anger and is handed over."""
    def user(at: float, text: str, intent: str, emotion: str, sentiment: float) -> dict[str, Any]:
        return {"event": "user", "timestamp": at, "text": text, "input_channel": "rest",
                "parse_data": {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": [],
                               "emotion": {"label": emotion, "sentiment": sentiment}}}

    def assessed(at: float, decision: str, frustration: float) -> dict[str, Any]:
        return {"event": "slot", "timestamp": at, "name": "escalation",
                "value": {"decision": decision, "frustration": frustration, "score": frustration,
                          "priority": 2, "emotion": None, "reasons": []}}

    return [
        {"event": "action", "timestamp": start, "name": "action_session_start"},
        {"event": "session_started", "timestamp": start},
        {"event": "action", "timestamp": start, "name": "action_listen"},
        user(start + 1, "Where is my order 10001?", "track_order", "neutral", 0.0),
        assessed(start + 1, "none", 0.0),
        {"event": "bot", "timestamp": start + 2, "text": "Order 10001 is on its way."},
        {"event": "action", "timestamp": start + 2, "name": "action_listen"},
        user(start + 30, SCRIPT, "complaint", "anger", -0.8),
        assessed(start + 30, "deescalate", 0.5),
        user(start + 40, IMAGE, "complaint", "anger", -0.9),
        assessed(start + 40, "escalate", 0.78),
        {"event": "action", "timestamp": start + 41, "name": "action_handoff_to_human"},
        {"event": "bot", "timestamp": start + 41, "text": "I'm passing you to a colleague."},
        {"event": "pause", "timestamp": start + 41},
    ]


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """The console app over a seeded store with agents Sam and Riley, lead Lee, and an empty tracker store."""
    folder = tmp_path_factory.mktemp("console")
    url = f"sqlite:///{folder / 'tandem.db'}"
    store = make_engine(url)
    seed_demo(store, seed=7, today=date.today(), customers=60, products=50, orders=400)
    with session_scope(store) as s:
        for username, name in (SAM, RILEY):
            agents.create_agent(s, username, name, PASSWORD)
        agents.create_agent(s, *LEE, PASSWORD, role="lead")
    tracker = RasaTrackerStore(folder / "tracker.db")
    settings = Settings.from_env({"TANDEM_VAR_DIR": str(folder), "TANDEM_DB_URL": url,
                                  "TANDEM_TRACKER_DB": str(folder / "tracker.db")})
    with serving(create_app(settings)) as base:
        yield Console(base, settings, store, tracker)
    tracker.close()
    store.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    expect.set_options(timeout=WAIT_MS)
    with chromium() as browser:
        yield browser


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    """Browser contexts (one per agent: their own cookies) that the test opens; closed after it."""
    opened: list[BrowserContext] = []
    yield opened
    for context in opened:
        context.close()


def new_page(browser: Browser, contexts: list[BrowserContext]) -> Page:
    context = browser.new_context(viewport={"width": 1366, "height": 800})
    contexts.append(context)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    return page


def sign_in(page: Page, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(base + "/login")
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()


def console_page(browser: Browser, contexts: list[BrowserContext], console: Console, username: str,
                 base: str | None = None) -> Page:
    """A logged-in agent's console (at `base`, by default the module's), loaded and live."""
    base = base or console.base
    page = new_page(browser, contexts)
    sign_in(page, base, username)
    page.wait_for_url(base + "/console*")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    return page


def queue_ids(page: Page) -> list[int]:
    return [int(item) for item in page.locator("#queue [data-ticket-id]").evaluate_all(
        "items => items.map(item => item.dataset.ticketId)")]


def test_login_refuses_a_wrong_password_then_opens_the_console(console: Console, browser: Browser,
                                                                contexts: list[BrowserContext]) -> None:
    page = new_page(browser, contexts)
    page.goto(console.base + "/console")
    page.wait_for_url(console.base + "/login")  # no session: the console sends the agent to log in

    sign_in(page, console.base, SAM[0], "not the password")
    expect(page.get_by_test_id("login-error")).to_be_visible()
    expect(page.get_by_test_id("login-error")).to_have_text("Wrong username or password.")
    assert page.url == console.base + "/login"
    page.screenshot(path=str(SCREENSHOTS / "console-login-error.png"))

    sign_in(page, console.base, SAM[0])
    page.wait_for_url(console.base + "/console")
    expect(page.get_by_test_id("agent-name")).to_have_text(SAM[1])
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")


def test_login_after_too_many_failures_says_how_long_to_wait(console: Console, browser: Browser,
                                                            contexts: list[BrowserContext]) -> None:
    page = new_page(browser, contexts)
    error = page.get_by_test_id("login-error")
    for _ in range(agents.MAX_FAILURES_PER_USER):
        sign_in(page, console.base, "mallory", "guess the password")
        expect(error).to_be_visible()  # each try loads a fresh login page, where the error is hidden
        expect(error).to_have_text("Wrong username or password.")
    sign_in(page, console.base, "mallory", "guess the password")
    expect(error).to_be_visible()
    expect(error).to_have_text(re.compile(r"^Too many failed sign-ins: try again in 1[45] min"))
    page.screenshot(path=str(SCREENSHOTS / "console-login-locked.png"))


def test_the_queue_is_in_priority_order_and_live(console: Console, browser: Browser,
                                                 contexts: list[BrowserContext]) -> None:
    low = console.ticket("queue-low", priority=4, minutes_ago=40)
    newer = console.ticket("queue-normal-newer", priority=3, minutes_ago=5)
    older = console.ticket("queue-normal-older", priority=3, minutes_ago=30)
    urgent = console.ticket("queue-urgent", priority=1, minutes_ago=1)
    page = console_page(browser, contexts, console, SAM[0])
    ours = [id_ for id_ in queue_ids(page) if id_ in {low, newer, older, urgent}]  # other tests add more
    assert ours == [urgent, older, newer, low]
    item = page.get_by_test_id(f"queue-item-{urgent}")
    expect(item).to_contain_text("P1")
    expect(item).to_contain_text("explicit request")
    expect(item).to_contain_text("rest")
    waited = item.get_by_test_id("waiting").inner_text()
    expect(item.get_by_test_id("waiting")).not_to_have_text(waited)  # the waiting time ticks

    page.evaluate("window.loadedOnce = true")
    arrived = console.ticket("queue-arrives-live", priority=2, minutes_ago=0)
    expect(page.get_by_test_id(f"queue-item-{arrived}")).to_be_visible()
    assert page.evaluate("window.loadedOnce") is True, "the page did not reload"
    ours = [id_ for id_ in queue_ids(page) if id_ in {low, newer, older, urgent, arrived}]
    assert ours == [urgent, arrived, older, newer, low]
    page.screenshot(path=str(SCREENSHOTS / "console-queue.png"))


def test_the_conversation_shows_the_transcript_as_text(console: Console, browser: Browser,
                                                       contexts: list[BrowserContext]) -> None:
    page = console_page(browser, contexts, console, SAM[0])
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    ticket = console.ticket("web-visitor-7", priority=2, minutes_ago=2, customer_id=ALEX,
                            reasons=({"name": "frustration", "value": 0.78},
                                     {"name": "sensitive_topic", "value": ["complaint"]}),
                            events=conversation(time.time() - 300))
    page.get_by_test_id(f"queue-item-{ticket}").click()

    messages = page.get_by_test_id("transcript").get_by_test_id("message")
    expect(messages.filter(has_text=SCRIPT).locator(".text")).to_have_text(SCRIPT)
    expect(messages.filter(has_text=IMAGE).locator(".text")).to_have_text(IMAGE)
    assert page.locator("#transcript script, #transcript img").count() == 0
    assert [m.get_attribute("data-role") for m in messages.all()] == [
        "event", "customer", "bot", "customer", "customer", "bot", "event"]
    expect(page.get_by_test_id("reasons")).to_contain_text("frustration 0.78")
    expect(page.get_by_test_id("reasons")).to_contain_text("sensitive topic complaint")
    expect(page.get_by_test_id("summary")).to_have_text("Summary of web-visitor-7")
    expect(page.locator("#sparkline circle[data-emotion=anger]")).to_have_count(2)
    expect(page.get_by_test_id("profile")).to_contain_text("Alex Morgan")
    expect(page.get_by_test_id("orders")).to_contain_text("#10001")
    expect(page.get_by_test_id("reply-input")).to_be_disabled()  # until the agent claims it
    expect(page.get_by_test_id("reply-send")).to_be_disabled()
    page.screenshot(path=str(SCREENSHOTS / "console-conversation.png"))
    assert dialogs == []


def test_claiming_is_atomic_between_two_agents(console: Console, browser: Browser,
                                               contexts: list[BrowserContext]) -> None:
    ticket = console.ticket("claim-race", priority=2, minutes_ago=3)
    sam = console_page(browser, contexts, console, SAM[0])
    riley = console_page(browser, contexts, console, RILEY[0])
    for page in (sam, riley):
        page.get_by_test_id(f"queue-item-{ticket}").click()
        expect(page.get_by_test_id("claim")).to_be_visible()

    sam.get_by_test_id("claim").click()
    expect(sam.get_by_test_id("ticket-status")).to_have_text("claimed by you")
    expect(sam.get_by_test_id("reply-input")).to_be_enabled()
    sam.get_by_test_id("canned-replies").select_option(label="Greeting")
    expect(sam.get_by_test_id("reply-input")).to_have_value(re.compile(r"^Hi, thanks for waiting"))
    expect(riley.get_by_test_id("ticket-status")).to_have_text(f"claimed by {SAM[1]}")
    expect(riley.get_by_test_id(f"queue-item-{ticket}")).to_contain_text(SAM[1])
    expect(riley.get_by_test_id("claim")).to_be_hidden()
    expect(riley.get_by_test_id("reply-input")).to_be_disabled()

    csrf = riley.evaluate("fetch('/api/me').then(answer => answer.json()).then(me => me.csrf_token)")
    late = riley.request.post(f"{console.base}/api/tickets/{ticket}/claim", headers={"X-CSRF-Token": csrf})
    assert late.status == 409, late.text()
    assert SAM[1] in late.json()["error"]
    riley.screenshot(path=str(SCREENSHOTS / "console-claimed-by-another.png"))

    sam.get_by_test_id("release").click()
    expect(riley.get_by_test_id("claim")).to_be_visible()  # back in the queue for anyone
    expect(riley.get_by_test_id(f"queue-item-{ticket}")).to_have_attribute("data-status", "open")
    expect(sam.get_by_test_id("reply-input")).to_be_disabled()


def test_a_voice_ticket_offers_a_call_back_instead_of_a_reply(console: Console, browser: Browser,
                                                              contexts: list[BrowserContext]) -> None:
    ticket = console.ticket("voice:+447700900123", channel="voice", priority=2, minutes_ago=1)
    page = console_page(browser, contexts, console, SAM[0])
    page.get_by_test_id(f"queue-item-{ticket}").click()
    page.get_by_test_id("claim").click()
    expect(page.get_by_test_id("ticket-status")).to_have_text("claimed by you")
    expect(page.get_by_test_id("reply-form")).to_be_hidden()
    expect(page.get_by_test_id("callback-phone")).to_have_value("+447700900123")
    page.get_by_test_id("callback").click()
    expect(page.get_by_test_id("ticket-facts")).to_contain_text("asked for a call back at +447700900123")
    expect(page.get_by_test_id(f"queue-item-{ticket}")).to_contain_text(f"with {SAM[1]}")
    page.screenshot(path=str(SCREENSHOTS / "console-voice.png"))


def test_a_note_reaches_every_agent_watching(console: Console, browser: Browser,
                                             contexts: list[BrowserContext]) -> None:
    ticket = console.ticket("noted", priority=3, minutes_ago=4)
    sam = console_page(browser, contexts, console, SAM[0])
    riley = console_page(browser, contexts, console, RILEY[0])
    for page in (sam, riley):
        page.get_by_test_id(f"queue-item-{ticket}").click()
        expect(page.get_by_test_id("notes")).to_contain_text("No notes yet.")

    sam.get_by_test_id("note-input").fill("Offered a <b>refund</b> by email")
    sam.get_by_test_id("note-add").click()
    for page in (sam, riley):
        note = page.get_by_test_id("note")
        expect(note).to_have_count(1)
        expect(note).to_contain_text("Offered a <b>refund</b> by email")
        expect(note).to_contain_text(SAM[1])
    expect(sam.get_by_test_id("note-input")).to_have_value("")
    sam.screenshot(path=str(SCREENSHOTS / "console-note.png"))


def test_a_lead_adds_a_canned_reply_that_agents_can_pick(console: Console, browser: Browser,
                                                         contexts: list[BrowserContext]) -> None:
    ticket = console.ticket("canned", priority=3, minutes_ago=2)
    delay = "Your parcel is delayed by a day; sorry about that."
    lee = console_page(browser, contexts, console, LEE[0])
    lee.get_by_test_id(f"queue-item-{ticket}").click()
    lee.get_by_test_id("canned-new").locator("summary").click()
    lee.get_by_test_id("canned-title").fill("Delivery delay")
    lee.get_by_test_id("canned-text").fill(delay)
    lee.get_by_test_id("canned-save").click()
    expect(lee.get_by_test_id("notice")).to_have_text("Canned reply saved.")

    sam = console_page(browser, contexts, console, SAM[0])
    sam.get_by_test_id(f"queue-item-{ticket}").click()
    expect(sam.get_by_test_id("canned-new")).to_be_hidden()  # only leads edit canned replies
    sam.get_by_test_id("claim").click()
    expect(sam.get_by_test_id("reply-input")).to_be_enabled()
    sam.get_by_test_id("canned-replies").select_option(label="Delivery delay")
    expect(sam.get_by_test_id("reply-input")).to_have_value(delay)


def test_presence_toggles_between_online_and_away(console: Console, browser: Browser,
                                                  contexts: list[BrowserContext]) -> None:
    page = console_page(browser, contexts, console, RILEY[0])
    presence = page.get_by_test_id("presence")
    expect(presence).to_have_attribute("data-presence", "online")  # logging in makes the agent online
    presence.click()
    expect(presence).to_have_attribute("data-presence", "away")
    expect(presence).to_have_text("Away")
    assert console.presence(RILEY[0]) == "away"
    page.reload()
    expect(page.get_by_test_id("presence")).to_have_attribute("data-presence", "away")
    page.get_by_test_id("presence").click()
    expect(page.get_by_test_id("presence")).to_have_attribute("data-presence", "online")
    assert console.presence(RILEY[0]) == "online"

    page.get_by_test_id("logout").click()
    page.wait_for_url(console.base + "/login")
    page.goto(console.base + "/console")
    page.wait_for_url(console.base + "/login")  # the session is gone


def test_the_console_reconnects_when_the_server_comes_back(console: Console, browser: Browser,
                                                          contexts: list[BrowserContext]) -> None:
    with serving(create_app(console.settings)) as base:
        page = console_page(browser, contexts, console, SAM[0], base)
        connection = page.get_by_test_id("connection")
    expect(connection).to_have_attribute("data-state", "offline")
    expect(connection).to_contain_text("reconnecting in")
    page.screenshot(path=str(SCREENSHOTS / "console-offline.png"))
    with serving(create_app(console.settings), port=int(base.rsplit(":", 1)[1])):
        expect(connection).to_have_attribute("data-state", "live")
        ticket = console.ticket("after-restart", priority=3, minutes_ago=0)
        expect(page.get_by_test_id(f"queue-item-{ticket}")).to_be_visible()
