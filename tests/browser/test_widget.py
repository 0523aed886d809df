"""The web chat widget on the demo shop page, in a real headless Chromium, talking to the real bot."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from playwright.sync_api import Browser, Page, Route, expect

from bot.channels.handoff import SECRET_HEADER
from bot.console import widget
from bot.console.app import SETTINGS
from bot.settings import Settings
from bot.store import agents, customers, tickets
from bot.store.db import make_engine, session_scope
from bot.store.identities import LOGIN_TOKEN_KEY, issue_login_token
from tests.browser.chromium import chromium
from tests.browser.test_console import sign_in
from tests.e2e.conftest import OUTPUT, WEBCHAT_SECRET, Bot

SCREENSHOTS = OUTPUT / "browser"
AGENT_PASSWORD = "correct horse battery"
TURN_MS = 120_000  # a guard against a hung bot on a busy machine, not a speed requirement
BOT_ENTRIES = ".tandem-log > li.tandem-from-bot, .tandem-log > li.tandem-from-agent"
TRANSCRIPT = ".tandem-log > li:not(.tandem-from-notice)"
# A page that a test rewrites (page.route) has no network address in Chromium's eyes, and its Local Network
# Access checks would then block the widget's socket to 127.0.0.1.
LOCAL_NETWORK_OK = "--disable-features=LocalNetworkAccessChecks"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium(LOCAL_NETWORK_OK) as browser:
        yield browser


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh visitor: own cookies and storage."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(TURN_MS)
    yield page
    context.close()


def shop_url(bot: Bot) -> str:
    return f"http://127.0.0.1:{bot.settings.console_port}/shop"


def open_chat(page: Page) -> None:
    page.click(".tandem-launcher")
    page.wait_for_selector(".tandem-widget[data-state=online]")


def answer(page: Page, act: Callable[[], None]) -> str:
    """Do `act`, wait until the bot has answered it (new messages, no typing indicator); their text."""
    before = page.locator(BOT_ENTRIES).count()
    act()
    page.wait_for_function(
        "([selector, before]) => document.querySelectorAll(selector).length > before"
        " && document.querySelector('.tandem-typing').hidden", arg=[BOT_ENTRIES, before])
    return "\n".join(page.locator(BOT_ENTRIES).all_inner_texts()[before:])


def say(page: Page, text: str) -> str:
    def type_and_enter() -> None:
        page.fill("#tandem-input", text)
        page.press("#tandem-input", "Enter")
    return answer(page, type_and_enter)


def user_texts(bot: Bot, session: str) -> list[str]:
    return [event["text"] for event in bot.events(session) if event["event"] == "user"]


def agent_says(bot: Bot, session: str, text: str, agent: str) -> None:
    """What the console does when an agent replies: the handoff relay in Rasa."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{bot.settings.rasa_port}/webhooks/handoff/message", method="POST",
        data=json.dumps({"sender_id": session, "text": text, "agent": agent}).encode(),
        headers={"Content-Type": "application/json", SECRET_HEADER: bot.settings.relay_secret()})
    with urllib.request.urlopen(request, timeout=60) as reply:
        assert json.loads(reply.read()) == {"delivered": True}


@pytest.mark.asyncio
async def test_the_shop_page_names_rasa_as_browsers_reach_it() -> None:
    app = web.Application()
    app[SETTINGS] = Settings.from_env({"TANDEM_PUBLIC_RASA_URL": 'https://chat.example.com/"><b>'})
    widget.setup(app)
    async with TestClient(TestServer(app)) as client:
        answer = await client.get("/shop")
        page = await answer.text()
    assert answer.status == 200 and answer.content_type == "text/html"
    escaped = 'data-rasa-url="https://chat.example.com/&quot;&gt;&lt;b&gt;"'
    assert f'<script src="/static/widget/tandem-widget.js" {escaped}' in page


