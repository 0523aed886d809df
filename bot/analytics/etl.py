"""Incremental ETL from the tracker store's `events` table into the analytics tables.

A watermark (the highest event id loaded) makes a run read only the senders with newer events, plus those
whose last conversation was still open. A sender's sessions are rebuilt from the start of the stored session
that the new events continue, so reruns are idempotent and a run over the same events gives the same rows
as a full rebuild. Batches of senders are read, turned into rows by worker processes and written set-wise
(COPY on PostgreSQL), in one transaction, which ends by rebuilding the daily roll-ups of the days touched.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import re
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import groupby
from multiprocessing import get_context
from time import monotonic
from typing import Any

from sqlalchemy import Table, delete, func, select
from sqlalchemy.engine import Connection, Engine

from bot import conversations as conv
from bot.analytics import models, rollups
from bot.analytics.rows import SessionRows, sender_key, session_rows
from bot.settings import Settings
from bot.store.db import make_engine
from bot.tracker_events import EVENTS, _has_events, tracker_engine

logger = logging.getLogger(__name__)

BATCH_SENDERS = 500  # senders per read: well under SQLite's limit of bound parameters
LISTEN = "action_listen"
PARSED_TYPES = frozenset({"user", "bot", "slot", "active_loop"})  # the events whose JSON analytics reads
TABLES = (models.conversations, *models.CHILDREN)  # in the order they are written
COPY_SPECIAL = re.compile("[\\\\\t\n\r\x00]")
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\x00": ""})


@dataclass
class EtlResult:
    """What one run did."""

    events: int = 0  # tracker rows read
    senders: int = 0
    conversations: int = 0  # written (new or rebuilt)
    skipped: int = 0  # rows whose data was not a JSON object
    watermark: int = 0
    seconds: float = 0.0
    full: bool = False

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


@dataclass
class _Batch:
    """The rows made from a batch of senders' events, written together: as dicts, or for PostgreSQL already
    in COPY format (rendered by the worker, so that the main process only reads and writes)."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {t.name: [] for t in TABLES})
    copy: dict[str, str] | None = None
    days: set[date] = field(default_factory=set)  # of the conversations
    conversations: int = 0
    events: int = 0
    skipped: int = 0

    def add(self, rows: SessionRows) -> None:
        if rows.conversation is not None:
            self.conversations += 1
            self.days.add(rows.conversation["day"])
            self.tables[models.conversations.name].append(rows.conversation)
            self.tables[models.turns.name] += rows.turns
            self.tables[models.steps.name] += rows.steps
            self.tables[models.loops.name] += rows.loops


Job = list[tuple[str, list[tuple[Any, ...]]]]  # each sender's (id, type, timestamp, action, data) rows
Changed = dict[str, tuple[float, int]]  # sender -> (time of its earliest new event, id of its first one)


def run(source: Engine, target: Engine, *, now: datetime | None = None, full: bool = False,
        workers: int | None = None) -> EtlResult:
    """Load new tracker events into the analytics tables (all of them again when `full`), in one transaction.

    `now` (naive UTC, default: the current time) decides which conversations are still open. Batches are
    turned into rows by `workers` processes (default: one per CPU) while the next batch is read."""
    now = now or datetime.utcnow()
    workers = workers or os.cpu_count() or 1
    started = monotonic()
    models.create_tables(target)
    result = EtlResult(full=full)
    with target.begin() as out:
        if full:
            for table in (*models.ROLLUPS, *models.CHILDREN, models.conversations, models.state):
                out.execute(delete(table))
        touched: set[date] = set()  # the days whose conversations were written or forgotten
        result.watermark = watermark = _watermark(out)
        if _has_events(source):
            with source.connect() as src:
                result.watermark = src.scalar(select(func.max(EVENTS.c.id))) or watermark
                changed = _changed_senders(src, out, watermark, result.watermark)
                result.senders = len(changed)
                jobs = _jobs(src, out, changed, result.watermark, touched)
                if workers > 1 and len(changed) > BATCH_SENDERS:
                    batches = _in_workers(jobs, now, workers, out.dialect.name == "postgresql")
                else:
                    batches = (_transform(job, now) for job in jobs)
                for batch in batches:
                    _write(out, batch, result)
                    touched |= batch.days
        rollups.rebuild(out, None if full else touched)
        out.execute(delete(models.state).where(models.state.c.name == models.WATERMARK))
        out.execute(models.state.insert().values(name=models.WATERMARK, value=float(result.watermark)))
    result.seconds = monotonic() - started
    logger.info("analytics ETL: %d events, %d senders, %d conversations in %.1f s (%.0f events/s)",
                result.events, result.senders, result.conversations, result.seconds, result.events_per_second)
    return result


