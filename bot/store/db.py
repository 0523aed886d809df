"""Engine, schema and transaction scope for the retail store database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from bot.store.models import Base

DEFAULT_DB_URL = "sqlite:///var/tandem.db"


def database_url() -> str:
    """The store's URL: env `TANDEM_DB_URL`, else a SQLite file under `var/`."""
    return os.environ.get("TANDEM_DB_URL") or DEFAULT_DB_URL


def make_engine(url: str | None = None) -> Engine:
    """A 2.0-style engine; SQLite gets its file's folder created and foreign keys enforced."""
    parsed = make_url(url or database_url())
    engine = create_engine(parsed, future=True)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
    return engine


def _enable_sqlite_foreign_keys(dbapi_connection, _record) -> None:
    """SQLite ignores foreign keys unless each connection asks for them."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def create_schema(engine: Engine) -> None:
    """Create the store's tables and indexes that do not exist yet."""
    Base.metadata.create_all(engine)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on error."""
    with Session(engine, future=True) as session, session.begin():
        yield session
