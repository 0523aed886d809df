"""The console's aiohttp application: shared resources, static assets, and one route module per feature.

A feature module has `setup(app)`, which adds its routes; `ROUTE_MODULES` lists them, so a new console
page is a new module and one line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web
from sqlalchemy.engine import Engine, make_url

from bot.settings import Settings
from bot.tracker_events import tracker_engine

STATIC_DIR = Path(__file__).resolve().parent / "static"
ROUTE_MODULES: tuple[str, ...] = ("bot.console.analytics",)
SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Engine)  # the Tandem database, read-only


def readonly_engine(url: str) -> Engine:
    """An engine that cannot write: a SQLite file opened read-only, or a read-only PostgreSQL session."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        return tracker_engine(Path(parsed.database))
    return tracker_engine(url)


def create_app(settings: Settings, database: Engine | None = None,
               modules: Sequence[str] = ROUTE_MODULES) -> web.Application:
    """The console with each feature module's routes and the static assets under /static/."""
    app = web.Application()
    app[SETTINGS] = settings
    app[DATABASE] = database or readonly_engine(settings.db_url)
    for name in modules:
        importlib.import_module(name).setup(app)
    app.router.add_static("/static/", STATIC_DIR)

    async def dispose(app: web.Application) -> None:
        app[DATABASE].dispose()

    app.on_cleanup.append(dispose)
    return app


def serve(settings: Settings) -> None:
    """Serve the console until interrupted."""
    web.run_app(create_app(settings), host=settings.host, port=settings.console_port,
                print=lambda _: print(f"Tandem console on http://{settings.host}:{settings.console_port}/analytics",
                                      flush=True))
