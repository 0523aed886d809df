"""Handoff tickets and the team's presence: opening a ticket, its place in the queue, the expected wait."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from bot.store.models import FOLLOW_UPS, Agent, HandoffTicket

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


@dataclass(frozen=True)
class Wait:
    """Where a ticket stands: tickets ahead of it, agents online, and the honest expected minutes."""

    ahead: int
    agents_online: int
    minutes: int | None  # None: nobody is online to take it


def _view(ticket: HandoffTicket) -> TicketView:
    return TicketView(ticket.id, ticket.sender_id, ticket.channel, ticket.priority, ticket.status,
                      tuple(json.loads(ticket.reasons or "[]")), ticket.follow_up, ticket.created_at)


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


def request_follow_up(s: Session, ticket_id: int, kind: str, contact: str) -> bool:
    """Record that the customer wants an email or a call back instead of waiting; False if no such ticket."""
    if kind not in FOLLOW_UPS:
        raise ValueError(f"follow-up must be one of {FOLLOW_UPS}, not {kind!r}")
    ticket = s.get(HandoffTicket, ticket_id)
    if ticket is None or ticket.status == "closed":
        return False
    ticket.follow_up, ticket.contact = kind, contact
    return True
