"""Which webhook deliveries the channels took (bot/store/deliveries.py), on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.store.db import create_schema, session_scope
from bot.store.deliveries import KEEP, PRUNE_EVERY, first_delivery, forget_delivery
from bot.store.models import ChannelDelivery

NOW = datetime(2026, 3, 2, 12, 0)


def test_a_delivery_is_first_once_per_channel(session: Session) -> None:
    assert first_delivery(session, "slack", "Ev01", NOW)
    assert not first_delivery(session, "slack", "Ev01", NOW + timedelta(seconds=5))
    assert first_delivery(session, "telegram", "Ev01", NOW)  # ids are the platform's own
    assert first_delivery(session, "slack", "Ev02", NOW)


def test_a_forgotten_delivery_is_first_again(session: Session) -> None:
    assert first_delivery(session, "telegram", "1001", NOW)
    forget_delivery(session, "telegram", "1001")
    assert first_delivery(session, "telegram", "1001", NOW)
    assert not first_delivery(session, "telegram", "1001", NOW)


def test_deliveries_older_than_a_day_are_pruned_now_and_then(session: Session) -> None:
    first_delivery(session, "slack", "EvOLD", NOW - KEEP - timedelta(minutes=1))
    first_delivery(session, "slack", "EvRECENT", NOW - timedelta(hours=1))
    for number in range(PRUNE_EVERY - 3):
        first_delivery(session, "slack", f"Ev{number:04d}", NOW)
    assert session.scalar(select(func.count()).select_from(ChannelDelivery)) == PRUNE_EVERY - 1
    first_delivery(session, "slack", "EvPRUNING", NOW)  # row PRUNE_EVERY
    kept = set(session.scalars(select(ChannelDelivery.delivery_id)))
    assert "EvOLD" not in kept and {"EvRECENT", "EvPRUNING"} <= kept and len(kept) == PRUNE_EVERY - 1
    assert first_delivery(session, "slack", "EvOLD", NOW)  # Slack has long stopped retrying it


@pytest.mark.integration
def test_replicas_racing_for_a_delivery_on_postgresql_take_it_once(pg_engine: Engine) -> None:
    create_schema(pg_engine)

    def take(replica: int) -> bool:
        with session_scope(pg_engine) as session:
            return first_delivery(session, "slack", "EvRACE", NOW + timedelta(seconds=replica))

    with ThreadPoolExecutor(max_workers=6) as replicas:
        taken = list(replicas.map(take, range(6)))
    assert taken.count(True) == 1
    with session_scope(pg_engine) as session:
        assert first_delivery(session, "telegram", "EvRACE", NOW)
        forget_delivery(session, "slack", "EvRACE")
        assert first_delivery(session, "slack", "EvRACE", NOW)
