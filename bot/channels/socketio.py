"""Rasa's socket.io channel for the web chat widget: validated input, agents, product cards, Redis fan-out.

Events (Rasa's names; the customer's and the bot's are configurable in credentials.yml):
  session_request {"session_id"}   ->  session_confirm "<session id>"   (the socket joins that session's room)
  user_uttered {"message", "session_id", "metadata"}  ->  bot_uttered {...} to the session's room
  anything refused                 ->  error {"event", "error", "status"} to that socket only
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage, decode_bearer_token
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Blueprint, response
from sanic.request import Request
from socketio import AsyncRedisManager, AsyncServer

from bot.channels.validation import InvalidInput, clean_metadata, clean_sender, clean_text

logger = logging.getLogger(__name__)

ERROR_EVENT = "error"
REDIS_CHANNEL = "tandem-socketio"  # the pub/sub channel every replica of one deployment shares
CARD_BUTTON = "Choose this"
NOT_ANSWERED = "the assistant could not answer; please send that again"


class TandemSocketIOOutput(SocketIOOutput):
    """Rasa's socket.io output, plus agents' messages and the recommender's suggestions as product cards."""

    async def send_agent_message(self, recipient_id: str, text: str, agent_name: str) -> None:
        """A console agent's message, which the widget shows as coming from that person."""
        await self._send_message(recipient_id, {"text": text, "agent": {"name": agent_name}})

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: list[dict[str, Any]],
                                     **kwargs: Any) -> None:
        cards = product_cards(text, buttons)
        if cards is None:
            await super().send_text_with_buttons(recipient_id, text, buttons, **kwargs)
        else:
            await self._send_message(recipient_id, cards)


def product_cards(text: str, buttons: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A message whose buttons carry products (`card`: price, reason; actions/products.py) as a generic
    template: one card per product with its button, the other buttons as quick replies. None without."""
    offers = [button for button in buttons if isinstance(button.get("card"), dict)]
    if not offers:
        return None
    elements = [{"title": button["title"], "price": str(button["card"].get("price") or ""),
                 "subtitle": str(button["card"].get("reason") or ""),
                 "buttons": [{"type": "postback", "title": CARD_BUTTON, "payload": button["payload"]}]}
                for button in offers]
    return {
        "text": text,
        "attachment": {"type": "template", "payload": {"template_type": "generic", "elements": elements}},
        "quick_replies": [{"content_type": "text", "title": button["title"], "payload": button["payload"]}
                          for button in buttons if button not in offers],
    }


def clean_session(value: Any) -> str:
    """A session id is the conversation's sender id: clean_sender's rules, in the widget's words."""
    try:
        return clean_sender(value)
    except InvalidInput as error:
        raise InvalidInput(str(error).replace("'sender'", "'session_id'"), error.status) from None


class TandemSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel (still named "socketio") that validates what arrives and answers bad input
    with an `error` event; with `redis_url` set, replicas share rooms through Redis pub/sub."""

    redis_url: str | None = None

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TandemSocketIOInput:
        channel = super().from_credentials(credentials)
        channel.redis_url = (credentials or {}).get("redis_url") or None
        return channel

    def get_output_channel(self) -> OutputChannel | None:
        if self.sio is None:
            return super().get_output_channel()  # None, with Rasa's warning
        return TandemSocketIOOutput(self.sio, self.bot_message_evt)

    def relay_output(self, tracker: DialogueStateTracker) -> OutputChannel | None:
        """The output for the handoff relay: the conversation's sender id is its session's room."""
        return self.get_output_channel()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        manager = AsyncRedisManager(self.redis_url, channel=REDIS_CHANNEL) if self.redis_url else None
        # cors_allowed_origins=[]: engine.io leaves CORS to Rasa's --cors, as Rasa's own channel does
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=[], client_manager=manager)
        self.sio = sio
        blueprint = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        blueprint.add_route(self._health, "/", methods=["GET"])

        async def handle_message(sid: str, data: Any = None) -> None:
            await self._handle_message(sid, data, on_new_message)

        sio.on("connect", self._connect, namespace=self.namespace)
        sio.on("session_request", self._session_request, namespace=self.namespace)
        sio.on(self.user_message_evt, handle_message, namespace=self.namespace)
        if self.redis_url:
            logger.info("socket.io rooms are shared through Redis (%s)", REDIS_CHANNEL)
        return blueprint

    @staticmethod
    async def _health(_: Request) -> response.HTTPResponse:
        return response.json({"status": "ok"})

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        """Every connection, or with `jwt_key` set only those whose auth carries a valid token (as Rasa)."""
        if not self.jwt_key:
            return True
        token = auth.get("token") if isinstance(auth, dict) else None
        return bool(token and decode_bearer_token(token, self.jwt_key, self.jwt_algorithm))

    async def _session_request(self, sid: str, data: Any = None) -> None:
        """Join the session the widget asks for (a new one when it names none) and confirm it."""
        session_id = data.get("session_id") if isinstance(data, dict) else None
        try:
            session = uuid.uuid4().hex if session_id is None else clean_session(session_id)
        except InvalidInput as error:
            await self._refuse(sid, "session_request", error, session_id)
            return
        await self._join(sid, session)
        await self._emit_to_socket(sid, "session_confirm", session)

    async def _handle_message(self, sid: str, data: Any,
                              on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """Validate one customer message and hand it to Rasa; the bot's answers go to the session's room."""
        try:
            if not isinstance(data, dict):
                raise InvalidInput("a message must be a JSON object")
            sender = await self._sender(sid, data)
            text = clean_text(data.get("message"))
            metadata = clean_metadata(data.get(self.metadata_key))
        except InvalidInput as error:
            session_id = data.get("session_id") if isinstance(data, dict) else None
            await self._refuse(sid, self.user_message_evt, error, session_id)
            return
        output = TandemSocketIOOutput(self.sio, self.bot_message_evt)
        message = UserMessage(text, output, sender, input_channel=self.name(), metadata=metadata)
        try:
            await on_new_message(message)
        except Exception:
            logger.exception("socket.io: could not handle the message of conversation %s", sender)
            await self._emit_error(sid, self.user_message_evt, NOT_ANSWERED, 503)

    async def _sender(self, sid: str, data: dict[str, Any]) -> str:
        """The conversation id: the message's session (joined if this socket is not in it yet)."""
        if not self.session_persistence:
            return sid
        if data.get("session_id") is None:
            raise InvalidInput("'session_id' is required: send session_request first")
        sender = clean_session(data["session_id"])
        if sender not in self.sio.rooms(sid, namespace=self.namespace):
            await self._join(sid, sender)  # e.g. buffered across a reconnect, ahead of session_request
        return sender

    async def _join(self, sid: str, session: str) -> None:
        """Enter the session's room (awaited: Rasa 3.6's handler is not, so its sockets never join one)."""
        if self.session_persistence:
            await self.sio.enter_room(sid, session, namespace=self.namespace)

    async def _refuse(self, sid: str, event: str, error: InvalidInput, session_id: Any) -> None:
        logger.info("socket.io: refused %s of %s (session %r): %s", event, sid, str(session_id)[:128], error)
        await self._emit_error(sid, event, str(error), error.status)

    async def _emit_error(self, sid: str, event: str, message: str, status: int) -> None:
        await self._emit_to_socket(sid, ERROR_EVENT, {"event": event, "error": message, "status": status})

    async def _emit_to_socket(self, sid: str, event: str, data: Any) -> None:
        """To this replica's socket `sid` directly, not through Redis (which may not be listening yet)."""
        await self.sio.emit(event, data, to=sid, namespace=self.namespace, ignore_queue=True)
