"""The ETL from a tracker store into the analytics tables: incremental, idempotent, robust to odd events."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.analytics import etl, models
from bot.store.db import make_engine
from tests.unit.analytics_events import DAY, T0, Script, tracker_store, write

LATER = datetime(2026, 3, 10)  # every test conversation is over by then


@pytest.fixture
def source(tmp_path: Path):
    return tracker_store(str(tmp_path / "tracker.db"))


@pytest.fixture
def target(tmp_path: Path):
    return make_engine(f"sqlite:///{tmp_path / 'tandem.db'}")


def tables(engine) -> dict[str, list[tuple]]:
    """Every analytics row, in key order."""
    with engine.connect() as conn:
        return {t.name: conn.execute(select(t).order_by(*t.primary_key.columns)).all()
                for t in models.metadata.sorted_tables if t is not models.state}


def conversations(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(models.conversations)
                                              .order_by(models.conversations.c.id)).mappings()]


def scripts() -> list[Script]:
    angry = Script("angry", at=T0 + 3).start().user("I want a person", "contact_human_agent", "anger", -0.8)
    return [Script("happy").contained(), angry.handoff("explicit_request"),
            Script("next-day", at=T0 + DAY).contained()]


def test_a_first_run_loads_everything_and_a_rerun_changes_nothing(source, target) -> None:
    write(source, *scripts())
    first = etl.run(source, target, now=LATER)
    assert (first.senders, first.conversations, first.skipped) == (3, 3, 0)
    assert first.watermark == first.events == sum(len(s.events) for s in scripts())
    loaded = tables(target)
    again = etl.run(source, target, now=LATER)
    assert (again.events, again.conversations, again.watermark) == (0, 0, first.watermark)
    assert tables(target) == loaded
    assert [c["outcome"] for c in conversations(target)] == ["resolved", "escalated", "resolved"]


def test_incremental_runs_give_the_tables_of_one_full_run(source, target, tmp_path) -> None:
    early = Script("cont").start().user("where is my order 10001", "track_order").decision("none")
    early.answer("action_check_order", "It is on its way. Anything else I can help with?")
    write(source, early, Script("a").contained())
    during = datetime.utcfromtimestamp(T0 + 60)
    etl.run(source, target, now=during)
    assert {c["sender"]: c["outcome"] for c in conversations(target)} == {"cont": "open", "a": "open"}
    more = Script("cont", at=early.at).user("thanks!", "thank", "joy", 0.9).answer("utter_welcome", "Bye!")
    more.start(after=DAY).user("cancel my order", "cancel_order").action("cancel_order_form")
    write(source, more, Script("b", at=T0 + 30).contained())
    second = etl.run(source, target, now=LATER)
    assert second.senders == 3  # "a" only to close its open conversation
    rows = {(c["sender"], c["turns"]): c["outcome"] for c in conversations(target)}
    assert rows == {("cont", 2): "resolved", ("cont", 1): "abandoned", ("a", 2): "resolved",
                    ("b", 2): "resolved"}
    full = make_engine(f"sqlite:///{tmp_path / 'full.db'}")
    etl.run(source, full, now=LATER)
    assert tables(full) == tables(target)
    etl.run(source, target, now=LATER, full=True)
    assert tables(full) == tables(target)


def test_restarts_and_session_starts_split_conversations(source, target) -> None:
    script = Script("r").contained().add({"event": "restart"})
    script.user("where is my refund", "track_refund").answer("utter_refund", "It was paid yesterday.")
    write(source, script, Script("silent", at=T0 + 5).start().start(after=DAY))
    etl.run(source, target, now=LATER)
    got = conversations(target)
    assert [(c["sender"], c["first_intent"]) for c in got] == [("r", "track_order"), ("r", "track_refund")]


def test_events_out_of_order_unknown_types_and_bad_json(source, target, tmp_path) -> None:
    shuffled = Script("x").contained()
    shuffled.events = shuffled.events[::-1]
    odd = Script("y", at=T0 + 2).start().add({"event": "something_new", "data": [1]})
    odd.user("where is my order", "track_order").answer("action_check_order", "On its way!")
    bad = [{"sender_id": "y", "type_name": "user", "timestamp": T0 + 2.5, "intent_name": None,
            "action_name": None, "data": "{not json"},
           {"sender_id": "y", "type_name": "slot", "timestamp": T0 + 2.6, "intent_name": None,
            "action_name": None, "data": json.dumps([1, 2])},
           {"sender_id": "z", "type_name": "user", "timestamp": None, "intent_name": None,
            "action_name": None, "data": "{}"}]
    write(source, shuffled, odd, raw=bad)
    result = etl.run(source, target, now=LATER)
    assert result.skipped == 2
    got = {c["sender"]: c for c in conversations(target)}
    assert set(got) == {"x", "y"} and got["y"]["turns"] == 1
    in_order = make_engine(f"sqlite:///{tmp_path / 'in_order.db'}")
    straight = tracker_store(str(tmp_path / "straight.db"))
    write(straight, Script("x").contained())
    etl.run(straight, in_order, now=LATER)
    assert {k: v for k, v in conversations(in_order)[0].items() if k != "id"} == \
        {k: v for k, v in got["x"].items() if k != "id"}


def test_a_store_without_events_loads_nothing(tmp_path: Path, target) -> None:
    from bot.tracker_events import tracker_engine

    result = etl.run(tracker_engine(tmp_path / "missing.db"), target, now=LATER)
    assert (result.events, result.watermark) == (0, 0) and tables(target)[models.conversations.name] == []


def test_worker_processes_give_the_same_tables(source, target, tmp_path, monkeypatch) -> None:
    write(source, *scripts())
    monkeypatch.setattr(etl, "BATCH_SENDERS", 1)
    parallel = etl.run(source, target, now=LATER, workers=2)
    alone = make_engine(f"sqlite:///{tmp_path / 'alone.db'}")
    single = etl.run(source, alone, now=LATER, workers=1)
    assert (parallel.events, parallel.conversations) == (single.events, single.conversations) == (
        sum(len(s.events) for s in scripts()), 3)
    assert tables(alone) == tables(target)
