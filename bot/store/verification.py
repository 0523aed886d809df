"""Link a channel id to a customer with a one-time code emailed to the address on file.

A request writes a challenge (a salted hash of a 6-digit code, valid 10 minutes, 5 tries) and, when the
email is a customer's, a message in the `outbox` table for the mail relay. An unknown email gets a
challenge that no code matches, so every answer reads the same whether or not the email is known.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from bot.parsing import parse_email
from bot.store.identities import ChannelId, attach
from bot.store.models import Customer, OutboxMessage, VerificationCode

CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
MAX_CODES_PER_HOUR = 3  # per channel id and per email: bounds guessing and mail bombing
CODE_DIGITS = 6
SUBJECT = "Your verification code"
BODY = ("Your code to link your chat with our shop is {code}. It is valid for 10 minutes.\n\n"
        "If you did not ask for it, ignore this email: nothing changes without the code.")

Status = Literal["ok", "wrong", "expired", "locked"]


@dataclass(frozen=True)
class Confirmation:
    """The answer to a code: `customer_id` only when ok, `tries_left` when wrong."""

    status: Status
    customer_id: int | None = None
    tries_left: int = 0


def request_code(s: Session, requester: ChannelId, email: str, now: datetime) -> bool:
    """Start a challenge for `requester` to prove `email`; False (nothing written) after too many requests."""
    address = parse_email(email)
    if address is None or address != email.strip().lower():
        raise ValueError("request_code needs one email address")
    hour_ago = now - timedelta(hours=1)
    if (_codes_since(s, hour_ago, VerificationCode.requester_kind == requester.kind,
                     VerificationCode.requester_id == requester.value) >= MAX_CODES_PER_HOUR
            or _codes_since(s, hour_ago, VerificationCode.email == address) >= MAX_CODES_PER_HOUR):
        return False
    customer = s.execute(select(Customer.id).where(Customer.email == address)).scalar_one_or_none()
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}" if customer else secrets.token_hex(16)
    salt = secrets.token_hex(16)
    s.add(VerificationCode(requester_kind=requester.kind, requester_id=requester.value, email=address,
                           customer_id=customer, salt=salt, code_hash=_hash(salt, code), attempts=0,
                           created_at=now, expires_at=now + CODE_TTL))
    if customer:
        s.add(OutboxMessage(recipient=address, subject=SUBJECT, body=BODY.format(code=code), created_at=now))
    s.flush()
    return True


def confirm_code(s: Session, requester: ChannelId, code: str, *, sender_id: str,
                 now: datetime) -> Confirmation:
    """Check a code against the requester's latest challenge; a right one attaches the requester's id."""
    stmt = (select(VerificationCode)
            .where(VerificationCode.requester_kind == requester.kind,
                   VerificationCode.requester_id == requester.value, VerificationCode.used_at.is_(None))
            .order_by(VerificationCode.created_at.desc(), VerificationCode.id.desc()).limit(1))
    challenge = s.execute(stmt.with_for_update()).scalar_one_or_none()
    if challenge is None or challenge.expires_at <= now:
        return Confirmation("expired")
    if challenge.attempts >= MAX_ATTEMPTS:
        return Confirmation("locked")
    right = hmac.compare_digest(challenge.code_hash, _hash(challenge.salt, code))
    if not right or challenge.customer_id is None:
        challenge.attempts += 1
        s.flush()
        tries_left = MAX_ATTEMPTS - challenge.attempts
        return Confirmation("wrong", tries_left=tries_left) if tries_left else Confirmation("locked")
    challenge.used_at = now
    attach(s, requester, challenge.customer_id, sender_id=sender_id, now=now)
    return Confirmation("ok", customer_id=challenge.customer_id)


def _codes_since(s: Session, since: datetime, *conditions: ColumnElement[bool]) -> int:
    stmt = (select(func.count()).select_from(VerificationCode)
            .where(VerificationCode.created_at > since, *conditions))
    return s.execute(stmt).scalar_one()


def _hash(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()
