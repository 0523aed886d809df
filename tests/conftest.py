"""Store fixtures: an empty store in a temporary SQLite file, and a fresh PostgreSQL database."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from bot.store.db import create_schema, make_engine
from bot.store.seed import seed_demo

DEFAULT_TEST_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SMALL_TODAY = date(2026, 3, 2)
SMALL_SIZES = {"customers": 50, "products": 40, "orders": 300}


@pytest.fixture
def engine(tmp_path) -> Iterator[Engine]:
    """An empty store schema in a temporary SQLite file."""
    store = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    create_schema(store)
    yield store
    store.dispose()


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A small demo store in SQLite (SMALL_SIZES, anchored on SMALL_TODAY), seeded once per module."""
    store = make_engine(f"sqlite:///{tmp_path_factory.mktemp('store') / 'store.db'}")
    seed_demo(store, today=SMALL_TODAY, **SMALL_SIZES)
    yield store
    store.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on `engine`; whatever the test leaves uncommitted is rolled back."""
    with Session(engine, future=True) as s:
        yield s


@pytest.fixture(scope="session")
def pg_url() -> str:
    """A PostgreSQL URL allowed to create databases: env `TANDEM_TEST_PG_URL`, else local trust auth."""
    return os.environ.get("TANDEM_TEST_PG_URL", DEFAULT_TEST_PG_URL)


@pytest.fixture(scope="module")
def pg_engine(pg_url: str) -> Iterator[Engine]:
    """An engine on a new database `tandem_test_<random>`, dropped after the module."""
    admin = create_engine(pg_url, future=True, isolation_level="AUTOCOMMIT")
    name = f"tandem_test_{secrets.token_hex(4)}"  # identifiers cannot be bound; this one is ours
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    store = make_engine(make_url(pg_url).set(database=name).render_as_string(hide_password=False))
    try:
        yield store
    finally:
        store.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
