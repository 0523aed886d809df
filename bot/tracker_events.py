"""Read the events table of Rasa's SQL tracker store: read-only, SQLAlchemy Core, no Rasa imports.

The table's columns are those of `rasa.core.tracker_store.SQLTrackerStore.SQLEvent`; `data` holds each
event as JSON. A tracker store that has no database file or no events table yet reads as empty.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    func,
    inspect,
    select,
)
from sqlalchemy.engine import Engine

from bot.settings import Settings

logger = logging.getLogger(__name__)

EVENTS = Table(
    "events", MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)
BATCH = 500  # sender ids per query: well under SQLite's limit of bound parameters


def tracker_engine(target: str | Path) -> Engine:
    """An engine on the tracker store: a SQLite file (opened read-only, never created) or a database URL."""
    if isinstance(target, Path):
        target = f"sqlite:///file:{target.resolve()}?mode=ro&uri=true"
    engine = create_engine(target, future=True)
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(postgresql_readonly=True)
    return engine


@lru_cache(maxsize=4)
def _cached_engine(target: str | Path) -> Engine:
    return tracker_engine(target)


def default_engine() -> Engine:
    """The one engine per process on the tracker store that endpoints.yml names (env TANDEM_TRACKER_DB)."""
    return _cached_engine(Settings.from_env().tracker_db)


def read_events(engine: Engine, sender_ids: Iterable[str], since: datetime | None = None,
                ) -> dict[str, list[dict[str, Any]]]:
    """Each sender's events (in the order the store wrote them), optionally only those from `since` (UTC).

    Rows whose data is not a JSON object are skipped; database errors other than "no store yet" propagate.
    """
    wanted = sorted({s for s in sender_ids if isinstance(s, str) and s})
    if not wanted or not _has_events(engine):
        return {}
    found: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for start in range(0, len(wanted), BATCH):
            stmt = (select(EVENTS.c.sender_id, EVENTS.c.data)
                    .where(EVENTS.c.sender_id.in_(wanted[start:start + BATCH]))
                    .order_by(EVENTS.c.sender_id, EVENTS.c.id))
            if since is not None:
                stmt = stmt.where(EVENTS.c.timestamp >= since.replace(tzinfo=timezone.utc).timestamp())
            for sender_id, data in conn.execute(stmt):
                event = _event(data)
                if event is not None:
                    found.setdefault(sender_id, []).append(event)
    return found


def latest_event_ids(engine: Engine, sender_ids: Iterable[str]) -> dict[str, int]:
    """Each sender's newest event id: a cheap way to tell whether a conversation has moved on."""
    wanted = sorted({s for s in sender_ids if isinstance(s, str) and s})
    if not wanted or not _has_events(engine):
        return {}
    found: dict[str, int] = {}
    with engine.connect() as conn:
        for start in range(0, len(wanted), BATCH):
            stmt = (select(EVENTS.c.sender_id, func.max(EVENTS.c.id))
                    .where(EVENTS.c.sender_id.in_(wanted[start:start + BATCH])).group_by(EVENTS.c.sender_id))
            found.update(conn.execute(stmt).all())
    return found


def _has_events(engine: Engine) -> bool:
    """Whether the store holds an events table; False for a SQLite file that does not exist yet."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        database = (url.database or "").removeprefix("file:")
        if database and database != ":memory:" and not Path(database).is_file():
            return False
    return inspect(engine).has_table(EVENTS.name)


def _event(data: Any) -> dict[str, Any] | None:
    try:
        event = json.loads(data) if isinstance(data, (str, bytes)) else None
    except ValueError:
        logger.warning("skipped a tracker event whose data is not JSON")
        return None
    return event if isinstance(event, dict) else None
