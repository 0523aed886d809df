"""Slack: Rasa's Slack channel with Tandem's rules (docs/channels.md).

- credentials: `slack_token`, `slack_signing_secret`, `api_url` (Slack's Web API; tests point it at a
  local server). An empty token turns the channel off: its webhook answers 503.
- Every webhook request carries Slack's v0 signature (Rasa's check: HMAC-SHA256 of
  "v0:{timestamp}:{body}", timestamps within 5 minutes), or is refused with 401.
- An event Slack retries (X-Slack-Retry-Num, same `event_id`) is answered once across Rasa replicas;
  a retry of an event never taken (we were down) is answered.
- Conversations are "slack:<user id>"; replies go to the channel and thread the message came from.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.slack import SlackBot, SlackInput
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.channels.webhooks import AGENT_TITLE, Deliveries, channel_off, not_answered, refused
from bot.store.identities import channel_sender, external_id

logger = logging.getLogger(__name__)

SLACK_API_URL = "https://slack.com/api/"
CREDENTIAL_VARIABLES = "TANDEM_SLACK_TOKEN and TANDEM_SLACK_SIGNING_SECRET"


class TandemSlackBot(SlackBot):
    """Rasa's Slack output on a configurable Web API URL, to conversation ids too, with agents' replies."""

    def __init__(self, token: str, slack_channel: str | None = None, thread_id: str | None = None,
                 api_url: str = SLACK_API_URL) -> None:
        super().__init__(token, slack_channel, thread_id)
        self.client = AsyncWebClient(token, base_url=api_url.rstrip("/") + "/")

    async def _post_message(self, channel: str, **kwargs: Any) -> None:
        """Post to a Slack channel id, or to a conversation id ('slack:U0ALEXMORG': the app's DM with them).

        Rasa passes `as_user`, which Slack refuses (invalid_arguments) from the bot tokens of current apps.
        """
        kwargs.pop("as_user", None)
        await super()._post_message(external_id(SlackInput.name(), channel) or channel, **kwargs)

    async def send_agent_message(self, recipient_id: str, text: str, agent_name: str) -> None:
        """An agent's reply as one message: '*Sam Patel* (customer service): text'."""
        await self._post_message(self.slack_channel or recipient_id,
                                 text=f"*{_escape(agent_name)}* ({AGENT_TITLE}): {_escape(text)}")


class TandemSlackInput(SlackInput):
    """POST /webhooks/slack/webhook: Slack's Events API and interactive components (buttons)."""

    @classmethod
    def name(cls) -> str:
        return "slack"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TandemSlackInput:
        credentials = credentials or {}
        return cls(credentials.get("slack_token") or "", credentials.get("slack_signing_secret") or "",
                   credentials.get("api_url") or SLACK_API_URL)

    def __init__(self, slack_token: str, slack_signing_secret: str = "",
                 api_url: str = SLACK_API_URL) -> None:
        # use_threads: Rasa then passes on the metadata's thread_id, which get_metadata sets to the thread
        # to answer in.
        super().__init__(slack_token, slack_retry_reason_header="x-slack-retry-reason",
                         slack_retry_number_header="x-slack-retry-num", use_threads=True,
                         slack_signing_secret=slack_signing_secret)
        self.api_url = api_url
        # Rasa drops every retry whose reason is http_timeout, even of events it never took; Tandem
        # answers each event_id once instead (Deliveries).
        self.errors_ignore_retry = ()
        self.deliveries = Deliveries(self.name())

    def _validate_credentials(self) -> None:
        """Off without a token; with one, Rasa's rule holds: no signing secret, no Slack channel."""
        if self.slack_token:
            super()._validate_credentials()
        else:
            logger.info("Slack channel off: %s not set", CREDENTIAL_VARIABLES)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        slack = super().blueprint(on_new_message)
        slack.middleware("request")(self._guard)
        slack.middleware("response")(self.deliveries.release_failed)
        return slack

    async def _guard(self, request: Request) -> HTTPResponse | None:
        """Before Rasa's handler: off → 503, not signed by Slack → 401, url_verification answered, and a
        retry of an event taken already answered 200 without a turn."""
        if not request.path.endswith("/webhook"):
            return None
        if not self.slack_token:
            return channel_off("Slack", CREDENTIAL_VARIABLES)
        if not self.is_request_from_slack_authentic(request):
            return refused("Slack", "missing or wrong X-Slack-Signature, or X-Slack-Request-Timestamp "
                                    "older than 5 minutes")
        body = request.json if request.headers.get("content-type") == "application/json" else None
        if not isinstance(body, dict):
            return None  # interactive components (form-encoded) carry no event_id
        if body.get("type") == "url_verification":
            return response.json({"challenge": body.get("challenge")})
        event_id = body.get("event_id")
        if isinstance(event_id, str) and self._is_user_message(body) \
                and not await self.deliveries.take(request, event_id):
            return not_answered(f"event {event_id} was taken already")
        return None

    def _get_conversation_id(self, sender_id: str | None, channel_id: str | None,
                             thread_id: str | None) -> str | None:
        """Rasa's conversation id (granularity 'sender': the Slack user id), prefixed: 'slack:U0ALEXMORG'."""
        conversation_id = super()._get_conversation_id(sender_id, channel_id, thread_id)
        return channel_sender(self.name(), conversation_id) if conversation_id else conversation_id

    def get_metadata(self, request: Request) -> dict[str, Any]:
        """Rasa's metadata (out_channel, users) with `thread_id` the thread to answer in, None for none."""
        metadata = super().get_metadata(request)
        if metadata:
            metadata["thread_id"] = _reply_thread(request)
        return metadata

    def get_output_channel(self, channel: str | None = None, thread_id: str | None = None) -> OutputChannel:
        return TandemSlackBot(self.slack_token, channel or self.slack_channel, thread_id, self.api_url)

    def relay_output(self, tracker: DialogueStateTracker) -> OutputChannel | None:
        """The way to a conversation's customer: where their latest message came from. None when off."""
        if not self.slack_token:
            return None
        metadata = (tracker.latest_message.metadata if tracker.latest_message else None) or {}
        return self.get_output_channel(metadata.get("out_channel"), metadata.get("thread_id"))


def _reply_thread(request: Request) -> str | None:
    """A message in a thread is answered there, a mention in a channel in a thread under it, a direct
    message (or a button clicked in one of the bot's messages) where it was written."""
    if request.headers.get("content-type") == "application/json":
        message = request.json.get("event", {})
        direct = message.get("channel_type") == "im"
    else:
        message = json.loads(request.form["payload"][0]).get("message", {})
        direct = True
    return message.get("thread_ts") or (None if direct else message.get("ts"))


def _escape(text: str) -> str:
    """Slack's three control characters, so that an agent's words cannot become mentions or links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
