"""SQLAlchemy models of the retail store: customers, products, orders and handoff tickets."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship

from bot.store.catalog import CHANNELS, ORDER_STATUSES, REFUND_STATUSES

CARRIERS: tuple[str, ...] = ("DHL", "UPS", "DPD", "Royal Mail")
PAYMENT_METHODS: tuple[str, ...] = ("card", "paypal", "bank_transfer", "gift_card")
TICKET_STATUSES: tuple[str, ...] = ("open", "claimed", "closed")
FOLLOW_UPS: tuple[str, ...] = ("email", "callback")  # when no agent is online to take the conversation
AGENT_ROLES: tuple[str, ...] = ("agent", "lead")
PRESENCES: tuple[str, ...] = ("online", "away", "offline")

Base = declarative_base(metadata=MetaData(naming_convention={
    "pk": "pk_%(table_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}))


def _choice(values: tuple[str, ...], name: str) -> Enum:
    """A VARCHAR restricted by a CHECK constraint to `values` (same DDL on SQLite and PostgreSQL)."""
    return Enum(*values, name=name, native_enum=False, create_constraint=True)


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (CheckConstraint("email = lower(email)", name="email_lower_case"),)

    id = Column(Integer, primary_key=True)
    first_name = Column(String(80), nullable=False)
    last_name = Column(String(80), nullable=False)
    email = Column(String(254), nullable=False, unique=True)
    phone = Column(String(16), nullable=False)
    created_at = Column(DateTime, nullable=False)
    default_address = Column(String(200), nullable=False)
    lifetime_spend_cents = Column(Integer, nullable=False, default=0)


class Identity(Base):
    """How a customer is known on one channel (email address, phone number, Slack or Telegram id)."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id = Column(Integer, primary_key=True)
    customer_id = Column(ForeignKey("customers.id"), nullable=False, index=True)
    channel = Column(_choice(CHANNELS, "channel"), nullable=False)
    external_id = Column(String(254), nullable=False)
    verified = Column(Boolean, nullable=False, default=False)


class Product(Base):
    __tablename__ = "products"

    id = Column(Integer, primary_key=True)
    sku = Column(String(16), nullable=False, unique=True)
    name = Column(String(120), nullable=False, unique=True)
    product_type = Column(String(60), nullable=False)
    category = Column(String(60), nullable=False, index=True)
    description = Column(Text, nullable=False)
    price_cents = Column(Integer, nullable=False)
    stock = Column(Integer, nullable=False)
    restock_date = Column(Date)


class Order(Base):
    """An order; ids start at 10001 because customers quote them."""

    __tablename__ = "orders"

    id = Column(Integer, primary_key=True)
    customer_id = Column(ForeignKey("customers.id"), nullable=False, index=True)
    status = Column(_choice(ORDER_STATUSES, "status"), nullable=False)
    created_at = Column(DateTime, nullable=False, index=True)
    expected_delivery = Column(Date, nullable=False)
    delivered_at = Column(DateTime)
    shipping_address = Column(String(200), nullable=False)
    carrier = Column(_choice(CARRIERS, "carrier"), nullable=False)
    tracking_number = Column(String(32))
    total_cents = Column(Integer, nullable=False)
    payment_method = Column(_choice(PAYMENT_METHODS, "payment_method"), nullable=False)

    customer = relationship(Customer)
    items = relationship("OrderItem", order_by="OrderItem.id")
    events = relationship("OrderStatusEvent", order_by="[OrderStatusEvent.at, OrderStatusEvent.id]")


class OrderItem(Base):
    __tablename__ = "order_items"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id = Column(Integer, primary_key=True)
    order_id = Column(ForeignKey("orders.id"), nullable=False, index=True)
    product_id = Column(ForeignKey("products.id"), nullable=False, index=True)
    quantity = Column(Integer, nullable=False)
    unit_price_cents = Column(Integer, nullable=False)

    product = relationship(Product)


class OrderStatusEvent(Base):
    __tablename__ = "order_status_events"

    id = Column(Integer, primary_key=True)
    order_id = Column(ForeignKey("orders.id"), nullable=False, index=True)
    status = Column(_choice(ORDER_STATUSES, "status"), nullable=False)
    at = Column(DateTime, nullable=False)


