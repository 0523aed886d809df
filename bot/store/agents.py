"""Console accounts: scrypt password hashes, database sessions, login rate limits and presence."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.store.models import AGENT_ROLES, Agent, AgentSession, LoginAttempt

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1  # ~50 ms and 32 MiB per hash: costly to guess offline
SCRYPT_MAXMEM = 64 * 1024 * 1024
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024
USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
SESSION_IDLE = timedelta(hours=12)
LOCK_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20
CONSOLE_PRESENCES = ("online", "away")  # what an agent chooses; "offline" is what logging out sets


@dataclass(frozen=True)
class AgentView:
    id: int
    username: str
    display_name: str
    role: str
    presence: str

    @property
    def is_lead(self) -> bool:
        return self.role == "lead"


@dataclass(frozen=True)
class SessionView:
    """A valid session: whose it is, the cookie token (only right after login) and its CSRF token."""

    agent: AgentView
    csrf_token: str
    token: str | None = None


class LoginLocked(Exception):
    """Too many failed logins recently; try again after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after} seconds")
        self.retry_after = retry_after


def _view(agent: Agent) -> AgentView:
    return AgentView(agent.id, agent.username, agent.display_name, agent.role, agent.presence)


def hash_password(password: str) -> str:
    """'scrypt$n$r$p$salt$hash' with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            maxmem=SCRYPT_MAXMEM)
    return "$".join(("scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P),
                     base64.b64encode(salt).decode(), base64.b64encode(digest).decode()))


def verify_password(password: str, stored: str | None) -> bool:
    """Whether `password` matches a `hash_password` result; False for malformed or missing hashes."""
    try:
        scheme, n, r, p, salt, digest = (stored or "").split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r),
                                p=int(p), maxmem=SCRYPT_MAXMEM, dklen=len(expected))
    except ValueError:
        return False
    return scheme == "scrypt" and hmac.compare_digest(actual, expected)


def check_password_rules(password: str) -> None:
    """Raise ValueError unless the password is 10 to 1024 characters long."""
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise ValueError(f"a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")


def create_agent(s: Session, username: str, display_name: str, password: str,
                 role: str = "agent") -> AgentView:
    """Add an account; ValueError for a taken or malformed username, a weak password or an unknown role."""
    if not USERNAME_PATTERN.fullmatch(username):
        raise ValueError("a username has 2-64 lower-case letters, digits, '.', '_' or '-'")
    if role not in AGENT_ROLES:
        raise ValueError(f"role must be one of {AGENT_ROLES}, not {role!r}")
    if not display_name.strip() or len(display_name) > 120:
        raise ValueError("the display name must be 1-120 characters")
    check_password_rules(password)
    if s.execute(select(Agent.id).where(Agent.username == username)).first():
        raise ValueError(f"there is already an agent called {username!r}")
    agent = Agent(username=username, display_name=display_name.strip(), role=role,
                  password_hash=hash_password(password), presence="offline")
    s.add(agent)
    s.flush()
    return _view(agent)


def first_account(s: Session) -> str | None:
    """When there are no agents yet, create the lead `admin` with a random password and return it."""
    if s.execute(select(Agent.id).limit(1)).first():
        return None
    password = secrets.token_urlsafe(12)
    create_agent(s, "admin", "Admin", password, role="lead")
    return password


def login(s: Session, username: str, password: str, address: str, now: datetime) -> SessionView | None:
    """A new session (the agent is then online) for the right password; None for a wrong one; LoginLocked
    after too many failures.

    The password is checked even for unknown usernames, so timing does not tell which accounts exist.
    """
    _raise_if_locked(s, username, address, now)
    agent = s.execute(select(Agent).where(Agent.username == username)).scalar_one_or_none()
    ok = verify_password(password, agent.password_hash if agent else _DECOY_HASH) and agent is not None
    s.add(LoginAttempt(username=username[:64], address=address[:64], succeeded=ok, at=now))
    if not ok:
        return None
    agent.presence, agent.last_seen_at = "online", now
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    s.add(AgentSession(token_hash=_digest(token), agent_id=agent.id, csrf_token=csrf, created_at=now,
                       last_used_at=now))
    s.execute(delete(LoginAttempt).where(LoginAttempt.at < now - LOCK_WINDOW))
    return SessionView(_view(agent), csrf, token)


def _raise_if_locked(s: Session, username: str, address: str, now: datetime) -> None:
    since = now - LOCK_WINDOW
    for column, value, limit in ((LoginAttempt.username, username, MAX_FAILURES_PER_USER),
                                 (LoginAttempt.address, address, MAX_FAILURES_PER_ADDRESS)):
        failures = s.execute(select(func.count(), func.min(LoginAttempt.at)).where(
            column == value, LoginAttempt.succeeded.is_(False), LoginAttempt.at >= since)).one()
        if failures[0] >= limit:
            raise LoginLocked(max(1, int((failures[1] + LOCK_WINDOW - now).total_seconds())))


def session_for(s: Session, token: str, now: datetime) -> SessionView | None:
    """The session a cookie token names, if it has been used within the idle limit; marks it used."""
    row = s.execute(select(AgentSession, Agent).join(Agent, Agent.id == AgentSession.agent_id)
                    .where(AgentSession.token_hash == _digest(token))).first()
    if row is None:
        return None
    session, agent = row
    if session.last_used_at < now - SESSION_IDLE:
        s.delete(session)
        return None
    session.last_used_at = now
    return SessionView(_view(agent), session.csrf_token)


def logout(s: Session, token: str) -> None:
    """End the session; the agent goes offline when it was their last one."""
    stmt = select(AgentSession).where(AgentSession.token_hash == _digest(token))
    session = s.execute(stmt).scalar_one_or_none()
    if session is None:
        return
    agent_id = session.agent_id
    s.delete(session)
    s.flush()
    if not s.execute(select(AgentSession.id).where(AgentSession.agent_id == agent_id)).first():
        s.get(Agent, agent_id).presence = "offline"


def set_presence(s: Session, agent_id: int, presence: str, now: datetime) -> AgentView:
    """Online or away, as the agent chooses in the console."""
    if presence not in CONSOLE_PRESENCES:
        raise ValueError(f"presence must be one of {CONSOLE_PRESENCES}, not {presence!r}")
    agent = s.get(Agent, agent_id)
    agent.presence, agent.last_seen_at = presence, now
    return _view(agent)


def heartbeat(s: Session, agent_id: int, now: datetime) -> None:
    """A console of this agent is connected: they count as present (see tickets.agents_online)."""
    agent = s.get(Agent, agent_id)
    if agent is not None:
        agent.last_seen_at = now


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_DECOY_HASH = hash_password(secrets.token_urlsafe(16))
