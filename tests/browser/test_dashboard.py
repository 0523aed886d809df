"""The dashboard in a real headless Chromium: tiles, charts, process graph, drill-down, screenshots."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime

import pytest
from playwright.sync_api import Page

from bot.analytics import etl
from bot.settings import PROJECT_ROOT
from bot.store import agents
from bot.store.db import create_schema, make_engine, session_scope
from tests.browser.chromium import chromium
from tests.e2e.conftest import OUTPUT, free_port
from tests.unit.analytics_events import sample, tracker_store, write

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`tandem console` over the analytics of the hand-built conversations of the metric tests."""
    folder = tmp_path_factory.mktemp("dashboard")
    source = tracker_store(str(folder / "tracker.db"))
    write(source, *sample())
    url = f"sqlite:///{folder / 'tandem.db'}"
    store = make_engine(url)
    etl.run(source, store, now=datetime(2026, 3, 10))
    create_schema(store)
    with session_scope(store) as s:
        agents.create_agent(s, "lee", "Lee Chen", PASSWORD, role="lead")
    store.dispose()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "bot.cli", "console"], cwd=PROJECT_ROOT,
                              env={**os.environ, "TANDEM_DB_URL": url, "TANDEM_CONSOLE_PORT": str(port)})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/analytics", timeout=2).close()
            break
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, "the console did not start"
            time.sleep(0.2)
    yield base
    server.terminate()
    server.wait(timeout=20)


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    with chromium() as browser:
        yield browser.new_page(viewport={"width": 1366, "height": 900})


def tile(page: Page, key: str) -> str:
    return page.locator(f"[data-kpi={key}] .value").inner_text()


def test_the_dashboard_shows_the_numbers_and_drills_down(console: str, page: Page) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(console + "/analytics")
    page.wait_for_url("**/login?next=/analytics")  # the team's numbers need a sign-in
    page.fill("[data-testid=login-username]", "lee")
    page.fill("[data-testid=login-password]", PASSWORD)
    page.click("[data-testid=login-submit]")
    page.wait_for_url("**/analytics")
    page.wait_for_selector("body[data-loaded=true]", timeout=20_000)
    assert page.locator("#status").inner_text().startswith("8 conversations")
    assert (tile(page, "conversations"), tile(page, "containment_rate"), tile(page, "escalation_rate"),
            tile(page, "abandonment_rate"), tile(page, "nps"), tile(page, "csat_responses")) == (
        "8", "42.9 %", "42.9 %", "14.3 %", "28.6", "3")
    assert page.locator("#trend svg rect").count() == 8  # one bar a day
    assert page.locator("[data-reason]").count() == 3
    assert page.locator("#intents tbody tr").count() >= 6
    assert page.locator("#process-graph g.node").count() >= 10
    page.screenshot(path=str(OUTPUT / "dashboard.png"), full_page=True)

    page.locator("#bottlenecks button[data-conversation]").first.click()
    page.wait_for_selector("#conversation:not([hidden]) #transcript li")
    assert page.locator("#conversation-facts").inner_text()
    page.screenshot(path=str(OUTPUT / "dashboard-transcript.png"), full_page=True)

    page.select_option("select[name=channel]", "socketio")
    page.click("#scope button[type=submit]")
    page.wait_for_function("document.querySelector('[data-kpi=conversations] .value').innerText === '1'")
    assert tile(page, "escalation_rate") == "100.0 %"
    assert all(url.startswith(console) for url in requests), "every asset is served by the console"
