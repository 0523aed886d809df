"""Which webhook deliveries the channels took, so that a platform's retries are answered once.

Slack retries an event (same `event_id`) and Telegram redelivers an update (same `update_id`) when our
answer is slow or fails. Every Rasa replica records what it takes in the one store they share; the
insert is atomic (INSERT ... ON CONFLICT DO NOTHING on the unique (channel, delivery_id)), so of two
replicas given the same delivery exactly one gets True.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.store.models import ChannelDelivery

KEEP = timedelta(days=1)  # platforms stop retrying within minutes; older rows are pruned
PRUNE_EVERY = 100  # every this many new deliveries (by row id) prune the old ones
_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def first_delivery(s: Session, channel: str, delivery_id: str, now: datetime) -> bool:
    """Record a delivery; True the first time (channel, delivery_id) comes, False for every retry of it."""
    dialect = s.get_bind().dialect.name
    if dialect not in _INSERTS:
        raise ValueError(f"channel deliveries need SQLite or PostgreSQL, not {dialect}")
    statement = _INSERTS[dialect](ChannelDelivery).values(
        channel=channel, delivery_id=delivery_id, received_at=now,
    ).on_conflict_do_nothing(index_elements=["channel", "delivery_id"])
    result = s.execute(statement)
    if result.rowcount != 1:
        return False
    if result.inserted_primary_key[0] % PRUNE_EVERY == 0:
        prune(s, now - KEEP)
    return True


def forget_delivery(s: Session, channel: str, delivery_id: str) -> None:
    """Let the platform's next retry of a delivery through: we failed to handle the first attempt."""
    s.execute(delete(ChannelDelivery).where(ChannelDelivery.channel == channel,
                                            ChannelDelivery.delivery_id == delivery_id))


def prune(s: Session, before: datetime) -> int:
    """Delete the deliveries received before `before`; return how many went."""
    return s.execute(delete(ChannelDelivery).where(ChannelDelivery.received_at < before)).rowcount
