"""Rasa policy that answers the customer when the action server (or a form's validation) does not respond.

When a custom action fails, Rasa logs it with no events and says nothing. Every Tandem action leaves at least
one event or message, so an action that left no trace failed: the bot then says the service is unavailable
with Rasa's own response `utter_contact_customer_service` (its `service_unavailable` variant), which needs no
action server.
"""

from __future__ import annotations

import os
from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

UNAVAILABLE_SLOT = "service_unavailable"
UNAVAILABLE_RESPONSE = "utter_contact_customer_service"
STORY_EVALUATION_ENV = "TANDEM_STORY_EVALUATION"  # set for `rasa test core`: see docs/escalation.md
PRIORITY = 6  # above the escalation policy: a failed handoff must still be answered


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class ServiceFailurePolicy(Policy):
    """After a custom action or form that produced nothing, tell the customer; then listen."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"priority": PRIORITY, "silent_actions": []}

    def train(self, training_trackers: list[TrackerWithCachedStates], domain: Domain,
              **kwargs: Any) -> Resource:
        """Nothing to learn."""
        return self._resource

    def predict_action_probabilities(self, tracker: DialogueStateTracker, domain: Domain,
                                     rule_only_data: dict[str, Any] | None = None,
                                     **kwargs: Any) -> PolicyPrediction:
        if os.environ.get(STORY_EVALUATION_ENV):  # replayed stories carry no action output at all
            return self._prediction(self._default_predictions(domain))
        last = tracker.events[-1] if tracker.events else None
        if tracker.get_slot(UNAVAILABLE_SLOT) and tracker.latest_action_name == UNAVAILABLE_RESPONSE:
            return self._predict(domain, ACTION_LISTEN_NAME, [SlotSet(UNAVAILABLE_SLOT, False)])
        failed = isinstance(last, ActionExecuted) and self._must_leave_a_trace(last.action_name, domain)
        if failed or _session_start_failed(tracker):
            return self._predict(domain, UNAVAILABLE_RESPONSE, [SlotSet(UNAVAILABLE_SLOT, True)])
        return self._prediction(self._default_predictions(domain))

    def _must_leave_a_trace(self, action: str | None, domain: Domain) -> bool:
        custom = action in domain.user_actions and not (action or "").startswith("utter_")
        return (custom or action in domain.form_names) and action not in self.config["silent_actions"]

    def _predict(self, domain: Domain, action: str, events: list) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities, events=events, is_no_user_prediction=True)


def _session_start_failed(tracker: DialogueStateTracker) -> bool:
    """A customer's message right after an `action_session_start` that failed (one that works ends with
    `action_listen`, so the message would follow that)."""
    for event in reversed(tracker.events):
        if isinstance(event, ActionExecuted):
            return False
        if isinstance(event, UserUttered):
            return tracker.latest_action_name == ACTION_SESSION_START_NAME
    return False