def _watermark(out: Connection) -> int:
    value = out.scalar(select(models.state.c.value).where(models.state.c.name == models.WATERMARK))
    return int(value or 0)


def _changed_senders(src: Connection, out: Connection, low: int, high: int) -> Changed:
    """Each sender to reload: the time of its earliest new event (infinity: only an open conversation) and
    the id of its first new event (or of its open conversation)."""
    changed = {sender: (ts, id_) for sender, ts, id_ in src.execute(
        select(EVENTS.c.sender_id, func.min(EVENTS.c.timestamp), func.min(EVENTS.c.id))
        .where(EVENTS.c.id > low, EVENTS.c.id <= high, EVENTS.c.timestamp.isnot(None))
        .group_by(EVENTS.c.sender_id))}
    still_open = out.scalars(select(models.conversations.c.id)
                             .where(models.conversations.c.outcome == "open")).all()
    for ids in _chunks(still_open):
        for sender, id_ in src.execute(select(EVENTS.c.sender_id, EVENTS.c.id).where(EVENTS.c.id.in_(ids))):
            changed.setdefault(sender, (math.inf, id_))
    return changed


def _jobs(src: Connection, out: Connection, changed: Changed, high: int, touched: set[date]) -> Iterator[Job]:
    """For each batch of senders: forget their continued conversations (adding their days to `touched`),
    read their events from there.

    Senders go in the order of their first new event, so that a batch's events lie close together in the
    table (a store's events are written in time order)."""
    senders = sorted(changed, key=lambda s: changed[s][1])
    for start in range(0, len(senders), BATCH_SENDERS):
        earliest = {s: changed[s][0] for s in senders[start:start + BATCH_SENDERS]}
        restart = _forget_continued(out, earliest, touched)
        query = (select(EVENTS.c.sender_id, EVENTS.c.id, EVENTS.c.type_name, EVENTS.c.timestamp,
                        EVENTS.c.action_name, EVENTS.c.data)
                 .where(EVENTS.c.sender_id.in_(list(earliest)), EVENTS.c.id <= high,
                        EVENTS.c.timestamp.isnot(None))
                 .order_by(EVENTS.c.sender_id, EVENTS.c.id))
        if all(restart.get(s) is not None for s in earliest):
            query = query.where(EVENTS.c.timestamp >= min(restart.values()))
        rows = src.execution_options(stream_results=True).execute(query)
        job: Job = []
        for sender, group in groupby(rows, key=lambda row: row[0]):
            since = restart.get(sender, -math.inf)
            job.append((sender, [tuple(row[1:]) for row in group if row[3] >= since]))
        yield job


def _transform(job: Job, now: datetime, as_copy: bool = False) -> _Batch:
    """Rows for every session of every sender in the job (pure: runs in a worker process)."""
    batch = _Batch()
    for sender, rows in job:
        events = []
        for row in rows:
            if row[3] == LISTEN:  # bookkeeping that nothing counts: dropped before the costly steps
                continue
            event = _event(row)
            batch.skipped += event is None
            if event is not None:
                events.append(event)
        batch.events += len(rows)
        parts = conv.split_sessions(events)
        for index, part in enumerate(parts):
            batch.add(session_rows(part, sender_id=sender, now=now, closed=index < len(parts) - 1))
    if as_copy:
        batch.copy = {t.name: copy_text(t, batch.tables[t.name]) for t in TABLES}
        batch.tables = {}
    return batch


