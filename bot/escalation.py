"""When and why to hand a conversation to a person: frustration trajectory, loops, requests, value, topic."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from bot.store.customers import CustomerValue

Decision = Literal["none", "deescalate", "escalate"]
ESCALATION_SLOT = "escalation"  # where every decision is recorded, for actions and analytics
ACKNOWLEDGED_EMOTIONS = ("anger", "disgust", "fear", "sadness")  # each has its own empathy line


@dataclass(frozen=True)
class EscalationConfig:
    """Every threshold and weight of the policy; defaults are justified in docs/escalation.md."""

    # How much each emotion adds to a turn's frustration (negative values calm it).
    emotion_weights: Mapping[str, float] = field(default_factory=lambda: {
        "anger": 1.0, "disgust": 0.8, "sadness": 0.6, "fear": 0.3,
        "surprise": 0.0, "neutral": -0.3, "joy": -0.8,
    })
    sentiment_weight: float = 0.5  # negative sentiment raises a turn's frustration, positive lowers it
    smoothing: float = 0.5  # weight of the newest turn in the moving average
    mild_threshold: float = 0.45  # acknowledge and offer a fix once
    escalate_threshold: float = 0.7  # hand over
    sensitive_topics: Sequence[str] = ("payment_issue", "complaint")
    sensitive_topic_bonus: float = 0.15
    high_value_spend_cents: int = 100_000  # lifetime spend that makes a customer high-value
    high_value_open_order_cents: int = 30_000  # undelivered orders worth at least this in all
    high_value_bonus: float = 0.1
    human_request_intents: Sequence[str] = ("contact_human_agent",)
    fallback_intent: str = "nlu_fallback"
    max_fallbacks: int = 3  # misunderstood turns in one session before handing over
    max_repeats: int = 3  # the same intent (or bot answer) this many turns running is a loop
    loop_ignored_intents: Sequence[str] = ("inform", "affirm", "deny", "thank")  # normal to repeat

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> EscalationConfig:
        """Build from a policy's config; unknown keys are an error naming the known ones."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown escalation settings {unknown}; known: {sorted(known)}")
        config = cls(**values)
        if not 0 < config.mild_threshold <= config.escalate_threshold <= 1:
            raise ValueError("escalation thresholds need 0 < mild_threshold <= escalate_threshold <= 1")
        if not 0 < config.smoothing <= 1:
            raise ValueError("escalation smoothing must be in (0, 1]")
        return config


@dataclass(frozen=True)
class Turn:
    """One customer message as the policy sees it, and what the bot answered it with."""

    intent: str | None
    emotion: Mapping[str, float]  # label -> probability; empty when the NLU gave none
    sentiment: float = 0.0
    answer: str | None = None  # the bot's last action for this turn; `form:slot` while a form asks


@dataclass(frozen=True)
class Reason:
    name: str
    value: Any


@dataclass(frozen=True)
class Assessment:
    """The decision after a turn, the score behind it and every reason that fired."""

    decision: Decision
    frustration: float
    score: float
    priority: int  # 1 urgent … 4 low, for the handoff ticket
    reasons: tuple[Reason, ...]
    emotion: str | None = None  # the latest message's strongest emotion

    def as_slot(self) -> dict[str, Any]:
        """The JSON recorded in the `escalation` slot, where actions and analytics read it."""
        return {**asdict(self), "reasons": [asdict(r) for r in self.reasons]}


def turn_frustration(turn: Turn, config: EscalationConfig) -> float:
    """One message's frustration in [-1, 1] from its emotion distribution and sentiment."""
    if not turn.emotion:
        return 0.0
    emotional = sum(config.emotion_weights.get(label, 0.0) * p for label, p in turn.emotion.items())
    return max(-1.0, min(1.0, emotional - config.sentiment_weight * turn.sentiment))


def frustration(turns: Sequence[Turn], config: EscalationConfig) -> float:
    """Exponentially smoothed frustration over the conversation, kept in [0, 1]."""
    level = 0.0
    for turn in turns:
        level = (1 - config.smoothing) * level + config.smoothing * turn_frustration(turn, config)
        level = max(0.0, min(1.0, level))
    return level