@pytest.mark.e2e
def test_a_customer_chats_on_the_shop_page(bot: Bot, page: Page) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(shop_url(bot))
    assert page.locator("script[data-rasa-url]").get_attribute("data-rasa-url") == (
        f"http://127.0.0.1:{bot.settings.rasa_port}")

    open_chat(page)
    assert page.evaluate("document.activeElement.id") == "tandem-input"
    page.evaluate("""() => {
        const typing = document.querySelector('.tandem-typing');
        new MutationObserver(() => { if (!typing.hidden) window.typingShown = true; })
            .observe(typing, {attributes: true});
    }""")
    assert "I'm Tandem" in say(page, "hi")
    assert page.evaluate("window.typingShown === true"), "the typing indicator shows while the bot works"
    page.screenshot(path=str(SCREENSHOTS / "widget-greeting.png"))

    say(page, "can you recommend something from electronics?")
    suggestion = page.locator(".tandem-log > li").last
    assert suggestion.locator(".tandem-card").count() >= 1
    assert suggestion.locator(".tandem-card-price").first.inner_text().startswith("€")
    page.screenshot(path=str(SCREENSHOTS / "widget-product-cards.png"))
    declined = answer(page, lambda: page.click(".tandem-reply >> text=None of these"))
    assert "I won't suggest" in declined
    assert page.locator(".tandem-from-customer .tandem-text").last.inner_text() == "None of these"
    assert page.locator(".tandem-reply").count() == 0

    say(page, "can you recommend something from electronics?")
    card = page.locator(".tandem-log > li").last.locator(".tandem-card").first
    chosen = card.locator(".tandem-card-title").inner_text()
    assert "Great choice!" in answer(page, lambda: card.locator("button").click())
    assert page.locator(".tandem-from-customer .tandem-text").last.inner_text() == chosen
    link = page.locator(".tandem-from-bot").last.locator("a")
    assert link.get_attribute("href").startswith("https://shop.example.com/products/")
    assert "noopener" in link.get_attribute("rel").split() and link.get_attribute("target") == "_blank"

    say(page, "<script>alert(1)</script>")
    assert page.locator(".tandem-from-customer .tandem-text").last.inner_text() == "<script>alert(1)</script>"
    assert page.locator(".tandem-widget script").count() == 0 and dialogs == []

    session = page.evaluate("TandemWidget.sessionId()")
    agent_says(bot, session, "Hi, I'm Sam from the team. I'll stay with you.", "Sam")
    agent = page.locator(".tandem-from-agent").last
    agent.wait_for()
    assert agent.locator(".tandem-agent-name").inner_text() == "Sam"
    assert agent.locator(".tandem-text").inner_text() == "Hi, I'm Sam from the team. I'll stay with you."
    page.screenshot(path=str(SCREENSHOTS / "widget-agent.png"))

    shown = page.locator(TRANSCRIPT).count()
    state = page.evaluate("""() => {
        TandemWidget.socket.io.engine.close();  // the connection drops; socket.io reconnects
        return document.querySelector('.tandem-widget').dataset.state;
    }""")
    assert state == "reconnecting"
    page.wait_for_selector(".tandem-widget[data-state=online]")
    assert page.locator(TRANSCRIPT).count() == shown
    assert say(page, "where is my order?")
    assert page.evaluate("TandemWidget.sessionId()") == session
    texts = user_texts(bot, session)
    assert (texts[0], texts[-1]) == ("hi", "where is my order?")
    assert "<script>alert(1)</script>" in texts
    channels = {event["input_channel"] for event in bot.events(session) if event["event"] == "user"}
    assert channels == {"socketio"}

    shown = page.locator(TRANSCRIPT).count()
    page.reload()
    page.wait_for_selector(".tandem-widget[data-state=online]")  # an ongoing conversation reconnects at once
    assert page.evaluate("TandemWidget.sessionId()") == session
    assert page.locator(TRANSCRIPT).count() == shown
    assert page.locator(".tandem-from-customer .tandem-text").first.inner_text() == "hi"
    assert page.locator(".tandem-from-agent .tandem-agent-name").last.inner_text() == "Sam"
    open_chat(page)
    assert say(page, "thank you")
    assert user_texts(bot, session)[-1] == "thank you"
    page.screenshot(path=str(SCREENSHOTS / "widget-after-reload.png"))
    console = f"http://127.0.0.1:{bot.settings.console_port}/"
    rasa = f"http://127.0.0.1:{bot.settings.rasa_port}/"
    assert all(url.startswith((console, rasa)) for url in requests), "the widget loads nothing from elsewhere"


def not_alex(bot: Bot) -> str:
    """A seeded customer's email other than Alex's: tests/e2e/test_customers.py checks Alex's history."""
    store = make_engine(bot.settings.db_url)
    try:
        with session_scope(store) as s:
            return customers.profile(s, 2).email
    finally:
        store.dispose()


