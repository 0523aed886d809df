"""Rasa policy that applies bot.escalation after every customer turn and records each decision."""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction, SupportedData
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_DEACTIVATE_LOOP_NAME, ACTION_LISTEN_NAME, REQUESTED_SLOT
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from bot.escalation import ESCALATION_SLOT, EscalationConfig, Turn, assess
from bot.store.customers import CustomerValue

logger = logging.getLogger(__name__)

CUSTOMER_VALUE_SLOT = "customer_value"
HANDOFF_ACTION = "action_handoff_to_human"
PRIORITY = 5  # above RulePolicy (4): an escalation overrides the scripted answer


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class EscalationPolicy(Policy):
    """After each user message: hand over, or record the decision and let the other policies answer.

    A `deescalate` decision only marks the turn: its first reply opens with an acknowledgement (bot/nlg.py and
    actions.common.say), and the reply itself is the fix the customer most likely needs.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"priority": PRIORITY}

    @staticmethod
    def supported_data() -> SupportedData:
        return SupportedData.ML_AND_RULE_DATA

    def __init__(self, config: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.settings = EscalationConfig.from_dict({k: v for k, v in config.items() if k != "priority"})

    def train(self, training_trackers: list[TrackerWithCachedStates], domain: Domain,
              **kwargs: Any) -> Resource:
        """Nothing to learn: the policy is its documented configuration."""
        return self._resource

    def predict_action_probabilities(self, tracker: DialogueStateTracker, domain: Domain,
                                     rule_only_data: dict[str, Any] | None = None,
                                     **kwargs: Any) -> PolicyPrediction:
        latest = tracker.latest_action_name
        if latest == HANDOFF_ACTION:
            return self._predict(domain, ACTION_LISTEN_NAME)
        escalating = (tracker.get_slot(ESCALATION_SLOT) or {}).get("decision") == "escalate"
        if latest == ACTION_DEACTIVATE_LOOP_NAME and escalating:  # the form is closed: now hand over
            return self._predict(domain, HANDOFF_ACTION)
        if latest != ACTION_LISTEN_NAME or not isinstance(_last(tracker, (UserUttered, ActionExecuted)),
                                                         UserUttered):
            return self._prediction(self._default_predictions(domain))
        turns, offered = session_turns(tracker)
        assessment = assess(turns, self.settings, _customer_value(tracker), offered)
        record = [SlotSet(ESCALATION_SLOT, assessment.as_slot())]
        logger.debug("escalation for %s: %s", tracker.sender_id, assessment)
        if assessment.decision == "escalate":  # inside a form, close it first
            first = ACTION_DEACTIVATE_LOOP_NAME if tracker.active_loop_name else HANDOFF_ACTION
            return self._predict(domain, first, record)
        return self._prediction(self._default_predictions(domain), events=record)

    def _predict(self, domain: Domain, action: str, events: list | None = None) -> PolicyPrediction:
        """Certain, and marked as not driven by the user turn so that it also wins inside forms."""
        probabilities = self._default_predictions(domain)
        probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities, events=events, is_no_user_prediction=True)


def session_turns(tracker: DialogueStateTracker) -> tuple[list[Turn], bool]:
    """The current session's customer turns, and whether a turn was already de-escalated."""
    turns: list[Turn] = []
    offered, requested, loop = False, None, None
    for event in tracker.events:
        if isinstance(event, (SessionStarted, Restarted)):
            turns, offered, requested, loop = [], False, None, None
        elif isinstance(event, UserUttered):
            turns.append(_turn(event.parse_data or {}))
        elif isinstance(event, SlotSet) and event.key == REQUESTED_SLOT:
            requested = event.value
        elif isinstance(event, SlotSet) and event.key == ESCALATION_SLOT and isinstance(event.value, dict):
            offered = offered or event.value.get("decision") == "deescalate"
        elif isinstance(event, ActiveLoop):
            loop = event.name
        elif isinstance(event, ActionExecuted) and event.action_name not in (None, ACTION_LISTEN_NAME):
            if turns:
                asking = event.action_name == loop and requested
                answer = f"{loop}:{requested}" if asking else event.action_name
                turns[-1] = Turn(turns[-1].intent, turns[-1].emotion, turns[-1].sentiment, answer)
    return turns, offered


def _turn(parse_data: dict[str, Any]) -> Turn:
    """A Turn from a user event's parse data; malformed or missing emotion counts as none."""
    emotion = parse_data.get("emotion") if isinstance(parse_data.get("emotion"), dict) else {}
    ranking = emotion.get("ranking") if isinstance(emotion.get("ranking"), list) else []
    probabilities = {r["name"]: float(r["confidence"]) for r in ranking
                     if isinstance(r, dict) and isinstance(r.get("confidence"), (int, float))}
    sentiment = emotion.get("sentiment")
    intent = (parse_data.get("intent") or {}).get("name")
    return Turn(intent, probabilities, float(sentiment) if isinstance(sentiment, (int, float)) else 0.0)


def _customer_value(tracker: DialogueStateTracker) -> CustomerValue:
    value = tracker.get_slot(CUSTOMER_VALUE_SLOT)
    if not isinstance(value, dict):
        return CustomerValue()
    return CustomerValue(*(int(value.get(key) or 0) for key in (
        "lifetime_spend_cents", "open_orders", "open_order_value_cents")))


def _last(tracker: DialogueStateTracker, kinds: tuple[type, ...]) -> Any:
    return next((event for event in reversed(tracker.events) if isinstance(event, kinds)), None)