def _in_workers(jobs: Iterator[Job], now: datetime, workers: int, as_copy: bool) -> Iterator[_Batch]:
    """The jobs' batches in order, transformed by worker processes while the next jobs are read."""
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        pending: deque[Future[_Batch]] = deque()
        for job in jobs:
            pending.append(pool.submit(_transform, job, now, as_copy))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _write(out: Connection, batch: _Batch, result: EtlResult) -> None:
    for table in TABLES:
        if batch.copy is None:
            insert_rows(out, table, batch.tables[table.name])
        elif batch.copy[table.name]:
            _copy(out, table, batch.copy[table.name])
    result.events += batch.events
    result.skipped += batch.skipped
    result.conversations += batch.conversations


def _forget_continued(out: Connection, earliest: dict[str, float], touched: set[date]) -> dict[str, float]:
    """Delete each sender's stored conversations from the one its new events continue (adding their days to
    `touched`); return where each sender's reload starts (absent: from its first event)."""
    keys = {sender_key(sender): sender for sender in earliest}
    stored = out.execute(select(models.conversations.c.sender_key, models.conversations.c.id,
                                models.conversations.c.start_ts, models.conversations.c.day)
                         .where(models.conversations.c.sender_key.in_(list(keys)))).all()
    restart: dict[str, float] = {}
    for key, _, start, _ in stored:
        sender = keys[key]
        if start <= earliest[sender]:
            restart[sender] = max(restart.get(sender, start), start)
    gone = [(id_, day) for key, id_, start, day in stored
            if keys[key] not in restart or start >= restart[keys[key]]]
    touched.update(day for _, day in gone)
    forgotten = [id_ for id_, _ in gone]
    for ids in _chunks(forgotten):
        for table in models.CHILDREN:
            out.execute(delete(table).where(table.c.conversation_id.in_(ids)))
        out.execute(delete(models.conversations).where(models.conversations.c.id.in_(ids)))
    return restart


def _event(row: tuple[Any, ...]) -> dict[str, Any] | None:
    """The event as `bot.conversations` reads it; the JSON is parsed only where analytics needs it."""
    id_, kind, timestamp, action, data = row
    if kind == "action":
        return {"event": "action", "name": action, "timestamp": timestamp, "_id": id_}
    if kind not in PARSED_TYPES:
        return {"event": kind, "timestamp": timestamp, "_id": id_}
    try:
        event = json.loads(data)
    except (TypeError, ValueError):
        return None
    if not isinstance(event, dict):
        return None
    event.update(event=kind, timestamp=timestamp, _id=id_)
    return event


def _chunks(values: Sequence[Any], size: int = BATCH_SENDERS) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def insert_rows(out: Connection, table: Table, rows: Iterable[dict[str, Any]]) -> None:
    """Insert many rows: COPY on PostgreSQL, executemany elsewhere."""
    rows = list(rows)
    if not rows:
        return
    if out.dialect.name == "postgresql":
        _copy(out, table, copy_text(table, rows))
    else:
        out.execute(table.insert(), rows)


def copy_text(table: Table, rows: Iterable[dict[str, Any]]) -> str:
    """Rows in PostgreSQL's COPY text format, columns in the table's order."""
    columns = [c.name for c in table.columns]
    return "".join("\t".join([_copy_value(row.get(c)) for c in columns]) + "\n" for row in rows)


def _copy(out: Connection, table: Table, text: str) -> None:
    names = ", ".join(f'"{c.name}"' for c in table.columns)
    with out.connection.cursor() as cursor:
        cursor.copy_expert(f'COPY "{table.name}" ({names}) FROM STDIN', io.StringIO(text))


def _copy_value(value: Any) -> str:
    """A value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    kind = type(value)
    if kind is bool:
        return "t" if value else "f"
    if kind is float:
        return repr(value)
    text = value if kind is str else str(value)
    return text.translate(COPY_ESCAPES) if COPY_SPECIAL.search(text) else text


def refresh(settings: Settings, *, now: datetime | None = None, full: bool = False) -> EtlResult:
    """The ETL from the configured tracker store into the Tandem database (`tandem analytics etl`)."""
    source, target = tracker_engine(settings.tracker_store), make_engine(settings.db_url)
    try:
        return run(source, target, now=now, full=full)
    finally:
        source.dispose()
        target.dispose()
