"""The console's store work on a real PostgreSQL: concurrent claims, sessions and presence."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from threading import Barrier

from sqlalchemy import text

from bot.store import agents, tickets
from bot.store.db import create_schema, session_scope
from bot.store.models import Agent

NOW = datetime(2026, 12, 5, 9, 0)
CLAIMERS = 8


def test_of_many_agents_claiming_one_ticket_at_once_exactly_one_gets_it(pg_engine) -> None:
    create_schema(pg_engine)
    with session_scope(pg_engine) as s:
        s.execute(text("TRUNCATE handoff_tickets, agents RESTART IDENTITY CASCADE"))
        team = [Agent(username=f"agent{n}", display_name=f"Agent {n}") for n in range(CLAIMERS)]
        s.add_all(team)
        s.flush()
        ids = [a.id for a in team]
        ticket = tickets.create_ticket(s, sender_id="web-1", channel="socketio", summary="refund", now=NOW,
                                       reasons=[{"name": "frustration", "value": 0.9}])
    start = Barrier(CLAIMERS)

    def claim(agent_id: int) -> bool:
        start.wait()
        with session_scope(pg_engine) as s:
            return tickets.claim(s, ticket.id, agent_id, NOW)

    with ThreadPoolExecutor(CLAIMERS) as pool:
        results = list(pool.map(claim, ids))
    assert results.count(True) == 1
    with session_scope(pg_engine) as s:
        assert tickets.ticket(s, ticket.id).claimed_by == ids[results.index(True)]


def test_a_session_and_presence_round_trip_on_postgres(pg_engine) -> None:
    create_schema(pg_engine)
    with session_scope(pg_engine) as s:
        s.execute(text("TRUNCATE agents RESTART IDENTITY CASCADE"))
        agents.create_agent(s, "sam", "Sam Patel", "correct horse battery")
    with session_scope(pg_engine) as s:
        login = agents.login(s, "sam", "correct horse battery", "10.0.0.1", NOW)
    with session_scope(pg_engine) as s:
        assert agents.session_for(s, login.token, NOW).agent.presence == "online"
        assert tickets.agents_online(s, NOW) == 1