@pytest.mark.e2e
def test_a_signed_in_customer_s_token_travels_with_each_message(bot: Bot, page: Page) -> None:
    token = issue_login_token(not_alex(bot), WEBCHAT_SECRET, now=datetime.utcnow())

    def signed_in(route: Route) -> None:  # the shop renders the page of a signed-in customer
        page_html = route.fetch().text()
        route.fulfill(body=page_html.replace(" data-title=", f' data-login-token="{token}" data-title='),
                      content_type="text/html")

    page.route("**/shop", signed_in)
    page.goto(shop_url(bot))
    open_chat(page)
    say(page, "hi")
    session = page.evaluate("TandemWidget.sessionId()")
    [greeting] = [event for event in bot.events(session) if event["event"] == "user"]
    assert greeting["metadata"][LOGIN_TOKEN_KEY] == token

    blank = "TandemWidget.socket.emit('user_uttered', {message: ' ', session_id: TandemWidget.sessionId()})"
    page.evaluate(blank)  # what the widget itself never sends
    notice = page.locator(".tandem-from-notice").last
    notice.wait_for()
    assert notice.inner_text().startswith("Sorry, I couldn't read that message")
    assert len([event for event in bot.events(session) if event["event"] == "user"]) == 1


@pytest.mark.e2e
def test_an_angry_customer_is_taken_over_by_an_agent_and_handed_back(bot: Bot, browser: Browser) -> None:
    """The issue's journey: widget → escalation → live queue → claim → reply → hand back → the bot again."""
    store = make_engine(bot.settings.db_url)
    with session_scope(store) as s:
        agents.create_agent(s, "sam.patel", "Sam Patel", AGENT_PASSWORD)
    console_base = f"http://127.0.0.1:{bot.settings.console_port}"
    agent_context = browser.new_context(viewport={"width": 1366, "height": 860})
    customer_context = browser.new_context(viewport={"width": 1280, "height": 860})
    try:
        desk = agent_context.new_page()
        desk.set_default_timeout(TURN_MS)
        sign_in(desk, console_base, "sam.patel", AGENT_PASSWORD)
        desk.wait_for_url(console_base + "/console*")
        expect(desk.get_by_test_id("connection")).to_have_attribute("data-state", "live")

        shop = customer_context.new_page()
        shop.set_default_timeout(TURN_MS)
        shop.goto(shop_url(bot))
        open_chat(shop)
        say(shop, "Hi, where is my order 10001?")
        say(shop, "This is ridiculous, I have been waiting for two weeks and nobody tells me anything!")
        handed_over = say(shop, "I am absolutely furious, your service is a disgrace!")
        assert "A person will reply right here" in handed_over
        session = shop.evaluate("TandemWidget.sessionId()")
        with session_scope(store) as s:
            ticket = tickets.active_ticket(s, session)
        assert ticket is not None and ticket.channel == "socketio"

        item = desk.get_by_test_id(f"queue-item-{ticket.id}")
        item.wait_for()  # it appeared live, without a reload
        item.click()
        desk.get_by_test_id("claim").click()
        expect(desk.get_by_test_id("reply-input")).to_be_enabled()
        customer_said = desk.get_by_test_id("transcript").get_by_test_id("message")
        expect(customer_said.filter(has_text="absolutely furious")).to_have_count(1)
        desk.get_by_test_id("reply-input").fill("Hi, I'm Sam. Sorry about the wait: your parcel is with DHL.")
        desk.get_by_test_id("reply-send").click()

        agent_reply = shop.locator(".tandem-from-agent").last
        agent_reply.wait_for()
        assert agent_reply.locator(".tandem-agent-name").inner_text() == "Sam Patel"
        assert "your parcel is with DHL" in agent_reply.locator(".tandem-text").inner_text()
        shop.screenshot(path=str(SCREENSHOTS / "journey-widget-agent.png"))
        desk.screenshot(path=str(SCREENSHOTS / "journey-console.png"))

        back = answer(shop, lambda: desk.get_by_test_id("hand-back").click())
        assert "Sam Patel passed our conversation back to me" in back
        assert "10001" in say(shop, "ok, where is my order 10001 now?")  # the bot answers again
        shop.screenshot(path=str(SCREENSHOTS / "journey-widget-handed-back.png"))
        events = [e["event"] for e in bot.events(session) if e["event"] in ("pause", "resume")]
        assert events == ["pause", "resume"]
        desk.get_by_test_id("logout").click()  # offline again: later tests expect nobody online
        desk.wait_for_url("**/login*")
    finally:
        agent_context.close()
        customer_context.close()
        store.dispose()
