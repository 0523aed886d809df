"""The service's numbers over a scope: KPIs with daily series, escalation reasons, intents, transcripts.

Definitions are in docs/analytics.md. Rates and averages are over closed conversations (any outcome but
`open`); every query reads one analytics table and groups in the database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from bot.analytics.models import conversations as conv
from bot.analytics.models import intent_days, turns
from bot.analytics.rollups import count_where
from bot.analytics.scope import Scope

SUMS = ("conversations", "open", "resolved", "escalated", "abandoned", "closed", "turns", "fallbacks",
        "duration_s", "escalation_s", "escalations_timed", "improved", "worsened", "with_emotion",
        "nps_sum", "nps_n", "csat_n", "csat_satisfied", "csat_sum", "handed_back", "outage_conversations")


def kpis(conn: Connection, scope: Scope) -> dict[str, Any]:
    """Totals and a daily series (every day of the scope, empty days included) of every KPI."""
    rows = conn.execute(
        select(conv.c.day, conv.c.outcome, func.count(), func.sum(conv.c.turns), func.sum(conv.c.fallbacks),
               func.sum(conv.c.duration_s), func.sum(conv.c.time_to_escalation_s),
               func.count(conv.c.time_to_escalation_s), count_where(conv.c.trajectory == 1),
               count_where(conv.c.trajectory == -1), func.count(conv.c.trajectory), func.sum(conv.c.nps),
               func.count(conv.c.nps), func.count(conv.c.csat), count_where(conv.c.csat >= 4),
               func.sum(conv.c.csat), count_where(conv.c.handed_back), count_where(conv.c.outages > 0))
        .where(*scope.where(conv)).group_by(conv.c.day, conv.c.outcome)).all()
    days: dict[date, dict[str, float]] = defaultdict(lambda: dict.fromkeys(SUMS, 0))
    for day, outcome, count, *sums in rows:
        totals = days[day]
        totals["conversations"] += count
        totals[outcome] = totals.get(outcome, 0) + count
        if outcome == "open":
            continue
        totals["closed"] += count
        for name, value in zip(SUMS[6:], sums, strict=True):
            totals[name] += value or 0
    total = dict.fromkeys(SUMS, 0)
    for sums in days.values():
        for name in SUMS:
            total[name] += sums[name]
    return {"totals": _rates(total),
            "daily": [{"day": day.isoformat(), **_rates(days.get(day, dict.fromkeys(SUMS, 0)))}
                      for day in _days(scope, days)]}


def _rates(s: Mapping[str, float]) -> dict[str, Any]:
    """KPIs from sums; None where nothing was measured."""
    def share(part: float, whole: float) -> float | None:
        return part / whole if whole else None

    closed = s["closed"]
    return {
        "conversations": int(s["conversations"]), "open": int(s["open"]), "closed": int(closed),
        "contained": int(s["resolved"]), "containment_rate": share(s["resolved"], closed),
        "escalated": int(s["escalated"]), "escalation_rate": share(s["escalated"], closed),
        "abandoned": int(s["abandoned"]), "abandonment_rate": share(s["abandoned"], closed),
        "fallback_rate": share(s["fallbacks"], s["turns"]),
        "avg_turns": share(s["turns"], closed), "avg_duration_s": share(s["duration_s"], closed),
        "avg_time_to_escalation_s": share(s["escalation_s"], s["escalations_timed"]),
        "improved_share": share(s["improved"], s["with_emotion"]),
        "worsened_share": share(s["worsened"], s["with_emotion"]),
        "nps": None if not s["nps_n"] else 100 * s["nps_sum"] / s["nps_n"],
        "csat_responses": int(s["csat_n"]), "csat": share(s["csat_satisfied"], s["csat_n"]),
        "csat_mean": share(s["csat_sum"], s["csat_n"]),
        "handed_back": int(s["handed_back"]), "outage_conversations": int(s["outage_conversations"]),
    }


def _days(scope: Scope, seen: Iterable[date]) -> list[date]:
    """Every day from the scope's start (or the first day seen) to its end (or the last day seen)."""
    seen = sorted(seen)
    first = scope.since or (seen[0] if seen else None)
    last = scope.until or (seen[-1] if seen else None)
    if first is None or last is None or last < first:
        return []
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def escalation_reasons(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """Escalations by their first reason: count, rate over closed conversations and a daily series."""
    closed = conn.scalar(select(func.count()).where(*scope.where(conv), conv.c.outcome != "open")) or 0
    rows = conn.execute(
        select(conv.c.escalation_reason, conv.c.day, func.count())
        .where(*scope.where(conv), conv.c.outcome == "escalated")
        .group_by(conv.c.escalation_reason, conv.c.day)).all()
    reasons: dict[str, dict[str, Any]] = {}
    for reason, day, count in rows:
        entry = reasons.setdefault(reason, {"reason": reason, "conversations": 0, "daily": {}})
        entry["conversations"] += count
        entry["daily"][day.isoformat()] = count
    for entry in reasons.values():
        entry["rate"] = entry["conversations"] / closed if closed else None
    return sorted(reasons.values(), key=lambda r: (-r["conversations"], r["reason"]))


def intents(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """Each intent's messages and conversations, with the containment and escalation rates of the latter."""
    days = intent_days.c
    rows = conn.execute(
        select(days.intent, *(func.sum(column) for column in (days.messages, days.conversations, days.closed,
                                                              days.resolved, days.escalated, days.abandoned)))
        .where(*scope.where(intent_days)).group_by(days.intent)).all()
    return sorted(({"intent": intent, "messages": int(messages), "conversations": int(convs),
                    "containment_rate": contained / closed if closed else None,
                    "escalation_rate": escalated / closed if closed else None,
                    "abandonment_rate": abandoned / closed if closed else None}
                   for intent, messages, convs, closed, contained, escalated, abandoned in rows),
                  key=lambda i: (-i["messages"], i["intent"]))


def channels(conn: Connection) -> list[str]:
    """Every channel analytics has seen."""
    return list(conn.scalars(select(conv.c.channel).distinct().order_by(conv.c.channel)))


def transcript(conn: Connection, conversation_id: int) -> dict[str, Any] | None:
    """One conversation's facts and its turns (masked), for drill-down; None when unknown."""
    row = conn.execute(select(conv).where(conv.c.id == conversation_id)).mappings().first()
    if row is None:
        return None
    found = conn.execute(select(turns).where(turns.c.conversation_id == conversation_id)
                         .order_by(turns.c.position)).mappings().all()
    return {**_plain(row), "transcript": [_plain(t) for t in found]}


def _plain(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row as JSON-ready values: dates and times in ISO format."""
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in row.items() if k != "sender_key"}