class Refund(Base):
    """A refund of one order item, or of the whole order when `order_item_id` is null."""

    __tablename__ = "refunds"

    id = Column(Integer, primary_key=True)
    order_id = Column(ForeignKey("orders.id"), nullable=False, index=True)
    order_item_id = Column(ForeignKey("order_items.id"))
    amount_cents = Column(Integer, nullable=False)
    reason = Column(Text, nullable=False)
    status = Column(_choice(REFUND_STATUSES, "status"), nullable=False)
    requested_at = Column(DateTime, nullable=False)
    updated_at = Column(DateTime, nullable=False)

    item = relationship(OrderItem)


class Invoice(Base):
    __tablename__ = "invoices"

    id = Column(Integer, primary_key=True)
    order_id = Column(ForeignKey("orders.id"), nullable=False, unique=True)
    number = Column(String(20), nullable=False, unique=True)
    issued_at = Column(DateTime, nullable=False)
    amount_cents = Column(Integer, nullable=False)

    order = relationship(Order)


class Agent(Base):
    """A person on the customer-service team; presence feeds the wait the bot quotes."""

    __tablename__ = "agents"

    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True)
    display_name = Column(String(120), nullable=False)
    role = Column(_choice(AGENT_ROLES, "role"), nullable=False, default="agent")
    password_hash = Column(String(255))  # set by the console; NULL: cannot log in
    presence = Column(_choice(PRESENCES, "presence"), nullable=False, default="offline")
    last_seen_at = Column(DateTime)


class HandoffTicket(Base):
    """A conversation waiting for a human agent; priority 1 is urgent, 4 is low."""

    __tablename__ = "handoff_tickets"
    __table_args__ = (
        CheckConstraint("priority BETWEEN 1 AND 4", name="priority_range"),
        Index(None, "status", "priority", "created_at"),
    )

    id = Column(Integer, primary_key=True)
    sender_id = Column(String(128), nullable=False)
    channel = Column(String(32), nullable=False)
    customer_id = Column(ForeignKey("customers.id"), index=True)
    reason = Column(String(255), nullable=False)
    priority = Column(Integer, nullable=False)
    summary = Column(Text, nullable=False)
    status = Column(_choice(TICKET_STATUSES, "status"), nullable=False, default="open")
    created_at = Column(DateTime, nullable=False)
    reasons = Column(Text, nullable=False, default="[]")  # JSON: every reason that fired, with its value
    frustration = Column(Float)  # the smoothed frustration score when the bot handed over
    follow_up = Column(_choice(FOLLOW_UPS, "follow_up"))  # NULL: the customer waits in the conversation
    contact = Column(String(254))  # where to follow up (email or phone), when asked for
    claimed_by = Column(ForeignKey("agents.id"))
    claimed_at = Column(DateTime)
    closed_at = Column(DateTime)


class AgentSession(Base):
    """A logged-in console session; only the SHA-256 of its cookie token is stored."""

    __tablename__ = "agent_sessions"

    id = Column(Integer, primary_key=True)
    token_hash = Column(String(64), nullable=False, unique=True)
    agent_id = Column(ForeignKey("agents.id", ondelete="CASCADE"), nullable=False, index=True)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(DateTime, nullable=False)
    last_used_at = Column(DateTime, nullable=False)


class LoginAttempt(Base):
    """One console login try, kept to rate-limit guessing by username and by address."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index(None, "username", "at"), Index(None, "address", "at"))

    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False)
    address = Column(String(64), nullable=False)
    succeeded = Column(Boolean, nullable=False)
    at = Column(DateTime, nullable=False)


class TicketNote(Base):
    """An agent's internal note on a ticket; the customer never sees it."""

    __tablename__ = "ticket_notes"

    id = Column(Integer, primary_key=True)
    ticket_id = Column(ForeignKey("handoff_tickets.id", ondelete="CASCADE"), nullable=False, index=True)
    agent_id = Column(ForeignKey("agents.id"), nullable=False)
    text = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False)


class CannedReply(Base):
    """A reply agents pick from a list instead of typing it; leads maintain them."""

    __tablename__ = "canned_replies"

    id = Column(Integer, primary_key=True)
    title = Column(String(80), nullable=False, unique=True)
    text = Column(Text, nullable=False)


