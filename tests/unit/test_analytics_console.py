"""The console's analytics API and page over a loaded analytics database, through a real aiohttp server."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.analytics import etl
from bot.console.app import create_app, readonly_engine
from bot.settings import Settings
from bot.store import agents
from bot.store.db import make_engine, session_scope
from tests.unit.analytics_events import T0, Script, tracker_store, write

PASSWORD = "correct horse battery"


@pytest.fixture
def database(tmp_path: Path) -> str:
    source = tracker_store(str(tmp_path / "tracker.db"))
    angry = Script("angry@example.com", at=T0 + 3).start()
    angry.user("a human!", "contact_human_agent", "anger", -0.8)
    write(source, Script("happy").contained(), angry.handoff("explicit_request"))
    url = f"sqlite:///{tmp_path / 'tandem.db'}"
    etl.run(source, make_engine(url), now=datetime(2026, 3, 10))
    return url


async def client_for(url: str, *, log_in: bool = True) -> TestClient:
    """A client of a console over `url`, signed in as a lead unless `log_in` is False."""
    client = TestClient(TestServer(create_app(Settings.from_env({"TANDEM_DB_URL": url}))))
    await client.start_server()
    if log_in:
        engine = make_engine(url)
        with session_scope(engine) as s:
            agents.create_agent(s, "lee", "Lee", PASSWORD, role="lead")
        engine.dispose()
        answer = await client.post("/api/login", json={"username": "lee", "password": PASSWORD})
        assert answer.status == 200
    return client


@pytest.mark.asyncio
async def test_the_analytics_api_is_for_signed_in_agents_only(database: str) -> None:
    client = await client_for(database, log_in=False)
    try:
        for path in ("/api/analytics/summary", "/api/analytics/process", "/api/analytics/conversations/1"):
            assert (await client.get(path)).status == 401
        assert (await client.get("/analytics")).status == 200  # the page itself sends you to sign in
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_summary_process_and_transcript(database: str) -> None:
    client = await client_for(database)
    try:
        summary = await (await client.get("/api/analytics/summary?since=2026-03-01&channel=rest")).json()
        assert summary["kpis"]["totals"]["conversations"] == 2 and summary["channels"] == ["rest"]
        assert summary["escalation_reasons"][0]["reason"] == "explicit_request"
        proc = await (await client.get("/api/analytics/process")).json()
        example = proc["bottlenecks"][0]["examples"][0]
        assert proc["graph"]["nodes"] and proc["graph"]["edges"]
        found = await (await client.get(f"/api/analytics/conversations/{example}")).json()
        assert found["sender"] == "a***y@example.com"
        assert found["transcript"][0]["intent"] == "contact_human_agent"
        page = await client.get("/analytics")
        assert page.status == 200 and "analytics.js" in await page.text()
        script = await client.get("/static/analytics.js")
        assert script.status == 200 and "renderGraph" in await script.text()
    finally:
        await client.close()


@pytest.mark.asyncio
@pytest.mark.parametrize(("path", "status"), [
    ("/api/analytics/summary?since=yesterday", 400),
    ("/api/analytics/summary?since=2026-03-05&until=2026-03-01", 400),
    ("/api/analytics/summary?channel=" + "x" * 65, 400), ("/api/analytics/conversations/abc", 400),
    ("/api/analytics/conversations/123456", 404),
])
async def test_bad_requests_are_refused_with_a_json_error(database: str, path: str, status: int) -> None:
    client = await client_for(database)
    try:
        answer = await client.get(path)
        assert answer.status == status and "error" in await answer.json()
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_without_analytics_tables_the_api_says_what_to_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    make_engine(url).connect().close()
    client = await client_for(url)
    try:
        answer = await client.get("/api/analytics/summary")
        assert answer.status == 503 and "tandem analytics etl" in (await answer.json())["error"]
    finally:
        await client.close()


def test_the_console_cannot_write(database: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    with readonly_engine(database).connect() as conn, pytest.raises(OperationalError):
        conn.execute(text("DELETE FROM analytics_conversations"))


def test_console_and_tracker_settings(tmp_path: Path) -> None:
    default = Settings.from_env({}, root=tmp_path)
    assert (default.console_port, default.tracker_store) == (5006, tmp_path / "var" / "tracker.db")
    assert default.server_env()["TANDEM_TRACKER_URL"] == f"sqlite:///{tmp_path / 'var' / 'tracker.db'}"
    pg = Settings.from_env({"TANDEM_CONSOLE_PORT": "7000", "TANDEM_TRACKER_URL": "postgresql://db/tracker",
                            "TANDEM_ENDPOINTS": "deploy/endpoints.postgres.yml"}, root=tmp_path)
    assert (pg.console_port, pg.tracker_store) == (7000, "postgresql://db/tracker")
    assert pg.server_env()["TANDEM_TRACKER_URL"] == "postgresql://db/tracker"
    assert pg.endpoints == Path("deploy/endpoints.postgres.yml")


@pytest.mark.asyncio
async def test_the_served_console_keeps_loading_new_conversations(tmp_path: Path, monkeypatch) -> None:
    """`tandem console` runs the incremental ETL every REFRESH_SECONDS; a failing run is retried."""
    import asyncio

    from bot.console import app as console

    source = tracker_store(str(tmp_path / "tracker.db"))
    settings = Settings.from_env({"TANDEM_DB_URL": f"sqlite:///{tmp_path / 'tandem.db'}",
                                  "TANDEM_VAR_DIR": str(tmp_path)})
    monkeypatch.setattr(console, "REFRESH_SECONDS", 0.05)
    refresh = console._refresh_analytics(settings)
    await refresh.__anext__()  # the console is up: the first run fails, there are no events yet
    write(source, Script("happy").contained())
    await asyncio.sleep(0.5)
    with pytest.raises(StopAsyncIteration):
        await refresh.__anext__()  # the console stops
    with make_engine(settings.db_url).connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM analytics_conversations").scalar_one() == 1
