"""Telegram: Rasa's Telegram channel with Tandem's rules (docs/channels.md).

- credentials: `access_token`, `verify` (the bot's username), `webhook_url`, `secret_token`, `api_url`
  (the Bot API server; tests point it at a local one). An empty token turns the channel off: its
  webhook answers 503 and nothing calls Telegram.
- At server start the webhook is set with the secret token; every update must carry it in
  X-Telegram-Bot-Api-Secret-Token, or is refused with 401.
- An update Telegram redelivers (same `update_id`) is answered once across Rasa replicas; one we
  failed to handle (5xx) is answered when it comes again.
- Conversations are "telegram:<chat id>"; the output maps them back to the chat.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import types
from aiogram.bot.api import TelegramAPIServer, check_token
from aiogram.utils.exceptions import TelegramAPIError
from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.telegram import TelegramInput, TelegramOutput
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import InvalidConfigException
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.webhooks import AGENT_TITLE, Deliveries, channel_off, not_answered, refused
from bot.store.identities import channel_sender, external_id

logger = logging.getLogger(__name__)

TELEGRAM_API_URL = "https://api.telegram.org"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what Telegram accepts as secret_token
ANSWERED_UPDATES = ("message", "edited_message", "callback_query")  # what Rasa's handler reads
TOKEN_VARIABLE = "TANDEM_TELEGRAM_TOKEN"
REQUIRED = {"verify": "TANDEM_TELEGRAM_BOT_NAME", "webhook_url": "TANDEM_TELEGRAM_WEBHOOK_URL",
            "secret_token": "TANDEM_TELEGRAM_SECRET_TOKEN"}


class TandemTelegramOutput(TelegramOutput):
    """Rasa's Telegram output on a configurable Bot API server, to conversation ids, with agents' replies."""

    def __init__(self, access_token: str, api_url: str, secret_token: str) -> None:
        super().__init__(access_token)
        self.server = TelegramAPIServer.from_base(api_url)
        self.secret_token = secret_token
        self._me: types.User | None = None

    async def request(self, method: str, data: dict | None = None, files: dict | None = None,
                      **kwargs: Any) -> Any:
        """Every Bot API call; a conversation id as chat_id ('telegram:100000001') becomes the chat's id."""
        chat = external_id(TelegramInput.name(), str((data or {}).get("chat_id", "")))
        if chat is not None:
            data = {**(data or {}), "chat_id": chat}
        return await super().request(method, data, files, **kwargs)

    async def set_webhook(self, url: str) -> bool:
        """Send Telegram's updates to `url` with our secret token (Bot API 6.1; aiogram 2.15 lacks it)."""
        return await self.request("setWebhook", {"url": url, "secret_token": self.secret_token})

    async def get_me(self) -> types.User:
        """The bot's own account, asked once: Rasa's handler asks for it on every update."""
        if self._me is None:
            self._me = await super().get_me()
        return self._me

    async def send_agent_message(self, recipient_id: str, text: str, agent_name: str) -> None:
        """An agent's reply as one message: 'Sam Patel (customer service): text'."""
        await self.send_message(recipient_id, f"{agent_name} ({AGENT_TITLE}): {text}")


