"""Analytics benchmark: ETL throughput and dashboard query latency over a generated tracker store.

  python bench/analytics.py [--events 1000000] [--pg postgresql://postgres@127.0.0.1:5432/postgres]
Generates tracker events shaped as Rasa 3.6 writes them (session starts, user messages with intent ranking,
entities and emotion, escalation decisions, actions, bot messages, handoffs, forms left half-way, loops,
fallbacks, CSAT) for conversations over 90 days and four channels, into PostgreSQL (COPY) and SQLite. Then:
a full ETL, an incremental one after 1 % more events, and each dashboard query (median of 5 runs). Then, in
new databases holding `--page-conversations` conversations, the time the dashboard page's two API calls take
when made at once, as the browser makes them. Results go to bench/results/analytics.json. Targets:
>= 50,000 events/s full ETL on PostgreSQL, every dashboard query <= 500 ms at 1M events, the page's data
in under a second at 100,000 conversations.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import resource
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import machine  # noqa: E402
from bot.analytics import etl, metrics, process  # noqa: E402
from bot.analytics.scope import Scope  # noqa: E402
from bot.console.analytics import process_payload, summary_payload  # noqa: E402
from bot.nlu.emotion import EMOTIONS, VALENCE  # noqa: E402
from bot.tracker_events import EVENTS  # noqa: E402

RESULTS = ROOT / "bench" / "results"
START = datetime(2025, 12, 1, tzinfo=timezone.utc).timestamp()
DAYS = 90
CHANNELS = ("rest", "socketio", "slack", "telegram")
INFO = ("delivery_period", "delivery_options", "check_refund_policy", "check_payment_methods",
        "check_cancellation_fee", "recover_password", "newsletter_subscription", "product_availability")
FORMS = {"track_order": "track_order_form", "cancel_order": "cancel_order_form", "get_refund": "refund_form",
         "change_shipping_address": "shipping_address_form", "get_invoice": "invoice_form"}
INTENTS = (*INFO, *FORMS, "greet", "thank", "goodbye", "complaint", "payment_issue", "contact_human_agent")
MODEL_ID = secrets.token_hex(16)
NOW = datetime.fromtimestamp(START + (DAYS + 2) * 86400, timezone.utc).replace(tzinfo=None)  # the ETL's "now"
EVENTS_PER_CONVERSATION = 28  # about what `conversation` makes, with the session start and listens
TARGET_EVENTS_PER_S = 50_000
TARGET_QUERY_MS = 500
TARGET_PAGE_MS = 1000


class Conversation:
    """Events of one generated session, as (sender, type, timestamp, intent, action, json) rows."""

    def __init__(self, sender: str, channel: str, at: float, rng: random.Random) -> None:
        self.sender, self.channel, self.at, self.rng = sender, channel, at, rng
        self.rows: list[tuple[Any, ...]] = []
        self.frustration = 0.0

    def add(self, event: dict[str, Any], intent: str | None = None, action: str | None = None) -> None:
        self.at += self.rng.uniform(0.05, 2.0) if event["event"] != "user" else self.rng.uniform(3, 40)
        event = {**event, "timestamp": self.at}
        self.rows.append((self.sender, event["event"], self.at, intent, action, json.dumps(event)))

    def action(self, name: str, policy: str = "RulePolicy") -> None:
        self.add({"event": "action", "metadata": {"model_id": MODEL_ID}, "name": name, "policy": policy,
                  "confidence": round(self.rng.uniform(0.6, 1.0), 4), "action_text": None,
                  "hide_rule_turn": False}, action=name)

    def start(self) -> None:
        self.action("action_session_start", None)
        self.add({"event": "session_started", "metadata": {"model_id": MODEL_ID}})
        self.action("action_listen")

    def bot(self, utter: str, text_: str) -> None:
        self.action(utter)
        self.add({"event": "bot", "text": text_, "metadata": {"utter_action": utter, "model_id": MODEL_ID},
                  "data": dict.fromkeys(("elements", "quick_replies", "buttons", "attachment", "image",
                                         "custom"))})

    def user(self, text_: str, intent: str, emotion: str, decision: str = "none",
             reasons: tuple[str, ...] = ()) -> None:
        weights = [self.rng.random() * 0.2 for _ in EMOTIONS]
        weights[EMOTIONS.index(emotion)] = 1.5
        total = sum(weights)
        probs = {name: w / total for name, w in zip(EMOTIONS, weights, strict=True)}
        ranking = sorted(probs.items(), key=lambda p: -p[1])
        confidence = round(self.rng.uniform(0.55, 0.99), 4)
        others = self.rng.sample(INTENTS, 9)
        parse = {"intent": {"name": intent, "confidence": confidence},
                 "entities": [{"entity": "order_id", "start": 20, "end": 25, "value": "10001",
                               "confidence_entity": 0.99, "extractor": "TandemTransformerNLU"}]
                 if "order" in intent else [],
                 "text": text_, "message_id": secrets.token_hex(16), "metadata": {},
                 "intent_ranking": [{"name": intent, "confidence": confidence}]
                 + [{"name": o, "confidence": round((1 - confidence) / 10, 4)} for o in others],
                 "emotion": {"label": emotion, "confidence": round(ranking[0][1], 4),
                             "ranking": [{"name": n, "confidence": round(p, 4)} for n, p in ranking],
                             "sentiment": round(sum(VALENCE[n] * p for n, p in probs.items()), 4)}}
        self.action("action_listen") if self.rows and self.rows[-1][4] != "action_listen" else None
        self.add({"event": "user", "text": text_, "parse_data": parse, "input_channel": self.channel,
                  "message_id": parse["message_id"], "metadata": {}}, intent=intent)
        self.frustration = 0.5 * self.frustration + 0.5 * (1.0 if emotion == "anger" else 0.0)
        self.add({"event": "slot", "metadata": {"model_id": MODEL_ID}, "name": "escalation",
                  "value": {"decision": decision, "frustration": round(self.frustration, 3),
                            "score": round(self.frustration, 3), "priority": 3, "emotion": emotion,
                            "reasons": [{"name": r, "value": 1} for r in reasons]}})

    def handoff(self) -> None:
        self.bot("action_handoff_to_human", "I'm passing you to a colleague who will reply in a moment.")
        ticket = self.rng.randint(1, 10**6)
        self.add({"event": "slot", "metadata": {}, "name": "handoff_ticket", "value": ticket})
        if self.rng.random() < 0.5:
            self.add({"event": "pause"})
            if self.rng.random() < 0.3:
                self.add({"event": "resume"})
        else:
            self.action("action_listen")


def conversation(n: int, at: float, rng: random.Random) -> list[tuple[Any, ...]]:
    """One session with a realistic mix of outcomes: contained, escalated (four reasons), abandoned."""
    sender = f"{rng.choice(CHANNELS[:2])}-{rng.randrange(n // 2 + 1):07d}" if rng.random() < 0.3 else \
        f"user-{n:07d}"
    c = Conversation(sender, rng.choice(CHANNELS), at, rng)
    c.start()
    if rng.random() < 0.3:
        c.user("hello there", "greet", "neutral")
        c.bot("utter_greet", "Hi! How can I help you today?")
    kind = rng.random()
    for _ in range(rng.choice((1, 1, 2, 3))):
        intent = rng.choice(INFO)
        mood = rng.choice(("neutral", "neutral", "surprise"))
        c.user(f"question about {intent.replace('_', ' ')}", intent, mood)
        c.bot(f"utter_{intent}", f"Here is what you need to know about {intent.replace('_', ' ')}.")
    if kind < 0.05:  # a loop, then a handoff
        intent = rng.choice(INFO)
        for index in range(3):
            c.user("how long does delivery take", intent, "neutral",
                   *(("escalate", ("loop",)) if index == 2 else ()))
            if index < 2:
                c.bot(f"utter_{intent}", "Delivery takes 3-5 working days.")
        c.handoff()
    elif kind < 0.10:  # not understood three times
        for index in range(3):
            c.user("blorf zapple", "nlu_fallback", "surprise",
                   *(("escalate", ("repeated_fallback",)) if index == 2 else ()))
            if index < 2:
                c.bot("action_default_fallback", "Sorry, I didn't get that. Could you rephrase?")
        c.handoff()
    elif kind < 0.18:  # angry
        c.user("where is my order 10001", "track_order", "neutral")
        c.bot("action_track_order", "Order 10001 left our warehouse and is with the carrier.")
        c.user("this is ridiculous, two weeks!", "complaint", "anger", "deescalate", ("mild_frustration",))
        c.bot("utter_complaint", "I'm sorry. Let me look into it.")
        c.user("I am furious, a disgrace", "complaint", "anger", "escalate",
               ("frustration", "sensitive_topic"))
        c.handoff()
    elif kind < 0.24:  # asks for a person
        c.user("I want to talk to a real person", "contact_human_agent", "neutral", "escalate",
               ("explicit_request",))
        c.handoff()
    elif kind < 0.40:  # leaves a form half-way
        intent = rng.choice(list(FORMS))
        c.user(f"I need help with {intent.replace('_', ' ')} 10001", intent, "neutral")
        c.action(FORMS[intent])
        c.add({"event": "active_loop", "name": FORMS[intent]})
        c.bot("utter_ask_email", "What's the email address you ordered with?")
        c.action("action_listen")
    else:  # contained, sometimes with the customer's email in the conversation
        intent = rng.choice(list(FORMS))
        c.user(f"{intent.replace('_', ' ')} for order 10001", intent, "neutral")
        c.action(FORMS[intent])
        c.bot("utter_ask_email", "What's the email address you ordered with?")
        c.user(f"it's customer{n}@example.com", "inform", "neutral")
        c.bot(f"action_{intent}", f"Done, we wrote to customer{n}@example.com. Anything else for you?")
        c.user("thanks a lot, great", "thank", rng.choice(("joy", "joy", "neutral")))
        c.bot("utter_you_are_welcome", "You're welcome!")
        if rng.random() < 0.25:
            c.add({"event": "slot", "metadata": {}, "name": "csat", "value": rng.choice((3, 4, 5, 5))})
    c.action("action_listen")
    return c.rows


def generate(events: int, seed: int = 7, start: float = START, first: int = 0) -> Iterator[list[tuple]]:
    """Chunks of about 50,000 event rows, each in time order, until `events` rows."""
    rng = random.Random(seed)
    spacing = DAYS * 86400 * 24 / events  # about 24 events per conversation
    made, n, at = 0, first, start
    while made < events:
        chunk: list[tuple] = []
        while len(chunk) < 50_000 and made + len(chunk) < events:
            chunk += conversation(n, at, rng)
            n, at = n + 1, at + rng.expovariate(1 / spacing)
        chunk.sort(key=lambda row: row[2])
        made += len(chunk)
        yield chunk


def create_events_table(engine: Engine) -> None:
    EVENTS.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE INDEX IF NOT EXISTS ix_events_sender_id ON events (sender_id)"))


def load(engine: Engine, chunks: Iterator[list[tuple]]) -> int:
    """Write the rows with COPY (PostgreSQL) or executemany (SQLite); the number of rows."""
    count = 0
    columns = "sender_id, type_name, timestamp, intent_name, action_name, data"
    for chunk in chunks:
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            if engine.dialect.name == "postgresql":
                buffer = io.StringIO()
                csv.writer(buffer).writerows(chunk)
                buffer.seek(0)
                cursor.copy_expert(f"COPY events ({columns}) FROM STDIN WITH (FORMAT csv)", buffer)
            else:
                cursor.executemany(f"INSERT INTO events ({columns}) VALUES (?, ?, ?, ?, ?, ?)", chunk)
            raw.commit()
        finally:
            raw.close()
        count += len(chunk)
    return count


def cpu_seconds() -> float:
    """User and system CPU time of this process and its finished children (the ETL's workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def median_ms(work: Callable[[], object], runs: int = 5) -> float:
    work()  # warm up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(1000 * (time.perf_counter() - started))
    return round(statistics.median(times), 1)


def dashboard(engine: Engine) -> dict[str, float]:
    """Each query behind the dashboard, over all days and over the last 30, in milliseconds."""
    with engine.connect() as conn:
        example = process.bottlenecks(conn, Scope())[0]["examples"][0]
        last_month = Scope(since=datetime.fromtimestamp(START + (DAYS - 30) * 86400, timezone.utc).date())
        queries = {
            "kpis_daily": lambda: metrics.kpis(conn, Scope()),
            "kpis_daily_30_days_rest": lambda: metrics.kpis(conn, Scope(last_month.since, channel="rest")),
            "escalation_reasons": lambda: metrics.escalation_reasons(conn, Scope()),
            "intents": lambda: metrics.intents(conn, Scope()),
            "channels": lambda: metrics.channels(conn),
            "process_graph": lambda: process.graph(conn, Scope()),
            "bottlenecks": lambda: process.bottlenecks(conn, Scope()),
            "loops": lambda: process.common_loops(conn, Scope()),
            "transcript": lambda: metrics.transcript(conn, example),
            # The page's two API calls, each all of its queries (the browser makes them in parallel).
            "api_summary": lambda: summary_payload(conn, Scope()),
            "api_process": lambda: process_payload(conn, Scope()),
        }
        return {name: median_ms(work) for name, work in queries.items()}


def page_data_ms(engine: Engine) -> float:
    """The page's two API calls made at once on two connections, as the browser and the console make them."""

    def call(payload: Callable[[Any, Scope], object]) -> None:
        with engine.connect() as conn:
            payload(conn, Scope())

    with ThreadPoolExecutor(2) as pool:
        return median_ms(lambda: list(pool.map(call, (summary_payload, process_payload))))


def generated_store(source: Engine, events: int) -> tuple[int, float]:
    """Generate and load `events` tracker rows: (rows, seconds taken)."""
    create_events_table(source)
    started = time.perf_counter()
    return load(source, generate(events)), time.perf_counter() - started


def bench_page(name: str, source: Engine, target: Engine, conversations: int) -> dict[str, Any]:
    """The dashboard page's data over about `conversations` conversations."""
    loaded, _ = generated_store(source, conversations * EVENTS_PER_CONVERSATION)
    full = etl.run(source, target, now=NOW, full=True)
    result = {"events": loaded, "conversations": full.conversations, "page_data_ms": page_data_ms(target)}
    print(f"{name} page: {json.dumps(result)}", flush=True)
    return result


def bench_backend(name: str, source: Engine, target: Engine, events: int) -> dict[str, Any]:
    loaded, generated = generated_store(source, events)
    load_before, cpu = os.getloadavg()[0], cpu_seconds()
    full = etl.run(source, target, now=NOW, full=True)
    cpu = cpu_seconds() - cpu
    extra = load(source, generate(events // 100, seed=8, start=START + DAYS * 86400, first=10**7))
    incremental = etl.run(source, target, now=NOW)
    rerun = etl.run(source, target, now=NOW)
    with target.connect() as conn:
        conversations = metrics.kpis(conn, Scope())["totals"]["conversations"]
    queries = dashboard(target)
    result = {
        "events": loaded, "conversations": conversations, "generate_and_load_s": round(generated, 1),
        "full_etl": {"events": full.events, "seconds": round(full.seconds, 2),
                     "events_per_s": round(full.events_per_second), "load_average_before": load_before,
                     # CPU of this process and its workers (the database server's not counted)
                     "cpu_seconds": round(cpu, 2), "events_per_cpu_s": round(full.events / cpu)},
        "incremental_etl": {"new_events": extra, "events_read": incremental.events,
                            "senders": incremental.senders, "seconds": round(incremental.seconds, 2),
                            "events_per_s": round(incremental.events_per_second)},
        "rerun_without_new_events_s": round(rerun.seconds, 2),
        "dashboard_query_ms": queries,
        "slowest_query_ms": max(v for k, v in queries.items() if not k.startswith("api_")),
        "dashboard_data_ms": max(queries["api_summary"], queries["api_process"]),
    }
    print(f"{name}: {json.dumps(result)}", flush=True)
    return result


@contextmanager
def postgresql_pair(url: str) -> Iterator[tuple[Engine, Engine]]:
    """A new tracker database and a new Tandem database on the server at `url`, dropped afterwards."""
    admin = create_engine(url, future=True, isolation_level="AUTOCOMMIT")
    names = [f"tandem_bench_{secrets.token_hex(4)}" for _ in range(2)]
    engines: list[Engine] = []
    try:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        engines = [create_engine(make_url(url).set(database=n), future=True) for n in names]
        yield engines[0], engines[1]
    finally:
        for engine in engines:
            engine.dispose()
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def sqlite_pair() -> Iterator[tuple[Engine, Engine]]:
    """A new tracker database and a new Tandem database in SQLite files, deleted afterwards."""
    with tempfile.TemporaryDirectory() as folder:
        yield (create_engine(f"sqlite:///{folder}/tracker.db", future=True),
               create_engine(f"sqlite:///{folder}/tandem.db", future=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--page-conversations", type=int, default=100_000)
    parser.add_argument("--pg", default=os.environ.get("TANDEM_TEST_PG_URL",
                                                       "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--out", type=Path, default=RESULTS / "analytics.json")
    args = parser.parse_args()
    result: dict[str, Any] = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                              "machine": {**machine(), "sqlite": sqlite3.sqlite_version},
                              "requested_events": args.events}
    with create_engine(args.pg, future=True).connect() as conn:
        result["machine"]["postgresql"] = conn.scalar(text("SHOW server_version"))
    backends = {"postgresql": partial(postgresql_pair, args.pg), "sqlite": sqlite_pair}
    for name, pair in backends.items():
        with pair() as (source, target):
            result[name] = bench_backend(name, source, target, args.events)
        with pair() as (source, target):
            result[name]["page"] = bench_page(name, source, target, args.page_conversations)
    pg = result["postgresql"]
    result["targets"] = {
        "full_etl_events_per_s_postgresql": TARGET_EVENTS_PER_S,
        "full_etl_ratio_to_target": round(pg["full_etl"]["events_per_s"] / TARGET_EVENTS_PER_S, 2),
        "dashboard_query_ms": TARGET_QUERY_MS,
        "slowest_query_ratio_to_target": {b: round(result[b]["slowest_query_ms"] / TARGET_QUERY_MS, 2)
                                          for b in backends},
        "page_data_ms": TARGET_PAGE_MS, "page_conversations": args.page_conversations,
        "page_data_ratio_to_target": {b: round(result[b]["page"]["page_data_ms"] / TARGET_PAGE_MS, 2)
                                      for b in backends},
        "met": pg["full_etl"]["events_per_s"] >= TARGET_EVENTS_PER_S
        and all(result[b]["slowest_query_ms"] <= TARGET_QUERY_MS for b in backends)
        and all(result[b]["page"]["page_data_ms"] <= TARGET_PAGE_MS for b in backends),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["targets"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
