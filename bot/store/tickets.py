"""Handoff tickets and the team's presence: opening a ticket, its place in the queue, the expected wait."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from bot.store.models import FOLLOW_UPS, Agent, HandoffTicket, TicketNote

PRESENCE_TIMEOUT = timedelta(minutes=2)  # an agent's console sends a heartbeat more often than this
HANDLING_WINDOW = timedelta(days=30)
DEFAULT_HANDLING_MINUTES = 6.0  # until the team has closed tickets to measure
MAX_SUMMARY_LENGTH = 4000


@dataclass(frozen=True)
class TicketView:
    id: int
    sender_id: str
    channel: str
    priority: int
    status: str
    reasons: tuple[dict[str, Any], ...]
    follow_up: str | None
    created_at: datetime
    customer_id: int | None = None
    frustration: float | None = None
    contact: str | None = None
    summary: str = ""
    claimed_by: int | None = None
    claimed_at: datetime | None = None
    closed_at: datetime | None = None


@dataclass(frozen=True)
class Wait:
    """Where a ticket stands: tickets ahead of it, agents online, and the honest expected minutes."""

    ahead: int
    agents_online: int
    minutes: int | None  # None: nobody is online to take it


def _view(ticket: HandoffTicket) -> TicketView:
    return TicketView(ticket.id, ticket.sender_id, ticket.channel, ticket.priority, ticket.status,
                      tuple(json.loads(ticket.reasons or "[]")), ticket.follow_up, ticket.created_at,
                      ticket.customer_id, ticket.frustration, ticket.contact, ticket.summary,
                      ticket.claimed_by, ticket.claimed_at, ticket.closed_at)


def create_ticket(s: Session, *, sender_id: str, channel: str, reasons: Sequence[dict[str, Any]],
                  summary: str, priority: int = 3, customer_id: int | None = None,
                  frustration: float | None = None, now: datetime) -> TicketView:
    """Open a ticket for a human agent (priority 1 urgent .. 4 low); `reasons` are {name, value} dicts."""
    if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 4:
        raise ValueError(f"priority must be an int from 1 to 4, not {priority!r}")
    if not all(isinstance(value, str) and value.strip() for value in (sender_id, channel, summary)):
        raise ValueError("sender_id, channel and summary must be non-empty strings")
    names = [str(r.get("name")) for r in reasons if isinstance(r, dict)]
    ticket = HandoffTicket(
        sender_id=sender_id, channel=channel, reason=", ".join(names)[:255] or "unknown",
        reasons=json.dumps(list(reasons), default=str), summary=summary[:MAX_SUMMARY_LENGTH],
        priority=priority, customer_id=customer_id, frustration=frustration, status="open", created_at=now)
    s.add(ticket)
    s.flush()
    return _view(ticket)


def active_ticket(s: Session, sender_id: str) -> TicketView | None:
    """The conversation's ticket that is still open or with an agent, if any."""
    stmt = (select(HandoffTicket).where(HandoffTicket.sender_id == sender_id,
                                        HandoffTicket.status.in_(("open", "claimed")))
            .order_by(HandoffTicket.id.desc()).limit(1))
    ticket = s.execute(stmt).scalar_one_or_none()
    return None if ticket is None else _view(ticket)


def open_ticket_count(s: Session) -> int:
    """Tickets still waiting for an agent."""
    stmt = select(func.count()).select_from(HandoffTicket).where(HandoffTicket.status == "open")
    return s.execute(stmt).scalar_one()


def agents_online(s: Session, now: datetime) -> int:
    """Agents whose console says online and has been heard from within the presence timeout."""
    stmt = select(func.count()).select_from(Agent).where(Agent.presence == "online",
                                                        Agent.last_seen_at >= now - PRESENCE_TIMEOUT)
    return s.execute(stmt).scalar_one()


def handling_minutes(s: Session, now: datetime) -> float:
    """Mean minutes from claim to close over the last 30 days; a default until there is history."""
    stmt = select(HandoffTicket.claimed_at, HandoffTicket.closed_at).where(
        HandoffTicket.closed_at.is_not(None), HandoffTicket.claimed_at.is_not(None),
        HandoffTicket.closed_at >= now - HANDLING_WINDOW)
    durations = [(closed - claimed).total_seconds() / 60 for claimed, closed in s.execute(stmt)
                 if closed >= claimed]
    return sum(durations) / len(durations) if durations else DEFAULT_HANDLING_MINUTES