class TandemTelegramInput(TelegramInput):
    """POST /webhooks/telegram/webhook: the updates Telegram sends to the webhook we set."""

    @classmethod
    def name(cls) -> str:
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TandemTelegramInput:
        credentials = credentials or {}
        return cls(credentials.get("access_token") or "", credentials.get("verify") or "",
                   credentials.get("webhook_url") or "", credentials.get("secret_token") or "",
                   credentials.get("api_url") or TELEGRAM_API_URL)

    def __init__(self, access_token: str, verify: str, webhook_url: str, secret_token: str = "",
                 api_url: str = TELEGRAM_API_URL) -> None:
        super().__init__(access_token, verify, webhook_url)
        self.secret_token = secret_token
        self.api_url = api_url
        self.deliveries = Deliveries(self.name())
        self._output: TandemTelegramOutput | None = None
        self._validate_credentials()

    def _validate_credentials(self) -> None:
        """Off without a token; with one, every other credential is needed and the token well formed."""
        if not self.access_token:
            logger.info("Telegram channel off: %s not set", TOKEN_VARIABLE)
            return
        missing = [variable for key, variable in REQUIRED.items() if not getattr(self, key)]
        if missing:
            raise InvalidConfigException(f"The Telegram channel needs {', '.join(missing)} as well as "
                                         f"{TOKEN_VARIABLE} (docs/channels.md).")
        if not SECRET_TOKEN_PATTERN.fullmatch(self.secret_token):
            raise InvalidConfigException(f"{REQUIRED['secret_token']} must be 1-256 letters, digits, _ or -.")
        try:
            check_token(self.access_token)
        except TelegramAPIError as error:
            raise InvalidConfigException(f"{TOKEN_VARIABLE} is not a bot token: {error}") from None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        if not self.access_token:
            return _off_blueprint()
        telegram = super().blueprint(self._in_conversation(on_new_message))
        telegram.middleware("request")(self._guard)
        telegram.middleware("response")(self.deliveries.release_failed)
        telegram.listener("before_server_start")(self._connect)
        telegram.listener("after_server_stop")(self._disconnect)
        return telegram

    def _in_conversation(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
                         ) -> Callable[[UserMessage], Awaitable[Any]]:
        """Rasa's handler names a conversation by its chat id; Tandem's are 'telegram:<chat id>'."""

        async def handle(message: UserMessage) -> Any:
            message.sender_id = channel_sender(self.name(), str(message.sender_id))
            return await on_new_message(message)

        return handle

    async def _guard(self, request: Request) -> HTTPResponse | None:
        """Before Rasa's handler: no secret token → 401, updates it does not read and redeliveries of an
        update taken already → 200 without a turn."""
        if not request.path.endswith("/webhook"):
            return None
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret_token.encode()):
            return refused("Telegram", f"missing or wrong {SECRET_HEADER}")
        update = request.json
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return response.json({"error": "the body must be a Telegram update with an update_id"},
                                 status=400)
        if not any(update.get(kind) for kind in ANSWERED_UPDATES):
            return not_answered("an update without a message")
        if not await self.deliveries.take(request, str(update["update_id"])):
            return not_answered(f"update {update['update_id']} was taken already")
        return None

    async def _connect(self, _app: Sanic, _loop: Any) -> None:
        """At server start: point Telegram's webhook at us, with the secret token; check the bot's name."""
        output = self.get_output_channel()
        try:
            await output.set_webhook(self.webhook_url)
            me = await output.get_me()
        except TelegramAPIError as error:
            logger.error("Telegram: could not set the webhook to %s: %s", self.webhook_url, error)
            return
        if me.username != self.verify:
            logger.error("Telegram: the token is @%s's, but TANDEM_TELEGRAM_BOT_NAME is %r: Rasa ignores "
                         "every update until they agree", me.username, self.verify)

    async def _disconnect(self, _app: Sanic, _loop: Any) -> None:
        if self._output is not None:
            await self._output.session.close()

    def get_output_channel(self) -> TandemTelegramOutput:
        """The channel's one output (one HTTP session); unlike Rasa's, it does not set the webhook again."""
        if self._output is None:
            self._output = TandemTelegramOutput(self.access_token, self.api_url, self.secret_token)
        return self._output

    def relay_output(self, tracker: DialogueStateTracker) -> OutputChannel | None:
        """The way to a conversation's customer (the chat is in its id). None when the channel is off."""
        return self.get_output_channel() if self.access_token else None


def _off_blueprint() -> Blueprint:
    """The routes of a Telegram channel without a token: each answers 503."""
    off = Blueprint("telegram_webhook", __name__)

    @off.route("/webhook", methods=["GET", "POST"])
    async def webhook(_: Request) -> HTTPResponse:
        return channel_off("Telegram", TOKEN_VARIABLE)

    off.route("/set_webhook", methods=["GET", "POST"], name="set_webhook")(webhook)
    return off
