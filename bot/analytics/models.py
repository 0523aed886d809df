"""The analytics tables: their own metadata in the Tandem database, created and filled by the ETL only.

Conversation facts (day, channel, outcome) are repeated on turns, steps and loops so that every dashboard
query reads one table. Free text and sender ids are stored masked (bot/masking.py).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy.engine import Engine

metadata = MetaData()


def _facts() -> list[Column]:
    """The conversation's facts repeated on each child row, for single-table queries."""
    return [Column("day", Date, nullable=False), Column("channel", String(64), nullable=False),
            Column("outcome", String(16), nullable=False)]


conversations = Table(
    "analytics_conversations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # the tracker event id that opened it
    Column("sender_key", String(32), nullable=False, index=True),  # a hash of the sender id, for the ETL
    Column("sender", String(255), nullable=False),  # masked
    Column("start_ts", Float, nullable=False),  # the opening event's exact timestamp, for the ETL
    Column("started_at", DateTime, nullable=False),
    Column("ended_at", DateTime, nullable=False),
    *_facts(),
    Column("duration_s", Float, nullable=False),
    Column("turns", Integer, nullable=False),
    Column("intents", Text, nullable=False),  # space-separated, in order
    Column("first_intent", String(100)),
    Column("escalation_reason", String(64)),  # the first trigger of the escalate decision
    Column("escalation_reasons", Text),  # every reason of that decision, space-separated
    Column("time_to_escalation_s", Float),
    Column("handed_back", Boolean, nullable=False),
    Column("fallbacks", Integer, nullable=False),
    Column("outages", Integer, nullable=False),  # turns answered while the action server was down
    Column("emotion_start", String(32)),
    Column("emotion_end", String(32)),
    Column("sentiment_start", Float),
    Column("sentiment_end", Float),
    Column("peak_frustration", Float),
    Column("trajectory", SmallInteger),  # +1 ended better than it started, -1 worse, 0 the same
    Column("nps", SmallInteger),  # +1 promoter, 0 passive, -1 detractor (from the final emotion)
    Column("csat", SmallInteger),
    Index("ix_analytics_conversations_day_channel", "day", "channel"),
    Index("ix_analytics_conversations_outcome", "outcome"),
)

turns = Table(
    "analytics_turns", metadata,
    Column("conversation_id", Integer, primary_key=True, autoincrement=False),
    Column("position", Integer, primary_key=True, autoincrement=False),
    *_facts(),
    Column("at", DateTime, nullable=False),
    Column("intent", String(100)),
    Column("confidence", Float),
    Column("first_of_intent", Boolean, nullable=False),  # counts conversations per intent
    Column("emotion", String(32)),
    Column("sentiment", Float),
    Column("frustration", Float),
    Column("decision", String(16)),
    Column("fallback", Boolean, nullable=False),
    Column("actions", Text, nullable=False),  # the bot's actions for this turn, space-separated
    Column("text", Text, nullable=False),  # masked
    Column("answer", Text, nullable=False),  # the bot's messages, masked
    Index("ix_analytics_turns_day_channel", "day", "channel"),
)

steps = Table(
    "analytics_steps", metadata,
    Column("conversation_id", Integer, primary_key=True, autoincrement=False),
    Column("position", Integer, primary_key=True, autoincrement=False),
    *_facts(),
    Column("step", String(120), nullable=False),
    Column("kind", String(8), nullable=False),  # user (an intent), bot (an action), start
    Column("next_step", String(120), nullable=False),  # the following step, or the outcome at the end
    # On the step's first occurrence in the conversation only, so that sums count conversations:
    Column("first", Boolean, nullable=False),
    Column("escalated_after", Boolean, nullable=False),
    Column("abandoned_after", Boolean, nullable=False),
    Column("fallback_after", Boolean, nullable=False),
    Index("ix_analytics_steps_day_channel", "day", "channel"),
)

loops = Table(
    "analytics_loops", metadata,
    Column("conversation_id", Integer, primary_key=True, autoincrement=False),
    Column("position", Integer, primary_key=True, autoincrement=False),  # of the loop's first step
    *_facts(),
    Column("loop", Text, nullable=False),  # the repeated steps joined by ' → '
    Column("repeats", Integer, nullable=False),
    Index("ix_analytics_loops_day_channel", "day", "channel"),
)

# Daily roll-ups: the detail tables summed per day and channel, for the dashboard (bot/analytics/rollups.py).
step_days = Table(
    "analytics_step_days", metadata,
    Column("day", Date, primary_key=True),
    Column("channel", String(64), primary_key=True),
    Column("step", String(120), primary_key=True),
    Column("kind", String(8), primary_key=True),
    Column("next_step", String(120), primary_key=True),
    Column("visits", Integer, nullable=False),
    Column("conversations", Integer, nullable=False),  # the step's first occurrences
    Column("escalated_after", Integer, nullable=False),
    Column("abandoned_after", Integer, nullable=False),
    Column("fallback_after", Integer, nullable=False),
    Column("lost", Integer, nullable=False),  # any of the three
)

intent_days = Table(
    "analytics_intent_days", metadata,
    Column("day", Date, primary_key=True),
    Column("channel", String(64), primary_key=True),
    Column("intent", String(100), primary_key=True),
    Column("messages", Integer, nullable=False),
    Column("conversations", Integer, nullable=False),
    Column("closed", Integer, nullable=False),  # of those conversations, the ones with an outcome
    Column("resolved", Integer, nullable=False),
    Column("escalated", Integer, nullable=False),
    Column("abandoned", Integer, nullable=False),
)

state = Table(
    "analytics_state", metadata,
    Column("name", String(32), primary_key=True),
    Column("value", Float, nullable=False),
)

CHILDREN = (turns, steps, loops)
ROLLUPS = (step_days, intent_days)
WATERMARK = "watermark"  # the highest tracker event id loaded


def create_tables(engine: Engine) -> None:
    """Create the analytics tables that do not exist yet."""
    metadata.create_all(engine)
