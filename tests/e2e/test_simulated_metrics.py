"""A few hundred simulated conversations through the real servers: every metric equals the scripts' truth."""

from __future__ import annotations

import secrets
import sqlite3
import time
from datetime import datetime, timedelta

import pytest

from bot.analytics import etl, metrics, process, simulate
from bot.analytics.scope import Scope
from bot.store.db import make_engine
from tests.e2e.conftest import Bot
from tests.unit.analytics_events import tracker_store

pytestmark = pytest.mark.e2e

CONVERSATIONS = 8 * 30  # every journey 30 times, half over REST and half over socket.io


def copy_events(bot: Bot, prefix: str, path: str) -> None:
    """The simulator's events alone, in a tracker store of their own (other tests share the bot's)."""
    tracker_store(path).dispose()
    with sqlite3.connect(path) as copy:
        copy.execute("ATTACH DATABASE ? AS live", (str(bot.settings.tracker_db),))
        copy.execute("INSERT INTO events SELECT * FROM live.events WHERE sender_id LIKE ?", (prefix + "-%",))


def test_every_metric_equals_the_ground_truth(bot: Bot, tmp_path) -> None:
    rasa = simulate.Rasa(f"http://127.0.0.1:{bot.settings.rasa_port}")
    prefix = f"sim-{secrets.token_hex(3)}"
    started = time.monotonic()
    plan = simulate.simulate(rasa, CONVERSATIONS, store=make_engine(bot.settings.db_url), workers=3,
                             prefix=prefix)
    elapsed = time.monotonic() - started
    truth = simulate.ground_truth(plan)
    copy_events(bot, prefix, str(tmp_path / "tracker.db"))
    analytics = make_engine(f"sqlite:///{tmp_path / 'tandem.db'}")
    later = datetime.utcnow() + timedelta(hours=2)  # every conversation is over
    etl.run(tracker_store(str(tmp_path / "tracker.db")), analytics, now=later)

    with analytics.connect() as conn:
        totals = metrics.kpis(conn, Scope())["totals"]
        reasons = {r["reason"]: r["conversations"] for r in metrics.escalation_reasons(conn, Scope())}
        intents = {i["intent"]: i for i in metrics.intents(conn, Scope())}
        by_channel = {c: metrics.kpis(conn, Scope(channel=c))["totals"]["conversations"]
                      for c in metrics.channels(conn)}
        loops = {tuple(lp["loop"]): lp["conversations"] for lp in process.common_loops(conn, Scope())}
        bottlenecks = process.bottlenecks(conn, Scope())

    assert {key: totals[key] for key in truth["totals"]} == truth["totals"]
    assert reasons == truth["escalation_reasons"]
    seen = {name: {key: intents[name][key] for key in want} for name, want in truth["intents"].items()}
    assert seen == truth["intents"]
    assert by_channel == truth["channels"] == {"rest": CONVERSATIONS // 2, "socketio": CONVERSATIONS // 2}
    # Timing has no script to compare with: it lies within the run.
    assert 0 < totals["avg_duration_s"] < elapsed and 0 <= totals["avg_time_to_escalation_s"] < elapsed
    repeated = sum(s.journey.name == "asks_again_and_again" for s in plan)
    assert loops[("delivery_period", "utter_delivery_period")] == repeated
    assert bottlenecks and all(b["examples"] for b in bottlenecks)
