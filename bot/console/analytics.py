"""The analytics dashboard and its JSON API: read-only over the analytics tables.

GET /analytics                              the dashboard page (static/analytics.html)
GET /api/analytics/summary?since&until&channel   KPIs with daily series, escalation reasons, intents
GET /api/analytics/process?since&until&channel   the process graph, bottlenecks and loops
GET /api/analytics/conversations/{id}            one conversation's masked transcript
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date
from functools import partial
from typing import Any

from aiohttp import web
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError, ProgrammingError

from bot.analytics import metrics, process
from bot.analytics.scope import Scope
from bot.console.app import DATABASE, STATIC_DIR
from bot.console.requests import refuse

logger = logging.getLogger(__name__)

MAX_CHANNEL = 64


def setup(app: web.Application) -> None:
    """Add the dashboard's routes."""
    app.router.add_get("/analytics", page)
    app.router.add_get("/api/analytics/summary", summary)
    app.router.add_get("/api/analytics/process", process_view)
    app.router.add_get("/api/analytics/conversations/{id}", conversation)


async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "analytics.html")


def summary_payload(conn: Connection, scope: Scope) -> dict[str, Any]:
    """What /api/analytics/summary answers."""
    return {"channels": metrics.channels(conn), "kpis": metrics.kpis(conn, scope),
            "escalation_reasons": metrics.escalation_reasons(conn, scope),
            "intents": metrics.intents(conn, scope)}


def process_payload(conn: Connection, scope: Scope) -> dict[str, Any]:
    """What /api/analytics/process answers."""
    return {"graph": process.graph(conn, scope), "bottlenecks": process.bottlenecks(conn, scope),
            "loops": process.common_loops(conn, scope)}


async def summary(request: web.Request) -> web.Response:
    return await _query(request, partial(summary_payload, scope=_scope(request)))


async def process_view(request: web.Request) -> web.Response:
    return await _query(request, partial(process_payload, scope=_scope(request)))


async def conversation(request: web.Request) -> web.Response:
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 18:
        raise refuse(400, "a conversation id is a number")
    found = await _query(request, partial(metrics.transcript, conversation_id=int(raw)), respond=False)
    if found is None:
        raise refuse(404, f"no conversation {raw}")
    return web.json_response(found)


def _scope(request: web.Request) -> Scope:
    """The scope from the query string; a malformed value is a 400 naming it."""
    query = request.query
    channel = query.get("channel") or None
    if channel is not None and len(channel) > MAX_CHANNEL:
        raise refuse(400, "channel is too long")
    since, until = _day(query, "since"), _day(query, "until")
    if since and until and until < since:
        raise refuse(400, "until is before since")
    return Scope(since, until, channel)


def _day(query: Any, name: str) -> date | None:
    value = query.get(name) or None
    try:
        return None if value is None else date.fromisoformat(value)
    except ValueError:
        raise refuse(400, f"{name} must be a date like 2026-03-02") from None


async def _query(request: web.Request, work: Callable[[Connection], Any], respond: bool = True) -> Any:
    """Run `work` on a read-only connection in a worker thread; no analytics tables yet is a 503."""
    engine = request.app[DATABASE]

    def run() -> Any:
        with engine.connect() as conn:
            return work(conn)

    try:
        result = await asyncio.get_running_loop().run_in_executor(None, run)
    except (OperationalError, ProgrammingError) as error:
        logger.warning("analytics query failed: %s", error)
        raise refuse(503, "no analytics yet: run `tandem analytics etl`") from None
    return web.json_response(result) if respond else result


