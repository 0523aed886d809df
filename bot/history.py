"""The customer's timeline on every channel: earlier conversations from the tracker store, and orders,
refunds and tickets from the retail store; the sentence the bot opens with and the lines agents read.

Times are naive UTC, as in both stores. A conversation session counts as the customer's when it ran on
a channel id verified as theirs, or in a conversation linked to them in which the bot identified them
(docs/history.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot import conversations
from bot.formatting import money
from bot.store.identities import Senders, customer_senders
from bot.store.models import HandoffTicket, Order, OrderStatusEvent, Refund
from bot.tracker_events import default_engine, read_events

logger = logging.getLogger(__name__)

HISTORY_WINDOW = timedelta(days=90)
GREETING_WINDOW = timedelta(days=30)
RECENT_LIMIT = 8
Kind = Literal["conversation", "order", "refund", "ticket"]

CHANNEL_PHRASES = {"telegram": "on Telegram", "slack": "on Slack", "socketio": "in our web chat",
                   "rest": "in our web chat", "voice": "on the phone", "twilio_voice": "on the phone"}
# What the customer did, by the session's first topic; {order} is 'order 10231' or 'your order'.
TOPIC_PHRASES = {
    "track_order": "asked about the delivery of {order}",
    "cancel_order": "asked about cancelling {order}",
    "change_order": "asked about changing {order}",
    "change_shipping_address": "asked about the delivery address of {order}",
    "get_refund": "asked about a refund for {order}",
    "track_refund": "asked about the refund for {order}",
    "check_invoice": "asked about the invoice for {order}",
    "get_invoice": "asked for the invoice for {order}",
    "place_order": "asked how to place an order",
    "check_cancellation_fee": "asked about cancellation fees",
    "delivery_options": "asked about our delivery options",
    "delivery_period": "asked about delivery times",
    "set_up_shipping_address": "asked about saving a delivery address",
    "check_refund_policy": "asked about our returns policy",
    "check_payment_methods": "asked about payment methods",
    "payment_issue": "told us about a payment problem",
    "create_account": "asked about creating an account",
    "delete_account": "asked about deleting your account",
    "edit_account": "asked about changing your account details",
    "recover_password": "asked about resetting your password",
    "registration_problems": "told us about a problem signing up",
    "switch_account": "asked about switching accounts",
    "newsletter_subscription": "asked about our newsletter",
    "complaint": "made a complaint",
    "contact_customer_service": "asked how to reach our team",
    "contact_human_agent": "asked for a person from our team",
    "review": "wanted to leave a review",
    "ask_recommendation": "asked for product suggestions",
    "product_availability": "asked whether a product was in stock",
    "request_follow_up": "asked us to get back to you",
}
REFUND_TOPICS = frozenset({"get_refund", "track_refund"})
ORDER_WORDS = {"pending": "was placed", "processing": "went to our warehouse", "shipped": "was shipped",
               "out_for_delivery": "went out for delivery", "delivered": "was delivered",
               "cancelled": "was cancelled", "returned": "came back to us"}
REFUND_WORDS = {"requested": "was registered", "approved": "was approved", "refunded": "was paid out",
                "rejected": "was declined"}


@dataclass(frozen=True)
class Entry:
    """One thing that happened: a conversation session, an order's status, a refund's status, a ticket."""

    at: datetime
    kind: Kind
    text: str  # one line for agents, starting with the UTC time
    order_id: int | None = None
    status: str | None = None
    session: conversations.Session | None = None


@dataclass(frozen=True)
class Timeline:
    entries: tuple[Entry, ...]  # newest first
    conversations_complete: bool  # False when the tracker store could not be read


# --- building the timeline ------------------------------------------------------------------


def customer_conversations(s: Session, tracker: Engine, customer_id: int, *, now: datetime, since: datetime,
                           exclude_open_of: str | None = None) -> list[conversations.Session]:
    """The customer's sessions with at least one message since `since`, newest first.

    `exclude_open_of` leaves out the still-open session of that sender (the conversation going on now).
    Raises SQLAlchemyError when the tracker store cannot be read.
    """
    senders = customer_senders(s, customer_id)
    found = []
    for sender_id, events in read_events(tracker, senders.all, since).items():
        talks = conversations.sessions(events, sender_id=sender_id, now=now)
        if sender_id == exclude_open_of and talks and now - talks[-1].ended < conversations.IDLE_TIMEOUT:
            talks.pop()
        found += [talk for talk in talks if _belongs(talk, senders, customer_id)]
    return sorted(found, key=lambda session: session.started, reverse=True)


def _belongs(session: conversations.Session, senders: Senders, customer_id: int) -> bool:
    """On a channel id verified as the customer's, or in a linked conversation that identified them."""
    if not session.turns or session.customer_id not in (None, customer_id):
        return False
    verified_on = senders.by_identity.get(session.sender_id, frozenset())
    return session.channel in verified_on or (
        session.sender_id in senders.linked and session.customer_id == customer_id)


