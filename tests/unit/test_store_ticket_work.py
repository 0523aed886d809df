"""Working tickets in the console: the queue order, claiming, releasing, closing, notes, canned replies."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from bot.store import canned, tickets
from bot.store.models import Agent

NOW = datetime(2026, 12, 5, 9, 0)


def open_ticket(s: Session, sender: str, priority: int = 3, minutes_ago: int = 0) -> tickets.TicketView:
    return tickets.create_ticket(s, sender_id=sender, channel="socketio", summary=f"from {sender}",
                                 reasons=[{"name": "frustration", "value": 0.8}], priority=priority,
                                 now=NOW - timedelta(minutes=minutes_ago))


def member(s: Session, name: str) -> int:
    agent = Agent(username=name, display_name=name.title(), presence="online", last_seen_at=NOW)
    s.add(agent)
    s.flush()
    return agent.id


def test_the_queue_lists_open_tickets_by_priority_then_wait_then_the_claimed_ones(session) -> None:
    sam = member(session, "sam")
    low_old, urgent_new, urgent_old = (open_ticket(session, "a", 4, 50), open_ticket(session, "b", 1, 1),
                                       open_ticket(session, "c", 1, 9))
    claimed, closed = open_ticket(session, "d", 1, 60), open_ticket(session, "e", 1, 70)
    assert tickets.claim(session, claimed.id, sam, NOW)
    assert tickets.close(session, closed.id, NOW)
    assert [t.id for t in tickets.queue(session)] == [urgent_old.id, urgent_new.id, low_old.id, claimed.id]


def test_a_ticket_is_claimed_once(session) -> None:
    sam, kim = member(session, "sam"), member(session, "kim")
    ticket = open_ticket(session, "web-1")
    assert tickets.claim(session, ticket.id, sam, NOW)
    assert not tickets.claim(session, ticket.id, kim, NOW)
    held = tickets.ticket(session, ticket.id)
    assert (held.status, held.claimed_by, held.claimed_at) == ("claimed", sam, NOW)
    assert tickets.agent_names(session, [sam, kim]) == {sam: "Sam", kim: "Kim"}


def test_release_puts_it_back_and_close_ends_it(session) -> None:
    sam = member(session, "sam")
    ticket = open_ticket(session, "web-1")
    assert not tickets.release(session, ticket.id)  # not claimed
    tickets.claim(session, ticket.id, sam, NOW)
    assert tickets.release(session, ticket.id)
    assert tickets.ticket(session, ticket.id).claimed_by is None
    assert tickets.close(session, ticket.id, NOW + timedelta(minutes=5))
    assert not tickets.close(session, ticket.id, NOW + timedelta(minutes=6))
    assert not tickets.claim(session, ticket.id, sam, NOW)
    assert tickets.ticket(session, ticket.id).closed_at == NOW + timedelta(minutes=5)
    assert tickets.ticket(session, 999) is None


def test_notes_are_kept_in_order_with_their_author(session) -> None:
    sam, kim = member(session, "sam"), member(session, "kim")
    ticket = open_ticket(session, "web-1")
    tickets.add_note(session, ticket.id, sam, "  Customer is a regular; offer a voucher. ", NOW)
    tickets.add_note(session, ticket.id, kim, "Voucher sent.", NOW + timedelta(minutes=1))
    assert [(n.agent, n.text) for n in tickets.notes(session, ticket.id)] == [
        ("Sam", "Customer is a regular; offer a voucher."), ("Kim", "Voucher sent.")]
    for text in ("   ", "x" * (tickets.MAX_NOTE_CHARS + 1)):
        with pytest.raises(ValueError, match="note"):
            tickets.add_note(session, ticket.id, sam, text, NOW)


def test_canned_replies_start_with_a_starter_set_and_take_new_ones(session) -> None:
    starters = canned.replies(session)
    assert {r.title for r in starters} == {title for title, _ in canned.STARTER_REPLIES}
    added = canned.add_reply(session, "Voucher", "Here is a 10% voucher for your next order: SORRY10.")
    assert added in canned.replies(session) and len(canned.replies(session)) == len(starters) + 1
    for title, text in (("Voucher", "again"), ("", "text"), ("Title", " ")):
        with pytest.raises(ValueError):
            canned.add_reply(session, title, text)
