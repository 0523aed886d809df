"""Daily roll-ups of the detail tables: what the dashboard's process and intent views read.

At 100,000 conversations the steps and turns tables hold millions of rows; their sums per day, channel and
step (or intent) hold a few thousand a month, whatever the traffic. The ETL rebuilds the days it touched.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

from sqlalchemy import Table, case, delete, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

from bot.analytics.models import intent_days, step_days, steps, turns

DAYS_PER_STATEMENT = 300  # well under SQLite's limit of bound parameters
LOST = or_(steps.c.escalated_after, steps.c.abandoned_after, steps.c.fallback_after)  # any loss after a step


def count_where(condition: Any) -> Any:
    """The number of rows where `condition` holds."""
    return func.sum(case((condition, 1), else_=0))


def _step_sums() -> Select:
    keys = (steps.c.day, steps.c.channel, steps.c.step, steps.c.kind, steps.c.next_step)
    flags = (steps.c.first, steps.c.escalated_after, steps.c.abandoned_after, steps.c.fallback_after, LOST)
    return select(*keys, func.count(), *(count_where(flag) for flag in flags)).group_by(*keys)


def _intent_sums() -> Select:
    first = turns.c.first_of_intent
    keys = (turns.c.day, turns.c.channel, turns.c.intent)
    outcomes = (turns.c.outcome == o for o in ("resolved", "escalated", "abandoned"))
    flags = (first, first & (turns.c.outcome != "open"), *(first & outcome for outcome in outcomes))
    return (select(*keys, func.count(), *(count_where(flag) for flag in flags))
            .where(turns.c.intent.isnot(None)).group_by(*keys))


SOURCES: dict[Table, tuple[Table, Select]] = {  # each roll-up: the detail table it sums, and how
    step_days: (steps, _step_sums()),
    intent_days: (turns, _intent_sums()),
}


def rebuild(out: Connection, days: Collection[date] | None = None) -> None:
    """Sum the detail rows of `days` (None: every day) into the roll-ups, replacing what they held."""
    ordered = sorted(days) if days is not None else None
    chunks = [None] if ordered is None else \
        [ordered[start:start + DAYS_PER_STATEMENT] for start in range(0, len(ordered), DAYS_PER_STATEMENT)]
    for chunk in chunks:
        for rollup, (detail, sums) in SOURCES.items():
            out.execute(delete(rollup).where(*_on(rollup, chunk)))
            out.execute(rollup.insert().from_select([c.name for c in rollup.columns],
                                                    sums.where(*_on(detail, chunk))))


def _on(table: Table, days: list[date] | None) -> list[Any]:
    return [] if days is None else [table.c.day.in_(days)]
