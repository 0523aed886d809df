"""One conversation session's events as analytics rows: the conversation, its turns, steps and loops.

Pure: the session's facts come from `bot.conversations.summarize`; this adds what analytics counts on top
(escalation reasons, hand-back, CSAT, per-turn detail, the step sequence). Text is masked on the way in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot import conversations as conv
from bot.analytics.process import find_loops
from bot.escalation import ESCALATION_SLOT
from bot.masking import mask

Row = dict[str, Any]
NEGATIVE_EMOTIONS = frozenset({"anger", "disgust", "sadness", "fear"})
TRAJECTORY_MARGIN = 0.2  # the sentiment change that counts as ending better (or worse) than it started
CSAT_SLOT = "csat"
OUTAGE_SLOT = "service_unavailable"
TICKET_SLOT = "handoff_ticket"
START_STEP = "(start)"
MAX_TEXT = 1000


@dataclass
class SessionRows:
    """Rows for the analytics tables from one session; no conversation when the customer never spoke."""

    conversation: Row | None = None
    turns: list[Row] = field(default_factory=list)
    steps: list[Row] = field(default_factory=list)
    loops: list[Row] = field(default_factory=list)


def sender_key(sender_id: str) -> str:
    """A stable key for a sender that does not reveal it."""
    return hashlib.sha256(sender_id.encode()).hexdigest()[:32]


def session_rows(events: Sequence[Mapping[str, Any]], *, sender_id: str, now: datetime,
                 closed: bool) -> SessionRows:
    """The rows of one session (events in order, each with its tracker row id under `_id`)."""
    session = conv.summarize(events, sender_id=sender_id, now=now, closed=closed)
    if not session.turns:
        return SessionRows()
    start_ts = events[0]["timestamp"]
    turns = _turns(events)
    facts = {"day": session.started.date(), "channel": session.channel or "unknown",
             "outcome": session.outcome}
    moods = [t for t in turns if t["sentiment"] is not None]
    first, last = (moods[0], moods[-1]) if moods else ({}, {})
    reasons = _escalation_reasons(events) if session.outcome == "escalated" else []
    escalated_at = _escalated_at(events) if session.outcome == "escalated" else None
    frustrations = [t["frustration"] for t in turns if t["frustration"] is not None]
    conversation = {
        "id": events[0]["_id"], "sender_key": sender_key(sender_id), "sender": mask(sender_id)[:255],
        "start_ts": start_ts, "started_at": session.started, "ended_at": session.ended, **facts,
        "duration_s": events[-1]["timestamp"] - start_ts, "turns": session.turns,
        "intents": " ".join(session.intents), "first_intent": session.intents[0] if session.intents else None,
        "escalation_reason": (reasons or ["unspecified"])[0] if session.outcome == "escalated" else None,
        "escalation_reasons": " ".join(reasons) or None,
        "time_to_escalation_s": None if escalated_at is None else escalated_at - start_ts,
        "handed_back": _handed_back(events), "fallbacks": session.fallbacks,
        "outages": sum(1 for e in events if _slot(e, OUTAGE_SLOT) is True),
        "emotion_start": session.emotion_start, "emotion_end": session.emotion_end,
        "sentiment_start": first.get("sentiment"), "sentiment_end": last.get("sentiment"),
        "peak_frustration": max(frustrations) if frustrations else None,
        "trajectory": _trajectory(first.get("sentiment"), last.get("sentiment")),
        "nps": _nps(session.emotion_end), "csat": _csat(events),
    }
    steps = _steps(events, turns, session.outcome)
    conversation_id = conversation["id"]
    return SessionRows(
        conversation,
        [{"conversation_id": conversation_id, **facts, **turn} for turn in turns],
        [{"conversation_id": conversation_id, **facts, **step} for step in steps],
        [{"conversation_id": conversation_id, **facts, "position": position, "loop": " → ".join(loop),
          "repeats": repeats} for position, loop, repeats in find_loops(
              [(s["step"], s["kind"]) for s in steps[1:]], offset=1)],
    )


# --- turns ----------------------------------------------------------------------------------


def _turns(events: Sequence[Mapping[str, Any]]) -> list[Row]:
    """One row per customer message, with what the bot did until the next one."""
    turns: list[Row] = []
    seen: set[str | None] = set()
    for event in events:
        kind = event.get("event")
        if kind == "user":
            parsed = conv._dict(event.get("parse_data"))
            intent = conv._dict(parsed.get("intent"))
            emotion = conv._dict(parsed.get("emotion"))
            name = conv._text(intent.get("name"))
            sentiment = conv._number(emotion.get("sentiment"))
            turns.append({
                "position": len(turns), "at": conv._utc(event["timestamp"]), "intent": name,
                "confidence": conv._number(intent.get("confidence")), "first_of_intent": name not in seen,
                "emotion": conv._text(emotion.get("label")),
                "sentiment": None if sentiment is None else max(-1.0, min(1.0, sentiment)),
                "frustration": None, "decision": None, "fallback": name == conv.FALLBACK_INTENT,
                "actions": [], "text": _masked(event.get("text")), "answer": [],
            })
            seen.add(name)
        elif not turns:
            continue
        elif kind == "action":
            action = conv._action(event)
            if action is None or action in conv.BOOKKEEPING_ACTIONS:
                continue
            turn = turns[-1]
            if not turn["actions"] and action in conv.FALLBACK_ACTIONS:
                turn["fallback"] = True
            turn["actions"].append(action)
        elif kind == "bot":
            turns[-1]["answer"].append(_masked(event.get("text")))
        elif isinstance(decision := _slot(event, ESCALATION_SLOT), Mapping):
            turns[-1]["frustration"] = conv._number(decision.get("frustration"))
            turns[-1]["decision"] = conv._text(decision.get("decision"))
    for turn in turns:
        turn["actions"] = " ".join(turn["actions"])
        turn["answer"] = "\n".join(a for a in turn["answer"] if a)[:MAX_TEXT]
    return turns


# --- steps ----------------------------------------------------------------------------------


def _steps(events: Sequence[Mapping[str, Any]], turns: Sequence[Row], outcome: str) -> list[Row]:
    """The service process as steps (intents and actions) with what directly followed each.

    Outcome flags sit on a step's first occurrence: escalated_after (the handoff came next), abandoned_after
    (the conversation was abandoned right after it), fallback_after (the next customer message was not
    understood)."""
    names: list[tuple[str, str]] = [(START_STEP, "start")]
    fallback_at: set[int] = set()  # step indexes of customer messages that were fallbacks
    escalation_at: int | None = None  # the step index the escalation came after
    user_turn = 0
    for event in events:
        kind = event.get("event")
        action = conv._action(event) if kind == "action" else None
        if kind == "user":
            if turns[user_turn]["fallback"]:
                fallback_at.add(len(names))
            names.append((turns[user_turn]["intent"] or "(unknown)", "user"))
            user_turn += 1
        elif action and action not in conv.BOOKKEEPING_ACTIONS:
            if action == conv.HANDOFF_ACTION and escalation_at is None:
                escalation_at = len(names) - 1
            names.append((action, "bot"))
        elif kind == "pause" and escalation_at is None:
            escalation_at = len(names) - 1
    first: dict[str, int] = {}
    rows: list[Row] = []
    for index, (name, kind) in enumerate(names):
        row = {"position": index, "step": name[:120], "kind": kind,
               "next_step": (names[index + 1][0] if index + 1 < len(names) else f"({outcome})")[:120],
               "first": name not in first, "escalated_after": False, "abandoned_after": False,
               "fallback_after": False}
        owner = row if row["first"] else rows[first[name]]
        first.setdefault(name, index)
        owner["escalated_after"] |= outcome == "escalated" and index == escalation_at
        owner["abandoned_after"] |= outcome == "abandoned" and index == len(names) - 1
        owner["fallback_after"] |= index + 1 in fallback_at
        rows.append(row)
    return rows


# --- session facts --------------------------------------------------------------------------


def _slot(event: Mapping[str, Any], name: str) -> Any:
    """The value a slot event sets when it sets `name`, else None."""
    return event.get("value") if event.get("event") == "slot" and event.get("name") == name else None


def _escalation_reasons(events: Sequence[Mapping[str, Any]]) -> list[str]:
    """The reason names of the first escalate decision, triggers first (as the policy lists them)."""
    for event in events:
        decision = _slot(event, ESCALATION_SLOT)
        if isinstance(decision, Mapping) and decision.get("decision") == "escalate":
            reasons = decision.get("reasons") if isinstance(decision.get("reasons"), list) else []
            return [name for name in (conv._text(conv._dict(r).get("name")) for r in reasons) if name]
    return []


def _escalated_at(events: Sequence[Mapping[str, Any]]) -> float | None:
    """When the conversation went to a person: the handoff action, a pause, or the ticket slot."""
    return next((e["timestamp"] for e in events if conv._action(e) == conv.HANDOFF_ACTION
                 or e.get("event") == "pause" or conv._positive_int(_slot(e, TICKET_SLOT))), None)


def _handed_back(events: Sequence[Mapping[str, Any]]) -> bool:
    """An agent gave the conversation back to the bot: a `resume` after a `pause`."""
    paused = False
    for event in events:
        paused = paused or event.get("event") == "pause"
        if paused and event.get("event") == "resume":
            return True
    return False


def _csat(events: Sequence[Mapping[str, Any]]) -> int | None:
    """The last satisfaction score (1-5) the customer gave in the session."""
    scores = [_score(_slot(e, CSAT_SLOT)) for e in events if e.get("event") == "slot"]
    valid = [s for s in scores if s is not None]
    return valid[-1] if valid else None


def _score(value: Any) -> int | None:
    """A rating of 1-5 as a number or as text ("4", from a typed answer); None for anything else."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    score = conv._positive_int(value)
    return score if score is not None and score <= 5 else None


def _trajectory(start: float | None, end: float | None) -> int | None:
    if start is None or end is None:
        return None
    change = end - start
    return 1 if change >= TRAJECTORY_MARGIN else -1 if change <= -TRAJECTORY_MARGIN else 0


def _nps(emotion_end: str | None) -> int | None:
    """Promoter (+1) when the customer ends joyful, detractor (-1) when they end negative, else passive."""
    if emotion_end is None:
        return None
    return 1 if emotion_end == "joy" else -1 if emotion_end in NEGATIVE_EMOTIONS else 0


def _masked(value: Any) -> str:
    return mask(value[:MAX_TEXT]) if isinstance(value, str) else ""
