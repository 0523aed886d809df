"""Handoff tickets: opening, the queue order, presence and the expected wait, follow-ups."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from bot.store import tickets
from bot.store.models import Agent, HandoffTicket

NOW = datetime(2026, 12, 4, 15, 0)


@pytest.fixture
def s(small_store):
    with Session(small_store, future=True) as session:
        yield session
        session.rollback()


def open_ticket(s: Session, sender: str, priority: int = 3, minutes_ago: int = 0) -> tickets.TicketView:
    return tickets.create_ticket(s, sender_id=sender, channel="rest", summary=f"from {sender}",
                                 reasons=[{"name": "explicit_request", "value": "contact_human_agent"}],
                                 priority=priority, now=NOW - timedelta(minutes=minutes_ago))


def agent(s: Session, name: str, presence: str = "online",
          seen_ago: timedelta = timedelta(seconds=10)) -> Agent:
    member = Agent(username=name, display_name=name.title(), presence=presence, last_seen_at=NOW - seen_ago)
    s.add(member)
    s.flush()
    return member


def test_a_ticket_keeps_every_reason_with_its_value(s) -> None:
    reasons = [{"name": "frustration", "value": 0.81},
               {"name": "sensitive_topic", "value": ["payment_issue"]}]
    view = tickets.create_ticket(s, sender_id="web-1", channel="socketio", reasons=reasons, priority=1,
                                 summary="Charged twice 😡", customer_id=1, frustration=0.81, now=NOW)
    row = s.get(HandoffTicket, view.id)
    assert (row.reason, row.priority, row.customer_id, row.frustration, row.status) == (
        "frustration, sensitive_topic", 1, 1, 0.81, "open")
    assert json.loads(row.reasons) == reasons and view.reasons == tuple(reasons)
    assert tickets.active_ticket(s, "web-1") == view
    assert tickets.active_ticket(s, "web-2") is None


@pytest.mark.parametrize(("priority", "sender_id"), [(0, "x"), (5, "x"), ("1", "x"), (True, "x"), (2.0, "x"),
                                                     (2, ""), (2, None)])
def test_ticket_input_is_validated(s, priority, sender_id) -> None:
    with pytest.raises(ValueError):
        tickets.create_ticket(s, sender_id=sender_id, channel="slack", reasons=[], summary="s",
                              priority=priority, now=NOW)


def test_a_closed_ticket_is_no_longer_active(s) -> None:
    view = open_ticket(s, "web-1")
    s.get(HandoffTicket, view.id).status = "closed"
    s.flush()
    assert tickets.active_ticket(s, "web-1") is None
    assert tickets.open_ticket_count(s) == 0


def test_nobody_online_means_no_wait_to_promise(s) -> None:
    agent(s, "away", presence="away")
    agent(s, "stale", seen_ago=timedelta(minutes=5))  # says online, but its console went quiet
    wait = tickets.wait_for(s, open_ticket(s, "web-1"), NOW)
    assert (wait.ahead, wait.agents_online, wait.minutes) == (0, 0, None)


def test_the_wait_counts_tickets_served_first_and_agents_online(s) -> None:
    open_ticket(s, "urgent", priority=1)
    open_ticket(s, "older", priority=3, minutes_ago=10)
    open_ticket(s, "newer-lower", priority=4, minutes_ago=20)
    mine = open_ticket(s, "mine", priority=3)
    open_ticket(s, "later", priority=3, minutes_ago=-1)
    agent(s, "ana")
    one = tickets.wait_for(s, mine, NOW)
    assert (one.ahead, one.agents_online) == (2, 1)
    assert one.minutes == 2 * tickets.DEFAULT_HANDLING_MINUTES
    agent(s, "ben")
    assert tickets.wait_for(s, mine, NOW).minutes == 1 * tickets.DEFAULT_HANDLING_MINUTES


def test_the_handling_time_is_measured_from_closed_tickets(s) -> None:
    for minutes in (4, 10):
        view = open_ticket(s, f"done-{minutes}", minutes_ago=60)
        row = s.get(HandoffTicket, view.id)
        row.status, row.claimed_at = "closed", NOW - timedelta(minutes=30)
        row.closed_at = row.claimed_at + timedelta(minutes=minutes)
    s.flush()
    assert tickets.handling_minutes(s, NOW) == pytest.approx(7.0)
    assert tickets.handling_minutes(s, NOW + timedelta(days=60)) == tickets.DEFAULT_HANDLING_MINUTES


def test_a_follow_up_is_recorded_on_the_ticket(s) -> None:
    view = open_ticket(s, "web-1")
    assert tickets.request_follow_up(s, view.id, "callback", "+447700900001")
    row = s.get(HandoffTicket, view.id)
    assert (row.follow_up, row.contact) == ("callback", "+447700900001")
    assert not tickets.request_follow_up(s, 999_999, "email", "a@b.example")
    with pytest.raises(ValueError):
        tickets.request_follow_up(s, view.id, "pigeon", "x")
