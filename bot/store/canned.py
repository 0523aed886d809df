"""Canned replies agents pick in the console; a starter set until the team's leads write their own."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.store.models import CannedReply

MAX_TITLE_CHARS = 80
MAX_TEXT_CHARS = 2000
STARTER_REPLIES: tuple[tuple[str, str], ...] = (
    ("Greeting", "Hi, thanks for waiting. I've read your conversation with our assistant and I'm "
                 "looking into it now."),
    ("Checking", "Thanks, give me a moment while I check that for you."),
    ("Refund started", "I've started the refund. It reaches your account within 5 to 10 working days, "
                       "and you'll get an email confirmation today."),
    ("Replacement sent", "I've sent a replacement free of charge. You'll get its tracking number by email."),
    ("Anything else", "Is there anything else I can help you with today?"),
)


@dataclass(frozen=True)
class CannedReplyView:
    id: int
    title: str
    text: str


def replies(s: Session) -> list[CannedReplyView]:
    """Every canned reply by title; the starter set is added the first time the table is empty."""
    if not s.execute(select(func.count()).select_from(CannedReply)).scalar_one():
        s.add_all(CannedReply(title=title, text=text) for title, text in STARTER_REPLIES)
        s.flush()
    rows = s.execute(select(CannedReply).order_by(CannedReply.title)).scalars()
    return [CannedReplyView(r.id, r.title, r.text) for r in rows]


def add_reply(s: Session, title: str, text: str) -> CannedReplyView:
    """A new canned reply; ValueError for an empty, over-long or duplicate title or text."""
    title, text = title.strip(), text.strip()
    if not 0 < len(title) <= MAX_TITLE_CHARS or not 0 < len(text) <= MAX_TEXT_CHARS:
        raise ValueError(f"a canned reply has a title of 1-{MAX_TITLE_CHARS} characters and a text of "
                         f"1-{MAX_TEXT_CHARS}")
    if s.execute(select(CannedReply.id).where(CannedReply.title == title)).first():
        raise ValueError(f"there is already a canned reply called {title!r}")
    reply = CannedReply(title=title, text=text)
    s.add(reply)
    s.flush()
    return CannedReplyView(reply.id, reply.title, reply.text)
