"""Fixtures for the action tests: a real seeded retail store per test, trackers as Rasa sends them, a runner.

The store is seeded once per session into a SQLite file; every test that asks for `store` gets its own copy
of that file, and the actions (which find the store through `actions.common.store_engine()`, an lru-cached
engine on env TANDEM_DB_URL) are pointed at the copy for the length of the test.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import text

from actions.common import store_engine
from bot.settings import PROJECT_ROOT
from bot.store import queries
from bot.store.db import make_engine, session_scope
from bot.store.seed import seed_demo

ALEX_EMAIL = "alex.morgan@example.com"
UNREACHABLE_DB_URL = "postgresql://postgres@127.0.0.1:1/nothing"
SEED = {"seed": 7, "customers": 60, "products": 50, "orders": 400}

Messages = list[dict[str, Any]]
Events = list[dict[str, Any]]


def sql_time(value: str | datetime | date) -> datetime | date:
    """A timestamp or date as SQLite returns it (ISO text), parsed."""
    if isinstance(value, (datetime, date)):
        return value
    return datetime.fromisoformat(value) if " " in value or "T" in value else date.fromisoformat(value)


class Store:
    """A test's own copy of the seeded store, read through the public queries or plain SQL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)

    def read(self, query: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """The result of `queries.<query>(session, *args)` in a transaction of its own."""
        with session_scope(self.engine) as session:
            return query(session, *args, **kwargs)

    def order(self, order_id: int) -> queries.OrderView | None:
        return self.read(queries.get_order, order_id)

    def refunds(self, order_id: int) -> list[queries.RefundView]:
        return self.read(queries.get_refunds, order_id)

    def rows(self, sql: str, **params: Any) -> list[tuple]:
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]

    def value(self, sql: str, **params: Any) -> Any:
        rows = self.rows(sql, **params)
        return rows[0][0] if rows else None

    def tables(self) -> list[str]:
        return [name for (name,) in self.rows(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]

    def snapshot(self) -> dict[str, list[tuple]]:
        """Every row of every table, for 'the store is unchanged' assertions."""
        return {table: sorted(self.rows(f'SELECT * FROM "{table}"'), key=repr) for table in self.tables()}

    def order_with_status(self, status: str, *, customer_not: int | None = 1) -> int | None:
        """The lowest order id with this status (by default not one of Alex's demo orders)."""
        return self.value("SELECT min(id) FROM orders WHERE status = :status AND customer_id != :cid",
                          status=status, cid=-1 if customer_not is None else customer_not)

    def email_of(self, order_id: int) -> str:
        return self.value("SELECT c.email FROM orders o JOIN customers c ON c.id = o.customer_id "
                          "WHERE o.id = :oid", oid=order_id)

    def close(self) -> None:
        self.engine.dispose()


def _point_actions_at(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _release_action_engine()
    monkeypatch.setenv("TANDEM_DB_URL", url)


def _release_action_engine() -> None:
    """Close the actions' cached engine (if one was made) and forget it."""
    if store_engine.cache_info().currsize:
        store_engine().dispose()
    store_engine.cache_clear()


@pytest.fixture(scope="session")
def seeded_store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo store (the reserved fixtures: Alex, orders 10001-10003) seeded once per session."""
    path = tmp_path_factory.mktemp("retail") / "seeded.db"
    engine = make_engine(f"sqlite:///{path}")
    seed_demo(engine, today=date.today(), **SEED)
    engine.dispose()
    return path


@pytest.fixture
def store(seeded_store_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A fresh copy of the seeded store that the actions use for this test only."""
    path = tmp_path / "store.db"
    shutil.copyfile(seeded_store_file, path)
    url = f"sqlite:///{path}"
    _point_actions_at(url, monkeypatch)
    copy = Store(url)
    yield copy
    copy.close()
    _release_action_engine()


@pytest.fixture
def store_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The actions' store URL points at a PostgreSQL server that is not there."""
    _point_actions_at(UNREACHABLE_DB_URL, monkeypatch)
    yield UNREACHABLE_DB_URL
    _release_action_engine()


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    return yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))


def user_event(intent: str | None, text: str = "", channel: str | None = "rest",
               ranking: Sequence[tuple[str, float]] | None = None) -> dict[str, Any]:
    """A UserUttered event as the Rasa server sends it to the action server."""
    ranking = list(ranking) if ranking is not None else ([(intent, 0.95)] if intent else [])
    parse_data = {
        "text": text,
        "intent": {"name": intent, "confidence": ranking[0][1] if ranking else 0.0} if intent else {},
        "entities": [],
        "intent_ranking": [{"name": name, "confidence": confidence} for name, confidence in ranking],
    }
    return {"event": "user", "timestamp": None, "text": text, "parse_data": parse_data,
            "input_channel": channel}


def listen() -> dict[str, Any]:
    return {"event": "action", "timestamp": None, "name": "action_listen"}


def make_tracker(slots: dict[str, Any] | None = None, *, intent: str | None = "inform", text: str = "",
                 channel: str | None = "rest", ranking: Sequence[tuple[str, float]] | None = None,
                 earlier_intents: Sequence[str] = (), after: Sequence[dict[str, Any]] = (),
                 sender_id: str = "conversation-42", active_loop: str | None = None) -> Tracker:
    """A tracker whose latest user message has `intent` on `channel`, after `earlier_intents`.

    `after` are events that follow the latest user message (for example the SlotSet events a form
    extracted, which `Tracker.slots_to_validate` reads).
    """
    events = [listen()]
    for name in earlier_intents:
        events += [user_event(name, channel=channel), listen()]
    latest = user_event(intent, text, channel, ranking)
    events += [latest, *after]
    return Tracker(sender_id, dict(slots or {}), latest["parse_data"], events, False, None,
                   {"name": active_loop} if active_loop else {}, "action_listen")


@pytest.fixture
def run_action(domain: dict[str, Any]) -> Callable[[Action, Tracker], tuple[Messages, Events]]:
    """Run an action as the action server would: what it told the customer, and the events it returned."""

    def run(action: Action, tracker: Tracker) -> tuple[Messages, Events]:
        dispatcher = CollectingDispatcher()
        events = asyncio.run(action.run(dispatcher, tracker, domain))
        return dispatcher.messages, events

    return run


@pytest.fixture
def tracker() -> Callable[..., Tracker]:
    """`make_tracker` as a fixture, so that test modules need not import this conftest."""
    return make_tracker


def texts(messages: Messages) -> list[str]:
    return [message.get("text") for message in messages]


@pytest.fixture
def said() -> Callable[[Messages], str]:
    """The one message an action sent, as text (fails when it sent none or several)."""

    def only_text(messages: Messages) -> str:
        assert len(messages) == 1, f"expected one message, got {texts(messages)}"
        return messages[0]["text"]

    return only_text

