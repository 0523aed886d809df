"""Every metric and process-mining answer on hand-built conversations whose numbers are known."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from bot import cli
from bot.analytics import etl, metrics, process, report
from bot.analytics.scope import Scope
from bot.store.db import make_engine
from tests.unit.analytics_events import sample, tracker_store, write

LATER = datetime(2026, 3, 10)
MONDAY, TUESDAY = date(2026, 3, 2), date(2026, 3, 3)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    folder = tmp_path_factory.mktemp("metrics")
    source = tracker_store(str(folder / "tracker.db"))
    write(source, *sample())
    target = make_engine(f"sqlite:///{folder / 'tandem.db'}")
    etl.run(source, target, now=LATER)
    return target


def test_kpis_over_everything(engine) -> None:
    with engine.connect() as conn:
        got = metrics.kpis(conn, Scope())
    totals = got["totals"]
    assert (totals["conversations"], totals["open"], totals["closed"]) == (8, 1, 7)
    assert (totals["contained"], totals["escalated"], totals["abandoned"]) == (3, 3, 1)
    assert totals["containment_rate"] == pytest.approx(3 / 7)
    assert totals["escalation_rate"] == pytest.approx(3 / 7)
    assert totals["abandonment_rate"] == pytest.approx(1 / 7)
    assert totals["fallback_rate"] == pytest.approx(2 / 14)  # 2 + 2 + 2 + 1 + 2 + 2 + 3 turns
    assert totals["avg_turns"] == pytest.approx(14 / 7)
    assert totals["avg_time_to_escalation_s"] == pytest.approx((10 + 5 + 19) / 3)  # seconds to the handoff
    # Ended better: the three contained (neutral -> joy); worse: the angry one (0 -> -0.9).
    assert totals["improved_share"] == pytest.approx(3 / 7)
    assert totals["worsened_share"] == pytest.approx(1 / 7)
    assert totals["nps"] == pytest.approx(100 * (3 - 1) / 7)  # joy x3 promoters, anger detractor
    assert (totals["csat_responses"], totals["csat"], totals["csat_mean"]) == (3, pytest.approx(1 / 3),
                                                                               pytest.approx(8 / 3))
    assert totals["handed_back"] == 1
    assert [d["day"] for d in got["daily"]] == ["2026-03-02", "2026-03-03", *[f"2026-03-{d:02d}" for d in
                                                                               range(4, 10)]]
    assert [d["conversations"] for d in got["daily"]] == [5, 2, 0, 0, 0, 0, 0, 1]
    assert got["daily"][0]["escalation_rate"] == pytest.approx(2 / 5)
    assert got["daily"][2]["containment_rate"] is None


def test_a_scope_restricts_days_and_channel(engine) -> None:
    with engine.connect() as conn:
        monday = metrics.kpis(conn, Scope(MONDAY, MONDAY))
        web = metrics.kpis(conn, Scope(channel="socketio"))
        tuesday_reasons = metrics.escalation_reasons(conn, Scope(TUESDAY, TUESDAY))
    assert [d["day"] for d in monday["daily"]] == ["2026-03-02"] and monday["totals"]["conversations"] == 5
    assert web["totals"]["conversations"] == 1 and web["totals"]["escalation_rate"] == 1
    assert tuesday_reasons == [{"reason": "loop", "conversations": 1, "daily": {"2026-03-03": 1},
                                "rate": 0.5}]


def test_escalation_reasons_and_intents(engine) -> None:
    with engine.connect() as conn:
        reasons = metrics.escalation_reasons(conn, Scope())
        intents = {i["intent"]: i for i in metrics.intents(conn, Scope())}
        channels = metrics.channels(conn)
    assert [(r["reason"], r["conversations"]) for r in reasons] == [
        ("explicit_request", 1), ("frustration", 1), ("loop", 1)]
    assert reasons[0]["rate"] == pytest.approx(1 / 7)
    track = intents["track_order"]
    assert (track["messages"], track["conversations"]) == (4, 4)
    assert track["containment_rate"] == pytest.approx(3 / 4)
    assert track["escalation_rate"] == pytest.approx(1 / 4)
    assert (intents["delivery_period"]["messages"], intents["delivery_period"]["conversations"]) == (3, 1)
    assert intents["greet"]["containment_rate"] is None  # only in the open conversation
    assert channels == ["rest", "socketio"]


def test_process_graph_bottlenecks_and_loops(engine) -> None:
    with engine.connect() as conn:
        graph = process.graph(conn, Scope())
        ranked = process.bottlenecks(conn, Scope())
        loops = process.common_loops(conn, Scope())
    nodes = {n["step"]: n for n in graph["nodes"]}
    assert nodes["(start)"]["conversations"] == 8
    assert nodes["(escalated)"]["conversations"] == 3 and nodes["(open)"]["conversations"] == 1
    edges = {(e["source"], e["target"]): e["count"] for e in graph["edges"]}
    assert edges[("track_order", "action_check_order")] == 4
    assert edges[("delivery_period", "utter_delivery_period")] == 3
    assert nodes["action_check_order"]["escalation_rate"] == 0
    assert nodes["complaint"]["escalation_rate"] == 1
    by_step = {b["step"]: b for b in ranked}
    assert by_step["(start)"]["fallback_after"] == 1  # the first 'blorf'
    assert by_step["action_default_fallback"]["fallback_after"] == 1
    assert by_step["action_default_fallback"]["abandoned_after"] == 1
    assert by_step["complaint"]["examples"] == [by_step["complaint"]["examples"][0]]
    assert ranked[0]["lost"] >= ranked[-1]["lost"]
    assert {tuple(lp["loop"]): lp["conversations"] for lp in loops} == {
        ("delivery_period", "utter_delivery_period"): 1, ("nlu_fallback", "action_default_fallback"): 1}


def test_a_transcript_drills_down_to_masked_turns(engine) -> None:
    with engine.connect() as conn:
        example = process.bottlenecks(conn, Scope())[0]["examples"][0]
        found = metrics.transcript(conn, example)
        assert metrics.transcript(conn, 999_999) is None
    assert found["id"] == example and found["transcript"] and "sender_key" not in found
    assert isinstance(found["started_at"], str)


@pytest.mark.parametrize("fmt", report.FORMATS)
def test_the_report_renders_in_every_format(engine, fmt) -> None:
    built = report.build(engine, Scope(MONDAY, TUESDAY))
    text = report.render(built, fmt)
    if fmt == "json":
        assert json.loads(text)["kpis"]["totals"]["conversations"] == 7
    else:
        assert "Containment" in text and "explicit_request" in text and "42.9 %" in text


def test_the_cli_runs_the_etl_and_writes_a_report(tmp_path: Path, monkeypatch, capsys) -> None:
    source = tracker_store(str(tmp_path / "tracker.db"))
    write(source, *sample())
    monkeypatch.setenv("TANDEM_TRACKER_DB", str(tmp_path / "tracker.db"))
    monkeypatch.setenv("TANDEM_DB_URL", f"sqlite:///{tmp_path / 'tandem.db'}")
    assert cli.main(["analytics", "report"]) == 1  # nothing loaded yet
    assert cli.main(["analytics", "etl", "--now", "2026-03-10T00:00"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["conversations"] == 8
    out = tmp_path / "report.html"
    assert cli.main(["analytics", "report", "--since", "2026-03-02", "--until", "2026-03-02",
                     "--channel", "rest", "--format", "html", "--out", str(out)]) == 0
    assert "<table>" in out.read_text() and "channel rest" in out.read_text()
