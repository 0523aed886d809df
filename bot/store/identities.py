"""Who a conversation's customer is: a channel id from Rasa's input channel, sender id and metadata, the
verified customer behind it, and the web chat login tokens the shop signs (docs/history.md)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.parsing import parse_email
from bot.store.models import ConversationLink, Customer, Identity
from bot.store.queries import CustomerView, customer_by_identity

# Rasa input channel -> the identity channel its sender ids belong to.
INPUT_CHANNEL_KINDS = {"slack": "slack", "telegram": "telegram", "voice": "phone", "twilio_voice": "phone"}
IDENTITY_INPUT_CHANNELS = {"slack": frozenset({"slack"}), "telegram": frozenset({"telegram"}),
                           "phone": frozenset({"voice", "twilio_voice"})}
SENDER_SEPARATOR = ":"  # identity-bearing channels name conversations "<input channel>:<external id>"
WEB_CHANNELS = frozenset({"socketio", "rest"})  # random sender ids: known only through a login or a code
WEB = "web"
LOGIN_TOKEN_KEY = "login_token"  # where the web widget puts the shop's token in the message metadata
TOKEN_VERSION = "v1"
TOKEN_TTL = timedelta(hours=24)
MAX_TOKEN_CHARS = 600
EXTERNAL_ID_PATTERNS = {
    "slack": re.compile(r"[UW][A-Z0-9]{2,20}"),  # Slack user ids
    "telegram": re.compile(r"[1-9][0-9]{0,19}"),  # private chats only: groups have negative ids
    "phone": re.compile(r"\+[1-9][0-9]{7,14}"),  # E.164
    WEB: re.compile(r"[\w.@:+\-]{1,128}"),  # what the REST channel accepts as a sender id
}


@dataclass(frozen=True)
class ChannelId:
    """How a conversation names its customer: `kind` is email, phone, slack, telegram, or web (a web chat)."""

    kind: str
    value: str


# --- login tokens ---------------------------------------------------------------------------


def issue_login_token(email: str, secret: str, *, now: datetime, ttl: timedelta = TOKEN_TTL) -> str:
    """The token the shop puts in the web chat's metadata for a signed-in customer (HMAC-SHA256)."""
    address = _email(email)
    if address is None or not secret:
        raise ValueError("a login token needs a valid email address and a secret")
    payload = f"{TOKEN_VERSION}.{_b64(address)}.{int(_epoch(now) + ttl.total_seconds())}"
    return f"{payload}.{_signature(payload, secret)}"


