"""The handoff relay: how console agents reach a customer on the channel their conversation came in on.

An input channel in the Rasa server, called by the console (bot/console/handoff.py) with a shared secret:

POST /webhooks/handoff/message  {sender_id, text, agent}   the agent's reply, sent and logged as a bot
                                                             utterance with `metadata.agent`
POST /webhooks/handoff/resume   {sender_id, agent, survey}  the bot takes the conversation back
                                                             (ConversationResumed) and says so, or asks
                                                             for a 1-5 rating when `survey` is true

A channel reaches its customers through `relay_output(tracker)` when it defines one (Slack needs the
thread, Telegram the chat id), else its `get_output_channel()`; an output channel that defines
`send_agent_message` shows the agent as a person. Voice channels return None: a call takes no typed
replies, so the relay answers 409 and the console offers a call back.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.policies.policy import PolicyPrediction
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, BotUttered, ConversationResumed, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Blueprint, response
from sanic.request import Request

from bot.channels.validation import InvalidInput, clean_text, json_object
from bot.channels.webhooks import add_standard_routes

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Tandem-Handoff-Secret"
AGENT_NAME_SLOT = "agent_name"
HANDED_BACK_ACTION = "action_handed_back"
SURVEY_ACTION = "action_ask_csat"
MAX_AGENT_NAME = 120


class HandoffRelayInput(InputChannel):
    """The console's way into Rasa: agents' replies out to the customer's channel, and hand backs."""

    @classmethod
    def name(cls) -> str:
        return "handoff"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls((credentials or {}).get("secret") or "")

    def __init__(self, secret: str) -> None:
        self.secret = secret

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        relay = Blueprint("handoff_relay", __name__)

        @relay.middleware("request")
        async def authenticate(request: Request) -> response.HTTPResponse | None:
            given = request.headers.get(SECRET_HEADER, "")
            if not self.secret:
                return response.json({"error": "the handoff relay has no secret configured"}, status=503)
            if not hmac.compare_digest(given.encode(), self.secret.encode()):
                return response.json({"error": "wrong or missing handoff secret"}, status=401)
            return None

        add_standard_routes(relay, "handoff relay")

        @relay.route("/message", methods=["POST"])
        async def message(request: Request) -> response.HTTPResponse:
            sender_id, agent_name, body = _parse(request)
            text = clean_text(body.get("text"))
            rasa: Agent = request.app.ctx.agent
            async with rasa.lock_store.lock(sender_id):
                tracker = await _tracker(rasa, sender_id)
                output = _output_for(request, tracker)
                if output is None:
                    return response.json({"error": "this conversation's channel takes no typed replies"},
                                         status=409)
                await _send_agent_message(output, sender_id, text, agent_name)
                tracker.update(BotUttered(text, metadata={"agent": agent_name}))
                await rasa.tracker_store.save(tracker)
            logger.info("agent %s replied in conversation %s", agent_name, sender_id)
            return response.json({"delivered": True})

        @relay.route("/resume", methods=["POST"])
        async def resume(request: Request) -> response.HTTPResponse:
            sender_id, agent_name, body = _parse(request)
            survey = body.get("survey", False)
            if not isinstance(survey, bool):
                raise InvalidInput("'survey' must be true or false")
            rasa: Agent = request.app.ctx.agent
            async with rasa.lock_store.lock(sender_id):
                tracker = await _tracker(rasa, sender_id)
                output = _output_for(request, tracker)
                tracker.update(ConversationResumed())
                tracker.update(SlotSet(AGENT_NAME_SLOT, agent_name))
                await rasa.tracker_store.save(tracker)
                if output is not None:
                    await _run(rasa, sender_id, SURVEY_ACTION if survey else HANDED_BACK_ACTION, output)
            logger.info("agent %s handed conversation %s back to the bot", agent_name, sender_id)
            return response.json({"resumed": True, "delivered": output is not None})

        return relay


def _parse(request: Request) -> tuple[str, str, dict[str, Any]]:
    """The request's JSON object with its conversation id and the agent's display name."""
    body = json_object(request.body)
    sender_id, agent = body.get("sender_id"), body.get("agent")
    if not isinstance(sender_id, str) or not 0 < len(sender_id) <= 255:
        raise InvalidInput("'sender_id' must be a conversation id")
    if not isinstance(agent, str) or not 0 < len(agent.strip()) <= MAX_AGENT_NAME:
        raise InvalidInput(f"'agent' must be the agent's display name (1-{MAX_AGENT_NAME} characters)")
    return sender_id, agent.strip(), body


async def _tracker(rasa: Agent, sender_id: str) -> DialogueStateTracker:
    """The stored conversation; a 404 when there is none."""
    tracker = await rasa.tracker_store.retrieve(sender_id)
    if tracker is None:
        raise InvalidInput(f"no conversation {sender_id!r}", status=404)
    return tracker


def _output_for(request: Request, tracker: DialogueStateTracker) -> OutputChannel | None:
    """The output channel of the conversation's latest input channel, as that channel builds it."""
    name = tracker.get_latest_input_channel()
    for channel in getattr(request.app.ctx, "input_channels", None) or []:
        if channel.name() == name:
            relay_output = getattr(channel, "relay_output", None)
            return relay_output(tracker) if relay_output else channel.get_output_channel()
    return None


async def _send_agent_message(output: OutputChannel, recipient_id: str, text: str, agent: str) -> None:
    send = getattr(output, "send_agent_message", None)
    if send is not None:
        await send(recipient_id, text, agent)
    else:
        await output.send_text_message(recipient_id, f"{agent}: {text}")


async def _run(rasa: Agent, sender_id: str, action: str, output: OutputChannel) -> None:
    """Run one action as if the bot had predicted it, then listen for the customer."""
    processor = rasa.processor
    prediction = PolicyPrediction.for_action_name(processor.domain, action)
    tracker = await processor.execute_action(sender_id, action, output, processor.nlg, prediction)
    tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
    await processor.save_tracker(tracker)