def store_entries(s: Session, customer_id: int, since: datetime) -> list[Entry]:
    """The customer's order status changes, refunds and tickets since `since`, unsorted."""
    readers = (_order_entries, _refund_entries, _ticket_entries)
    return [entry for read in readers for entry in read(s, customer_id, since) if entry.at >= since]


def _entry(at: datetime, kind: Kind, what: str, order_id: int | None = None,
           status: str | None = None) -> Entry:
    return Entry(at, kind, f"{at:%Y-%m-%d %H:%M} UTC, {what}", order_id, status)


def _order_entries(s: Session, customer_id: int, since: datetime) -> list[Entry]:
    rows = s.execute(select(OrderStatusEvent.order_id, OrderStatusEvent.status, OrderStatusEvent.at,
                            Order.total_cents)
                     .join(Order, Order.id == OrderStatusEvent.order_id)
                     .where(Order.customer_id == customer_id, OrderStatusEvent.at >= since))
    return [_entry(at, "order", f"order {order_id} {ORDER_WORDS[status]}"
                   + (f" ({money(total)})" if status == "pending" else ""), order_id, status)
            for order_id, status, at, total in rows]


def _refund_entries(s: Session, customer_id: int, since: datetime) -> list[Entry]:
    """A refund's request, and its latest status when that is not 'requested' any more."""
    refunds = s.execute(select(Refund).join(Order, Order.id == Refund.order_id)
                        .where(Order.customer_id == customer_id, Refund.updated_at >= since)).scalars()
    entries = []
    for refund in refunds:
        what = f"refund of {money(refund.amount_cents)} for order {refund.order_id}"
        entries.append(_entry(refund.requested_at, "refund", f"{what} requested", refund.order_id,
                              "requested"))
        if refund.status != "requested":
            entries.append(_entry(refund.updated_at, "refund", f"{what} {REFUND_WORDS[refund.status]}",
                                  refund.order_id, refund.status))
    return entries


def _ticket_entries(s: Session, customer_id: int, since: datetime) -> list[Entry]:
    tickets = s.execute(select(HandoffTicket).where(HandoffTicket.customer_id == customer_id,
                                                    HandoffTicket.created_at >= since)).scalars()
    return [_entry(t.created_at, "ticket", f"handed to our team (ticket {t.id}, {t.reason}, {t.status})",
                   status=t.status) for t in tickets]


def timeline(s: Session, tracker: Engine, customer_id: int, *, now: datetime,
             window: timedelta = HISTORY_WINDOW, exclude_open_of: str | None = None) -> Timeline:
    """Everything of the customer's `window` before `now`, newest first; store entries even if the tracker
    fails."""
    since = now - window
    try:
        talks = customer_conversations(s, tracker, customer_id, now=now, since=since,
                                       exclude_open_of=exclude_open_of)
        complete = True
    except SQLAlchemyError:
        logger.exception("tracker store unreadable: customer %s's history lacks conversations", customer_id)
        talks, complete = [], False
    entries = [Entry(t.started, "conversation", conversations.describe(t), session=t) for t in talks]
    entries = [e for e in entries + store_entries(s, customer_id, since) if e.at <= now]
    return Timeline(tuple(sorted(entries, key=lambda e: e.at, reverse=True)), complete)


