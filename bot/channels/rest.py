"""Rasa's REST channel with validated input: malformed requests get a 4xx JSON error, never a 500."""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request

from bot.channels.validation import (
    InvalidInput,
    clean_channel,
    clean_metadata,
    clean_sender,
    clean_text,
    json_object,
)

logger = logging.getLogger(__name__)


class ValidatedRestInput(RestInput):
    """POST /webhooks/rest/webhook with {"sender": ..., "message": ..., "metadata": {...}}."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Any) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        blueprint.exception(InvalidInput)(self._refuse)
        return blueprint

    @staticmethod
    async def _refuse(request: Request, error: InvalidInput) -> response.HTTPResponse:
        logger.info("refused REST request: %s", error)
        return response.json({"error": str(error)}, status=error.status)

    async def _extract_sender(self, req: Request) -> str:
        """Validate the whole body (Rasa reads the sender first) and keep the cleaned values."""
        body = json_object(req.body)
        req.ctx.tandem = {
            "sender": clean_sender(body.get("sender")),
            "message": clean_text(body.get("message")),
            "metadata": clean_metadata(body.get("metadata")),
            "input_channel": clean_channel(body.get("input_channel"), self.name()),
        }
        return req.ctx.tandem["sender"]

    def _extract_message(self, req: Request) -> str:
        return req.ctx.tandem["message"]

    def _extract_input_channel(self, req: Request) -> str:
        return req.ctx.tandem["input_channel"]

    def relay_output(self, tracker: Any) -> None:
        """REST clients get replies only in answer to their own messages: agents cannot reach them."""
        return None

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        return request.ctx.tandem["metadata"]