def _run_length(values: Sequence[str | None]) -> tuple[str | None, int]:
    """The last value and how many times it occurs in a row at the end."""
    if not values or values[-1] is None:
        return None, 0
    count = 0
    for value in reversed(values):
        if value != values[-1]:
            break
        count += 1
    return values[-1], count


def _loop(turns: Sequence[Turn], config: EscalationConfig) -> Reason | None:
    """The same intent, or the same bot answer, repeated `max_repeats` turns running."""
    ignore = {config.fallback_intent, *config.loop_ignored_intents}
    intent, count = _run_length([t.intent for t in turns])
    if intent is not None and intent not in ignore and count >= config.max_repeats:
        return Reason("loop", {"intent": intent, "turns": count})
    answer, count = _run_length([t.answer for t in turns])
    if answer is not None and count >= config.max_repeats:
        return Reason("loop", {"answer": answer, "turns": count})
    return None


def assess(turns: Sequence[Turn], config: EscalationConfig, value: CustomerValue | None = None,
           deescalation_offered: bool = False) -> Assessment:
    """Decide after the latest turn whether to hand over, acknowledge first, or carry on."""
    if not turns:
        return Assessment("none", 0.0, 0.0, 4, ())
    value = value or CustomerValue()
    level = frustration(turns, config)
    latest = turns[-1]
    triggers: list[Reason] = []
    modifiers: list[Reason] = []
    if latest.intent in config.human_request_intents:
        triggers.append(Reason("explicit_request", latest.intent))
    fallbacks = sum(t.intent == config.fallback_intent for t in turns)
    if fallbacks >= config.max_fallbacks:
        triggers.append(Reason("repeated_fallback", fallbacks))
    loop = _loop(turns, config)
    if loop:
        triggers.append(loop)
    topics = sorted({t.intent for t in turns if t.intent in config.sensitive_topics})
    if topics:
        modifiers.append(Reason("sensitive_topic", topics))
    if (value.lifetime_spend_cents >= config.high_value_spend_cents
            or value.open_order_value_cents >= config.high_value_open_order_cents):
        modifiers.append(Reason("high_value_customer", asdict(value)))
    score = min(1.0, level + config.sensitive_topic_bonus * bool(topics)
                + config.high_value_bonus * any(m.name == "high_value_customer" for m in modifiers))
    if score >= config.escalate_threshold or (score >= config.mild_threshold and deescalation_offered):
        triggers.append(Reason("frustration", round(score, 3)))
    if triggers:
        decision: Decision = "escalate"
    elif score >= config.mild_threshold:
        decision = "deescalate"
        modifiers.append(Reason("mild_frustration", round(score, 3)))
    else:
        decision = "none"
    strongest = max(latest.emotion.items(), key=lambda pair: pair[1])[0] if latest.emotion else None
    return Assessment(decision, round(level, 3), round(score, 3), _priority(score, modifiers),
                      tuple(triggers + modifiers), strongest)


def _priority(score: float, modifiers: Sequence[Reason]) -> int:
    """1 urgent … 4 low: frustration sets the base; a sensitive topic or a valuable customer raise it."""
    base = 1 if score >= 0.85 else 2 if score >= 0.7 else 3 if score >= 0.3 else 4
    return max(1, base - bool(modifiers and any(m.name != "mild_frustration" for m in modifiers)))


def acknowledgement(escalation: object, bot_spoke_this_turn: bool) -> str | None:
    """The bot/messages.yml name of the empathy line that opens a de-escalated turn's first reply, if due."""
    if bot_spoke_this_turn or not isinstance(escalation, dict) or escalation.get("decision") != "deescalate":
        return None
    emotion = escalation.get("emotion")
    return f"acknowledge_{emotion}" if emotion in ACKNOWLEDGED_EMOTIONS else "acknowledge_feeling"


def bot_spoke_this_turn(event_types: Sequence[str | None]) -> bool:
    """Whether a `bot` event follows the latest `user` event in a conversation's event types."""
    for kind in reversed(event_types):
        if kind in ("bot", "user"):
            return kind == "bot"
    return False