class RecommendationFeedback(Base):
    """A customer's answer to a suggested product: accepted (a positive signal) or declined (never again)."""

    __tablename__ = "recommendation_feedback"
    __table_args__ = (Index(None, "sender_id", "accepted"), Index(None, "customer_id", "accepted"))

    id = Column(Integer, primary_key=True)
    sender_id = Column(String(128), nullable=False)
    customer_id = Column(ForeignKey("customers.id"))  # NULL: the customer was not identified
    product_id = Column(ForeignKey("products.id"), nullable=False)
    accepted = Column(Boolean, nullable=False)
    created_at = Column(DateTime, nullable=False)


class ConversationLink(Base):
    """A conversation (Rasa sender id) in which the customer was identified by a login token or a code."""

    __tablename__ = "conversation_links"
    __table_args__ = (UniqueConstraint("sender_id", "customer_id"),)

    id = Column(Integer, primary_key=True)
    sender_id = Column(String(128), nullable=False)
    customer_id = Column(ForeignKey("customers.id"), nullable=False, index=True)
    linked_at = Column(DateTime, nullable=False)


class VerificationCode(Base):
    """A one-time code emailed to link a channel id to a customer; only a salted hash of it is kept.

    Rows for unknown emails exist too (customer_id NULL, a hash no code matches), so that every answer
    is the same whether or not the email belongs to a customer."""

    __tablename__ = "verification_codes"
    __table_args__ = (
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        Index(None, "requester_kind", "requester_id", "created_at"),
        Index(None, "email", "created_at"),
    )

    id = Column(Integer, primary_key=True)
    requester_kind = Column(String(16), nullable=False)  # slack, telegram, phone, or web (a web chat)
    requester_id = Column(String(254), nullable=False)  # the id on that channel; a web chat's sender id
    email = Column(String(254), nullable=False)
    customer_id = Column(ForeignKey("customers.id"))
    salt = Column(String(32), nullable=False)
    code_hash = Column(String(64), nullable=False)
    attempts = Column(Integer, nullable=False, default=0)
    created_at = Column(DateTime, nullable=False)
    expires_at = Column(DateTime, nullable=False)
    used_at = Column(DateTime)


class OutboxMessage(Base):
    """An email waiting for the mail relay, which sends it and sets `sent_at` (docs/history.md)."""

    __tablename__ = "outbox"
    __table_args__ = (Index(None, "sent_at", "created_at"),)

    id = Column(Integer, primary_key=True)
    recipient = Column(String(254), nullable=False)
    subject = Column(String(200), nullable=False)
    body = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False)
    sent_at = Column(DateTime)


class VoiceCall(Base):
    """A phone call's dialogue state between two webhook requests, so that any Rasa replica takes the next one
    (bot/channels/call_flow.py): the question to repeat, a heard phrase awaiting confirmation, silences."""

    __tablename__ = "voice_calls"
    __table_args__ = (
        UniqueConstraint("channel", "call_id"),
        CheckConstraint("no_input_count >= 0", name="no_input_count_not_negative"),
    )

    id = Column(Integer, primary_key=True)
    channel = Column(String(32), nullable=False)  # the Rasa input channel: twilio_voice or voice
    call_id = Column(String(128), nullable=False)  # Twilio's CallSid or the voice gateway's call id
    sender_id = Column(String(128), nullable=False)
    last_prompt = Column(Text, nullable=False, default="")  # the bot's last question, repeated after silence
    pending_text = Column(Text)  # heard with middling confidence; sent to the bot once the caller confirms it
    no_input_count = Column(Integer, nullable=False, default=0)  # silences in a row
    started_at = Column(DateTime, nullable=False)
    updated_at = Column(DateTime, nullable=False)
    ended_at = Column(DateTime)


class ChannelDelivery(Base):
    """A webhook delivery a channel took (Slack `event_id`, Telegram `update_id`): retries go unanswered.

    Rows older than a day are pruned (bot/store/deliveries.py); platforms stop retrying within minutes."""

    __tablename__ = "channel_deliveries"
    __table_args__ = (UniqueConstraint("channel", "delivery_id"),)

    id = Column(Integer, primary_key=True)
    channel = Column(String(32), nullable=False)  # the Rasa input channel: slack, telegram
    delivery_id = Column(String(128), nullable=False)
    received_at = Column(DateTime, nullable=False, index=True)