# --- what people read -----------------------------------------------------------------------


def last_contact_text(history: Timeline, now: datetime, within: timedelta = HISTORY_WINDOW) -> str | None:
    """'Last Tuesday on Telegram you asked about a refund for order 10231; it was approved on Thursday.'

    About the newest conversation within `within`; None when there is none.
    """
    talk = last_conversation(history, now, within)
    if talk is None:
        return None
    topic = next((t for t in talk.topics if t in TOPIC_PHRASES), None)
    order_id = talk.order_ids[0] if talk.order_ids else None
    order = f"order {order_id}" if order_id else "your order"
    did = TOPIC_PHRASES[topic].format(order=order) if topic else "got in touch with us"
    where = CHANNEL_PHRASES.get(talk.channel or "")
    opening = " ".join(part for part in (relative_day(talk.started, now, leading=True), where) if part)
    since = _follow_up(history, talk, topic, order_id, now)
    if since is None and talk.outcome == "escalated":
        since = " and we passed it to our team"
    return f"{opening} you {did}{since or ''}."


def last_conversation(history: Timeline, now: datetime,
                      within: timedelta = HISTORY_WINDOW) -> conversations.Session | None:
    """The newest conversation session of the timeline that started within `within` of `now`."""
    return next((e.session for e in history.entries if e.session is not None and now - e.at <= within), None)


def _follow_up(history: Timeline, talk: conversations.Session, topic: str | None, order_id: int | None,
               now: datetime) -> str | None:
    """'; it was approved on Thursday': the latest change to the talk's order since the talk began."""
    if order_id is None:
        return None
    wanted = "refund" if topic in REFUND_TOPICS else "order"
    changes = [e for e in history.entries if e.order_id == order_id and e.at > talk.started
               and e.kind in ("order", "refund")]
    change = next((e for e in changes if e.kind == wanted), changes[0] if changes else None)
    if change is None or change.status is None:
        return None
    subject = "it" if change.kind == wanted else f"the {change.kind}"
    words = (REFUND_WORDS if change.kind == "refund" else ORDER_WORDS)[change.status]
    return f"; {subject} {words} {relative_day(change.at, now)}"


def recent_timeline_text(s: Session, customer_id: int | None, *, now: datetime, tracker: Engine | None = None,
                         current_sender_id: str | None = None, window: timedelta = GREETING_WINDOW,
                         limit: int = RECENT_LIMIT) -> str:
    """Lines for a ticket summary: the customer's newest `limit` entries of the last `window`.

    '' when the customer is unknown or nothing happened; the open session of `current_sender_id` (the
    conversation being handed over) is left out. Reads the tracker store of endpoints.yml by default.
    """
    if customer_id is None:
        return ""
    history = timeline(s, tracker or default_engine(), customer_id, now=now, window=window,
                       exclude_open_of=current_sender_id)
    lines = [f"- {entry.text}" for entry in history.entries[:limit]]
    if not history.conversations_complete:
        lines.append("- (earlier conversations could not be read from the tracker store)")
    return "\n".join(["Recent history (newest first):", *lines]) if lines else ""


def relative_day(value: datetime, now: datetime, *, leading: bool = False) -> str:
    """'earlier today', 'yesterday', 'on Tuesday' within a week, else 'on 3 March' (a year if not this one's).

    `leading` gives a sentence's opening: 'Earlier today', 'Yesterday', 'Last Tuesday', 'On 3 March'."""
    days = (now.date() - value.date()).days
    if days <= 0:
        text = "earlier today"
    elif days == 1:
        text = "yesterday"
    elif days < 7:
        text = f"{'last' if leading else 'on'} {value:%A}"
    else:
        text = f"on {value.day} {value:%B}" + (f" {value.year}" if value.year != now.year else "")
    return text[0].upper() + text[1:] if leading else text
