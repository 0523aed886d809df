"""Console accounts: password hashing, sessions, login rate limits, presence, the first account."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.store import agents, tickets
from bot.store.models import Agent, AgentSession

NOW = datetime(2026, 12, 5, 9, 0)
PASSWORD = "correct horse battery"


@pytest.fixture
def sam(session) -> agents.AgentView:
    return agents.create_agent(session, "sam", "Sam Patel", PASSWORD)


def test_a_password_hash_is_salted_scrypt_and_verifies_only_the_password() -> None:
    first, second = agents.hash_password(PASSWORD), agents.hash_password(PASSWORD)
    assert first.startswith("scrypt$32768$8$1$") and first != second
    assert agents.verify_password(PASSWORD, first) and agents.verify_password(PASSWORD, second)
    assert not agents.verify_password(PASSWORD + " ", first)
    assert not agents.verify_password(PASSWORD, None)
    assert not agents.verify_password(PASSWORD, "md5$abc")
    assert not agents.verify_password(PASSWORD, "scrypt$x$8$1$AAAA$AAAA")


@pytest.mark.parametrize(("username", "name", "password", "role", "problem"), [
    ("Sam", "Sam", PASSWORD, "agent", "username"),
    ("s", "Sam", PASSWORD, "agent", "username"),
    ("sam two", "Sam", PASSWORD, "agent", "username"),
    ("sam", "Sam", "short", "agent", "password"),
    ("sam", "Sam", PASSWORD, "admin", "role"),
    ("sam", "  ", PASSWORD, "agent", "display name"),
])
def test_accounts_are_refused_with_the_reason(session, username, name, password, role, problem) -> None:
    with pytest.raises(ValueError, match=problem):
        agents.create_agent(session, username, name, password, role)


def test_a_username_is_taken_once(session, sam) -> None:
    with pytest.raises(ValueError, match="already"):
        agents.create_agent(session, "sam", "Another Sam", PASSWORD)


def test_login_gives_a_session_whose_token_is_stored_only_as_a_hash(session, sam) -> None:
    login = agents.login(session, "sam", PASSWORD, "10.0.0.1", NOW)
    assert login.agent.username == "sam" and login.token and login.csrf_token != login.token
    assert session.execute(select(AgentSession.token_hash)).scalar_one() != login.token
    assert agents.session_for(session, login.token, NOW + timedelta(hours=1)).agent.id == sam.id
    assert agents.session_for(session, "forged", NOW) is None
    assert session.get(Agent, sam.id).presence == "online"


def test_a_wrong_password_or_unknown_user_gets_no_session(session, sam) -> None:
    assert agents.login(session, "sam", "wrong password!", "10.0.0.1", NOW) is None
    assert agents.login(session, "nobody", PASSWORD, "10.0.0.1", NOW) is None
    assert session.execute(select(AgentSession)).first() is None


def test_five_failures_lock_the_username_for_fifteen_minutes(session, sam) -> None:
    for minute in range(5):
        at = NOW + timedelta(minutes=minute)
        assert agents.login(session, "sam", "wrong password!", "10.0.0.1", at) is None
    with pytest.raises(agents.LoginLocked) as locked:
        agents.login(session, "sam", PASSWORD, "10.0.0.9", NOW + timedelta(minutes=5))
    assert locked.value.retry_after == 10 * 60
    assert agents.login(session, "sam", PASSWORD, "10.0.0.9", NOW + timedelta(minutes=15, seconds=1))


def test_twenty_failures_from_one_address_lock_that_address(session, sam) -> None:
    for n in range(20):
        agents.login(session, f"guess{n}", "wrong password!", "10.6.6.6", NOW)
    with pytest.raises(agents.LoginLocked):
        agents.login(session, "sam", PASSWORD, "10.6.6.6", NOW)
    assert agents.login(session, "sam", PASSWORD, "10.0.0.1", NOW) is not None


def test_an_idle_session_expires(session, sam) -> None:
    login = agents.login(session, "sam", PASSWORD, "10.0.0.1", NOW)
    assert agents.session_for(session, login.token, NOW + timedelta(hours=11)) is not None
    assert agents.session_for(session, login.token, NOW + timedelta(hours=23, minutes=1)) is None
    assert agents.session_for(session, login.token, NOW + timedelta(hours=11)) is None  # deleted


def test_logout_ends_the_session_and_the_last_one_takes_the_agent_offline(session, sam) -> None:
    laptop = agents.login(session, "sam", PASSWORD, "10.0.0.1", NOW)
    phone = agents.login(session, "sam", PASSWORD, "10.0.0.2", NOW)
    agents.logout(session, laptop.token)
    assert agents.session_for(session, laptop.token, NOW) is None
    assert session.get(Agent, sam.id).presence == "online"
    agents.logout(session, phone.token)
    assert session.get(Agent, sam.id).presence == "offline"


def test_presence_and_heartbeats_decide_who_counts_as_online(session, sam) -> None:
    agents.login(session, "sam", PASSWORD, "10.0.0.1", NOW)
    assert tickets.agents_online(session, NOW + timedelta(minutes=1)) == 1
    assert tickets.agents_online(session, NOW + timedelta(minutes=3)) == 0  # no console heard from
    agents.heartbeat(session, sam.id, NOW + timedelta(minutes=3))
    assert tickets.agents_online(session, NOW + timedelta(minutes=4)) == 1
    assert agents.set_presence(session, sam.id, "away", NOW + timedelta(minutes=4)).presence == "away"
    assert tickets.agents_online(session, NOW + timedelta(minutes=4)) == 0
    with pytest.raises(ValueError, match="presence"):
        agents.set_presence(session, sam.id, "offline", NOW)


def test_the_first_account_is_a_lead_created_only_once(session) -> None:
    password = agents.first_account(session)
    assert password and agents.login(session, "admin", password, "127.0.0.1", NOW).agent.is_lead
    assert agents.first_account(session) is None