def login_email(token: Any, secret: str | None, now: datetime) -> str | None:
    """The email a token vouches for; None when it is malformed, forged, expired, or no secret is set."""
    if not secret or not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        return None
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != TOKEN_VERSION or not parts[2].isdigit():
        return None
    payload = ".".join(parts[:3])
    if not hmac.compare_digest(parts[3].encode(), _signature(payload, secret).encode()) \
            or int(parts[2]) <= _epoch(now):
        return None
    try:
        return _email(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)).decode())
    except (binascii.Error, UnicodeDecodeError):
        return None


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _signature(payload: str, secret: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def _epoch(now: datetime) -> float:
    """Seconds since 1970 of a naive UTC time."""
    return now.replace(tzinfo=timezone.utc).timestamp()


def _email(value: str) -> str | None:
    """The value as a stored email address, if it is exactly one address."""
    address = parse_email(value)
    return address if address is not None and address == value.strip().lower() else None


# --- channel ids and customers --------------------------------------------------------------


def channel_id(input_channel: str | None, sender_id: str, metadata: Mapping[str, Any] | None, *,
               secret: str | None, now: datetime) -> ChannelId | None:
    """The conversation's channel id: a valid login token's email first, else the sender id on its channel.

    Web chat sender ids are random, so without a token they give ChannelId('web', sender id), which names
    the conversation, not a customer. Unknown channels and malformed ids give None.
    """
    token = metadata.get(LOGIN_TOKEN_KEY) if isinstance(metadata, Mapping) else None
    email = login_email(token, secret, now)
    if email is not None:
        return ChannelId("email", email)
    kind = INPUT_CHANNEL_KINDS.get(input_channel or "") or (WEB if input_channel in WEB_CHANNELS else None)
    raw = external_id(input_channel, sender_id) if kind in IDENTITY_INPUT_CHANNELS else sender_id
    value = normalized_id(kind, raw) if kind and raw is not None else None
    return ChannelId(kind, value) if kind and value else None


def channel_sender(input_channel: str, external: str) -> str:
    """The Rasa sender id of a Slack, Telegram or phone conversation: 'telegram:100000001'.

    The prefix keeps these conversations apart from web chats, whose clients choose their own ids.
    """
    return f"{input_channel}{SENDER_SEPARATOR}{external}"


def external_id(input_channel: str | None, sender_id: str) -> str | None:
    """The channel's own id inside a `channel_sender` id; None when the prefix is not that channel's."""
    prefix = f"{input_channel}{SENDER_SEPARATOR}"
    return sender_id[len(prefix):] if input_channel and sender_id.startswith(prefix) else None


def normalized_id(kind: str, value: Any) -> str | None:
    """The id as identities store it (phone numbers in E.164 without separators), or None if malformed."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if kind == "phone":
        text = re.sub(r"[\s().-]", "", text)
        text = "+" + text[2:] if text.startswith("00") else text
    pattern = EXTERNAL_ID_PATTERNS.get(kind)
    return text if pattern is not None and pattern.fullmatch(text) else None


def resolve(s: Session, cid: ChannelId | None,
            conversation_customer: int | None = None) -> CustomerView | None:
    """The verified customer behind a channel id; a web chat's is the one identified in this session."""
    if cid is None:
        return None
    if cid.kind == WEB:
        return customer_view(s, conversation_customer) if conversation_customer else None
    return customer_by_identity(s, cid.kind, cid.value)


def customer_view(s: Session, customer_id: int) -> CustomerView | None:
    """The customer with this id, or None."""
    customer = s.get(Customer, customer_id) if isinstance(customer_id, int) else None
    return None if customer is None else CustomerView(customer.id, customer.first_name, customer.email)


def attach(s: Session, cid: ChannelId, customer_id: int, *, sender_id: str, now: datetime) -> None:
    """Record that `cid` is the customer's: a verified identity for a channel id; a link for a web chat."""
    if cid.kind not in IDENTITY_INPUT_CHANNELS:
        link_conversation(s, sender_id, customer_id, now)
        return
    stmt = select(Identity).where(Identity.channel == cid.kind, Identity.external_id == cid.value)
    identity = s.execute(stmt.with_for_update()).scalar_one_or_none()
    if identity is None:
        s.add(Identity(channel=cid.kind, external_id=cid.value, customer_id=customer_id, verified=True))
    else:  # a chat id belongs to whoever proved an email from it last
        identity.customer_id, identity.verified = customer_id, True
    s.flush()


def link_conversation(s: Session, sender_id: str, customer_id: int, now: datetime) -> None:
    """Note that the customer was identified in this conversation, so that its sessions join the history."""
    stmt = select(ConversationLink.id).where(ConversationLink.sender_id == sender_id,
                                             ConversationLink.customer_id == customer_id)
    if s.execute(stmt).first() is None:
        s.add(ConversationLink(sender_id=sender_id, customer_id=customer_id, linked_at=now))
        s.flush()


@dataclass(frozen=True)
class Senders:
    """The Rasa sender ids whose sessions may be a customer's (bot/history.py decides per session)."""

    by_identity: Mapping[str, frozenset[str]]  # sender id -> the input channel it is verified on
    linked: frozenset[str]  # conversations in which the customer was identified

    @property
    def all(self) -> frozenset[str]:
        return frozenset(self.by_identity) | self.linked


def customer_senders(s: Session, customer_id: int) -> Senders:
    """The customer's verified Slack, Telegram and phone ids, and the conversations linked to them."""
    identities = s.execute(select(Identity.channel, Identity.external_id).where(
        Identity.customer_id == customer_id, Identity.verified.is_(True),
        Identity.channel.in_(tuple(IDENTITY_INPUT_CHANNELS))))
    by_identity: dict[str, frozenset[str]] = {}
    for channel, external in identities:
        for input_channel in IDENTITY_INPUT_CHANNELS[channel]:
            by_identity[channel_sender(input_channel, external)] = frozenset({input_channel})
    linked = s.execute(select(ConversationLink.sender_id).where(ConversationLink.customer_id == customer_id))
    return Senders(by_identity, frozenset(linked.scalars()))
