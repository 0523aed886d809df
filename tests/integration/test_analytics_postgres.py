"""Analytics on a real PostgreSQL: the ETL (COPY, worker processes) gives the rows and metrics of SQLite."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from bot.analytics import etl, metrics, models, process
from bot.analytics.scope import Scope
from bot.store.db import make_engine
from bot.tracker_events import EVENTS
from tests.unit.analytics_events import DAY, T0, Script, sample, tracker_store, write

pytestmark = pytest.mark.integration

LATER = datetime(2026, 3, 10)


def dump(engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {t.name: conn.execute(select(t).order_by(*t.primary_key.columns)).all()
                for t in models.metadata.sorted_tables}


def answers(engine) -> dict[str, object]:
    with engine.connect() as conn:
        return {"kpis": metrics.kpis(conn, Scope()), "reasons": metrics.escalation_reasons(conn, Scope()),
                "intents": metrics.intents(conn, Scope()), "graph": process.graph(conn, Scope()),
                "bottlenecks": process.bottlenecks(conn, Scope()),
                "loops": process.common_loops(conn, Scope())}


def test_postgres_gives_the_rows_and_metrics_of_sqlite(pg_engine, tmp_path, monkeypatch) -> None:
    tricky = Script("tricky\ttab", at=T0 + 50).start()
    tricky.user('quote " back\\slash\nnew line, call 07700 900123', "inform").answer("utter_x", "ok\r\n")
    scripts = [*sample(), tricky]
    lite_source = tracker_store(str(tmp_path / "tracker.db"))
    write(lite_source, *scripts)
    EVENTS.metadata.create_all(pg_engine)
    write(pg_engine, *scripts)
    monkeypatch.setattr(etl, "BATCH_SENDERS", 2)  # several batches, so that the workers run
    on_pg = etl.run(pg_engine, pg_engine, now=LATER, workers=2)
    lite = make_engine(f"sqlite:///{tmp_path / 'tandem.db'}")
    on_sqlite = etl.run(lite_source, lite, now=LATER, workers=1)
    assert (on_pg.events, on_pg.conversations) == (on_sqlite.events, on_sqlite.conversations)
    assert dump(pg_engine) == dump(lite)
    assert answers(pg_engine) == answers(lite)
    with pg_engine.connect() as conn:
        text = conn.scalar(select(models.turns.c.text).where(models.turns.c.intent == "inform"))
    assert text == 'quote " back\\slash\nnew line, call ***23'

    more = Script("next", at=T0 + 2 * DAY).contained()
    write(pg_engine, more)
    write(lite_source, more)
    assert etl.run(pg_engine, pg_engine, now=LATER).conversations == 2  # the new one and the open one
    etl.run(lite_source, lite, now=LATER)
    assert dump(pg_engine) == dump(lite)
