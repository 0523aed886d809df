"""Rasa's templated responses; a de-escalated turn's first one opens with an acknowledgement."""

from __future__ import annotations

from typing import Any

from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.escalation import ESCALATION_SLOT, acknowledgement, bot_spoke_this_turn
from bot.messages import render, variant_channel


class TandemNaturalLanguageGenerator(TemplatedNaturalLanguageGenerator):
    """Configured in endpoints.yml as `nlg: {type: bot.nlg.TandemNaturalLanguageGenerator}`."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, domain: Domain | None = None) -> None:
        super().__init__(domain.responses if domain else {})

    async def generate(self, utter_action: str, tracker: DialogueStateTracker, output_channel: str,
                       **kwargs: Any) -> dict[str, Any] | None:
        output_channel = variant_channel(output_channel)  # twilio_voice gets the `channel: voice` variants
        response = await super().generate(utter_action, tracker, output_channel, **kwargs)
        spoke = bot_spoke_this_turn([event.type_name for event in tracker.events])
        name = acknowledgement(tracker.get_slot(ESCALATION_SLOT), spoke)
        if response and response.get("text") and name:
            response["text"] = f"{render(name, output_channel)['text']} {response['text']}"
        return response

