"""Process mining over the analytics steps: the directly-follows graph, bottlenecks and loops.

A step is a customer intent or a bot action (docs/analytics.md). A loop is a run of steps that repeats back
to back (A B A B); a bottleneck is a step after which conversations are lost: escalated, abandoned, or the
next message not understood. Bottlenecks are ranked by the conversations they cost. The graph and the
bottlenecks are summed from the daily roll-up of steps; only the example conversations come from the steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from bot.analytics.models import loops as loops_table
from bot.analytics.models import step_days, steps
from bot.analytics.rollups import LOST
from bot.analytics.scope import Scope

Step = tuple[str, str]  # name, kind
MAX_LOOP_STEPS = 6  # the longest run of steps that counts as one loop
EXAMPLES = 5  # example conversations per bottleneck


def find_loops(sequence: Sequence[Step], offset: int = 0,
               max_steps: int = MAX_LOOP_STEPS) -> list[tuple[int, tuple[str, ...], int]]:
    """(position, loop, repeats) for each run of steps repeated back to back, shortest loop first.

    A loop is written from a customer step when it has one (rotations are the same loop)."""
    found = []
    index = 0
    while index < len(sequence):
        loop = _loop_at(sequence, index, max_steps)
        if loop is None:
            index += 1
            continue
        segment, repeats = loop
        found.append((index + offset, _canonical(segment), repeats))
        index += len(segment) * repeats
    return found


def _loop_at(sequence: Sequence[Step], index: int, max_steps: int) -> tuple[Sequence[Step], int] | None:
    for size in range(1, max_steps + 1):
        if index + 2 * size > len(sequence):
            return None
        if sequence[index + size] != sequence[index]:  # cheap test first: most positions start no loop
            continue
        segment = sequence[index:index + size]
        repeats = 1
        while sequence[index + repeats * size:index + (repeats + 1) * size] == segment:
            repeats += 1
        if repeats >= 2 and not _periodic(segment):
            return segment, repeats
    return None


def _periodic(segment: Sequence[Step]) -> bool:
    """Whether the segment is itself a shorter segment repeated."""
    size = len(segment)
    return any(size % p == 0 and list(segment) == list(segment[:p]) * (size // p) for p in range(1, size))


def _canonical(segment: Sequence[Step]) -> tuple[str, ...]:
    rotations = [list(segment[k:]) + list(segment[:k]) for k in range(len(segment))]
    best = min(rotations, key=lambda r: (r[0][1] != "user", [name for name, _ in r]))
    return tuple(name for name, _ in best)


def graph(conn: Connection, scope: Scope, max_nodes: int = 40) -> dict[str, Any]:
    """Nodes (steps with visits, conversations and the loss rates after them) and directly-follows edges.

    The `max_nodes` steps most conversations pass through are kept, with the start and the outcomes."""
    days = step_days.c
    rows = conn.execute(
        select(days.step, days.kind, days.next_step,
               *(func.sum(column) for column in (days.visits, days.conversations, days.escalated_after,
                                                 days.abandoned_after, days.fallback_after, days.lost)))
        .where(*scope.where(step_days)).group_by(days.step, days.kind, days.next_step)).all()
    sums: dict[tuple[str, str], list[int]] = {}  # one scan: nodes are the sums of their outgoing edges
    for step, kind, _, *counts in rows:
        total = sums.setdefault((step, kind), [0] * len(counts))
        for index, count in enumerate(counts):
            total[index] += int(count or 0)
    nodes = {step: _node(step, kind, *counts) for (step, kind), counts in sums.items()}
    edge_rows = [(step, target, count) for step, _, target, count, *_ in rows]
    kept = sorted((n for n in nodes.values() if n["kind"] != "start"),
                  key=lambda n: (-n["conversations"], n["step"]))[:max_nodes]
    keep = {n["step"] for n in kept} | {n["step"] for n in nodes.values() if n["kind"] == "start"}
    for _, target, count in edge_rows:
        if target not in nodes:  # an outcome: where conversations end
            outcome = nodes.setdefault(target, _node(target, "end", 0, 0, 0, 0, 0, 0))
            outcome["visits"] += count
            outcome["conversations"] += count
            keep.add(target)
    edges = [{"source": source, "target": target, "count": count} for source, target, count in edge_rows
             if source in keep and target in keep]
    return {"nodes": sorted((nodes[s] for s in keep), key=lambda n: (-n["conversations"], n["step"])),
            "edges": sorted(edges, key=lambda e: (-e["count"], e["source"], e["target"]))}


def _node(step: str, kind: str, visits: int, conversations: int, escalated: int, abandoned: int,
          fallback: int, lost: int) -> dict[str, Any]:
    """A step with its conversations and those lost right after it (any way, and each way)."""
    conversations = int(conversations or 0)

    def rate(count: int | None) -> float | None:
        return round(int(count or 0) / conversations, 4) if conversations else None

    return {"step": step, "kind": kind, "visits": int(visits), "conversations": conversations,
            "lost": int(lost or 0), "escalated_after": int(escalated or 0),
            "abandoned_after": int(abandoned or 0), "fallback_after": int(fallback or 0),
            "loss_rate": rate(lost), "escalation_rate": rate(escalated), "abandonment_rate": rate(abandoned),
            "fallback_rate": rate(fallback)}


def bottlenecks(conn: Connection, scope: Scope, limit: int = 10) -> list[dict[str, Any]]:
    """The steps that cost the most conversations (volume × loss rate), each with example conversations."""
    days = step_days.c
    conversations, lost = func.sum(days.conversations), func.sum(days.lost)
    rows = conn.execute(
        select(days.step, days.kind, conversations, conversations, func.sum(days.escalated_after),
               func.sum(days.abandoned_after), func.sum(days.fallback_after), lost)
        .where(*scope.where(step_days)).group_by(days.step, days.kind)
        .having(lost > 0).order_by(lost.desc(), days.step).limit(limit)).all()
    ranked = [{**_node(*row), "examples": []} for row in rows]
    if ranked:
        where = [*scope.where(steps), steps.c.first]
        number = func.row_number().over(partition_by=steps.c.step,
                                        order_by=steps.c.conversation_id.desc()).label("number")
        examples = (select(steps.c.step, steps.c.conversation_id, number)
                    .where(*where, LOST, steps.c.step.in_([b["step"] for b in ranked])).subquery())
        by_step = {b["step"]: b for b in ranked}
        for step, conversation_id, _ in conn.execute(
                select(examples).where(examples.c.number <= EXAMPLES)
                .order_by(examples.c.step, examples.c.number)):
            by_step[step]["examples"].append(conversation_id)
    return ranked


def common_loops(conn: Connection, scope: Scope, limit: int = 10) -> list[dict[str, Any]]:
    """The loops most conversations went round, with how often and an example conversation."""
    table = loops_table
    conversations = func.count(table.c.conversation_id.distinct())
    rows = conn.execute(
        select(table.c.loop, conversations, func.sum(table.c.repeats), func.max(table.c.repeats),
               func.max(table.c.conversation_id))
        .where(*scope.where(table)).group_by(table.c.loop)
        .order_by(conversations.desc(), table.c.loop).limit(limit)).all()
    return [{"loop": loop.split(" → "), "conversations": int(count), "repeats": int(total),
             "max_repeats": int(most), "example": example} for loop, count, total, most, example in rows]
