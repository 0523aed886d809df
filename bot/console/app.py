"""The console's aiohttp application: shared resources, static assets, and one route module per feature.

A feature module has `setup(app)`, which adds its routes; `ROUTE_MODULES` lists them, so a new console
page is a new module and one line here.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy.engine import Engine, make_url

from bot.settings import Settings
from bot.store.db import create_schema, make_engine, session_scope
from bot.tracker_events import tracker_engine

logger = logging.getLogger(__name__)
T = TypeVar("T")

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_REQUEST_BYTES = 64 * 1024  # the console's requests are small JSON bodies
REFRESH_SECONDS = 60  # how often `serve` loads new tracker events into the analytics tables
ROUTE_MODULES: tuple[str, ...] = ("bot.console.auth", "bot.console.handoff", "bot.console.analytics",
                                  "bot.console.widget")
SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Engine)  # the Tandem database, read-only: analytics
STORE = web.AppKey("store", Engine)  # the Tandem database, read-write: agents, sessions, tickets
TRACKER = web.AppKey("tracker", Engine)  # Rasa's tracker store, read-only: transcripts


def readonly_engine(url: str) -> Engine:
    """An engine that cannot write: a SQLite file opened read-only, or a read-only PostgreSQL session."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        return tracker_engine(Path(parsed.database))
    return tracker_engine(url)


def create_app(settings: Settings, database: Engine | None = None,
               modules: Sequence[str] = ROUTE_MODULES) -> web.Application:
    """The console with each feature module's routes and the static assets under /static/."""
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app[SETTINGS] = settings
    app[DATABASE] = database or readonly_engine(settings.db_url)
    app[STORE] = make_engine(settings.db_url)
    create_schema(app[STORE])
    app[TRACKER] = tracker_engine(settings.tracker_store)
    for name in modules:
        importlib.import_module(name).setup(app)
    app.router.add_static("/static/", STATIC_DIR)

    async def dispose(app: web.Application) -> None:
        for key in (DATABASE, STORE, TRACKER):
            app[key].dispose()

    app.on_cleanup.append(dispose)
    return app


async def in_store(app: web.Application, work: Callable[..., T], *args: Any) -> T:
    """Run `work(session, *args)` in one store transaction on a worker thread."""
    def run() -> T:
        with session_scope(app[STORE]) as session:
            return work(session, *args)
    return await asyncio.to_thread(run)


def serve(settings: Settings) -> None:
    """Serve the console until interrupted, loading new conversations into analytics every minute."""
    app = create_app(settings)
    app.cleanup_ctx.append(lambda app: _refresh_analytics(settings))
    web.run_app(app, host=settings.host, port=settings.console_port,
                print=lambda _: print(f"Tandem console on http://{settings.host}:{settings.console_port}/console",
                                      flush=True))


async def _refresh_analytics(settings: Settings) -> AsyncIterator[None]:
    """Run the incremental ETL in a thread every REFRESH_SECONDS while the console is up."""
    from bot.analytics.etl import refresh

    async def loop() -> None:
        while True:
            try:
                await asyncio.to_thread(refresh, settings)
            except Exception:  # the tracker store may not exist yet, or be down: try again later
                logger.exception("analytics ETL failed; retrying in %d s", REFRESH_SECONDS)
            await asyncio.sleep(REFRESH_SECONDS)

    task = asyncio.create_task(loop())
    yield
    task.cancel()
