"""The escalation policy's decisions on whole conversations: table-driven trajectories with their reasons."""

from __future__ import annotations

import pytest

from bot.escalation import (
    EscalationConfig,
    Turn,
    acknowledgement,
    assess,
    bot_spoke_this_turn,
    frustration,
    turn_frustration,
)
from bot.store.customers import CustomerValue

CONFIG = EscalationConfig()
ANGRY = {"anger": 0.9, "neutral": 0.1}
DISGUSTED = {"disgust": 0.8, "anger": 0.2}
SAD = {"sadness": 0.85, "neutral": 0.15}
CALM = {"neutral": 0.95, "joy": 0.05}
HAPPY = {"joy": 0.9, "neutral": 0.1}


def turn(intent: str | None, emotion: dict[str, float] | None = None, answer: str | None = None) -> Turn:
    emotion = emotion or {}
    valence = {"anger": -1.0, "disgust": -0.9, "sadness": -0.8, "joy": 1.0}
    return Turn(intent, emotion, sum(valence.get(k, 0.0) * p for k, p in emotion.items()), answer)


def reasons(assessment) -> dict[str, object]:
    return {reason.name: reason.value for reason in assessment.reasons}


@pytest.mark.parametrize(("turns", "decision", "fired"), [
    # one calm question: nothing to do
    ([turn("track_order", CALM)], "none", set()),
    # one angry message is mild: acknowledge and answer, don't hand over yet
    ([turn("track_order", ANGRY)], "deescalate", {"mild_frustration"}),
    # anger that persists over two turns crosses the escalation threshold
    ([turn("track_order", ANGRY), turn("track_order", ANGRY)], "escalate", {"frustration"}),
    # anger that calms down does not escalate
    ([turn("track_order", ANGRY), turn("inform", CALM), turn("thank", HAPPY)], "none", set()),
    # an explicit request is honoured even when the customer is calm
    ([turn("contact_human_agent", CALM)], "escalate", {"explicit_request"}),
    ([turn("greet", HAPPY), turn("contact_human_agent", HAPPY)], "escalate", {"explicit_request"}),
    # three misunderstood turns
    ([turn("nlu_fallback", CALM)] * 2, "none", set()),
    ([turn("nlu_fallback", CALM), turn("affirm", CALM), turn("nlu_fallback", CALM),
      turn("nlu_fallback", CALM)], "escalate", {"repeated_fallback"}),
    # the same question three times running: the bot is not helping
    ([turn("delivery_period", CALM)] * 3, "escalate", {"loop"}),
    # giving values to a form three times is not a loop ...
    ([turn("inform", CALM, "refund_form:order_id"), turn("inform", CALM, "refund_form:email"),
      turn("inform", CALM, "refund_form:refund_item")], "none", set()),
    # ... but the form asking for the same value three times is
    ([turn("inform", CALM, "refund_form:email")] * 3, "escalate", {"loop"}),
    # a sensitive topic lifts a mild mood over the de-escalation line, and is reported
    ([turn("payment_issue", SAD)], "deescalate", {"sensitive_topic", "mild_frustration"}),
    ([turn("payment_issue", CALM)], "none", {"sensitive_topic"}),
])
def test_trajectories(turns, decision, fired) -> None:
    assessment = assess(turns, CONFIG)
    assert assessment.decision == decision
    assert set(reasons(assessment)) == fired


def test_a_mild_mood_that_persists_after_the_acknowledgement_is_handed_over() -> None:
    turns = [turn("track_order", ANGRY)]
    assert assess(turns, CONFIG).decision == "deescalate"
    assert assess(turns, CONFIG, deescalation_offered=True).decision == "escalate"
    # calmer after the acknowledgement: carry on
    assert assess(turns + [turn("inform", CALM)], CONFIG, deescalation_offered=True).decision == "none"


def test_a_valuable_customer_is_escalated_sooner_and_with_higher_priority() -> None:
    turns = [turn("track_order", DISGUSTED)]
    ordinary, valuable = (assess(turns, CONFIG, CustomerValue(spend)) for spend in (5_000, 250_000))
    assert ordinary.score < valuable.score
    assert reasons(valuable)["high_value_customer"] == {"lifetime_spend_cents": 250_000, "open_orders": 0,
                                                       "open_order_value_cents": 0}
    assert "high_value_customer" not in reasons(ordinary)
    open_order = assess(turns, CONFIG, CustomerValue(0, 2, 45_000))
    assert "high_value_customer" in reasons(open_order)


def test_every_reason_carries_its_value_and_priority_follows_the_score() -> None:
    angry = [turn("complaint", ANGRY)] * 3
    assessment = assess(angry, CONFIG, CustomerValue(200_000))
    assert assessment.decision == "escalate"
    fired = reasons(assessment)
    assert fired["frustration"] == assessment.score == 1.0
    assert fired["sensitive_topic"] == ["complaint"]
    assert fired["loop"] == {"intent": "complaint", "turns": 3}
    assert assessment.priority == 1
    assert assess([turn("contact_human_agent", CALM)], CONFIG).priority == 4
    assert assessment.emotion == "anger"


def test_frustration_is_smoothed_not_one_message() -> None:
    one = frustration([turn("x", ANGRY)], CONFIG)
    two = frustration([turn("x", ANGRY)] * 2, CONFIG)
    assert 0 < one < two <= 1
    assert frustration([turn("x", ANGRY), turn("x", HAPPY)], CONFIG) < one
    assert turn_frustration(turn("x", HAPPY), CONFIG) < 0 < turn_frustration(turn("x", SAD), CONFIG)
    assert turn_frustration(turn("x"), CONFIG) == 0.0  # no emotion from the NLU: neutral


def test_assessment_is_recorded_as_plain_json() -> None:
    slot = assess([turn("track_order", ANGRY)], CONFIG).as_slot()
    assert slot["decision"] == "deescalate"
    assert slot["reasons"] == [{"name": "mild_frustration", "value": slot["score"]}]
    assert assess([], CONFIG).as_slot()["decision"] == "none"


@pytest.mark.parametrize(("values", "error"), [
    ({"mild_threshold": 0.9, "escalate_threshold": 0.5}, "thresholds"),
    ({"smoothing": 0}, "smoothing"),
    ({"no_such_setting": 1}, "unknown escalation settings"),
])
def test_bad_config_is_refused(values, error) -> None:
    with pytest.raises(ValueError, match=error):
        EscalationConfig.from_dict(values)


@pytest.mark.parametrize(("escalation", "spoke", "expected"), [
    ({"decision": "deescalate", "emotion": "anger"}, False, "acknowledge_anger"),
    ({"decision": "deescalate", "emotion": "surprise"}, False, "acknowledge_feeling"),
    ({"decision": "deescalate", "emotion": "anger"}, True, None),
    ({"decision": "none", "emotion": "anger"}, False, None),
    ("not a dict", False, None),
    (None, False, None),
])
def test_only_the_first_reply_of_a_deescalated_turn_is_opened_with_an_acknowledgement(
        escalation, spoke, expected) -> None:
    assert acknowledgement(escalation, spoke) == expected


def test_bot_spoke_this_turn() -> None:
    assert bot_spoke_this_turn(["user", "action", "bot", "action"])
    assert not bot_spoke_this_turn(["bot", "user", "action", "slot"])
    assert not bot_spoke_this_turn([])