def wait_for(s: Session, ticket: TicketView, now: datetime) -> Wait:
    """Open tickets served before this one (higher priority, or same and older) and the expected wait.

    With n agents online each taking the next ticket, this one is picked up after ⌊ahead / n⌋ rounds of
    the mean handling time.
    """
    ahead = s.execute(select(func.count()).select_from(HandoffTicket).where(
        HandoffTicket.status == "open", HandoffTicket.id != ticket.id,
        or_(HandoffTicket.priority < ticket.priority,
            and_(HandoffTicket.priority == ticket.priority, HandoffTicket.created_at <= ticket.created_at)),
    )).scalar_one()
    online = agents_online(s, now)
    if not online:
        return Wait(ahead, 0, None)
    return Wait(ahead, online, math.ceil((ahead // online) * handling_minutes(s, now)))


def ticket(s: Session, ticket_id: int) -> TicketView | None:
    """One ticket by id."""
    row = s.get(HandoffTicket, ticket_id)
    return None if row is None else _view(row)


def queue(s: Session, limit: int = 200) -> list[TicketView]:
    """Open tickets by priority then longest waiting, then the ones agents have: what the console lists."""
    claimed_last = case((HandoffTicket.status == "open", 0), else_=1)
    stmt = (select(HandoffTicket).where(HandoffTicket.status.in_(("open", "claimed")))
            .order_by(claimed_last, HandoffTicket.priority, HandoffTicket.created_at, HandoffTicket.id)
            .limit(limit))
    return [_view(row) for row in s.execute(stmt).scalars()]


def claim(s: Session, ticket_id: int, agent_id: int, now: datetime) -> bool:
    """Give an open ticket to the agent; False when someone else got it first or it is not open.

    One conditional UPDATE, so two agents claiming at once never both succeed.
    """
    result = s.execute(update(HandoffTicket)
                       .where(HandoffTicket.id == ticket_id, HandoffTicket.status == "open")
                       .values(status="claimed", claimed_by=agent_id, claimed_at=now)
                       .execution_options(synchronize_session=False))
    return result.rowcount == 1


def release(s: Session, ticket_id: int) -> bool:
    """Put a claimed ticket back in the queue; False when it is not claimed."""
    result = s.execute(update(HandoffTicket)
                       .where(HandoffTicket.id == ticket_id, HandoffTicket.status == "claimed")
                       .values(status="open", claimed_by=None, claimed_at=None)
                       .execution_options(synchronize_session=False))
    return result.rowcount == 1


def close(s: Session, ticket_id: int, now: datetime) -> bool:
    """Close a ticket that is open or claimed; False when it is already closed or missing."""
    result = s.execute(update(HandoffTicket)
                       .where(HandoffTicket.id == ticket_id, HandoffTicket.status.in_(("open", "claimed")))
                       .values(status="closed", closed_at=now)
                       .execution_options(synchronize_session=False))
    return result.rowcount == 1


@dataclass(frozen=True)
class NoteView:
    id: int
    ticket_id: int
    agent: str
    text: str
    created_at: datetime


MAX_NOTE_CHARS = 4000


def add_note(s: Session, ticket_id: int, agent_id: int, text: str, now: datetime) -> NoteView:
    """An internal note on a ticket; ValueError for an empty or over-long text."""
    text = text.strip()
    if not text or len(text) > MAX_NOTE_CHARS:
        raise ValueError(f"a note has 1-{MAX_NOTE_CHARS} characters")
    note = TicketNote(ticket_id=ticket_id, agent_id=agent_id, text=text, created_at=now)
    s.add(note)
    s.flush()
    return NoteView(note.id, ticket_id, s.get(Agent, agent_id).display_name, text, now)


def notes(s: Session, ticket_id: int) -> list[NoteView]:
    """A ticket's notes, oldest first."""
    stmt = (select(TicketNote, Agent.display_name).join(Agent, Agent.id == TicketNote.agent_id)
            .where(TicketNote.ticket_id == ticket_id).order_by(TicketNote.id))
    return [NoteView(n.id, n.ticket_id, name, n.text, n.created_at) for n, name in s.execute(stmt)]


def agent_names(s: Session, agent_ids: Sequence[int]) -> dict[int, str]:
    """Display names by agent id."""
    if not agent_ids:
        return {}
    return dict(s.execute(select(Agent.id, Agent.display_name).where(Agent.id.in_(set(agent_ids)))).all())


def request_follow_up(s: Session, ticket_id: int, kind: str, contact: str) -> bool:
    """Record that the customer wants an email or a call back instead of waiting; False if no such ticket."""
    if kind not in FOLLOW_UPS:
        raise ValueError(f"follow-up must be one of {FOLLOW_UPS}, not {kind!r}")
    ticket = s.get(HandoffTicket, ticket_id)
    if ticket is None or ticket.status == "closed":
        return False
    ticket.follow_up, ticket.contact = kind, contact
    return True
