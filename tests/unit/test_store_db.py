"""Engine configuration and the transaction scope of the store."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot.store.db import DEFAULT_DB_URL, create_schema, database_url, make_engine, session_scope
from bot.store.models import HandoffTicket, Identity

NOW = datetime(2026, 3, 2, 12, 0)


def _ticket() -> HandoffTicket:
    return HandoffTicket(sender_id="web-1", channel="socketio", reason="requested_human", priority=2,
                         summary="wants a human", status="open", created_at=NOW)


def test_database_url_reads_the_environment(monkeypatch):
    monkeypatch.delenv("TANDEM_DB_URL", raising=False)
    assert database_url() == DEFAULT_DB_URL == "sqlite:///var/tandem.db"
    monkeypatch.setenv("TANDEM_DB_URL", "postgresql://tandem@db/tandem")
    assert database_url() == "postgresql://tandem@db/tandem"


def test_relative_sqlite_path_gets_its_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TANDEM_DB_URL", raising=False)
    engine = make_engine()
    create_schema(engine)
    engine.dispose()
    assert (tmp_path / "var" / "tandem.db").is_file()


def test_sqlite_enforces_foreign_keys(session):
    session.add(Identity(customer_id=424242, channel="email", external_id="ghost@example.com", verified=True))
    with pytest.raises(IntegrityError):
        session.flush()


def test_session_scope_commits_on_success(engine):
    with session_scope(engine) as s:
        s.add(_ticket())
    with session_scope(engine) as s:
        assert s.execute(select(func.count()).select_from(HandoffTicket)).scalar_one() == 1


def test_session_scope_rolls_back_on_error(engine):
    with pytest.raises(RuntimeError), session_scope(engine) as s:
        s.add(_ticket())
        s.flush()
        raise RuntimeError("action failed")
    with session_scope(engine) as s:
        assert s.execute(select(func.count()).select_from(HandoffTicket)).scalar_one() == 0
