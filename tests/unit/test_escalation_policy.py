"""The escalation policy inside Rasa: what it predicts after a customer turn and what it records."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.nlg import TandemNaturalLanguageGenerator
from bot.policies.escalation import EscalationPolicy, session_turns
from bot.policies.service_failure import ServiceFailurePolicy
from bot.settings import PROJECT_ROOT

DOMAIN = Domain.load(str(PROJECT_ROOT / "domain.yml"))
LISTEN = "action_listen"


def created(policy_class: type, tmp_path) -> Any:
    """A policy as Rasa creates it from its default config."""
    return policy_class.create({**policy_class.get_default_config()}, LocalModelStorage(tmp_path),
                               Resource(policy_class.__name__), ExecutionContext(GraphSchema({}), "test"))


@pytest.fixture
def policy(tmp_path) -> EscalationPolicy:
    return created(EscalationPolicy, tmp_path)


def said(intent: str, emotion: str = "neutral", confidence: float = 0.95) -> UserUttered:
    rest = (1 - confidence) / 6
    ranking = [{"name": emotion, "confidence": confidence}] + [
        {"name": name, "confidence": rest} for name in
        ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise") if name != emotion]
    valence = {"anger": -1.0, "disgust": -0.9, "sadness": -0.8, "joy": 1.0}.get(emotion, 0.0)
    return UserUttered(f"({intent}, {emotion})", {"name": intent, "confidence": 0.9}, parse_data={
        "intent": {"name": intent, "confidence": 0.9},
        "emotion": {"label": emotion, "confidence": confidence, "ranking": ranking,
                    "sentiment": valence * confidence}})


def conversation(*events: Any) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("customer-1", [ActionExecuted(LISTEN), *events], DOMAIN.slots)


def predicted(policy: EscalationPolicy, tracker: DialogueStateTracker) -> tuple[str | None, list]:
    prediction = policy.predict_action_probabilities(tracker, DOMAIN)
    best = max(prediction.probabilities)
    action = DOMAIN.action_names_or_texts[prediction.probabilities.index(best)] if best > 0 else None
    return action, prediction.events


def recorded(events: list) -> dict[str, Any]:
    (slot,) = [e for e in events if isinstance(e, SlotSet) and e.key == "escalation"]
    return slot.value


def test_a_calm_turn_is_left_to_the_other_policies_and_recorded(policy) -> None:
    action, events = predicted(policy, conversation(said("track_order")))
    assert action is None
    assert recorded(events)["decision"] == "none"


def test_persistent_anger_hands_over_even_inside_a_form(policy) -> None:
    tracker = conversation(said("track_order", "anger"), ActionExecuted("track_order_form"),
                           ActiveLoop("track_order_form"), SlotSet("requested_slot", "order_id"),
                           ActionExecuted(LISTEN), said("inform", "anger"))
    prediction = policy.predict_action_probabilities(tracker, DOMAIN)
    action, events = predicted(policy, tracker)
    assert action == "action_deactivate_loop"  # the form is closed first ...
    assert prediction.is_no_user_prediction  # beats the form's own happy-path prediction
    assert {r["name"] for r in recorded(events)["reasons"]} == {"frustration"}
    tracker.update_with_events([*events, ActionExecuted("action_deactivate_loop"), ActiveLoop(None)], DOMAIN)
    assert predicted(policy, tracker)[0] == "action_handoff_to_human"  # ... then the customer handed over


def test_an_explicit_request_is_always_honoured(policy) -> None:
    action, events = predicted(policy, conversation(said("contact_human_agent", "joy")))
    assert action == "action_handoff_to_human"
    assert recorded(events)["reasons"][0] == {"name": "explicit_request", "value": "contact_human_agent"}


def test_after_the_handoff_the_bot_listens(policy) -> None:
    tracker = conversation(said("contact_human_agent"), ActionExecuted("action_handoff_to_human"))
    assert predicted(policy, tracker) == (LISTEN, [])


def test_between_bot_actions_the_policy_stays_out(policy) -> None:
    tracker = conversation(said("track_order", "anger"), ActionExecuted("utter_greet"))
    assert predicted(policy, tracker) == (None, [])


def test_one_angry_turn_is_deescalated_once_then_handed_over_if_it_persists(policy) -> None:
    first = conversation(said("track_order", "anger"))
    action, events = predicted(policy, first)
    assert (action, recorded(events)["decision"]) == (None, "deescalate")
    still_upset = conversation(said("track_order", "anger"), *events, ActionExecuted("track_order_form"),
                               ActionExecuted(LISTEN), said("inform", "sadness", 0.6))
    action, events = predicted(policy, still_upset)
    assert action == "action_handoff_to_human"


def test_turns_reset_with_a_new_session_and_read_malformed_emotion_as_none() -> None:
    broken = UserUttered("hm", {"name": "greet"}, parse_data={"intent": {"name": "greet"},
                                                              "emotion": {"ranking": "nonsense"}})
    tracker = conversation(said("complaint", "anger"), SessionStarted(), ActionExecuted(LISTEN), broken)
    turns, offered = session_turns(tracker)
    assert [(t.intent, dict(t.emotion)) for t in turns] == [("greet", {})]
    assert not offered


def test_the_nlg_opens_the_first_reply_of_a_deescalated_turn_with_an_acknowledgement() -> None:
    nlg = TandemNaturalLanguageGenerator(domain=DOMAIN)
    tracker = conversation(said("delivery_period", "anger"),
                           SlotSet("escalation", {"decision": "deescalate", "emotion": "anger"}))
    first = asyncio.run(nlg.generate("utter_delivery_period", tracker, "rest"))
    assert first["text"].startswith("I'm sorry, I can see this has been really frustrating.")
    tracker.update(BotUttered(first["text"]))
    second = asyncio.run(nlg.generate("utter_greet", tracker, "rest"))
    assert not second["text"].startswith("I'm sorry")


# --- when the action server does not answer -------------------------------------------------


@pytest.fixture
def failure_policy(tmp_path) -> ServiceFailurePolicy:
    return created(ServiceFailurePolicy, tmp_path)


@pytest.mark.parametrize("action", ["action_track_order", "track_order_form", "action_handoff_to_human"])
def test_an_action_that_left_no_trace_is_answered_by_rasa_itself(failure_policy, action) -> None:
    tracker = conversation(said("track_order"), ActionExecuted(action))
    response, events = predicted(failure_policy, tracker)
    assert (response, events) == ("utter_contact_customer_service", [SlotSet("service_unavailable", True)])
    tracker.update_with_events([*events, ActionExecuted(response)], DOMAIN)
    assert predicted(failure_policy, tracker) == (LISTEN, [SlotSet("service_unavailable", False)])


def test_a_message_after_a_failed_session_start_is_answered(failure_policy) -> None:
    failed_start = DialogueStateTracker.from_events(
        "customer-1", [ActionExecuted("action_session_start"), said("track_order")], DOMAIN.slots)
    assert predicted(failure_policy, failed_start)[0] == "utter_contact_customer_service"
    started = conversation(said("track_order"))  # session start, then action_listen, then the message
    assert predicted(failure_policy, started) == (None, [])


def test_the_unavailable_variant_is_said_only_while_the_slot_is_set() -> None:
    nlg = TandemNaturalLanguageGenerator(domain=DOMAIN)
    down = conversation(said("track_order"), SlotSet("service_unavailable", True))
    assert asyncio.run(nlg.generate("utter_contact_customer_service", down, "rest"))["text"].startswith(
        "I'm sorry, I can't reach our systems right now")
    up = conversation(said("contact_customer_service"))
    assert asyncio.run(nlg.generate("utter_contact_customer_service", up, "rest"))["text"].startswith(
        "Our team is available")


@pytest.mark.parametrize("events", [
    [ActionExecuted("track_order_form"), SlotSet("requested_slot", "order_id")],  # the form asked
    [ActionExecuted("action_track_order"), BotUttered("Order 10001 ...")],  # the action answered
    [ActionExecuted("utter_greet")],  # a response, rendered by Rasa
    [],  # right after the customer spoke
])
def test_actions_that_answered_are_left_alone(failure_policy, events) -> None:
    assert predicted(failure_policy, conversation(said("track_order"), *events)) == (None, [])


def test_story_evaluation_turns_the_failure_policy_off(failure_policy, monkeypatch) -> None:
    """`rasa test core` replays stories whose custom actions never ran: they are not outages."""
    monkeypatch.setenv("TANDEM_STORY_EVALUATION", "1")
    replayed = conversation(said("track_order"), ActionExecuted("action_track_order"))
    assert predicted(failure_policy, replayed) == (None, [])
